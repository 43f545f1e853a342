package trail

// itemTable maps the hashes of an index's items to their first offsets.
// It is a map[uint64]int64 for the one use a scan makes of it, noting an
// item once per occurrence, most of them items seen before: an open
// addressed table of a few thousand slots, probed linearly, which stays
// in the cache and costs a few loads a note where the runtime's map costs
// a hash and a group scan.
type itemTable struct {
	slots []itemSlot // a power of two of them; hash 0 marks an empty slot
	n     int
	shift uint // 64 - log2(len(slots))
}

type itemSlot struct {
	h   uint64
	off int64
}

// init readies t for about size items.
func (t *itemTable) init(size int) {
	n := 64
	for n*3/4 < size {
		n *= 2
	}
	t.slots, t.n = make([]itemSlot, n), 0
	t.shift = uint(64 - log2(n))
}

func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

// stored is the hash t keeps for h: 0 marks an empty slot.
func stored(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// add records off for h unless h is there already, and reports false
// when h is not there and t holds limit items already.
func (t *itemTable) add(h uint64, off int64, limit int) bool {
	h = stored(h)
	mask := len(t.slots) - 1
	for i := int(h >> t.shift); ; i = (i + 1) & mask {
		s := &t.slots[i]
		switch s.h {
		case h:
			return true
		case 0:
			if t.n >= limit {
				return false
			}
			if (t.n+1)*4 > len(t.slots)*3 {
				t.grow()
				return t.add(h, off, limit)
			}
			s.h, s.off = h, off
			t.n++
			return true
		}
	}
}

// get returns the offset recorded for h.
func (t *itemTable) get(h uint64) (int64, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	h = stored(h)
	mask := len(t.slots) - 1
	for i := int(h >> t.shift); ; i = (i + 1) & mask {
		switch s := t.slots[i]; s.h {
		case h:
			return s.off, true
		case 0:
			return 0, false
		}
	}
}

// grow doubles the slots.
func (t *itemTable) grow() {
	old := t.slots
	t.slots = make([]itemSlot, 2*len(old))
	t.shift--
	mask := len(t.slots) - 1
	for _, s := range old {
		if s.h == 0 {
			continue
		}
		i := int(s.h >> t.shift)
		for t.slots[i].h != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}
