package bot_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// keyN returns the n-th of a family of well-formed access key IDs.
func keyN(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := []byte("AKIAQYLPMN5HAAAAAAAA")
	for i := len(b) - 1; n > 0; i-- {
		b[i] = alphabet[n%32]
		n /= 32
	}
	return string(b)
}

// BenchmarkSlashAck posts signed /keyleak commands for 200 different keys
// at once while the delivery worker pages each through a Slack that takes
// 50 ms per call, and reports the acknowledgement latency percentiles.
func BenchmarkSlashAck(b *testing.B) {
	const concurrent = 200
	r := newSlackRig(b)
	for _, m := range []string{"chat.postMessage", "chat.update", "users.info", "usergroups.list"} {
		r.fake.SetLatency(m, 50*time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.worker.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var all []time.Duration
	next := 0
	b.ResetTimer()
	for b.Loop() {
		lat := make([]time.Duration, concurrent)
		var wg sync.WaitGroup
		for i := range concurrent {
			key := keyN(next + i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := r.fake.SendSlashCommand(context.Background(), r.srv.URL, signingSecret,
					url.Values{"text": {key}, "user_id": {fmt.Sprintf("U%06d", i)}})
				if err != nil || res.Error != "" {
					b.Errorf("command %s: %v %+v", key, err, res)
					return
				}
				lat[i] = res.Elapsed
			}()
		}
		wg.Wait()
		next += concurrent
		all = append(all, lat...)
	}
	b.StopTimer()
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(all[len(all)-1])/float64(time.Millisecond), "max-ms")
}
