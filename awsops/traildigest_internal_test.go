package awsops

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// digestSample is a digest file as CloudTrail documents it, with one log
// file, in the shape of the sample in its user guide.
const digestSample = `{"awsAccountId":"111122223333","digestStartTime":"2015-08-17T14:01:31Z","digestEndTime":"2015-08-17T15:01:31Z",
"digestS3Bucket":"b","digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz",
"digestPublicKeyFingerprint":"31e8b5433410dfb61a9dc45cc65b22ff","digestSignatureAlgorithm":"SHA256withRSA",
"newestEventTime":"2015-08-17T14:52:27Z","oldestEventTime":"2015-08-17T14:42:27Z",
"previousDigestS3Bucket":"b","previousDigestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T140131Z.json.gz",
"previousDigestHashValue":"97fb","previousDigestHashAlgorithm":"SHA-256","previousDigestSignature":"5088",
"logFiles":[{"s3Bucket":"b","s3Object":"AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
"hashValue":"9bb6","hashAlgorithm":"SHA-256","newestEventTime":"2015-08-17T14:52:27Z","oldestEventTime":"2015-08-17T14:42:27Z"}]}`

func gz(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestParseDigest(t *testing.T) {
	for _, body := range [][]byte{[]byte(digestSample), gz(t, []byte(digestSample))} {
		d, err := parseDigest(body)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2015, 8, 17, 15, 1, 31, 0, time.UTC); !d.End.Equal(want) {
			t.Errorf("end %s, want %s", d.End, want)
		}
		if d.Previous == nil || !strings.HasSuffix(*d.Previous, "_20150817T140131Z.json.gz") {
			t.Errorf("previous %v", d.Previous)
		}
		if len(d.LogFiles) != 1 || !strings.HasSuffix(d.LogFiles[0].Object, "_9nYN7gp2eWAJHIfT.json.gz") ||
			d.LogFiles[0].Oldest == nil || !d.LogFiles[0].Oldest.Equal(time.Date(2015, 8, 17, 14, 42, 27, 0, time.UTC)) {
			t.Errorf("log files %+v", d.LogFiles)
		}
	}
	// A trail's first digest names no previous one; an empty hour's names
	// no file and no event times.
	first := strings.NewReplacer(`"previousDigestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T140131Z.json.gz"`, `"previousDigestS3Object":null`).Replace(digestSample)
	if d, err := parseDigest([]byte(first)); err != nil || d.Previous != nil {
		t.Errorf("first digest: %+v, %v", d, err)
	}
	empty := `{"digestEndTime":"2015-08-20T18:01:31Z","newestEventTime":null,"oldestEventTime":null,"logFiles":[]}`
	if d, err := parseDigest([]byte(empty)); err != nil || len(d.LogFiles) != 0 {
		t.Errorf("empty digest: %+v, %v", d, err)
	}
	// Names not shaped as CloudTrail writes them, or longer than an S3
	// key, are not kept: a digest is outside input.
	long := strings.Repeat("x", 2000)
	hostile := `{"digestEndTime":"2015-08-20T18:01:31Z","previousDigestS3Object":"` + long + `",
"logFiles":[{"s3Object":"AWSLogs/1/CloudTrail/us-east-2/2015/08/17/1_CloudTrail_us-east-2_20150817T1445Z_` + long + `.json.gz"},
{"s3Object":"../../etc/passwd"},{"s3Object":"AWSLogs/1/CloudTrail/us-east-2/2015/08/17/1_CloudTrail_us-east-2_20150817T1445Z_ok.json.gz"}]}`
	if d, err := parseDigest([]byte(hostile)); err != nil || d.Previous != nil || len(d.LogFiles) != 1 || !strings.HasSuffix(d.LogFiles[0].Object, "_ok.json.gz") {
		t.Errorf("hostile names: %+v, %v", d, err)
	}
	for name, body := range map[string][]byte{
		"not json":       []byte("<Error/>"),
		"no end":         []byte(`{"logFiles":[]}`),
		"bad gzip":       {0x1f, 0x8b, 0, 1, 2},
		"truncated gzip": gz(t, []byte(digestSample))[:40],
		"too large":      gz(t, bytes.Repeat([]byte(" "), maxDigestBytes+1)),
	} {
		if _, err := parseDigest(body); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDigestFileTime(t *testing.T) {
	for key, want := range map[string]string{
		"AWSLogs/1/CloudTrail-Digest/us-east-2/2015/08/17/1_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz":          "2015-08-17T15:01:31Z",
		"AWSLogs/1/CloudTrail-Digest/us-east-2/2015/08/17/1_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z_backfill.json.gz": "2015-08-17T15:01:31Z",
		"AWSLogs/1/CloudTrail/us-east-2/2015/08/17/1_CloudTrail_us-east-2_20150817T1445Z_9nYN.json.gz":                                 "",
		"AWSLogs/1/CloudTrail-Digest/us-east-2/2015/08/17/notes.txt":                                                                   "",
	} {
		got, series, ok := digestFileTime(key)
		if ok != (want != "") || ok && got.Format(time.RFC3339) != want {
			t.Errorf("%s: %s %v, want %q", key, got, ok, want)
		}
		if ok && series != "1_CloudTrail-Digest_us-east-2_t_us-east-2" {
			t.Errorf("%s: series %q", key, series)
		}
	}
}

// FuzzParseDigest: a digest file is outside input (whoever may write to
// the bucket writes it): it is read or refused, never a panic, and gzip is
// only its wrapping: the same bytes gzipped read alike.
func FuzzParseDigest(f *testing.F) {
	f.Add([]byte(digestSample))
	f.Add([]byte(`{"digestEndTime":"2015-08-20T18:01:31Z","logFiles":[]}`))
	f.Add([]byte(`{"digestEndTime":"2015-08-20T18:01:31Z","logFiles":[{"s3Object":null,"oldestEventTime":"x"}]}`))
	f.Add([]byte(`{"digestEndTime":"2015-08-20T18:01:31Z","previousDigestS3Object":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseDigest(body)
		if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
			return
		}
		z, zerr := parseDigest(gz(t, body))
		if (err == nil) != (zerr == nil) {
			t.Fatalf("plain: %v; gzipped: %v", err, zerr)
		}
		if err == nil && (!d.End.Equal(z.End) || len(d.LogFiles) != len(z.LogFiles) || len(d.LogFiles) > maxDigestLogFiles) {
			t.Fatalf("plain %+v, gzipped %+v", d, z)
		}
		_, _, _ = digestFileTime(string(body))
	})
}
