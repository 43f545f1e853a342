//go:build !purego

package trail

import "golang.org/x/sys/cpu"

// pairVector is whether indexPairVector may run: it uses AVX2.
var pairVector = cpu.X86.HasAVX2

// indexPairVector is indexPair, 32 positions at a time. len(b) ≥ 33.
//
//go:noescape
func indexPairVector(b []byte, c0, c1 byte) int
