package awsops

import (
	"context"
	"fmt"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/smithy-go/middleware"
)

// Pacing of LookupEvents. CloudTrail allows LookupRate calls per second per
// account and region, and AWS does not say how it counts them: a token
// bucket and a sliding one-second window both fit the documentation. A
// pacer that spaces calls exactly 1/LookupRate apart on a schedule (a token
// bucket on the caller's side) sends two calls 999 ms apart whenever one of
// them leaves a little late, and a sliding window refuses a third of those.
// So the pacer spaces each call from the moment the previous one actually
// left, by the quota's interval plus a margin, and widens the margin when
// CloudTrail throttles anyway (network jitter, another client in the same
// account) and narrows it again while calls succeed.
const (
	paceMargin        = 10 * time.Millisecond  // initial and smallest margin: 1.96 calls/s
	paceMarginMax     = 500 * time.Millisecond // largest: one call a second
	paceQuietCalls    = 64                     // successes after a throttle before the margin narrows
	paceNarrowDivisor = 64                     // each later success removes 1/64 of the excess margin
	// A throttle at a small margin is jitter: the margin that failed, a
	// little wider, becomes the floor for paceHoldCalls successes. A
	// throttle at a wider margin is contention, which passes: it is not
	// remembered.
	paceHoldLimit = 100 * time.Millisecond
	paceHoldCalls = 256
)

// pacer hands out one region's LookupEvents budget to all the region's
// chains, urgent waiters (a derived key's first page) first.
type pacer struct {
	interval time.Duration // 1/rate
	wake     chan struct{}

	mu      sync.Mutex
	margin  time.Duration // added to interval between two calls
	next    time.Time     // the earliest the next call may leave
	quiet   int           // successes since the last throttle
	hold    time.Duration // the margin does not narrow below this while holdFor > 0
	holdFor int
	urgent  []*paceWaiter
	normal  []*paceWaiter
}

type paceWaiter struct {
	ready chan struct{}
	gone  bool // guarded by pacer.mu
}

func newPacer(perSecond float64) *pacer {
	return &pacer{interval: time.Duration(float64(time.Second) / perSecond), margin: paceMargin, wake: make(chan struct{}, 1)}
}

// wait blocks until the caller may make one call.
func (p *pacer) wait(ctx context.Context, urgent bool) error {
	w := &paceWaiter{ready: make(chan struct{})}
	p.mu.Lock()
	if urgent {
		p.urgent = append(p.urgent, w)
	} else {
		p.normal = append(p.normal, w)
	}
	p.mu.Unlock()
	p.poke()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		w.gone = true
		p.mu.Unlock()
		return ctx.Err()
	}
}

func (p *pacer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// observe adapts the spacing to the outcome of a call: a throttle widens
// the margin at once and holds the next call back by the new spacing;
// successes narrow it again, slowly, once calls have gone through quietly
// for a while.
func (p *pacer) observe(throttled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if throttled {
		if p.margin <= paceHoldLimit {
			p.hold, p.holdFor = p.margin+paceMargin/2, paceHoldCalls
		}
		p.margin = min(paceMarginMax, 2*p.margin+paceMargin)
		p.quiet = 0
		p.next = later(p.next, time.Now().Add(p.interval+p.margin))
		return
	}
	p.quiet++
	floor := paceMargin
	if p.holdFor > 0 {
		p.holdFor--
		floor = max(floor, p.hold)
	}
	if p.quiet > paceQuietCalls && p.margin > floor {
		p.margin = max(floor, p.margin-max((p.margin-floor)/paceNarrowDivisor, time.Millisecond))
	}
}

// spacing is the current time between two calls.
func (p *pacer) spacing() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.interval + p.margin
}

// run dispatches calls until ctx ends.
func (p *pacer) run(ctx context.Context) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		p.mu.Lock()
		pending := len(p.urgent)+len(p.normal) > 0
		wait := time.Until(p.next)
		p.mu.Unlock()
		if !pending {
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
			continue // a throttle may have moved next meanwhile
		}
		p.mu.Lock()
		w := p.pop()
		if w != nil {
			p.next = time.Now().Add(p.interval + p.margin)
			close(w.ready)
		}
		p.mu.Unlock()
	}
}

// pop returns the next waiter still waiting; called with p.mu held.
func (p *pacer) pop() *paceWaiter {
	for _, q := range []*[]*paceWaiter{&p.urgent, &p.normal} {
		for len(*q) > 0 {
			w := (*q)[0]
			*q = (*q)[1:]
			if !w.gone {
				return w
			}
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// lookupBudget is a process's LookupEvents budget: one pacer per account
// and region, shared by every sweep and every other LookupEvents call the
// Client makes, so that an investigation, the watches of open incidents
// and a verify running at once split CloudTrail's quota instead of each
// spending all of it. A pacer's dispatcher runs while someone holds it;
// the pacer itself, with the margin it has learned, is kept.
type lookupBudget struct {
	mu     sync.Mutex
	pacers map[string]*sharedPacer
}

type sharedPacer struct {
	p    *pacer
	refs int
	stop context.CancelFunc
	done chan struct{} // closed when the dispatcher has returned; nil when none runs
}

func newLookupBudget() *lookupBudget { return &lookupBudget{pacers: map[string]*sharedPacer{}} }

// acquire returns the pacer of account and region, its dispatcher
// running, and the function that gives it back.
func (b *lookupBudget) acquire(account, region string) (*pacer, func()) {
	key := account + "/" + region
	b.mu.Lock()
	sp, ok := b.pacers[key]
	if !ok {
		sp = &sharedPacer{p: newPacer(LookupRate)}
		b.pacers[key] = sp
	}
	for sp.refs == 0 && sp.done != nil { // the last holder is stopping it
		done := sp.done
		b.mu.Unlock()
		<-done
		b.mu.Lock()
		if sp.done == done {
			sp.done = nil
		}
	}
	if sp.refs == 0 {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		sp.stop, sp.done = stop, done
		go func() {
			defer close(done)
			sp.p.run(ctx)
		}()
	}
	sp.refs++
	b.mu.Unlock()
	var once sync.Once
	return sp.p, func() { once.Do(func() { b.release(sp) }) }
}

func (b *lookupBudget) release(sp *sharedPacer) {
	b.mu.Lock()
	sp.refs--
	if sp.refs > 0 {
		b.mu.Unlock()
		return
	}
	sp.stop()
	done := sp.done
	b.mu.Unlock()
	<-done
	b.mu.Lock()
	if sp.refs == 0 && sp.done == done {
		sp.done = nil
	}
	b.mu.Unlock()
}

// paceMiddlewareID names the middleware that paces LookupEvents calls
// made outside a sweep.
const paceMiddlewareID = "KeyleakLookupPace"

// paced is a CloudTrail client option that makes every LookupEvents
// attempt of account (retries included) wait for the shared budget of its
// region, and tells the budget when CloudTrail throttled it.
func (b *lookupBudget) paced(account string) func(*cloudtrail.Options) {
	return func(o *cloudtrail.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc(paceMiddlewareID, func(ctx context.Context, in middleware.FinalizeInput,
				next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetOperationName(ctx) != "LookupEvents" {
					return next.HandleFinalize(ctx, in)
				}
				p, release := b.acquire(account, awsmiddleware.GetRegion(ctx))
				defer release()
				if err := p.wait(ctx, false); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("wait for the LookupEvents budget: %w", err)
				}
				out, md, err := next.HandleFinalize(ctx, in)
				throttled := err != nil && retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool()
				if err == nil || throttled {
					p.observe(throttled)
				}
				return out, md, err
			}), "Retry", middleware.After)
		})
	}
}

// unpaced removes the pacing middleware from one call: a sweep waits for
// the budget itself, with its own priorities.
func unpaced(o *cloudtrail.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		if _, ok := st.Finalize.Get(paceMiddlewareID); !ok {
			return nil
		}
		_, err := st.Finalize.Remove(paceMiddlewareID)
		return err
	})
}
