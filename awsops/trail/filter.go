package trail

import "sync/atomic"

// bitFilter turns away most of the items a log holds before a map is
// looked at: bit h%filterBits is set for every item of hash h in the map.
// Bits are only ever set, so one filter serves every version of the map it
// guards: a version sees the bits of items added after it, which costs it
// a map lookup that says no, never a miss. It is safe for concurrent use.
type bitFilter [filterBits / 64]atomic.Uint64

// filterBits is the size of a filter: with the 1,000 or so items of a
// large tree, 1.5% of the bits are set, and 98.5% of the items it is asked
// about go no further.
const filterBits = 1 << 16

func (f *bitFilter) set(h uint64) {
	b := h % filterBits
	f[b/64].Or(1 << (b % 64))
}

func (f *bitFilter) has(h uint64) bool {
	b := h % filterBits
	return f[b/64].Load()&(1<<(b%64)) != 0
}
