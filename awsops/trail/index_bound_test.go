package trail

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// TestIndexIsBounded: one log object whose records name two million
// distinct access key IDs (none tracked, as a hostile bucket could hold)
// leaves an index of at most maxIndexItems items, which holds a few MB
// however large the object. A key first named past the items the index
// could note is not lost for it: tracked later, it is reported missed, to
// be found by a second scan, of the whole object when it was tracked after
// the scan, and up to where the scan took it up when it was tracked during
// it (by the callback of a record further on).
func TestIndexIsBounded(t *testing.T) {
	const n = 2_000_000
	const late = "ASIALATELATELATELATE"    // named once, after the index filled
	const mid = "ASIAMIDMIDMIDMIDMID0"     // named once, after the index filled …
	const tracked = "AKIATRACKEDTRACKED01" // … and before this one's record, whose callback tracks mid
	var raw bytes.Buffer
	raw.WriteString(`{"Records":[`)
	midAt := 0
	for i := range n {
		if i > 0 {
			raw.WriteByte(',')
		}
		switch i {
		case n / 2:
			midAt = raw.Len()
			fmt.Fprintf(&raw, `{"eventVersion":"1.09","userIdentity":{"accessKeyId":"%s"}}`, mid)
		case n * 3 / 4:
			fmt.Fprintf(&raw, `{"eventVersion":"1.09","userIdentity":{"accessKeyId":"%s"}}`, tracked)
		default:
			fmt.Fprintf(&raw, `{"eventVersion":"1.09","userIdentity":{"accessKeyId":"ASIA%016d"}}`, i)
		}
	}
	fmt.Fprintf(&raw, `,{"eventVersion":"1.09","userIdentity":{"accessKeyId":"%s"}}]}`, late)
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	decompressed := raw.Len()
	raw = bytes.Buffer{}

	s := NewScanner([]string{tracked}, ScanOptions{Index: true})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	midGen, trackedEnd := 0, int64(0)
	st, err := s.ScanObject(context.Background(), "big", bytes.NewReader(gz.Bytes()), func(m Match) error {
		midGen, trackedEnd = s.Add(mid), m.End
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gz = bytes.Buffer{}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("object of %d MB decompressed: index of %d items; heap held after the scan %d MiB", decompressed>>20, st.Index.Len(), held>>20)
	if st.Index.Len() > maxIndexItems {
		t.Errorf("the index holds %d items, want at most %d", st.Index.Len(), maxIndexItems)
	}
	if held > 16<<20 {
		t.Errorf("the scan of one object leaves %d MiB held, want a few MB", held>>20)
	}
	gen := s.Add(late)
	if upTo, missed := st.Missed(late, gen); !missed || upTo != 0 {
		t.Errorf("Missed(%s) = %d, %v: the index could not note it, so the object must be read again whole", late, upTo, missed)
	}
	if midGen == 0 {
		t.Fatalf("the record of %s was not handed on", tracked)
	}
	if upTo, missed := st.Missed(mid, midGen); !missed || upTo <= int64(midAt) || upTo < trackedEnd || upTo >= int64(decompressed) {
		t.Errorf("Missed(%s) = %d, %v: named at %d, after the index filled, and tracked from the end of %s's record (%d) on, it must be read again up to there",
			mid, upTo, missed, midAt, tracked, trackedEnd)
	}
	runtime.KeepAlive(st)
}
