//go:build !purego

#include "textflag.h"

// func indexPairVector(b []byte, c0, c1 byte) int
//
// It compares the 32 bytes at p with c0 and the 32 at p+1 with c1: bit i
// of both is set where a pair begins at p+i. The last block overlaps the
// one before it, whose positions held no pair.
TEXT ·indexPairVector(SB), NOSPLIT, $0-40
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	VPBROADCASTB c0+24(FP), Y1
	VPBROADCASTB c1+25(FP), Y2
	MOVQ SI, DI
	LEAQ -33(SI)(BX*1), R9 // the last p whose block of 33 bytes fits
	LEAQ 32(R9), R10       // past it: every block done

loop:
	CMPQ DI, R9
	JBE  block
	CMPQ DI, R10
	JAE  notfound
	MOVQ R9, DI // the last block, once

block:
	VPCMPEQB  (DI), Y1, Y3
	VPCMPEQB  1(DI), Y2, Y4
	VPAND     Y3, Y4, Y3
	VPMOVMSKB Y3, CX
	TESTL     CX, CX
	JNZ       found
	ADDQ      $32, DI
	JMP       loop

notfound:
	MOVQ $-1, ret+32(FP)
	VZEROUPPER
	RET

found:
	BSFL CX, CX
	ADDQ CX, DI
	SUBQ SI, DI
	MOVQ DI, ret+32(FP)
	VZEROUPPER
	RET
