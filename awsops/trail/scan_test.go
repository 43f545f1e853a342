package trail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
	"github.com/klauspost/compress/gzip"
)

func TestTrailScanMatchesReference(t *testing.T) {
	for seed := range uint64(24) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			nTracked := []int{1, 2, 8, 64}[seed%4]
			g := trailtest.NewGen(t, seed, nTracked, 6)
			g.Indent = seed%5 == 3
			g.Sorted = seed%7 == 2
			opts := ScanOptions{}
			if seed%3 == 1 { // the smallest window: the scanner must track and compact
				opts = ScanOptions{MaxRecordBytes: 16 << 10}
			} else {
				g.BigRate = 0.05
			}
			doc := g.Object(t, 50+g.Rand.IntN(300))
			s := NewScanner(g.Tracked, opts)
			want, ok := referenceScan(s, doc)
			if !ok {
				t.Fatal("generated log object is not valid JSON")
			}
			if len(want) == 0 {
				t.Fatal("generated log object has no matching record; the test would prove nothing")
			}
			inputs := map[string]io.Reader{
				"gzip":         bytes.NewReader(trailtest.Gzip(t, doc)),
				"gzip members": io.MultiReader(bytes.NewReader(trailtest.Gzip(t, doc[:len(doc)/2])), bytes.NewReader(trailtest.Gzip(t, doc[len(doc)/2:]))),
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

func TestTrailScanEverySplit(t *testing.T) {
	const key = "AKIARZPUZDIKGB2VALC4"
	s := NewScanner([]string{key}, ScanOptions{})
	doc := trailtest.OneRecord("ASIAQNZGKIQY56JQ7WML", key, key)
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
	s := NewScanner([]string{key}, ScanOptions{})
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
		opts        ScanOptions
		wantErr     error
		wantMatches int
	}{
		{name: "decompression bomb", doc: bomb, opts: ScanOptions{MaxObjectBytes: 1 << 20}, wantErr: ErrObjectTooLarge},
		{name: "object at the limit", doc: trailtest.OneRecord(key), opts: ScanOptions{MaxObjectBytes: int64(len(trailtest.OneRecord(key)))}, wantMatches: 1},
		{name: "object one byte over", doc: trailtest.OneRecord(key), opts: ScanOptions{MaxObjectBytes: int64(len(trailtest.OneRecord(key))) - 1}, wantErr: ErrObjectTooLarge},
		{name: "matching record too large", doc: []byte(`{"Records":[` + small + `,` + big(key, 300<<10) + `]}`), opts: ScanOptions{MaxRecordBytes: 64 << 10}, wantErr: ErrRecordTooLarge, wantMatches: 1},
		{
			name:    "tracked key far into a large record",
			doc:     []byte(`{"Records":[{"eventVersion":"1.09","requestParameters":{"userData":"` + strings.Repeat("QUFB", 100<<10) + `"},"responseElements":{"credentials":{"accessKeyId":"` + key + `"}}}]}`),
			opts:    ScanOptions{MaxRecordBytes: 64 << 10},
			wantErr: ErrRecordTooLarge,
		},
		{name: "first record too large", doc: []byte(`{"Records":[` + big(key, 300<<10) + `]}`), opts: ScanOptions{MaxRecordBytes: 64 << 10}, wantErr: ErrRecordTooLarge},
		{
			name:        "large records without tracked keys are skipped",
			doc:         []byte(`{"Records":[` + small + `,` + big("AKIAIOSFODNN7EXAMPLE", 300<<10) + `,` + big("AKIAIOSFODNN7EXAMPLE", 2<<20) + `,` + small + `]}`),
			opts:        ScanOptions{MaxRecordBytes: 64 << 10},
			wantMatches: 2,
		},
	}
	s := func(opts ScanOptions) *Scanner { return NewScanner([]string{key}, opts) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const name = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/21/bomb.json.gz"
			got, _, err := scanAll(s(tt.opts), name, bytes.NewReader(trailtest.Gzip(t, tt.doc)))
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
	g := trailtest.NewGen(t, 99, 2, 2)
	doc := g.Object(t, 400)
	gz := trailtest.Gzip(t, doc)
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
		{name: "truncated JSON in a matching record", data: trailtest.OneRecord(key)[:bytes.Index(trailtest.OneRecord(key), []byte(key))+30], wantErr: ErrMalformedRecord},
		{name: "matching record not a CloudTrail event", data: []byte(`{"Records":[{"userIdentity":{"accessKeyId":"` + key + `"},"eventTime":42}]}`), wantErr: ErrMalformedRecord},
	}
	s := NewScanner(append(g.Tracked, key), ScanOptions{})
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
	g := trailtest.NewGen(t, 5, 4, 0)
	gz := trailtest.Gzip(t, g.Object(t, 300))
	s := NewScanner(g.Tracked, ScanOptions{})
	stop := errors.New("enough")
	calls := 0
	_, err := s.ScanObject(context.Background(), "x", bytes.NewReader(gz), func(Match) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("fn error: ScanObject returned %v after %d calls, want %v after 1", err, calls, stop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.ScanObject(ctx, "x", bytes.NewReader(gz), func(Match) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: ScanObject returned %v, want context.Canceled", err)
	}
}

func FuzzTrailScan(f *testing.F) {
	g := trailtest.NewGen(f, 3, 2, 1)
	g.BigRate = 0
	keys := append([]string(nil), g.Keys...)
	compact := g.Object(f, 2)
	g.Indent = true
	indented := g.Object(f, 1)
	for _, doc := range [][]byte{
		compact, indented, trailtest.OneRecord(keys[0], keys[1]),
		[]byte(`{"Records":[{"userIdentity":{"accessKeyId":"` + keys[0] + `"},"requestParameters":{"p":"\\\"}]"}}]}`),
		[]byte(`{"x":[{"userIdentity":{"accessKeyId":"` + keys[1] + `"}}],"Records":[{"responseElements":{"credentials":{"accessKeyId":"` + keys[0] + `"}}}]}`),
	} {
		f.Add(doc, false)
		f.Add(doc, true)
		f.Add(trailtest.Gzip(f, doc), false)
	}
	s := NewScanner(g.Tracked, ScanOptions{MaxObjectBytes: 1 << 20, MaxRecordBytes: 4 << 10})
	s.Watch(`"type":"AssumedRole"`, `"userName":"`)
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
				t.Fatalf("match at offset %d is not a reference match (reference offsets %v)\ngot  %+v\nwant %+v", m.Offset, offsets(want), m, want)
			}
			want = want[i+1:] // in order, each once
		}
	})
}
