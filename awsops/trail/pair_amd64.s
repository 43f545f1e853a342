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

// func copyPairs(dst, src []byte, pairs *[4]byte, out []uint32) (n, done int)
//
// It copies src to dst (len(dst) ≥ len(src)) 32 bytes at a time, and lists
// in out the index in src of every pair (pairs[0] pairs[1], or pairs[2]
// pairs[3]) that begins in a block copied, while 33 bytes of src remain and
// out may hold 32 more: done is how many bytes it copied.
TEXT ·copyPairs(SB), NOSPLIT, $0-96
	MOVQ dst_base+0(FP), R8
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), BX
	MOVQ pairs+48(FP), AX
	VPBROADCASTB 0(AX), Y1
	VPBROADCASTB 1(AX), Y2
	VPBROADCASTB 2(AX), Y5
	VPBROADCASTB 3(AX), Y6
	MOVQ out_base+56(FP), R11
	MOVQ out_len+64(FP), R13
	SUBQ $32, R13          // room for a block's worth after this count
	XORQ R12, R12          // entries listed
	XORQ DI, DI            // index of the block in src
	SUBQ $33, BX           // the last block start whose 33 bytes fit

loop:
	CMPQ DI, BX
	JGT  end
	CMPQ R12, R13
	JGT  end
	VMOVDQU   (SI)(DI*1), Y7
	VMOVDQU   1(SI)(DI*1), Y8
	VMOVDQU   Y7, (R8)(DI*1)
	VPCMPEQB  Y7, Y1, Y3
	VPCMPEQB  Y8, Y2, Y4
	VPAND     Y3, Y4, Y3
	VPCMPEQB  Y7, Y5, Y9
	VPCMPEQB  Y8, Y6, Y10
	VPAND     Y9, Y10, Y9
	VPOR      Y3, Y9, Y3
	VPMOVMSKB Y3, CX
	TESTL     CX, CX
	JNZ       list

next:
	ADDQ $32, DI
	JMP  loop

list:
	BSFL CX, AX
	ADDQ DI, AX
	MOVL AX, (R11)(R12*4)
	INCQ R12
	LEAL -1(CX), AX
	ANDL AX, CX
	JNZ  list
	JMP  next

end:
	MOVQ R12, n+80(FP)
	MOVQ DI, done+88(FP)
	VZEROUPPER
	RET
