package awsops

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// trailGen writes realistic CloudTrail log objects: management and data
// events of 1–2 KB, some far larger, callers' keys drawn from a pool, STS
// calls issuing new keys, and tracked keys mentioned where they must not
// match (request parameters, policy documents, error messages).
type trailGen struct {
	rng        *rand.Rand
	keys       []string // tracked and untracked, the first nTracked tracked
	tracked    []KeyID
	indent     bool // pretty-print instead of CloudTrail's compact form
	sorted     bool // members in sorted order instead of eventVersion first
	bigRate    float64
	account    string
	background []string               // keys of busy callers
	callers    map[string]trailCaller // by key
	// poolEvery: one caller in poolEvery uses a key from keys, and one STS
	// call in poolEvery issues one (default 4).
	poolEvery int
}

func newTrailGen(tb testing.TB, seed uint64, nTracked, nOther int) *trailGen {
	tb.Helper()
	g := &trailGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := range nTracked + nOther {
		prefix := "AKIA"
		if i%3 == 1 {
			prefix = "ASIA"
		}
		g.keys = append(g.keys, prefix+g.base32(16))
	}
	for _, k := range g.keys[:nTracked] {
		g.tracked = append(g.tracked, mustKeyID(tb, k))
	}
	return g
}

func (g *trailGen) scanner() *TrailScanner { return NewTrailScanner(g.tracked, TrailScanOptions{}) }

func mustKeyID(tb testing.TB, s string) KeyID {
	tb.Helper()
	k, err := ParseAccessKeyID(s)
	if err != nil {
		tb.Fatalf("ParseAccessKeyID(%q): %v", s, err)
	}
	return k
}

func (g *trailGen) base32(n int) string { return g.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n) }

func (g *trailGen) hex(n int) string { return g.chars("0123456789abcdef", n) }

// chars returns n characters drawn from alphabet.
func (g *trailGen) chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *trailGen) uuid() string {
	return g.hex(8) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(12)
}

func (g *trailGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

// key returns a caller's key: keys from the pool are a minority, the
// rest come from a few dozen busy callers, as in a real log.
func (g *trailGen) key() string {
	if g.rng.IntN(cmp.Or(g.poolEvery, 4)) == 0 {
		return g.keys[g.rng.IntN(len(g.keys))]
	}
	if len(g.background) == 0 {
		for range 24 {
			g.background = append(g.background, g.pick("AKIA", "ASIA")+g.base32(16))
		}
	}
	return g.background[g.rng.IntN(len(g.background))]
}

// identity returns the userIdentity of a key's caller, the same each time.
func (g *trailGen) identity(key string, t time.Time) map[string]any {
	if g.callers == nil {
		g.account = fmt.Sprintf("%012d", g.rng.Int64N(1e12))
		g.callers = map[string]trailCaller{}
	}
	c, ok := g.callers[key]
	if !ok {
		c = trailCaller{
			principal: g.base32(17), instance: "i-" + g.hex(17),
			ip: fmt.Sprintf("%d.%d.%d.%d", 1+g.rng.IntN(223), g.rng.IntN(256), g.rng.IntN(256), g.rng.IntN(256)),
			userAgent: g.pick("aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/s3.cp",
				"Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
				"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.155.1", "[S3Console/0.4]"),
		}
		g.callers[key] = c
	}
	account := g.account
	if !strings.HasPrefix(key, "ASIA") {
		return map[string]any{
			"type": "IAMUser", "principalId": "AIDA" + c.principal, "arn": "arn:aws:iam::" + account + ":user/ci-deploy-user",
			"accountId": account, "accessKeyId": key, "userName": "ci-deploy-user",
		}
	}
	return map[string]any{
		"type": "AssumedRole", "principalId": "AROA" + c.principal + ":" + c.instance,
		"arn": "arn:aws:sts::" + account + ":assumed-role/eks-node-role/" + c.instance, "accountId": account, "accessKeyId": key,
		"sessionContext": map[string]any{
			"sessionIssuer":       map[string]any{"type": "Role", "principalId": "AROA" + c.principal, "arn": "arn:aws:iam::" + account + ":role/eks-node-role", "accountId": account, "userName": "eks-node-role"},
			"webIdFederationData": map[string]any{},
			"attributes":          map[string]any{"creationDate": t.Add(-time.Hour).Truncate(time.Hour).Format(time.RFC3339), "mfaAuthenticated": "false"},
		},
	}
}

// trailCaller is what stays the same across one caller's events.
type trailCaller struct {
	principal, instance, ip, userAgent string
}

// record returns one CloudTrail event.
func (g *trailGen) record(t time.Time) map[string]any {
	key := g.key()
	ident := g.identity(key, t)
	account, c := g.account, g.callers[key]
	region := g.pick("us-east-1", "us-east-1", "us-east-1", "eu-west-1")
	rec := map[string]any{
		"eventVersion": "1.09", "userIdentity": ident, "eventTime": t.Format(time.RFC3339),
		"awsRegion": region, "sourceIPAddress": c.ip, "userAgent": c.userAgent,
		"requestID": g.uuid(), "eventID": g.uuid(), "readOnly": true, "eventType": "AwsApiCall",
		"managementEvent": true, "recipientAccountId": account, "eventCategory": "Management",
		"tlsDetails": map[string]any{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2." + region + ".amazonaws.com"},
	}
	switch g.rng.IntN(9) {
	case 0:
		issued := "ASIA" + g.base32(16)
		if g.rng.IntN(cmp.Or(g.poolEvery, 4)) == 0 {
			issued = g.keys[g.rng.IntN(len(g.keys))]
		}
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "sts.amazonaws.com", "AssumeRole", false
		rec["requestParameters"] = map[string]any{"roleArn": "arn:aws:iam::" + account + ":role/eks-node-role", "roleSessionName": "session-" + g.hex(8), "durationSeconds": 3600}
		rec["responseElements"] = map[string]any{
			"credentials":     map[string]any{"accessKeyId": issued, "sessionToken": "IQoJb3JpZ2luX2VjE" + g.base32(40) + "<truncated>", "expiration": t.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")},
			"assumedRoleUser": map[string]any{"assumedRoleId": "AROA" + g.base32(17) + ":session", "arn": "arn:aws:sts::" + account + ":assumed-role/eks-node-role/session"},
		}
		rec["resources"] = []any{map[string]any{"accountId": account, "type": "AWS::IAM::Role", "ARN": "arn:aws:iam::" + account + ":role/eks-node-role"}}
	case 1:
		bucket := g.pick("backups-bucket", "config-bucket", "app-assets")
		rec["eventSource"], rec["eventName"], rec["eventCategory"], rec["managementEvent"] = "s3.amazonaws.com", "GetObject", "Data", false
		rec["requestParameters"] = map[string]any{"bucketName": bucket, "Host": bucket + ".s3.amazonaws.com", "key": "terraform/" + g.hex(6) + "/terraform.tfstate"}
		rec["additionalEventData"] = map[string]any{"SignatureVersion": "SigV4", "bytesTransferredOut": g.rng.IntN(1 << 20), "x-amz-id-2": g.base32(60)}
		rec["resources"] = []any{
			map[string]any{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::" + bucket + "/terraform.tfstate"},
			map[string]any{"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket},
		}
	case 2: // a tracked key named as a parameter: must not match
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "iam.amazonaws.com", "UpdateAccessKey", false
		rec["requestParameters"] = map[string]any{"accessKeyId": g.key(), "status": "Inactive", "userName": "ci-deploy-user"}
	case 3: // a tracked key inside a policy document string: must not match
		policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:accessKeyId":"%s"}}}]}`, g.key())
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "iam.amazonaws.com", "PutUserPolicy", false
		rec["requestParameters"] = map[string]any{"userName": "ci-deploy-user", "policyName": "deny-" + g.hex(4), "policyDocument": policy}
	case 4:
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "ec2.amazonaws.com", "RunInstances", false
		userData := 200
		if g.rng.Float64() < g.bigRate {
			userData = 100<<10 + g.rng.IntN(100<<10) // larger than a read
		}
		rec["requestParameters"] = map[string]any{
			"instancesSet": map[string]any{"items": []any{map[string]any{"imageId": "ami-" + g.hex(17), "minCount": 1, "maxCount": 20}}},
			"instanceType": "p3.16xlarge", "userData": g.base32(userData), "blockDeviceMapping": map[string]any{},
		}
		rec["responseElements"] = map[string]any{"requestId": g.uuid(), "reservationId": "r-" + g.hex(17), "ownerId": account}
	case 5:
		rec["eventSource"], rec["eventName"] = "sts.amazonaws.com", "GetCallerIdentity"
		rec["responseElements"] = nil
	case 6:
		rec["eventSource"], rec["eventName"] = "ec2.amazonaws.com", "DescribeInstances"
		rec["errorCode"] = "Client.UnauthorizedOperation"
		rec["errorMessage"] = "You are not authorized to perform this operation. User: arn:aws:iam::" + account + ":user/ci-deploy-user with key " + g.key() + " is not authorized"
		rec["requestParameters"] = map[string]any{"instancesSet": map[string]any{}, "filterSet": map[string]any{}}
	case 7:
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "iam.amazonaws.com", "CreateUser", false
		rec["requestParameters"] = map[string]any{"userName": "backup-svc-" + g.hex(4), "tags": []any{map[string]any{"key": "note", "value": `quote " and backslash \ and brace } ]`}}}
		rec["responseElements"] = map[string]any{"user": map[string]any{"path": "/", "userName": "backup-svc", "userId": "AIDA" + g.base32(17), "arn": "arn:aws:iam::" + account + ":user/backup-svc", "createDate": t.Format("Jan 2, 2006, 3:04:05 PM")}}
	default:
		rec["eventSource"], rec["eventName"] = "s3.amazonaws.com", "ListBuckets"
		rec["requestParameters"] = map[string]any{"Host": "s3.amazonaws.com"}
		rec["responseElements"] = nil
	}
	return rec
}

// object returns the uncompressed JSON of a log object of n records.
func (g *trailGen) object(tb testing.TB, n int) []byte {
	tb.Helper()
	t := time.Date(2026, 11, 21, 10, 45, 0, 0, time.UTC)
	recs := make([]any, n)
	for i := range recs {
		recs[i] = g.record(t.Add(time.Duration(i) * time.Second))
	}
	doc := []byte(`{"Records":[`)
	for i, rec := range recs {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, g.marshal(tb, rec.(map[string]any))...)
	}
	doc = append(doc, "]}"...)
	if g.indent {
		var out bytes.Buffer
		if err := json.Indent(&out, doc, "", "  "); err != nil {
			tb.Fatalf("indent log object: %v", err)
		}
		doc = out.Bytes()
	}
	return doc
}

// marshal writes a record as CloudTrail does, eventVersion first, or with
// its members sorted when g.sorted is set.
func (g *trailGen) marshal(tb testing.TB, rec map[string]any) []byte {
	tb.Helper()
	version := rec["eventVersion"]
	if !g.sorted {
		delete(rec, "eventVersion")
	}
	b, err := json.Marshal(rec)
	if err != nil {
		tb.Fatalf("marshal record: %v", err)
	}
	if g.sorted {
		return b
	}
	return append([]byte(fmt.Sprintf(`{"eventVersion":%q,`, version)), b[1:]...)
}

func gzipBytes(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	return buf.Bytes()
}

// refMatch is a match as the reference finds it.
type refMatch struct {
	Offset int64
	Key    string
	Record TrailRecord
}

// referenceScan decodes the whole JSON document naively and returns the
// records, in every array under a root "Records" key, that used or issued a
// tracked key. ok is false when the document is not valid JSON.
func referenceScan(s *TrailScanner, doc []byte) (matches []refMatch, ok bool) {
	if !json.Valid(doc) {
		return nil, false
	}
	forEachRootMember(doc, func(records bool, start int64, raw json.RawMessage) {
		var rec TrailRecord
		if !records || raw[0] != '{' || json.Unmarshal(raw, &rec) != nil {
			return
		}
		if key, ok := s.matchKey(&rec); ok {
			matches = append(matches, refMatch{Offset: start, Key: key, Record: rec})
		}
	})
	return matches, true
}

// forEachRootMember calls fn with each member value of the root object of
// a valid document, except that the elements of arrays under the "Records"
// key come one by one, with records=true and their offsets.
func forEachRootMember(doc []byte, fn func(records bool, start int64, raw json.RawMessage)) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return
	}
	for dec.More() {
		key, _ := dec.Token()
		keyEnd := dec.InputOffset()
		valStart := skipSpace(doc, keyEnd, ":")
		var val json.RawMessage
		_ = dec.Decode(&val)
		if key != "Records" || !bytes.HasSuffix(doc[:keyEnd], []byte(`"Records"`)) || val[0] != '[' {
			fn(false, valStart, val)
			continue
		}
		elems := json.NewDecoder(bytes.NewReader(val))
		_, _ = elems.Token()
		for elems.More() {
			start := skipSpace(doc, valStart+elems.InputOffset(), ",")
			var raw json.RawMessage
			_ = elems.Decode(&raw)
			fn(true, start, raw)
		}
	}
}

// recordsOnlyInRecords reports whether a valid JSON document keeps the
// contract that CloudTrail's logs keep and the scanner relies on: objects
// that begin with "eventVersion", or that hold a tracked key in their
// access key fields, are records (elements of the root's Records array)
// and nothing else.
func recordsOnlyInRecords(s *TrailScanner, doc []byte) bool {
	var walk func(raw []byte, record bool) bool
	walk = func(raw []byte, record bool) bool {
		dec := json.NewDecoder(bytes.NewReader(raw))
		tok, _ := dec.Token()
		if tok != json.Delim('{') && tok != json.Delim('[') {
			return true
		}
		for first := true; dec.More(); first = false {
			var name any
			if tok == json.Delim('{') {
				name, _ = dec.Token()
			}
			var member json.RawMessage
			_ = dec.Decode(&member)
			if first && name == "eventVersion" && !record || !walk(member, false) {
				return false
			}
		}
		var rec TrailRecord
		if tok == json.Delim('{') && !record && json.Unmarshal(raw, &rec) == nil {
			if _, ok := s.matchKey(&rec); ok {
				return false
			}
		}
		return true
	}
	holds := true
	forEachRootMember(doc, func(records bool, _ int64, raw json.RawMessage) {
		holds = holds && walk(raw, records)
	})
	return holds
}

// scanAll runs ScanObject and collects its matches.
func scanAll(s *TrailScanner, name string, r io.Reader) ([]refMatch, ObjectStats, error) {
	var got []refMatch
	st, err := s.ScanObject(context.Background(), name, r, func(m TrailMatch) error {
		if m.Object != name {
			return fmt.Errorf("match names object %q, want %q", m.Object, name)
		}
		got = append(got, refMatch{Offset: m.Offset, Key: m.AccessKeyID, Record: m.Record})
		return nil
	})
	return got, st, err
}

// chunkReader returns its data in reads of random small sizes, so that
// keys and records straddle the scanner's chunks.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 1+r.rng.IntN(r.max))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func TestTrailScanMatchesReference(t *testing.T) {
	for seed := range uint64(24) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			nTracked := []int{1, 2, 8, 64}[seed%4]
			g := newTrailGen(t, seed, nTracked, 6)
			g.indent = seed%5 == 3
			g.sorted = seed%7 == 2
			opts := TrailScanOptions{}
			if seed%3 == 1 { // the smallest window: the scanner must track and compact
				opts = TrailScanOptions{MaxRecordBytes: 16 << 10}
			} else {
				g.bigRate = 0.05
			}
			doc := g.object(t, 50+g.rng.IntN(300))
			s := NewTrailScanner(g.tracked, opts)
			want, ok := referenceScan(s, doc)
			if !ok {
				t.Fatal("generated log object is not valid JSON")
			}
			if len(want) == 0 {
				t.Fatal("generated log object has no matching record; the test would prove nothing")
			}
			inputs := map[string]io.Reader{
				"gzip":         bytes.NewReader(gzipBytes(t, doc)),
				"gzip members": io.MultiReader(bytes.NewReader(gzipBytes(t, doc[:len(doc)/2])), bytes.NewReader(gzipBytes(t, doc[len(doc)/2:]))),
				"plain chunks": &chunkReader{data: doc, rng: rand.New(rand.NewPCG(seed, 7)), max: 97},
			}
			for name, r := range inputs {
				got, st, err := scanAll(s, "AWSLogs/"+name+".json.gz", r)
				if err != nil {
					t.Fatalf("%s: ScanObject: %v", name, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %d matches, want %d\n got offsets %v\nwant offsets %v", name, len(got), len(want), offsets(got), offsets(want))
				}
				if st.Bytes != int64(len(doc)) || st.Matches != len(want) || st.Candidates < st.Matches {
					t.Errorf("%s: stats %+v, want Bytes %d and Matches %d", name, st, len(doc), len(want))
				}
			}
		})
	}
}

// skipSpace returns the offset of the first byte at or after i that is not
// white space or one of the separators in sep.
func skipSpace(doc []byte, i int64, sep string) int64 {
	for strings.IndexByte(" \t\r\n"+sep, doc[i]) >= 0 {
		i++
	}
	return i
}

func offsets(ms []refMatch) []int64 {
	var o []int64
	for _, m := range ms {
		o = append(o, m.Offset)
	}
	return o
}

// oneRecord returns a log object whose records carry the given callers'
// keys, each record a minimal CloudTrail event.
func oneRecord(keys ...string) []byte {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","accessKeyId":"%s"},"eventTime":"2026-11-21T10:45:0%dZ","eventName":"ListBuckets","eventID":"e%d"}`, k, i%10, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func TestTrailScanEverySplit(t *testing.T) {
	const key = "AKIARZPUZDIKGB2VALC4"
	s := NewTrailScanner([]KeyID{mustKeyID(t, key)}, TrailScanOptions{})
	doc := oneRecord("ASIAQNZGKIQY56JQ7WML", key, key)
	want, _ := referenceScan(s, doc)
	if len(want) != 2 {
		t.Fatalf("reference found %d matches, want 2", len(want))
	}
	for split := range len(doc) + 1 {
		r := io.MultiReader(bytes.NewReader(doc[:split]), bytes.NewReader(doc[split:]))
		got, _, err := scanAll(s, "split.json", r)
		if err != nil {
			t.Fatalf("split at %d: %v", split, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("split at %d: matches at %v, want %v", split, offsets(got), offsets(want))
		}
	}
}

func TestTrailScanKeyField(t *testing.T) {
	const key = "ASIAY34FZKBOKMUTVV7A"
	tests := []struct {
		name   string
		member string // %s is replaced by the key
		want   int    // records decoded and matched because of the member
	}{
		{name: "compact", member: `"accessKeyId":"%s"`, want: 1},
		{name: "white space", member: "\"accessKeyId\" :\n\t \"%s\"", want: 1},
		{name: "after a run of key characters", member: `"x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","accessKeyId":"%s"`, want: 1},
		{name: "in a nested object", member: `"x":{"accessKeyId":"%s"}`},
		{name: "other member name", member: `"kmsKeyId":"%s"`},
		{name: "longer member name", member: `"accessKeyIds":"%s"`},
		{name: "member name with a prefix", member: `"xaccessKeyId":"%s"`},
		{name: "longer value", member: `"accessKeyId":"%sA"`},
		{name: "escaped in a string", member: `"policy":"{\"accessKeyId\":\"%s\"}"`},
		{name: "escape before the member", member: `"x":"a\\","accessKeyId":"%s"`, want: 1},
		{name: "escaped member name", member: `"acc\u0065ssKeyId":"%s"`}, // CloudTrail never escapes it
		{name: "anywhere else", member: `"note":"%s"`},
	}
	s := NewTrailScanner([]KeyID{mustKeyID(t, key)}, TrailScanOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"Records":[{"eventVersion":"1.09","userIdentity":{"type":"IAMUser",`+tt.member+`}}]}`, key)
			for split := range len(doc) + 1 {
				r := io.MultiReader(strings.NewReader(doc[:split]), strings.NewReader(doc[split:]))
				_, st, err := scanAll(s, "runs.json", r)
				if err != nil {
					t.Fatalf("split at %d: ScanObject: %v", split, err)
				}
				if st.Candidates != tt.want || st.Matches != tt.want {
					t.Fatalf("split at %d: stats %+v, want %d candidates and matches", split, st, tt.want)
				}
			}
		})
	}
}

func TestTrailScanExactFields(t *testing.T) {
	const tracked = "AKIARZPUZDIKGB2VALC4"
	tests := []struct {
		name    string
		record  string
		wantKey string // "" when the record must not match
	}{
		{name: "caller", record: `{"userIdentity":{"accessKeyId":"` + tracked + `"}}`, wantKey: tracked},
		{name: "issued credentials", record: `{"userIdentity":{"accessKeyId":"ASIAQNZGKIQY56JQ7WML"},"responseElements":{"credentials":{"accessKeyId":"` + tracked + `"}}}`, wantKey: tracked},
		{name: "request parameter", record: `{"userIdentity":{"accessKeyId":"ASIAQNZGKIQY56JQ7WML"},"requestParameters":{"accessKeyId":"` + tracked + `"}}`},
		{name: "new access key in response", record: `{"responseElements":{"accessKey":{"accessKeyId":"` + tracked + `"}}}`},
		{name: "error message", record: `{"errorMessage":"key ` + tracked + ` is not authorized"}`},
		{name: "longer ID containing the key", record: `{"userIdentity":{"accessKeyId":"` + tracked + `X"}}`},
		{name: "nested record-like object", record: `{"requestParameters":{"items":[{"eventVersion":"1","userIdentity":{"accessKeyId":"` + tracked + `"}}]}}`},
		{name: "escaped quotes before the key", record: `{"requestParameters":{"p":"\"}]},{\"userIdentity\":{\"accessKeyId\":\"` + tracked + `\"}}"}}`},
	}
	s := NewTrailScanner([]KeyID{mustKeyID(t, tracked)}, TrailScanOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"Records":[{"eventVersion":"1.09"},` + tt.record + `]}`
			got, _, err := scanAll(s, "fields.json", strings.NewReader(doc))
			if err != nil {
				t.Fatalf("ScanObject: %v", err)
			}
			var gotKey string
			if len(got) == 1 {
				gotKey = got[0].Key
			}
			if len(got) > 1 || gotKey != tt.wantKey {
				t.Errorf("matches %+v, want key %q", got, tt.wantKey)
			}
		})
	}
}

func TestTrailScanLogShape(t *testing.T) {
	const key = "AKIARZPUZDIKGB2VALC4"
	rec := `{"userIdentity":{"accessKeyId":"` + key + `"}}`
	tests := []struct {
		name    string
		doc     string
		want    int
		wantErr error
	}{
		{name: "records", doc: `{"Records":[` + rec + `]}`, want: 1},
		{name: "white space", doc: "{ \"Records\" :\n [\n  " + rec + " ,\n  " + rec + "\n ]\n}", want: 2},
		{name: "record nested in a record", doc: `{"Records":[{"eventVersion":"1.09","requestParameters":{"items":[{"x":1},` + rec + `]}}]}`, want: 0},
		{name: "record-shaped parameter", doc: `{"Records":[{"eventVersion":"1.09","requestParameters":` + rec + `}]}`, want: 0},
		{name: "empty log", doc: `{"Records":[]}`},
		{name: "other first member", doc: `{"x":1,"Records":[` + rec + `]}`, wantErr: ErrNotTrailLog},
		{name: "digest file", doc: `{"awsAccountId":"123456789012","logFiles":[` + rec + `]}`, wantErr: ErrNotTrailLog},
		{name: "lower-case key", doc: `{"records":[` + rec + `]}`, wantErr: ErrNotTrailLog},
		{name: "root array", doc: `[{"Records":[` + rec + `]}]`, wantErr: ErrNotTrailLog},
		{name: "records object", doc: `{"Records":{"a":` + rec + `}}`, wantErr: ErrNotTrailLog},
	}
	s := NewTrailScanner([]KeyID{mustKeyID(t, key)}, TrailScanOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := scanAll(s, "doc.json", strings.NewReader(tt.doc))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ScanObject error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want, _ := referenceScan(s, []byte(tt.doc))
			if len(got) != tt.want || !reflect.DeepEqual(got, want) {
				t.Errorf("got %d matches %v, want %d (reference %v)", len(got), offsets(got), tt.want, offsets(want))
			}
		})
	}
}

func TestRecordsOnlyInRecords(t *testing.T) {
	const key = "AKIARZPUZDIKGB2VALC4"
	rec := `{"userIdentity":{"accessKeyId":"` + key + `"}}`
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{name: "records", doc: `{"Records":[{"eventVersion":"1.09"},` + rec + `]}`, want: true},
		{name: "untracked shape elsewhere", doc: `{"Records":[{"eventVersion":"1.09","requestParameters":{"userIdentity":{"accessKeyId":"AKIAIOSFODNN7EXAMPLE"}}}]}`, want: true},
		{name: "tracked shape in a parameter", doc: `{"Records":[{"eventVersion":"1.09","requestParameters":` + rec + `}]}`},
		{name: "eventVersion first in a parameter", doc: `{"Records":[{"eventVersion":"1.09","requestParameters":{"x":[{"eventVersion":"1"}]}}]}`},
		{name: "record outside Records", doc: `{"Records":[],"Other":[` + rec + `]}`},
	}
	s := NewTrailScanner([]KeyID{mustKeyID(t, key)}, TrailScanOptions{})
	for _, tt := range tests {
		if got := recordsOnlyInRecords(s, []byte(tt.doc)); got != tt.want {
			t.Errorf("%s: recordsOnlyInRecords = %v, want %v", tt.name, got, tt.want)
		}
	}
	g := newTrailGen(t, 1, 4, 4)
	if doc := g.object(t, 200); !recordsOnlyInRecords(g.scanner(), doc) {
		t.Error("a generated log breaks the contract")
	}
}

func TestTrailScanCaps(t *testing.T) {
	const key = "AKIARZPUZDIKGB2VALC4"
	big := func(k string, size int) string {
		return `{"userIdentity":{"accessKeyId":"` + k + `"},"requestParameters":{"userData":"` + strings.Repeat("QUFB", size/4) + `"}}`
	}
	small := `{"userIdentity":{"accessKeyId":"` + key + `"}}`
	bomb := append([]byte(`{"Records":[`), bytes.Repeat([]byte(" "), 4<<20)...)
	tests := []struct {
		name        string
		doc         []byte
		opts        TrailScanOptions
		wantErr     error
		wantMatches int
	}{
		{name: "decompression bomb", doc: bomb, opts: TrailScanOptions{MaxObjectBytes: 1 << 20}, wantErr: ErrObjectTooLarge},
		{name: "object at the limit", doc: oneRecord(key), opts: TrailScanOptions{MaxObjectBytes: int64(len(oneRecord(key)))}, wantMatches: 1},
		{name: "object one byte over", doc: oneRecord(key), opts: TrailScanOptions{MaxObjectBytes: int64(len(oneRecord(key))) - 1}, wantErr: ErrObjectTooLarge},
		{name: "matching record too large", doc: []byte(`{"Records":[` + small + `,` + big(key, 300<<10) + `]}`), opts: TrailScanOptions{MaxRecordBytes: 64 << 10}, wantErr: ErrRecordTooLarge, wantMatches: 1},
		{
			name:    "tracked key far into a large record",
			doc:     []byte(`{"Records":[{"eventVersion":"1.09","requestParameters":{"userData":"` + strings.Repeat("QUFB", 100<<10) + `"},"responseElements":{"credentials":{"accessKeyId":"` + key + `"}}}]}`),
			opts:    TrailScanOptions{MaxRecordBytes: 64 << 10},
			wantErr: ErrRecordTooLarge,
		},
		{name: "first record too large", doc: []byte(`{"Records":[` + big(key, 300<<10) + `]}`), opts: TrailScanOptions{MaxRecordBytes: 64 << 10}, wantErr: ErrRecordTooLarge},
		{
			name:        "large records without tracked keys are skipped",
			doc:         []byte(`{"Records":[` + small + `,` + big("AKIAIOSFODNN7EXAMPLE", 300<<10) + `,` + big("AKIAIOSFODNN7EXAMPLE", 2<<20) + `,` + small + `]}`),
			opts:        TrailScanOptions{MaxRecordBytes: 64 << 10},
			wantMatches: 2,
		},
	}
	s := func(opts TrailScanOptions) *TrailScanner { return NewTrailScanner([]KeyID{mustKeyID(t, key)}, opts) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const name = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/21/bomb.json.gz"
			got, _, err := scanAll(s(tt.opts), name, bytes.NewReader(gzipBytes(t, tt.doc)))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ScanObject error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the object", err)
			}
			if len(got) != tt.wantMatches {
				t.Errorf("%d matches, want %d", len(got), tt.wantMatches)
			}
		})
	}
}

func TestTrailScanBadObjects(t *testing.T) {
	const key = "AKIARZPUZDIKGB2VALC4"
	g := newTrailGen(t, 99, 2, 2)
	doc := g.object(t, 400)
	gz := gzipBytes(t, doc)
	corrupt := slices.Clone(gz)
	for i := len(gz) / 2; i < len(gz)/2+64; i++ {
		corrupt[i] ^= 0x5a
	}
	badCRC := slices.Clone(gz)
	badCRC[len(badCRC)-6] ^= 1
	tests := []struct {
		name    string
		data    []byte
		wantErr error // nil: any error naming the object
	}{
		{name: "truncated gzip", data: gz[:len(gz)*2/3], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated gzip header", data: gz[:5], wantErr: io.ErrUnexpectedEOF},
		{name: "corrupt gzip", data: corrupt},
		{name: "bad checksum", data: badCRC, wantErr: gzip.ErrChecksum},
		{name: "empty", data: nil, wantErr: ErrNotTrailLog},
		{name: "not a log", data: []byte("PK\x03\x04 a zip file"), wantErr: ErrNotTrailLog},
		{name: "truncated JSON in a matching record", data: oneRecord(key)[:bytes.Index(oneRecord(key), []byte(key))+30], wantErr: ErrMalformedRecord},
		{name: "matching record not a CloudTrail event", data: []byte(`{"Records":[{"userIdentity":{"accessKeyId":"` + key + `"},"eventTime":42}]}`), wantErr: ErrMalformedRecord},
	}
	s := NewTrailScanner(append(g.tracked, mustKeyID(t, key)), TrailScanOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const name = "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/21/x.json.gz"
			_, _, err := scanAll(s, name, bytes.NewReader(tt.data))
			if err == nil {
				t.Fatal("ScanObject succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the object", err)
			}
		})
	}
}

func TestTrailScanStops(t *testing.T) {
	g := newTrailGen(t, 5, 4, 0)
	gz := gzipBytes(t, g.object(t, 300))
	s := NewTrailScanner(g.tracked, TrailScanOptions{})
	stop := errors.New("enough")
	calls := 0
	_, err := s.ScanObject(context.Background(), "x", bytes.NewReader(gz), func(TrailMatch) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("fn error: ScanObject returned %v after %d calls, want %v after 1", err, calls, stop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.ScanObject(ctx, "x", bytes.NewReader(gz), func(TrailMatch) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: ScanObject returned %v, want context.Canceled", err)
	}
}

// memObjects serves log objects from memory.
func memObjects(objs map[string][]byte) iter.Seq[TrailObject] {
	return func(yield func(TrailObject) bool) {
		for _, name := range slices.Sorted(maps.Keys(objs)) {
			data := objs[name]
			open := func(context.Context) (io.ReadCloser, error) {
				if data == nil {
					return nil, errors.New("access denied")
				}
				return io.NopCloser(bytes.NewReader(data)), nil
			}
			if !yield(TrailObject{Name: name, Open: open}) {
				return
			}
		}
	}
}

func TestScanObjects(t *testing.T) {
	g := newTrailGen(t, 11, 8, 4)
	objs := map[string][]byte{}
	var want []refMatch
	s := NewTrailScanner(g.tracked, TrailScanOptions{})
	for i := range 12 {
		doc := g.object(t, 100)
		name := fmt.Sprintf("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/21/%02d.json.gz", i)
		objs[name] = gzipBytes(t, doc)
		ms, _ := referenceScan(s, doc)
		want = append(want, ms...)
	}
	objs["AWSLogs/broken.json.gz"] = objs["AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/21/00.json.gz"][:500]
	objs["AWSLogs/denied.json.gz"] = nil

	var got []refMatch
	perObject := map[string][]int64{}
	stats, err := s.ScanObjects(context.Background(), memObjects(objs), 2, func(m TrailMatch) error {
		got = append(got, refMatch{Offset: m.Offset, Key: m.AccessKeyID, Record: m.Record})
		perObject[m.Object] = append(perObject[m.Object], m.Offset)
		return nil
	})
	for _, bad := range []string{"AWSLogs/broken.json.gz", "AWSLogs/denied.json.gz"} {
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ScanObjects error %v does not report %s", err, bad)
		}
	}
	if stats.Objects != 14 || stats.FailedObjects != 2 || stats.Matches != len(want) {
		t.Errorf("stats %+v, want 14 objects, 2 failed, %d matches", stats, len(want))
	}
	for name, offs := range perObject {
		if !slices.IsSorted(offs) {
			t.Errorf("matches of %s out of order: %v", name, offs)
		}
	}
	byEvent := func(a, b refMatch) int { return strings.Compare(a.Record.EventID, b.Record.EventID) }
	slices.SortFunc(got, byEvent)
	slices.SortFunc(want, byEvent)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ScanObjects found %d matches, the reference %d", len(got), len(want))
	}

	stop := errors.New("stop")
	_, err = s.ScanObjects(context.Background(), memObjects(objs), 2, func(TrailMatch) error { return stop })
	if err != stop {
		t.Errorf("fn error: ScanObjects returned %v, want %v", err, stop)
	}
}

func FuzzTrailScan(f *testing.F) {
	g := newTrailGen(f, 3, 2, 1)
	g.bigRate = 0
	keys := append([]string(nil), g.keys...)
	compact := g.object(f, 2)
	g.indent = true
	indented := g.object(f, 1)
	for _, doc := range [][]byte{
		compact, indented, oneRecord(keys[0], keys[1]),
		[]byte(`{"Records":[{"userIdentity":{"accessKeyId":"` + keys[0] + `"},"requestParameters":{"p":"\\\"}]"}}]}`),
		[]byte(`{"x":[{"userIdentity":{"accessKeyId":"` + keys[1] + `"}}],"Records":[{"responseElements":{"credentials":{"accessKeyId":"` + keys[0] + `"}}}]}`),
	} {
		f.Add(doc, false)
		f.Add(doc, true)
		f.Add(gzipBytes(f, doc), false)
	}
	s := NewTrailScanner(g.tracked, TrailScanOptions{MaxObjectBytes: 1 << 20, MaxRecordBytes: 4 << 10})
	zw, err := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, compress bool) { // runs one input at a time: zw is safe to reuse
		input, doc := data, data
		if compress {
			var buf bytes.Buffer
			zw.Reset(&buf)
			if _, err := zw.Write(data); err != nil || zw.Close() != nil {
				t.Fatalf("gzip: %v", err)
			}
			input = buf.Bytes()
		} else if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				doc = nil
			} else if doc, err = io.ReadAll(io.LimitReader(zr, 1<<20)); err != nil {
				doc = nil
			}
		}
		got, _, _ := scanAll(s, "fuzz.json.gz", bytes.NewReader(input))
		if doc == nil || len(got) == 0 {
			return // nothing to check, or the reference cannot read it either
		}
		for _, m := range got {
			if m.Offset >= int64(len(doc)) || doc[m.Offset] != '{' {
				t.Fatalf("match at offset %d is not at an object in the input", m.Offset)
			}
		}
		want, ok := referenceScan(s, doc)
		if !ok || !recordsOnlyInRecords(s, doc) {
			return // the scanner's contract does not hold: no reference to compare
		}
		for _, m := range got {
			i := slices.IndexFunc(want, func(w refMatch) bool { return w.Offset == m.Offset })
			if i < 0 || !reflect.DeepEqual(want[i], m) {
				t.Fatalf("match at offset %d is not a reference match (reference offsets %v)", m.Offset, offsets(want))
			}
			want = want[i+1:] // in order, each once
		}
	})
}
