package awsops

import (
	"bytes"
	"container/heap"
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// One worker core (workers 1, so two goroutines). File a (read whole) is
// handed out and holds the core. The next file, b, was named without a size
// (as Athena names files), so until its fetch ends it counts as read whole
// and the second goroutine waits. Its fetch then finds it streamed: it
// needs no core and should be handed out at once. But fetch closes
// f.done without p.cond.Broadcast, so the waiting goroutine sleeps until a
// (possibly long) scan of a ends: a lost wake-up.
func TestAStreamFoundByItsFetchWakesTheSpareWorker(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stamp := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	release := make(chan struct{})
	p := &trailPass{workers: 1, pending: 1}
	p.cond = sync.NewCond(&p.mu)
	p.get = func(ctx context.Context, key string) (io.ReadCloser, int64, error) {
		if key == "b" {
			<-release
			return io.NopCloser(bytes.NewReader(nil)), 0, nil // unknown size: streamed
		}
		return io.NopCloser(bytes.NewReader(make([]byte, 100))), 100, nil
	}
	p.mu.Lock()
	heap.Push(&p.queue, scanJob{obj: trailObject{key: "a", stamp: stamp, size: 100}})
	heap.Push(&p.queue, scanJob{obj: trailObject{key: "b", stamp: stamp}})
	p.mu.Unlock()
	a, ok := p.next(ctx)
	if !ok || a.obj.key != "a" {
		t.Fatalf("first job %q %v", a.obj.key, ok)
	}
	got := make(chan scanJob, 1)
	go func() {
		j, _ := p.next(ctx)
		got <- j
	}()
	time.Sleep(200 * time.Millisecond) // the second goroutine waits: b's fetch has not ended
	close(release)                     // b's fetch ends: it is streamed
	select {
	case j := <-got:
		if j.obj.key != "b" {
			t.Fatalf("got %q", j.obj.key)
		}
	case <-time.After(30 * time.Second):
		t.Error("b's fetch found it streamed, but the waiting goroutine was not woken: b waits for a's scan to end")
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
		<-got
	}
}
