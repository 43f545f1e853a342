package trail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
)

// refMatch is a match as the reference finds it.
type refMatch struct {
	Offset   int64
	Key      string
	Patterns []string
	Record   Record
}

// referenceScan decodes the whole JSON document naively and returns the
// records, in every array under a root "Records" key, that used or issued a
// tracked key. ok is false when the document is not valid JSON.
func referenceScan(s *Scanner, doc []byte) (matches []refMatch, ok bool) {
	if !json.Valid(doc) {
		return nil, false
	}
	forEachRootMember(doc, func(records bool, start int64, raw json.RawMessage) {
		var rec Record
		if !records || raw[0] != '{' || json.Unmarshal(raw, &rec) != nil {
			return
		}
		key, ok := referenceKey(s, &rec)
		var patterns []string
		for _, p := range s.set.Load().patterns.list {
			if bytes.Contains(raw, []byte(p)) {
				patterns, ok = append(patterns, p), true
			}
		}
		if ok {
			matches = append(matches, refMatch{Offset: start, Key: key, Patterns: patterns, Record: rec})
		}
	})
	return matches, true
}

// referenceKey returns the tracked key that rec used or else issued,
// decoding the credentials with encoding/json.
func referenceKey(s *Scanner, rec *Record) (string, bool) {
	var resp struct {
		Credentials struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
	}
	if len(rec.ResponseElements) == 0 || rec.ResponseElements[0] != '{' || json.Unmarshal(rec.ResponseElements, &resp) != nil {
		resp.Credentials.AccessKeyID = ""
	}
	for _, k := range []string{rec.UserIdentity.AccessKeyID, resp.Credentials.AccessKeyID} {
		if len(k) != keyIDLen {
			continue
		}
		if s.set.Load().tracksID(k) {
			return k, true
		}
	}
	return "", false
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
func recordsOnlyInRecords(s *Scanner, doc []byte) bool {
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
		var rec Record
		if tok == json.Delim('{') && !record && json.Unmarshal(raw, &rec) == nil {
			if _, ok := referenceKey(s, &rec); ok {
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
func scanAll(s *Scanner, name string, r io.Reader) ([]refMatch, ObjectStats, error) {
	var got []refMatch
	st, err := s.ScanObject(context.Background(), name, r, func(m Match) error {
		if m.Object != name {
			return fmt.Errorf("match names object %q, want %q", m.Object, name)
		}
		got = append(got, refMatch{Offset: m.Offset, Key: m.AccessKeyID, Patterns: m.Patterns, Record: m.Record})
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
	s := NewScanner([]string{key}, ScanOptions{})
	for _, tt := range tests {
		if got := recordsOnlyInRecords(s, []byte(tt.doc)); got != tt.want {
			t.Errorf("%s: recordsOnlyInRecords = %v, want %v", tt.name, got, tt.want)
		}
	}
	g := trailtest.NewGen(t, 1, 4, 4)
	if doc := g.Object(t, 200); !recordsOnlyInRecords(NewScanner(g.Tracked, ScanOptions{}), doc) {
		t.Error("a generated log breaks the contract")
	}
}
