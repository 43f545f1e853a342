//go:build !amd64 || purego

package trail

const pairVector = false

func indexPairVector(b []byte, c0, c1 byte) int { return indexPairBytes(b, c0, c1) }

func copyPairs(dst, src []byte, pairs *[4]byte, out []uint32) (n, done int) { return 0, 0 }
