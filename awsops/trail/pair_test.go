package trail

import (
	"math/rand/v2"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
)

// TestIndexPairAgreesWithBytes: the vector search finds the first pair
// where the byte search does, at every length and alignment, with pairs
// at the edges of its blocks.
func TestIndexPairAgreesWithBytes(t *testing.T) {
	if !pairVector {
		t.Log("no vector search on this machine: only the byte search is checked")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 400)
	for n := 0; n < 300; n++ { // past two of the vector search's 128-byte steps
		for off := range 3 {
			b := buf[off : off+n]
			for trial := range 40 {
				for i := range b {
					b[i] = "ab"[rng.IntN(2)] // pairs everywhere
					if trial%2 == 1 {
						b[i] = "abcdefgh"[rng.IntN(8)]
					}
				}
				if n > 0 && trial%4 == 3 {
					b[n-1] = 'x' // a pair that ends at the last byte
					if n > 1 {
						b[n-2] = 'w'
					}
				}
				for _, pair := range [][2]byte{{'a', 'b'}, {'b', 'b'}, {'w', 'x'}, {'z', 'z'}} {
					want := naivePair(b, pair[0], pair[1])
					if got := indexPairBytes(b, pair[0], pair[1]); got != want {
						t.Fatalf("indexPairBytes(%q, %q) = %d, want %d", b, pair, got, want)
					}
					if len(b) >= 33 && pairVector {
						if got := indexPairVector(b, pair[0], pair[1]); got != want {
							t.Fatalf("indexPairVector(%q, %q) = %d, want %d", b, pair, got, want)
						}
					}
					if got := indexPair(b, pair[0], pair[1]); got != want {
						t.Fatalf("indexPair(%q, %q) = %d, want %d", b, pair, got, want)
					}
				}
			}
		}
	}
}

func naivePair(b []byte, c0, c1 byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == c0 && b[i+1] == c1 {
			return i
		}
	}
	return -1
}

func FuzzIndexPair(f *testing.F) {
	f.Add([]byte(`{"eventVersion":"1.08","userIdentity":{"accessKeyId":"AKIA"}}`), byte('s'), byte('K'))
	f.Fuzz(func(t *testing.T, b []byte, c0, c1 byte) {
		if got, want := indexPair(b, c0, c1), naivePair(b, c0, c1); got != want {
			t.Fatalf("indexPair = %d, want %d", got, want)
		}
	})
}

func TestRarePair(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want string
	}{
		{`"userName":"`, "rN"},
		{`"accessKeyId"`, "sK"},
		{`"eventName":"`, "tN"},
		{`ab`, "ab"},
	} {
		i := rarePair([]byte(tc.s))
		if got := tc.s[i : i+2]; got != tc.want {
			t.Errorf("rarePair(%s) picks %q, want %q", tc.s, got, tc.want)
		}
	}
}

// BenchmarkIndexPair searches generated log text for every "sK" pair, as
// the scan does for "accessKeyId", and reports the speed over the text.
func BenchmarkIndexPair(b *testing.B) {
	doc := trailtest.NewGen(b, 42, 8, 0).Object(b, 2000)
	b.SetBytes(int64(len(doc)))
	n := 0
	for b.Loop() {
		n = 0
		for i := 0; ; n++ {
			j := indexPair(doc[i:], 's', 'K')
			if j < 0 {
				break
			}
			i += j + 1
		}
	}
	b.ReportMetric(float64(len(doc))/float64(n), "bytes/pair")
}
