//go:build !purego

package trail

import "golang.org/x/sys/cpu"

// pairVector is whether indexPairVector and copyPairs may run: they use
// AVX2.
var pairVector = cpu.X86.HasAVX2

// indexPairVector is indexPair, 32 positions at a time. len(b) ≥ 33.
//
//go:noescape
func indexPairVector(b []byte, c0, c1 byte) int

// copyPairs copies src to dst, 32 bytes at a time while 33 remain in src
// and out may hold 32 more indexes, and lists in out, in order, the index
// of every pair pairs[0] pairs[1] or pairs[2] pairs[3] that begins in what
// it copied. done is how many bytes it copied, a multiple of 32.
// len(dst) ≥ len(src).
//
//go:noescape
func copyPairs(dst, src []byte, pairs *[4]byte, out []uint32) (n, done int)
