package trail

import (
	"bytes"
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

// TestPairFinderAgreesWithIndexPair streams text with pairs everywhere
// into a buffer in chunks of every size, dropping its start now and then
// as a scan does, watching the second pair from a point on, and checks
// every search of the finder against indexPair over the same bytes.
func TestPairFinderAgreesWithIndexPair(t *testing.T) {
	for seed := range uint64(20) {
		checkPairFinder(t, rand.New(rand.NewPCG(seed, 7)), nil, true)
	}
	// More pairs than the finder lists at once: it reads the data instead.
	if f := checkPairFinder(t, rand.New(rand.NewPCG(1, 7)), bytes.Repeat([]byte("sKrN"), maxListed+100), false); !f.direct[0] {
		t.Errorf("with %d pairs held, the finder still lists them", maxListed+100)
	}
}

func FuzzPairFinder(f *testing.F) {
	f.Add(uint64(1), []byte(`{"accessKeyId":"AKIA","userName":"bob"}`))
	f.Fuzz(func(t *testing.T, seed uint64, text []byte) {
		checkPairFinder(t, rand.New(rand.NewPCG(seed, 7)), text, true)
	})
}

// checkPairFinder streams text (or random text when nil) through a pair
// finder, dropping the start of what it holds now and then when drops is
// set, and checks its searches.
func checkPairFinder(t *testing.T, rng *rand.Rand, text []byte, drops bool) *pairFinder {
	t.Helper()
	if text == nil {
		text = make([]byte, 2000+rng.IntN(3000))
		alphabet := "sKrNx"
		if rng.IntN(2) == 0 {
			alphabet = "sK" // more pairs than the vector pass lists at once
		}
		for i := range text {
			text[i] = alphabet[rng.IntN(len(alphabet))]
		}
	}
	var f pairFinder
	f.reset()
	watchAt := rng.IntN(len(text) + 1)
	var buf []byte // the text from base on
	base := int64(0)
	for off := 0; off < len(text); {
		if !f.anchor && off >= watchAt {
			f.watch('r', 'N')
		}
		if drops && rng.IntN(4) == 0 && len(buf) > 0 { // the scan drops what it is done with
			drop := rng.IntN(len(buf))
			buf, base = append([]byte(nil), buf[drop:]...), base+int64(drop)
			f.moved(base)
		}
		n := min(1+rng.IntN(200), len(text)-off)
		if rng.IntN(8) == 0 {
			n = min(1+rng.IntN(5000), len(text)-off) // past the vector pass's list
		}
		room := make([]byte, n+rng.IntN(3)) // the room dst has may exceed what src holds
		if got := f.copyIn(room, text[off:off+n]); got != n {
			t.Fatalf("copyIn copied %d bytes of %d", got, n)
		}
		if !bytes.Equal(room[:n], text[off:off+n]) {
			t.Fatalf("copyIn copied %q, want %q", room[:n], text[off:off+n])
		}
		buf = append(buf, room[:n]...)
		off += n
		end := base + int64(len(buf))
		for range 20 {
			j := 0
			if f.anchor && rng.IntN(2) == 0 {
				j = 1
			}
			from := base + rng.Int64N(int64(len(buf)))
			limit := from + 1 + rng.Int64N(end-from)
			want := int64(-1)
			if k := naivePair(buf[from-base:limit-base], f.pairs[2*j], f.pairs[2*j+1]); k >= 0 {
				want = from + int64(k)
			}
			if got := f.find(buf, base, j, from, limit); got != want {
				t.Fatalf("find(pair %d, %d, %d) = %d, want %d (data %d to %d)", j, from, limit, got, want, base, end)
			}
		}
	}
	return &f
}
