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
// be found by a second scan.
func TestIndexIsBounded(t *testing.T) {
	const n = 2_000_000
	const late = "ASIALATELATELATELATE" // named once, after the index filled
	var raw bytes.Buffer
	raw.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			raw.WriteByte(',')
		}
		fmt.Fprintf(&raw, `{"eventVersion":"1.09","userIdentity":{"accessKeyId":"ASIA%016d"}}`, i)
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

	s := NewScanner([]string{"AKIAIOSFODNN7EXAMPLE"}, ScanOptions{Index: true})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := s.ScanObject(context.Background(), "big", bytes.NewReader(gz.Bytes()), func(Match) error { return nil })
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
	runtime.KeepAlive(st)
}
