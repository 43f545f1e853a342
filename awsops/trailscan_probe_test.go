//go:build linux

package awsops

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

func TestProbeCosts(t *testing.T) {
	b := &testing.B{}
	_ = b
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c := newBenchCorpus(t, 8, 2000)
	s := NewTrailScanner(newTrailGen(t, 7, 8, 0).tracked, TrailScanOptions{})
	var zr gzip.Reader
	br := bufio.NewReaderSize(nil, 32<<10)
	buf := make([]byte, 0, 512<<10)
	variants := []func(o []byte){
		func(o []byte) { zr.Reset(bytes.NewReader(o)); io.Copy(io.Discard, &zr) },
		func(o []byte) { br.Reset(bytes.NewReader(o)); zr.Reset(br); zr.WriteTo(io.Discard) },
		func(o []byte) {
			br.Reset(bytes.NewReader(o))
			zr.Reset(br)
			zr.WriteTo(writerFunc(func(p []byte) (int, error) {
				if cap(buf)-len(buf) < len(p) {
					buf = buf[:0]
				}
				buf = append(buf, p...)
				return len(p), nil
			}))
		},
		func(o []byte) {
			s.ScanObject(context.Background(), "x", bytes.NewReader(o), func(TrailMatch) error { return nil })
		},
	}
	s16 := NewTrailScanner(newTrailGen(t, 7, 8, 0).tracked, TrailScanOptions{MaxRecordBytes: 16 << 10})
	s8 := NewTrailScanner(c.keys, TrailScanOptions{})
	variants = append(variants, func(o []byte) {
		s16.ScanObject(context.Background(), "x", bytes.NewReader(o), func(TrailMatch) error { return nil })
	}, func(o []byte) {
		s8.ScanObject(context.Background(), "x", bytes.NewReader(o), func(TrailMatch) error { return nil })
	})
	names := []string{"gunzip", "bufio", "bufio+copy", "scan absent", "absent 16K", "8 keys"}
	cpu := make([]time.Duration, len(variants))
	for range 30 {
		for _, o := range c.objects {
			for i, v := range variants {
				t0 := threadCPU(t)
				v(o)
				cpu[i] += threadCPU(t) - t0
			}
		}
	}
	for i := range variants {
		t.Logf("%-12s %v  ratio %.3f", names[i], cpu[i]/30, float64(cpu[0])/float64(cpu[i]))
	}
}

func TestProbeHist(t *testing.T) {
	g := newTrailGen(t, 42, 8, 0)
	g.poolEvery = 125
	g.bigRate = 0.002
	doc := g.object(t, 2000)
	var h [256]int
	for _, c := range doc {
		h[c]++
	}
	t.Logf("bytes %d records 2000", len(doc))
	for _, c := range []byte(`"acesKyId:IA`) {
		t.Logf("%q %d  every %d bytes", c, h[c], len(doc)/max(h[c], 1))
	}
	t.Logf("accessKeyId %d, KeyId %d, yId %d", bytes.Count(doc, []byte(`"accessKeyId"`)), bytes.Count(doc, []byte(`KeyId"`)), bytes.Count(doc, []byte(`yId"`)))
}

func TestProbeSearch(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g := newTrailGen(t, 42, 8, 0)
	g.poolEvery = 125
	g.bigRate = 0.002
	doc := g.object(t, 2000)
	s := NewTrailScanner(newTrailGen(t, 7, 8, 0).tracked, TrailScanOptions{})
	var a, b, c time.Duration
	hits := 0
	for range 50 {
		t0 := threadCPU(t)
		for i := 0; ; {
			k := bytes.IndexByte(doc[i:], 'K')
			if k < 0 {
				break
			}
			hits++
			i += k + 1
		}
		t1 := threadCPU(t)
		sc := objectScan{TrailScanner: s, buf: doc, end: int64(len(doc))}
		for {
			if _, ok := sc.findKey(); !ok {
				break
			}
		}
		t2 := threadCPU(t)
		bytes.Count(doc, []byte("K"))
		t3 := threadCPU(t)
		a += t1 - t0
		b += t2 - t1
		c += t3 - t2
	}
	t.Logf("indexbyte loop %v  findKey %v count %v per 2.7MB; hits %d", a/50, b/50, c/50, hits/50)
}

func TestProbeScanOnly(t *testing.T) {
	c := newBenchCorpus(t, 8, 2000)
	s := NewTrailScanner(c.keys, TrailScanOptions{})
	for range 60 {
		for _, o := range c.objects {
			s.ScanObject(context.Background(), "x", bytes.NewReader(o), func(TrailMatch) error { return nil })
		}
	}
}

func TestProbeMatch(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g := newTrailGen(t, 42, 8, 0)
	g.poolEvery = 125
	doc := g.object(t, 2000)
	s := NewTrailScanner(g.tracked, TrailScanOptions{})
	sc := objectScan{TrailScanner: s, buf: doc, end: int64(len(doc)), rootOK: true}
	var vs []int64
	for {
		v, ok := sc.findKey()
		if !ok {
			break
		}
		vs = append(vs, v)
	}
	type m struct{ v, start, end int64 }
	var ms []m
	for _, v := range vs {
		start, ok, _ := sc.locate(v)
		if !ok || !inKeyField(doc, int(start), int(v)-1) {
			continue
		}
		var tr objTracker
		end, _ := tr.advance(doc, int(start), len(doc))
		ms = append(ms, m{v, start, int64(end)})
	}
	const rounds = 200
	phase := func(f func(m)) time.Duration {
		t0 := threadCPU(t)
		for range rounds {
			for _, x := range ms {
				f(x)
			}
		}
		return (threadCPU(t) - t0) / time.Duration(rounds*len(ms))
	}
	size := 0
	for _, x := range ms {
		size += int(x.end - x.start)
	}
	t.Logf("%d matches, %d bytes each: locate %v inKeyField %v track %v decode %v json %v", len(ms), size/len(ms),
		phase(func(x m) { sc.locate(x.v) }),
		phase(func(x m) { inKeyField(doc, int(x.start), int(x.v)-1) }),
		phase(func(x m) { var tr objTracker; tr.advance(doc, int(x.start), len(doc)) }),
		phase(func(x m) { var rec TrailRecord; decodeTrailRecord(doc[x.start:x.end], &rec) }),
		phase(func(x m) { var rec TrailRecord; json.Unmarshal(doc[x.start:x.end], &rec) }))
}
