package world

import (
	"sync"
	"time"
)

// Throttle is how the gateway counts LookupEvents calls against their quota. AWS
// documents 2 requests per second per account and region, not how it counts them: a
// client must hold under both of these.
type Throttle int

const (
	// TokenBucket refills rate tokens per second up to burst (the default).
	TokenBucket Throttle = iota
	// SlidingWindow admits at most rate calls in any one second.
	SlidingWindow
)

func (t Throttle) String() string {
	if t == SlidingWindow {
		return "sliding window"
	}
	return "token bucket"
}

// rateLimiter throttles calls per key (an account and region).
type rateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	mode    Throttle
	buckets map[string]*bucket
}

type bucket struct {
	tokens   float64
	last     time.Time
	arrivals []time.Time // admitted calls of the last second, for SlidingWindow
}

func newRateLimiter(rate, burst float64, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: burst, now: now, buckets: map[string]*bucket{}}
}

// allow admits one call of key, reporting false when it is throttled.
func (l *rateLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if l.mode == SlidingWindow {
		recent := b.arrivals[:0]
		for _, at := range b.arrivals {
			if now.Sub(at) < time.Second {
				recent = append(recent, at)
			}
		}
		b.arrivals = recent
		if float64(len(recent)) >= l.rate {
			return false
		}
		b.arrivals = append(b.arrivals, now)
		return true
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// setMode changes how calls are counted, starting afresh.
func (l *rateLimiter) setMode(m Throttle) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mode = m
	clear(l.buckets)
}

// setNow replaces the limiter's clock.
func (l *rateLimiter) setNow(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
}

func (l *rateLimiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.buckets)
}
