package trail

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
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
// pattern, wherever the chunks of input split it, with every pattern
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
		if len(m.Patterns) == 0 {
			patterns[""]++
		}
		for _, p := range m.Patterns {
			patterns[p]++
		}
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
// (from the record after) and in every later scan; the scan says where it
// picked the key up, and its index shows the key's first use after that
// point (the mint, handed to the callback, does not count).
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

	s := NewScanner([]string{parent}, ScanOptions{Index: true})
	gen0 := s.Generation()
	var found []string
	var minted Match
	r := &chunkReader{data: doc, rng: rand.New(rand.NewPCG(1, 2)), max: 512}
	st, err := s.ScanObject(t.Context(), "grow.json", r, func(m Match) error {
		found = append(found, m.Record.EventID)
		if m.Record.EventName == "AssumeRole" {
			minted = m
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
	if len(found) != 31 || found[0] != "mint" || found[len(found)-1] != "use29" {
		t.Fatalf("found %d records (%v), want the mint and the 30 uses", len(found), found)
	}
	mintEnd := int64(len(`{"Records":[` + mint))
	if want := []Pickup{{Generation: gen0 + 1, Offset: mintEnd}}; !reflect.DeepEqual(st.Pickups, want) {
		t.Errorf("pickups %+v, want %+v", st.Pickups, want)
	}
	if minted.Offset != int64(len(`{"Records":[`)) || minted.End != mintEnd {
		t.Errorf("the mint is handed on at [%d, %d), want [%d, %d)", minted.Offset, minted.End, len(`{"Records":[`), mintEnd)
	}
	if upTo, missed := st.MissedBesides(child, gen0+1, minted.Offset, minted.End); missed {
		t.Errorf("MissedBesides(child, the mint) = %d, true; want false: the mint names it, and every use follows", upTo)
	}
	if upTo, missed := st.Missed(child, gen0+1); !missed || upTo != mintEnd {
		t.Errorf("Missed(child) = %d, %v; want %d, true: the index saw it in the mint, before the pickup", upTo, missed, mintEnd)
	}
	if upTo, missed := st.Missed(later, gen0+2); missed {
		t.Errorf("Missed(a key added after the scan, absent from the object) = %d, true; want false", upTo)
	}
	noIndex := st
	noIndex.Index = nil
	if upTo, missed := noIndex.Missed(later, gen0+2); !missed || upTo != 0 {
		t.Errorf("without an index, Missed(a key added after the scan) = %d, %v; want the whole object", upTo, missed)
	}

	// A use before the mint in the file (files are not in time order):
	// the index says a second scan must read up to the pickup.
	early := []byte(`{"Records":[` + use(99) + "," + mint + "," + use(100) + "]}")
	s2 := NewScanner([]string{parent}, ScanOptions{Index: true})
	st, err = s2.ScanObject(t.Context(), "early.json", bytes.NewReader(early), func(m Match) error {
		if m.Record.EventName == "AssumeRole" {
			s2.Add(m.Record.CredentialsAccessKeyID())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if upTo, missed := st.Missed(child, 2); !missed || upTo != int64(len(`{"Records":[`+use(99)+","+mint)) {
		t.Errorf("Missed(child used before its mint) = %d, %v; want true up to the mint's end", upTo, missed)
	}
	if got := s.Generation(); got != gen0+1 {
		t.Errorf("generation after Add = %d, want %d", got, gen0+1)
	}
	if got := s.Add(child, parent); got != gen0+1 {
		t.Errorf("Add of keys tracked already = generation %d, want %d: nothing changed", got, gen0+1)
	}
	if w := s.Watch(`"userName":"x"`); s.Watch(`"userName":"x"`) != w {
		t.Errorf("Watch of a pattern watched already made a new generation")
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

// TestTrailScanManyPatterns: a thousand watched users (one search of
// `"userName":"` and a lookup) and patterns of other forms find what a
// substring search of each finds, however the chunks split the input, and
// a value that is a prefix or an extension of a watched one is not taken
// for it.
func TestTrailScanManyPatterns(t *testing.T) {
	doc := patternDoc()
	s := NewScanner(nil, ScanOptions{})
	var watched []string
	for i := range 1000 {
		watched = append(watched, fmt.Sprintf(`"userName":"user-%d"`, i))
	}
	watched = append(watched, `"userName":"bob"`, `"userName":"mall"`, `"eventName":"GetObject"`, `"e1"`, `"type":"`)
	s.Watch(watched...)
	want, ok := referenceScan(s, doc)
	if !ok {
		t.Fatal("the test log is not valid JSON")
	}
	count := map[string]int{}
	for _, m := range want {
		for _, p := range m.Patterns {
			count[p]++
		}
	}
	if count[`"userName":"bob"`] == 0 || count[`"eventName":"GetObject"`] == 0 || count[`"e1"`] == 0 || count[`"type":"`] != 40 || count[`"userName":"mall"`] != 0 {
		t.Fatalf("the reference found %v; the test needs every kind of pattern, and none of a value's prefix", count)
	}
	for seed := range uint64(30) {
		r := &chunkReader{data: doc, rng: rand.New(rand.NewPCG(seed, 5)), max: 1 + int(seed)*5}
		got, _, err := scanAll(s, "many.json", r)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunks of at most %d bytes: matches at %v, want %v", r.max, offsets(got), offsets(want))
		}
	}
}

// TestTrailScanStopAfter: a scan asked to stop after n bytes finds every
// record whose key begins before that point, as a full scan does, and
// stops soon after.
func TestTrailScanStopAfter(t *testing.T) {
	g := trailtest.NewGen(t, 77, 4, 2)
	g.PoolEvery = 3
	doc := g.Object(t, 400)
	full := NewScanner(g.Tracked, ScanOptions{})
	all, _, err := scanAll(full, "full.json", bytes.NewReader(doc))
	if err != nil || len(all) < 20 {
		t.Fatalf("%d matches, %v: the test needs at least 20", len(all), err)
	}
	mid := all[len(all)/2]
	stop := mid.Offset + int64(bytes.Index(doc[mid.Offset:], []byte(mid.Key))) + 1 // just past where its key begins
	s := NewScanner(g.Tracked, ScanOptions{StopAfter: stop})
	for seed := range uint64(10) {
		r := &chunkReader{data: doc, rng: rand.New(rand.NewPCG(seed, 9)), max: 1 + int(seed)*300}
		got, st, err := scanAll(s, "stop.json", r)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < len(all)/2+1 || !reflect.DeepEqual(got, all[:len(got)]) {
			t.Fatalf("chunks of %d: %d matches (%v), want the first %d of the full scan's and then none other", r.max, len(got), offsets(got), len(all)/2+1)
		}
		if st.Bytes >= int64(len(doc)) {
			t.Errorf("chunks of %d: read all %d bytes, want to stop after %d", r.max, st.Bytes, stop)
		}
	}
}

// TestTrailScanMissedPatterns: the index tells which patterns watched
// after a scan it may have missed: a value of a member it looked at is
// missed only where it appears, a member it never looked at always, and a
// member it began to look at midway up to that point.
func TestTrailScanMissedPatterns(t *testing.T) {
	doc := patternDoc() // users bob, bobby, alice, mallory; events ListBuckets, CreateSession, GetObject
	s := NewScanner(nil, ScanOptions{Index: true})
	gen := s.Watch(`"userName":"nobody"`)
	st, err := s.ScanObject(t.Context(), "users.json", bytes.NewReader(doc), func(Match) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pattern string
		missed  bool
	}{
		{`"userName":"alice"`, true},
		{`"userName":"zed"`, false},
		{`"userName":"bo"`, false}, // a prefix of bob
		{`"eventName":"GetObject"`, true},
		{`"eventName":"Nothing"`, true}, // a member never looked at
		{`"e1"`, true},                  // not a member and value: searched whole
	} {
		if upTo, missed := st.Missed(tt.pattern, gen+1); missed != tt.missed || upTo != 0 {
			t.Errorf("Missed(%s) = %d, %v; want 0, %v", tt.pattern, upTo, missed, tt.missed)
		}
	}

	// A member first watched midway: looked at from there on.
	r := &chunkReader{data: doc, rng: rand.New(rand.NewPCG(2, 2)), max: 64}
	s = NewScanner([]string{"AKIAQNZGKIQY56JQ0020"}, ScanOptions{Index: true})
	watchedAt := s.Generation() + 1
	st, err = s.ScanObject(t.Context(), "midway.json", r, func(m Match) error {
		s.Watch(`"userName":"nobody"`) // after the record of key 20
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pickups) != 1 || st.Pickups[0].Generation != watchedAt {
		t.Fatalf("pickups %+v, want one of generation %d", st.Pickups, watchedAt)
	}
	at := st.Pickups[0].Offset
	if upTo, missed := st.Missed(`"userName":"zed"`, watchedAt+1); !missed || upTo != at {
		t.Errorf("Missed(an absent user, the member looked at from %d) = %d, %v; want %d, true", at, upTo, missed, at)
	}
	if upTo, missed := st.Missed(`"userName":"nobody"`, watchedAt); !missed || upTo != at {
		t.Errorf("Missed(the pattern picked up midway) = %d, %v; want %d, true: the part before was not searched", upTo, missed, at)
	}
	if upTo, missed := st.Missed("AKIAQNZGKIQY56JQ0021", watchedAt+1); !missed || upTo != 0 {
		t.Errorf("Missed(a key of a record before the pickup) = %d, %v; want 0, true: never searched for", upTo, missed)
	}
}

// TestTrailScanIndexHoldsWhatItSaw: the index of a scan holds every value
// of a watched member it passed, however long beside the values watched
// then, and what the records handed on name, even where the search for
// patterns had passed it before the record was handed on: a pattern
// watched later is known missed there.
func TestTrailScanIndexHoldsWhatItSaw(t *testing.T) {
	rec := func(key, user, reqUser, id string) string {
		return `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"` + user + `","accessKeyId":"` + key + `"},"eventTime":"2026-11-21T10:45:00Z","eventName":"AttachUserPolicy","requestParameters":{"userName":"` + reqUser + `"},"eventID":"` + id + `"}`
	}
	const tracked, other = "AKIAQNZGKIQY56JQAAAA", "AKIAQNZGKIQY56JQBBBB"
	for _, tt := range []struct {
		name, doc, watch, later string
	}{
		{"a value longer than those watched", `{"Records":[` + rec(other, "mallory", "x", "e1") + `]}`, `"userName":"bob"`, `"userName":"mallory"`},
		{"a value in a record handed on and after it", `{"Records":[` + rec(tracked, "admin", "bob", "e1") + `,` + rec(other, "bob", "bob", "e2") + `]}`, `"userName":"alice"`, `"userName":"bob"`},
		{"a key in a record handed on for a pattern", `{"Records":[` + rec(other, "alice", "x", "e1") + `]}`, `"userName":"alice"`, other},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScanner([]string{tracked}, ScanOptions{Index: true})
			s.Watch(tt.watch)
			st, err := s.ScanObject(t.Context(), "f", bytes.NewReader([]byte(tt.doc)), func(Match) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			var gen int
			if strings.HasPrefix(tt.later, `"`) {
				gen = s.Watch(tt.later)
			} else {
				gen = s.Add(tt.later)
			}
			if upTo, missed := st.Missed(tt.later, gen); !missed || upTo != 0 {
				t.Errorf("Missed(%s) = %d, %v; want the whole object: it is in it", tt.later, upTo, missed)
			}
		})
	}
}

// TestTrailScanRewatch: watching again a pattern watched already makes a
// new generation, which the reads before it count as missed where the
// pattern is (their records holding it were handed on before).
func TestTrailScanRewatch(t *testing.T) {
	doc := patternDoc() // users bob, bobby, alice, mallory
	s := NewScanner(nil, ScanOptions{Index: true})
	gen := s.Watch(`"userName":"bob"`)
	n := 0
	st, err := s.ScanObject(t.Context(), "users.json", bytes.NewReader(doc), func(Match) error { n++; return nil })
	if err != nil || n == 0 {
		t.Fatalf("scan: %d matches, %v", n, err)
	}
	if again := s.Watch(`"userName":"bob"`); again != gen {
		t.Fatalf("Watch of a watched pattern made generation %d, want %d", again, gen)
	}
	again := s.Rewatch(`"userName":"bob"`)
	if again != gen+1 {
		t.Fatalf("Rewatch made generation %d, want %d", again, gen+1)
	}
	if upTo, missed := st.Missed(`"userName":"bob"`, again); !missed || upTo != 0 {
		t.Errorf("Missed(bob, the rewatch) = %d, %v; want the whole object", upTo, missed)
	}
	if upTo, missed := st.Missed(`"userName":"zed"`, again); missed {
		t.Errorf("Missed(an absent user) = %d, true; want false", upTo)
	}
}

// splitReader hands out data[:at] first, then calls between (another
// worker watching a pattern, say) and hands out the rest.
type splitReader struct {
	data    []byte
	at      int
	between func()
	reads   int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if r.reads++; r.reads == 1 {
		return copy(p, r.data[:r.at]), nil
	}
	if r.reads == 2 && r.between != nil {
		r.between()
	}
	if r.at >= len(r.data) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.at:])
	r.at += n
	return n, nil
}

// TestTrailScanFindsALongerPatternAcrossThePickup: a pattern longer than
// those watched, watched between two reads that cut one of its
// occurrences, is found by the scan, or else by the second scan Missed
// asks for, which reads on until the patterns begun before its stop are
// searched.
func TestTrailScanFindsALongerPatternAcrossThePickup(t *testing.T) {
	const arn = `"arn:aws:iam::111122223333:role/backdoor-role"`
	r0 := `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"ann","accessKeyId":"AKIAQNZGKIQY56JQ0001"},"eventTime":"2026-11-21T10:45:00Z","eventName":"ListBuckets","eventID":"e0"}`
	r1 := `{"eventVersion":"1.09","userIdentity":{"type":"AWSAccount","accountId":"999988887777","accessKeyId":"ASIAQNZGKIQY56JQ0002"},"eventTime":"2026-11-21T10:46:00Z","eventName":"AssumeRole","requestParameters":{"roleArn":` + arn + `},"eventID":"e1"}`
	doc := []byte(`{"Records":[` + r0 + `,` + r1 + `]}`)
	for cut := bytes.Index(doc, []byte(arn)) + 1; cut < bytes.Index(doc, []byte(arn))+len(arn); cut += 7 {
		s := NewScanner(nil, ScanOptions{Index: true})
		s.Watch(`"userName":"zed"`)
		var gen int
		var found []string
		record := func(m Match) error { found = append(found, m.Record.EventID); return nil }
		st, err := s.ScanObject(t.Context(), "f", &splitReader{data: doc, at: cut, between: func() { gen = s.Watch(arn) }}, record)
		if err != nil {
			t.Fatal(err)
		}
		if upTo, missed := st.Missed(arn, gen); missed {
			again := NewScanner(nil, ScanOptions{StopAfter: upTo})
			again.Watch(arn)
			if _, err := again.ScanObject(t.Context(), "f", &splitReader{data: doc, at: cut}, record); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Contains(found, "e1") {
			t.Errorf("cut at %d: the record holding %s is found by neither scan (found %v)", cut, arn, found)
		}
	}
}

// TestTrailScanMissedBesidesOnlyTheRecord: what the handling of a record R
// added is not missed where R holds it, and is missed where an earlier
// record holds it (one handed on for another door of the same text, or
// one only searched).
func TestTrailScanMissedBesidesOnlyTheRecord(t *testing.T) {
	const key, pattern = "AKIAQNZGKIQY56JQKKKK", `"eventName":"AssumeRoleWithSAML"`
	use := `{"eventVersion":"1.09","userIdentity":{"type":"SAMLUser","accountId":"111122223333"},"eventTime":"2026-11-21T10:45:00Z","eventName":"AssumeRoleWithSAML","eventID":"use"}`
	create := `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","accessKeyId":"` + key + `"},"eventTime":"2026-11-21T10:46:00Z","eventName":"CreateSAMLProvider","eventID":"create"}`
	doc := []byte(`{"Records":[` + use + `,` + create + `]}`)
	for _, before := range []string{pattern, `"eventName":"CreateSession"`} {
		s := NewScanner([]string{key}, ScanOptions{Index: true})
		s.Watch(before)
		var gen int
		var r Match
		st, err := s.ScanObject(t.Context(), "f", bytes.NewReader(doc), func(m Match) error {
			if m.Record.EventID == "create" {
				r, gen = m, s.Rewatch(pattern)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if upTo, missed := st.MissedBesides(pattern, gen, r.Offset, r.End); !missed || upTo != r.End {
			t.Errorf("watched before: %s: MissedBesides(the use before the record) = %d, %v; want %d, true", before, upTo, missed, r.End)
		}
	}
}
