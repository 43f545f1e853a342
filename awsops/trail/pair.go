package trail

import (
	"bytes"
	"slices"
)

// indexPair returns the index of the first i at which b holds the two
// bytes c0 c1, or -1. A pair is far rarer in logs than either byte alone
// ('K' is in one key ID in two, "sK" only in "accessKeyId"), so a search
// for a member name stops at few places that are not it.
func indexPair(b []byte, c0, c1 byte) int {
	if len(b) >= pairVectorMin && pairVector {
		return indexPairVector(b, c0, c1)
	}
	return indexPairBytes(b, c0, c1)
}

// indexPairBytes is indexPair with bytes.IndexByte.
func indexPairBytes(b []byte, c0, c1 byte) int {
	for i := 0; i+1 < len(b); {
		j := bytes.IndexByte(b[i:len(b)-1], c0)
		if j < 0 {
			return -1
		}
		i += j
		if b[i+1] == c1 {
			return i
		}
		i++
	}
	return -1
}

// pairVectorMin is the length from which the vector search pays.
const pairVectorMin = 64

// rarePair returns the index i of the pair s[i] s[i+1] that is rarest in
// logs: the rarest byte of s and the rarer of its neighbours. s holds two
// bytes or more.
func rarePair(s []byte) int {
	r := rarest(s)
	switch {
	case r == 0:
		return 0
	case r == len(s)-1:
		return r - 1
	case byteRankOf(s[r-1]) <= byteRankOf(s[r+1]):
		return r - 1
	}
	return r
}

// pairFinder lists, as a scan copies each chunk into its buffer, where two
// pairs of bytes begin: the "sK" of "accessKeyId" and the rarest pair of
// the first watched anchor. The searches for keys and for that anchor
// read the lists: each byte is read once, as it is copied, rather than
// once for the copy and once for each search.
//
// Offsets are the object's. The pairs that begin in [lo[j], end-1) are
// listed (the one that begins at end-1 ends in the next chunk); a search
// before lo[j] reads the data itself, and so does every search of a pair
// that an object holds too often to list (see maxListed).
type pairFinder struct {
	pairs   [4]byte
	anchor  bool    // pairs[2:] are an anchor's: pair 1 is listed
	direct  [2]bool // the pair is searched for in the data: too many to list
	lo      [2]int64
	end     int64 // of the data copied
	last    byte  // the byte at end-1
	at      [2][]int64
	cur     [2]int // where the last search of each pair ended in at
	scratch [1024]uint32
}

// maxListed bounds the pairs of each kind listed at once (128 KiB): past
// it, in text where the pair is common, the pair is searched for in the
// data, as without a finder.
const maxListed = 16 << 10

// reset readies f for an object: pair 0 is listed from its start on.
func (f *pairFinder) reset() {
	f.pairs = [4]byte{'s', 'K', 's', 'K'}
	f.anchor = false
	f.direct = [2]bool{}
	f.lo, f.end = [2]int64{}, 0
	f.at[0], f.at[1] = f.at[0][:0], f.at[1][:0]
	f.cur = [2]int{}
}

// watch lists the pair c0 c1 as pair 1 from the data copied next on.
func (f *pairFinder) watch(c0, c1 byte) {
	f.pairs[2], f.pairs[3] = c0, c1
	f.anchor, f.direct[1] = true, false
	f.lo[1] = max(f.end-1, 0)
	f.at[1], f.cur[1] = f.at[1][:0], 0
}

// moved tells f that the data before base is gone.
func (f *pairFinder) moved(base int64) {
	for j := range f.at {
		if base <= f.lo[j] {
			continue
		}
		f.lo[j] = base
		k, _ := slices.BinarySearch(f.at[j], base)
		f.at[j] = f.at[j][:copy(f.at[j], f.at[j][k:])]
		f.cur[j] = max(f.cur[j]-k, 0)
	}
}

// copyIn copies what of src dst holds to dst, the data's next bytes, and
// lists the pairs that begin in them; it returns how many it copied.
func (f *pairFinder) copyIn(dst, src []byte) int {
	n := min(len(dst), len(src))
	if n == 0 {
		return 0
	}
	src = src[:n]
	off := f.end
	if off > 0 {
		f.note(f.last, src[0], off-1)
	}
	done := 0
	for {
		k, d := copyPairs(dst[done:], src[done:], &f.pairs, f.scratch[:])
		for _, i := range f.scratch[:k] {
			i := done + int(i)
			f.note(src[i], src[i+1], off+int64(i))
		}
		done += d
		if d == 0 { // fewer than 33 bytes left
			copy(dst[done:], src[done:])
			for i := done; i+1 < n; i++ {
				f.note(src[i], src[i+1], off+int64(i))
			}
			break
		}
	}
	f.end, f.last = off+int64(n), src[n-1]
	return n
}

// note lists the pair c0 c1 that begins at offset off, if it is one.
func (f *pairFinder) note(c0, c1 byte, off int64) {
	if c0 == f.pairs[0] && c1 == f.pairs[1] && !f.direct[0] {
		f.list(0, off)
	}
	if f.anchor && c0 == f.pairs[2] && c1 == f.pairs[3] && !f.direct[1] {
		f.list(1, off)
	}
}

// list adds off to the list of pair j, or gives the list up when it is
// full.
func (f *pairFinder) list(j int, off int64) {
	if len(f.at[j]) == maxListed {
		f.direct[j], f.at[j] = true, f.at[j][:0]
		return
	}
	f.at[j] = append(f.at[j], off)
}

// find returns the offset of the first pair j (0: "sK", 1: the anchor's)
// that begins at or after from and ends before limit, or -1: what
// indexPair over the data between them finds. b holds the data from
// offset bOff on, to limit at least.
func (f *pairFinder) find(b []byte, bOff int64, j int, from, limit int64) int64 {
	if f.direct[j] {
		if k := indexPair(b[from-bOff:limit-bOff], f.pairs[2*j], f.pairs[2*j+1]); k >= 0 {
			return from + int64(k)
		}
		return -1
	}
	if from < f.lo[j] {
		end := min(limit, f.lo[j]+1) // pairs that begin before lo
		if k := indexPair(b[from-bOff:end-bOff], f.pairs[2*j], f.pairs[2*j+1]); k >= 0 {
			return from + int64(k)
		}
		from = f.lo[j]
	}
	at := f.at[j]
	k := f.cur[j]
	if k > len(at) || k > 0 && at[k-1] >= from {
		k, _ = slices.BinarySearch(at, from)
	}
	for k < len(at) && at[k] < from {
		k++
	}
	f.cur[j] = k
	if k < len(at) && at[k]+1 < limit {
		return at[k]
	}
	return -1
}
