package trail

import (
	"math/rand/v2"
	"testing"
)

// TestItemTableAsAMap: the table answers as a map of first offsets does,
// through growth, for hashes that share their top bits (one probe chain)
// and for the hash 0, and refuses new items past its limit while it still
// answers for those it holds.
func TestItemTableAsAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tab itemTable
	tab.init(0)
	want := map[uint64]int64{}
	const limit = 3000
	for off := int64(0); off < 20000; off++ {
		var h uint64
		switch off % 4 {
		case 0:
			h = r.Uint64N(4000) << 40 // many share a chain
		case 1:
			h = uint64(r.IntN(3)) // 0, 1, 2: 0 is kept as 1
		default:
			h = r.Uint64()
		}
		if h == 0 {
			h = 1 // the table cannot tell 0 from 1: the one collision it makes
		}
		_, had := want[h]
		ok := tab.add(h, off, limit)
		switch {
		case had && !ok:
			t.Fatalf("add(%#x) refused an item the table holds", h)
		case !had && len(want) < limit && !ok:
			t.Fatalf("add(%#x) refused at %d items, under the limit %d", h, len(want), limit)
		case !had && len(want) >= limit && ok:
			t.Fatalf("add(%#x) took an item past the limit %d", h, limit)
		case !had && ok:
			want[h] = off
		}
	}
	if tab.n != len(want) || len(want) != limit {
		t.Fatalf("the table holds %d items, the model %d, the limit %d", tab.n, len(want), limit)
	}
	for h, off := range want {
		if got, ok := tab.get(h); !ok || got != off {
			t.Fatalf("get(%#x) = %d, %v; want %d", h, got, ok, off)
		}
	}
	for range 1000 {
		h := r.Uint64() | 1<<63
		if _, had := want[h]; had {
			continue
		}
		if _, ok := tab.get(h); ok {
			t.Fatalf("get(%#x) found an item never added", h)
		}
	}
	if got, ok := tab.get(0); !ok || got != want[1] {
		t.Fatalf("get(0) = %d, %v; want the offset of 1, %d", got, ok, want[1])
	}
	var empty itemTable
	if _, ok := empty.get(5); ok {
		t.Fatal("an empty table found an item")
	}
}
