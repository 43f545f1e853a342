package trail

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// patternDoc is a log whose records name users and events: some hold the
// watched patterns, in requestParameters or userIdentity, some only a
// prefix of one.
func patternDoc() []byte {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	users := []string{"bob", "bobby", "alice", "mallory"}
	for i := range 40 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"%s","accessKeyId":"AKIAQNZGKIQY56JQ%04d"},"eventTime":"2026-11-21T10:45:0%dZ","eventName":"%s","requestParameters":{"userName":"%s"},"eventID":"e%d"}`,
			users[i%4], i, i%10, []string{"ListBuckets", "CreateSession", "GetObject"}[i%3], users[(i/4)%4], i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// TestTrailScanWatchedPatterns: a record is matched when it holds a watched
// pattern, wherever the chunks of input split it, with the first pattern
// (in the order watched) it holds; a key and a pattern in one record make
// one match.
func TestTrailScanWatchedPatterns(t *testing.T) {
	doc := patternDoc()
	s := NewScanner([]string{"AKIAQNZGKIQY56JQ0007"}, ScanOptions{})
	s.Watch(`"userName":"bob"`, `"eventName":"CreateSession"`)
	want, ok := referenceScan(s, doc)
	if !ok {
		t.Fatal("the test log is not valid JSON")
	}
	patterns := map[string]int{}
	for _, m := range want {
		patterns[m.Pattern]++
	}
	if patterns[`"userName":"bob"`] == 0 || patterns[`"eventName":"CreateSession"`] == 0 || patterns[""] != 0 {
		t.Fatalf("the reference found %v; the test needs records of each pattern, and the key's record holds one", patterns)
	}
	for seed := range uint64(20) {
		r := &chunkReader{data: doc, rng: rand.New(rand.NewPCG(seed, 3)), max: 1 + int(seed)*7}
		got, st, err := scanAll(s, "watch.json", r)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunks of at most %d bytes: matches at %v, want %v", r.max, offsets(got), offsets(want))
		}
		if st.Generation != 2 {
			t.Errorf("generation = %d, want 2 (one Add, one Watch)", st.Generation)
		}
	}
}

// TestTrailScanGrowsWhileScanning: a key added by the callback, when the
// record that minted it is found, is tracked for the rest of the object
// (from the next chunk read) and in every later scan.
func TestTrailScanGrowsWhileScanning(t *testing.T) {
	const parent, child, later = "AKIARZPUZDIKGB2VALC4", "ASIAQNZGKIQY56JQ7WML", "ASIAQNZGKIQY56JQ7WMZ"
	mint := `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","accessKeyId":"` + parent + `"},"eventTime":"2026-11-21T10:45:00Z","eventName":"AssumeRole","eventID":"mint","responseElements":{"credentials":{"accessKeyId":"` + child + `"}}}`
	use := func(i int) string {
		return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","accessKeyId":"%s"},"eventTime":"2026-11-21T10:46:00Z","eventName":"ListBuckets","eventID":"use%d","requestParameters":{"pad":"%s"}}`, child, i, strings.Repeat("x", 200))
	}
	var b strings.Builder
	b.WriteString(`{"Records":[` + mint)
	for i := range 30 {
		b.WriteString("," + use(i))
	}
	b.WriteString("]}")
	doc := []byte(b.String())

	s := NewScanner([]string{parent}, ScanOptions{})
	gen0 := s.Generation()
	var found []string
	r := &chunkReader{data: doc, rng: rand.New(rand.NewPCG(1, 2)), max: 512}
	st, err := s.ScanObject(t.Context(), "grow.json", r, func(m Match) error {
		found = append(found, m.Record.EventID)
		if m.Record.EventName == "AssumeRole" {
			s.Add(m.Record.CredentialsAccessKeyID())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Generation != gen0 {
		t.Errorf("the scan reports generation %d, want the one it began with (%d)", st.Generation, gen0)
	}
	// The first chunk ends at most 512 bytes in: the mint and at most one
	// use lie in it; every use after it must be found.
	if len(found) < 30 || found[0] != "mint" || found[len(found)-1] != "use29" {
		t.Fatalf("found %d records (%v), want the mint and the uses after the first chunk", len(found), found)
	}
	if got := s.Generation(); got != gen0+1 {
		t.Errorf("generation after Add = %d, want %d", got, gen0+1)
	}
	s.Add(later)
	n := 0
	if _, err := s.ScanObject(t.Context(), "again.json", bytes.NewReader(doc), func(Match) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 31 {
		t.Errorf("a later scan found %d records, want 31", n)
	}
}

var _ io.Reader = (*chunkReader)(nil)
