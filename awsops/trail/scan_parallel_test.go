package trail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
)

// memObjects serves log objects from memory.
func memObjects(objs map[string][]byte) iter.Seq[Object] {
	return func(yield func(Object) bool) {
		for _, name := range slices.Sorted(maps.Keys(objs)) {
			data := objs[name]
			open := func(context.Context) (io.ReadCloser, error) {
				if data == nil {
					return nil, errors.New("access denied")
				}
				return io.NopCloser(bytes.NewReader(data)), nil
			}
			if !yield(Object{Name: name, Open: open}) {
				return
			}
		}
	}
}

func TestScanObjects(t *testing.T) {
	g := trailtest.NewGen(t, 11, 8, 4)
	objs := map[string][]byte{}
	var want []refMatch
	s := NewScanner(g.Tracked, ScanOptions{})
	for i := range 12 {
		doc := g.Object(t, 100)
		name := fmt.Sprintf("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/21/%02d.json.gz", i)
		objs[name] = trailtest.Gzip(t, doc)
		ms, _ := referenceScan(s, doc)
		want = append(want, ms...)
	}
	objs["AWSLogs/broken.json.gz"] = objs["AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/21/00.json.gz"][:500]
	objs["AWSLogs/denied.json.gz"] = nil

	var got []refMatch
	perObject := map[string][]int64{}
	stats, err := s.ScanObjects(context.Background(), memObjects(objs), 2, func(m Match) error {
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
	_, err = s.ScanObjects(context.Background(), memObjects(objs), 2, func(Match) error { return stop })
	if err != stop {
		t.Errorf("fn error: ScanObjects returned %v, want %v", err, stop)
	}
}
