package awsops

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// LookupRate is CloudTrail's LookupEvents quota: requests per second per
// account and region. The sweep never plans to exceed it.
const LookupRate = 2

// Sweep defaults.
const (
	defaultChains      = 4                // pagination chains per region
	defaultCallTimeout = 20 * time.Second // one LookupEvents call
	lookupAttempts     = 6                // per page, throttling and 5xx included
	minSplitSpan       = 2 * time.Minute  // a slice narrower than this is not split
)

// lookupAPI is the CloudTrail call the sweep makes.
type lookupAPI interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

// RegionStats describe the sweep of one account and region.
type RegionStats struct {
	Account   string `json:"account"`
	Region    string `json:"region"`
	Requests  int    `json:"requests"`  // LookupEvents calls, retries included
	Pages     int    `json:"pages"`     // successful calls
	Events    int    `json:"events"`    // events returned, duplicates included
	Throttled int    `json:"throttled"` // calls answered ThrottlingException
	Failed    int    `json:"failed"`    // calls that failed otherwise
	// Busy is the time during which pages remained to fetch.
	Busy time.Duration `json:"busy_ns"`
	// RequestsPerSecond is the achieved rate while pages remained: the
	// calls after the first over the time from the first call to the
	// last. The budget is LookupRate.
	RequestsPerSecond   float64 `json:"requests_per_second"`
	firstCall, lastCall time.Time
}

// Progress reports how far a sweep has come.
type Progress struct {
	Keys      int           // access keys tracked so far (the key and its derived keys)
	Pages     int           // LookupEvents pages fetched
	Events    int           // events fetched
	Regions   int           // account-regions with work outstanding
	Remaining time.Duration // estimated time left; an estimate, not a promise
	Done      bool
}

// sweepTask is one pagination chain's work: the events with one lookup
// attribute in one account, region and time slice.
type sweepTask struct {
	account, region string
	attr            cttypes.LookupAttributeKey
	value           string // the access key ID looked up
	start, end      time.Time
	urgent          bool      // a newly found derived key: first in line for the budget
	seen            time.Time // when the event that minted the key was seen
	// door, when set, is the door whose use the lookup finds: its events
	// are the door's, not value's.
	door *door
}

// sweepHandler receives every page; it must be safe for concurrent use.
type sweepHandler func(ctx context.Context, t sweepTask, events []cttypes.Event)

// sweeper runs LookupEvents over many account-regions at once, each under
// its own token bucket shared by all of that region's chains.
type sweeper struct {
	chains      int
	callTimeout time.Duration
	api         func(ctx context.Context, account, region string) (lookupAPI, error)
	handle      sweepHandler
	progress    func(Progress)
	keys        func() int
	// started is told, for tasks with a seen time, how long after it
	// their first call went out.
	started func(t sweepTask, delay time.Duration)

	// budget hands out each account-region's pacer; a sweep of its own
	// unless the Client shares its budget.
	budget *lookupBudget

	wg sync.WaitGroup // chains

	mu           sync.Mutex
	regions      map[string]*regionSweep
	order        []*regionSweep
	gaps         []Gap
	pages        int
	events       int
	lastProgress time.Time
}

// regionSweep is the state of one account-region; guarded by sweeper.mu.
type regionSweep struct {
	account, region string
	pace            *pacer
	release         func() // gives pace back to the budget
	queue           []sweepTask
	live            int // chains running
	active          map[*chainState]struct{}
	failure         error // set when the region stopped answering
	stats           RegionStats
	busySince       time.Time
}

// chainState is a task in progress, for splitting and estimates.
type chainState struct {
	task   sweepTask
	pages  int
	oldest time.Time // oldest event time seen, events come newest first
}

func newSweeper(chains int, callTimeout time.Duration, api func(context.Context, string, string) (lookupAPI, error), handle sweepHandler) *sweeper {
	if chains <= 0 {
		chains = defaultChains
	}
	if callTimeout <= 0 {
		callTimeout = defaultCallTimeout
	}
	return &sweeper{chains: chains, callTimeout: callTimeout, api: api, handle: handle, regions: map[string]*regionSweep{}, budget: newLookupBudget()}
}

// run sweeps the initial tasks, and every task submitted while it runs,
// then gives the pacers back. It returns when all work is done or ctx ends.
func (s *sweeper) run(ctx context.Context, initial []sweepTask) {
	for _, t := range initial {
		s.submit(ctx, t)
	}
	s.wg.Wait()
	s.mu.Lock()
	regions := slices.Clone(s.order)
	s.mu.Unlock()
	for _, r := range regions {
		r.release()
	}
	s.report(true)
}

// submit queues t and starts a chain for it when the region has fewer
// than its share, or at once when t is urgent.
func (s *sweeper) submit(ctx context.Context, t sweepTask) {
	s.mu.Lock()
	r := s.region(t.account, t.region)
	if r.failure != nil {
		s.gaps = append(s.gaps, sweepGap(t, r.failure))
		s.mu.Unlock()
		return
	}
	if t.urgent {
		r.queue = append([]sweepTask{t}, r.queue...)
	} else {
		r.queue = append(r.queue, t)
	}
	spawn := r.live < s.chains || t.urgent
	if spawn {
		r.live++
		s.wg.Add(1)
	}
	if r.busySince.IsZero() {
		r.busySince = time.Now()
	}
	s.mu.Unlock()
	if spawn {
		go s.chain(ctx, r)
	}
}

// region returns the state of an account-region, taking its pacer from
// the budget.
func (s *sweeper) region(account, region string) *regionSweep {
	id := account + "/" + region
	if r, ok := s.regions[id]; ok {
		return r
	}
	r := &regionSweep{account: account, region: region, active: map[*chainState]struct{}{}, stats: RegionStats{Account: account, Region: region}}
	r.pace, r.release = s.budget.acquire(account, region)
	s.regions[id] = r
	s.order = append(s.order, r)
	return r
}

// chain takes tasks from its region's queue until none is left.
func (s *sweeper) chain(ctx context.Context, r *regionSweep) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if len(r.queue) == 0 || ctx.Err() != nil {
			for _, t := range r.queue {
				s.gaps = append(s.gaps, sweepGap(t, ctx.Err()))
			}
			r.queue = nil
			r.live--
			if r.live == 0 && len(r.active) == 0 && !r.busySince.IsZero() {
				r.stats.Busy += time.Since(r.busySince)
				r.busySince = time.Time{}
			}
			s.mu.Unlock()
			return
		}
		t := r.queue[0]
		r.queue = r.queue[1:]
		s.mu.Unlock()
		s.paginate(ctx, r, t)
	}
}

// paginate fetches every page of t. When the region has spare chains and
// much of t remains, it hands the older half of what remains to a new
// chain and restarts its own part without the token (the overlap at the
// cut is removed by the handler's de-duplication).
func (s *sweeper) paginate(ctx context.Context, r *regionSweep, t sweepTask) {
	api, err := s.api(ctx, t.account, t.region)
	if err != nil {
		s.fail(r, t, err, false)
		return
	}
	st := &chainState{task: t, oldest: t.end}
	s.mu.Lock()
	r.active[st] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(r.active, st)
		s.mu.Unlock()
	}()
	var token *string
	urgent := t.urgent
	for {
		in := &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: st.task.attr, AttributeValue: aws.String(st.task.value)}},
			StartTime:        aws.Time(st.task.start),
			EndTime:          aws.Time(st.task.end),
			NextToken:        token,
		}
		var announce func()
		if urgent && !t.seen.IsZero() && s.started != nil {
			announce = func() { s.started(t, time.Since(t.seen)) }
		}
		out, err := s.call(ctx, r, api, in, urgent, announce)
		if err != nil {
			if st.pages > 0 {
				t = st.task
				t.end = st.oldest.Add(time.Second)
			}
			s.fail(r, t, err, true)
			return
		}
		urgent = false
		s.handle(ctx, st.task, out.Events)
		s.mu.Lock()
		st.pages++
		s.pages++
		s.events += len(out.Events)
		r.stats.Pages++
		r.stats.Events += len(out.Events)
		for _, e := range out.Events {
			if e.EventTime != nil && e.EventTime.Before(st.oldest) {
				st.oldest = *e.EventTime
			}
		}
		split := out.NextToken != nil && r.live < s.chains && len(r.queue) == 0 &&
			st.oldest.Sub(st.task.start) > minSplitSpan && estimatePages(st) >= 4
		s.mu.Unlock()
		s.report(false)
		if out.NextToken == nil {
			return
		}
		token = out.NextToken
		if split {
			older := st.task
			mid := st.task.start.Add(st.oldest.Sub(st.task.start) / 2)
			older.end, older.urgent = mid, false
			s.submit(ctx, older)
			s.mu.Lock()
			st.task.start, st.task.end = mid, st.oldest.Add(time.Second)
			st.pages = 0
			st.oldest = st.task.end
			s.mu.Unlock()
			token = nil
		}
	}
}

// call makes one LookupEvents call, waiting for the region's budget before
// every attempt (retries included) and backing off after throttling and
// server errors.
// announce, if set, is called when the first attempt goes out.
func (s *sweeper) call(ctx context.Context, r *regionSweep, api lookupAPI, in *cloudtrail.LookupEventsInput, urgent bool, announce func()) (*cloudtrail.LookupEventsOutput, error) {
	var lastErr error
	timeouts := 0
	for attempt := 1; attempt <= lookupAttempts; attempt++ {
		if err := r.pace.wait(ctx, urgent); err != nil {
			return nil, fmt.Errorf("wait for the LookupEvents budget: %w", err)
		}
		if announce != nil {
			announce()
			announce = nil
		}
		start := time.Now()
		callCtx, cancel := context.WithTimeout(ctx, s.callTimeout)
		out, err := api.LookupEvents(callCtx, in, func(o *cloudtrail.Options) { o.Retryer = aws.NopRetryer{} }, unpaced)
		cancel()
		throttled := err != nil && retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool()
		s.mu.Lock()
		r.stats.Requests++
		if r.stats.firstCall.IsZero() {
			r.stats.firstCall = start
		}
		r.stats.lastCall = start
		switch {
		case throttled:
			r.stats.Throttled++
		case err != nil:
			r.stats.Failed++
		}
		s.mu.Unlock()
		if err == nil || throttled {
			r.pace.observe(throttled)
		}
		if err == nil {
			return out, nil
		}
		lastErr = err
		timedOut := errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		if timedOut {
			timeouts++ // a region that does not answer is given three tries, not six
		}
		if ctx.Err() != nil || timeouts >= 3 || !(throttled || timedOut || retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool()) {
			break
		}
		backoff := min(250*time.Millisecond<<attempt, 8*time.Second)
		backoff = backoff/2 + rand.N(backoff/2)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, fmt.Errorf("cloudtrail:LookupEvents in %s: %w", r.region, ctx.Err())
		}
	}
	return nil, fmt.Errorf("cloudtrail:LookupEvents in %s of account %s: %s", r.region, r.account, describeAWSError(lastErr))
}

// fail records that t could not be swept. A region that keeps failing
// (after retries) is marked so its queued and later tasks fail at once.
func (s *sweeper) fail(r *regionSweep, t sweepTask, err error, regionWide bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gaps = append(s.gaps, sweepGap(t, err))
	if regionWide && r.failure == nil {
		r.failure = err
		for _, q := range r.queue {
			s.gaps = append(s.gaps, sweepGap(q, err))
		}
		r.queue = nil
	}
}

// addGap records a gap found outside the sweep's own calls.
func (s *sweeper) addGap(g Gap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gaps = append(s.gaps, g)
}

func sweepGap(t sweepTask, err error) Gap {
	what := "CloudTrail events of " + t.value
	if t.attr == cttypes.LookupAttributeKeyResourceName {
		what = "the STS call that issued " + t.value
	}
	msg := "not swept"
	if err != nil {
		msg = err.Error()
	}
	return Gap{Step: StepCloudTrail, Account: t.account, Region: t.region, AccessKeyID: t.value,
		From: t.start, To: t.end, Reason: what + " not fully read: " + msg}
}

// estimatePages guesses the pages left in a chain from the density of
// what it has read so far. Called with sweeper.mu held.
func estimatePages(st *chainState) int {
	if st.pages == 0 {
		return 1
	}
	read := st.task.end.Sub(st.oldest)
	left := st.oldest.Sub(st.task.start)
	if read <= 0 || left <= 0 {
		return 1
	}
	return int(float64(st.pages)*float64(left)/float64(read)) + 1
}

// report calls the progress callback, at most twice a second unless done.
func (s *sweeper) report(done bool) {
	if s.progress == nil {
		return
	}
	s.mu.Lock()
	now := time.Now()
	if !done && now.Sub(s.lastProgress) < 500*time.Millisecond {
		s.mu.Unlock()
		return
	}
	s.lastProgress = now
	p := Progress{Pages: s.pages, Events: s.events, Done: done}
	for _, r := range s.order {
		pages := len(r.queue)
		for st := range r.active {
			pages += estimatePages(st)
		}
		if pages > 0 {
			p.Regions++
		}
		p.Remaining = max(p.Remaining, time.Duration(pages)*time.Second/LookupRate)
	}
	s.mu.Unlock()
	if s.keys != nil {
		p.Keys = s.keys()
	}
	s.progress(p)
}

// results returns the per-region statistics and the gaps.
func (s *sweeper) results() ([]RegionStats, []Gap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stats := make([]RegionStats, 0, len(s.order))
	for _, r := range s.order {
		st := r.stats
		if span := st.lastCall.Sub(st.firstCall); st.Requests > 1 && span > 0 {
			st.RequestsPerSecond = float64(st.Requests-1) / span.Seconds()
		}
		stats = append(stats, st)
	}
	return stats, append([]Gap(nil), s.gaps...)
}
