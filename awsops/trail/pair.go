package trail

import "bytes"

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
