//go:build linux

package trail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// benchCorpus is a set of gzip CloudTrail log objects and the keys of an
// incident in them.
type benchCorpus struct {
	objects [][]byte // gzip
	raw     int64    // uncompressed bytes in all objects
	keys    []string // the leaked key and seven keys derived from it
}

// newBenchCorpus generates n objects of records each, from the busy callers
// of an account plus the eight incident keys, each calling in about one
// record in 1000 (STS calls issue them as often).
func newBenchCorpus(tb testing.TB, n, records int) benchCorpus {
	tb.Helper()
	g := trailtest.NewGen(tb, 42, 8, 0)
	g.PoolEvery = 125
	g.BigRate = 0.002
	c := benchCorpus{keys: g.Tracked}
	for range n {
		doc := g.Object(tb, records)
		c.raw += int64(len(doc))
		c.objects = append(c.objects, trailtest.Gzip(tb, doc))
	}
	return c
}

// trackedKeys returns n keys to track: the leaked key, then the derived
// ones, then keys absent from the logs, so that 8 and 64 keys decode the
// same records.
func (c benchCorpus) trackedKeys(b *testing.B, n int) []string {
	b.Helper()
	keys := slices.Clone(c.keys[:min(n, len(c.keys))])
	if n > len(keys) {
		keys = append(keys, trailtest.NewGen(b, 7, n-len(keys), 0).Tracked...)
	}
	return keys
}

func (c benchCorpus) compressed() int64 {
	var n int64
	for _, o := range c.objects {
		n += int64(len(o))
	}
	return n
}

func BenchmarkGunzipBaseline(b *testing.B) {
	c := newBenchCorpus(b, 8, 2000)
	b.Logf("%d objects, %d MB uncompressed, %.1f× compression", len(c.objects), c.raw>>20, float64(c.raw)/float64(c.compressed()))
	var zr gzip.Reader
	b.SetBytes(c.raw)
	b.ResetTimer()
	for b.Loop() {
		for _, o := range c.objects {
			gunzip(b, &zr, o)
		}
	}
}

func gunzip(b *testing.B, zr *gzip.Reader, obj []byte) {
	if err := zr.Reset(bytes.NewReader(obj)); err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTrailScan reports MB/s of uncompressed log, and x-gunzip: the
// speed relative to gunzip alone, from the CPU time of this thread while
// it alternates between gunzipping an object and scanning it. The ratio
// holds up when other work shares the machine; MB/s does not.
func BenchmarkTrailScan(b *testing.B) {
	c := newBenchCorpus(b, 8, 2000)
	absent := trailtest.NewGen(b, 7, 8, 0).Tracked
	// The case "keys=64,index,users=1000" scans as the trail-first pass
	// does: with an index, and watching a thousand user names that the
	// logs do not hold (created users' names, which every userName member
	// is checked against). The two after it split its cost: the index
	// alone, and the watched names alone.
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf(`"userName":"u-%04x"`, i)
	}
	cases := []struct {
		name  string
		keys  []string
		index bool
		watch []string
		none  bool // no key tracked appears
	}{
		{"keys=8,absent", absent, false, nil, true}, // the cost of the search alone
		{"keys=1", c.trackedKeys(b, 1), false, nil, false},
		{"keys=8", c.trackedKeys(b, 8), false, nil, false},
		{"keys=64", c.trackedKeys(b, 64), false, nil, false},
		{"keys=64,index,users=1000", c.trackedKeys(b, 64), true, users, false},
		{"keys=64,index", c.trackedKeys(b, 64), true, nil, false},
		{"keys=64,users=1000", c.trackedKeys(b, 64), false, users, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			s := NewScanner(tc.keys, ScanOptions{Index: tc.index})
			s.Watch(tc.watch...)
			ctx := context.Background()
			var zr gzip.Reader
			var scanCPU, gunzipCPU time.Duration
			matches := 0
			b.SetBytes(c.raw)
			b.ResetTimer()
			for b.Loop() {
				matches = 0
				for i, o := range c.objects {
					// Gunzip first for even objects, last for odd ones, so
					// that neither gains from finding the input in cache;
					// the timer calls (which stop the world) stay outside
					// both measured intervals.
					b.StopTimer()
					if i%2 == 0 {
						gunzipCPU += gunzipTimed(b, &zr, o)
					}
					b.StartTimer()
					t0 := threadCPU(b)
					st, err := s.ScanObject(ctx, "bench.json.gz", bytes.NewReader(o), func(Match) error { return nil })
					if err != nil {
						b.Fatal(err)
					}
					scanCPU += threadCPU(b) - t0
					b.StopTimer()
					if i%2 == 1 {
						gunzipCPU += gunzipTimed(b, &zr, o)
					}
					b.StartTimer()
					matches += st.Matches
				}
			}
			if (matches == 0) != tc.none {
				b.Fatalf("%d matches with %d keys tracked", matches, len(tc.keys))
			}
			b.ReportMetric(float64(matches), "matches/op")
			b.ReportMetric(float64(gunzipCPU)/float64(scanCPU), "x-gunzip")
		})
	}
}

// gunzipTimed gunzips obj and returns the CPU time it took this thread.
func gunzipTimed(b *testing.B, zr *gzip.Reader, obj []byte) time.Duration {
	t0 := threadCPU(b)
	gunzip(b, zr, obj)
	return threadCPU(b) - t0
}

// threadCPU returns the CPU time of the calling thread.
func threadCPU(tb testing.TB) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		tb.Fatalf("thread CPU time: %v", err)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkTrailScanSmallObjects scans small log objects (a few events, as
// a quiet region writes every five minutes) and reports objects per second
// of wall clock and per second of this thread's CPU time.
func BenchmarkTrailScanSmallObjects(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c := newBenchCorpus(b, 256, 3)
	s := NewScanner(c.trackedKeys(b, 8), ScanOptions{})
	ctx := context.Background()
	b.SetBytes(c.raw)
	b.ResetTimer()
	start, cpu := time.Now(), threadCPU(b)
	for b.Loop() {
		for _, o := range c.objects {
			if _, err := s.ScanObject(ctx, "small.json.gz", bytes.NewReader(o), func(Match) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := float64(b.N * len(c.objects))
	b.ReportMetric(n/time.Since(start).Seconds(), "objects/s")
	b.ReportMetric(n/(threadCPU(b)-cpu).Seconds(), "objects/cpu-s")
}

// BenchmarkTrailScanParallel runs ScanObjects with one and two workers and
// reports the peak heap seen while it runs.
func BenchmarkTrailScanParallel(b *testing.B) {
	c := newBenchCorpus(b, 16, 2000)
	objs := map[string][]byte{}
	for i, o := range c.objects {
		objs[fmt.Sprintf("AWSLogs/%02d.json.gz", i)] = o
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s := NewScanner(c.trackedKeys(b, 8), ScanOptions{})
			stop := trailtest.WatchHeap()
			b.SetBytes(c.raw)
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.ScanObjects(context.Background(), memObjects(objs), workers, func(Match) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MiB")
		})
	}
}
