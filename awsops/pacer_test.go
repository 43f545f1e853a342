package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"
)

// The pacing tests run the sweeper in a synctest bubble, where time is
// simulated: every decision the pacer makes is checked against an exact
// clock, whatever else the machine is doing, and hours of sweeping take a
// second. The service below is CloudTrail's LookupEvents as far as pacing
// is concerned; the sweep through the real SDK and the world's gateway is
// tested in sweep_test.go.

// Throttle models: how the service counts the 2 calls per second.
const (
	tokenBucket   = "token bucket"   // 2/s refill, one token stored
	slidingWindow = "sliding window" // at most 2 arrivals in any second
)

// lookupService answers LookupEvents for one account-region.
type lookupService struct {
	throttle string
	latency  time.Duration // time to answer an admitted call
	jitter   time.Duration // a call arrives 0 to jitter after it leaves

	mu        sync.Mutex
	rng       *rand.Rand
	events    map[string][]cttypes.Event // by access key ID, newest first
	arrivals  []time.Time                // admitted calls, for the sliding window
	tokens    float64
	refilled  time.Time
	calls     int
	throttled int
}

func newLookupService(throttle string, latency, jitter time.Duration) *lookupService {
	return &lookupService{throttle: throttle, latency: latency, jitter: jitter, rng: rand.New(rand.NewPCG(1, 2)),
		events: map[string][]cttypes.Event{}, tokens: 1, refilled: time.Now()}
}

// add records an event of key at, with the record's JSON.
func (s *lookupService) add(key string, at time.Time, rec map[string]any) {
	rec["eventTime"] = at.UTC().Format(time.RFC3339)
	rec["userIdentity"] = map[string]any{"accessKeyId": key, "type": "IAMUser"}
	rec["managementEvent"] = true
	if _, ok := rec["eventID"]; !ok {
		rec["eventID"] = fmt.Sprintf("%s-%d", key, at.UnixNano())
	}
	doc, _ := json.Marshal(rec)
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.events[key]
	if n := len(evs); n == 0 || evs[n-1].EventTime.After(at) {
		s.events[key] = append(evs, cttypes.Event{EventTime: aws.Time(at), CloudTrailEvent: aws.String(string(doc))})
		return
	}
	i, _ := slices.BinarySearchFunc(evs, at, func(e cttypes.Event, t time.Time) int { return t.Compare(*e.EventTime) })
	s.events[key] = slices.Insert(evs, i, cttypes.Event{EventTime: aws.Time(at), CloudTrailEvent: aws.String(string(doc))})
}

// admit applies the throttle to a call arriving now.
func (s *lookupService) admit(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	switch s.throttle {
	case tokenBucket:
		s.tokens = min(1, s.tokens+now.Sub(s.refilled).Seconds()*LookupRate)
		s.refilled = now
		if s.tokens < 1 {
			s.throttled++
			return false
		}
		s.tokens--
	case slidingWindow:
		recent := 0
		for _, a := range s.arrivals {
			if now.Sub(a) < time.Second {
				recent++
			}
		}
		if recent >= LookupRate {
			s.throttled++
			return false
		}
		s.arrivals = append(s.arrivals[max(0, len(s.arrivals)-8):], now)
	}
	return true
}

func (s *lookupService) LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	s.mu.Lock()
	delay := time.Duration(s.rng.Int64N(int64(s.jitter) + 1))
	s.mu.Unlock()
	if err := sleepCtx(ctx, delay); err != nil {
		return nil, err
	}
	if !s.admit(time.Now()) {
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	if err := sleepCtx(ctx, s.latency); err != nil {
		return nil, err
	}
	key := aws.ToString(in.LookupAttributes[0].AttributeValue)
	s.mu.Lock()
	evs := s.events[key]              // newest first
	newest := func(t time.Time) int { // the first event before t
		i, _ := slices.BinarySearchFunc(evs, t, func(e cttypes.Event, t time.Time) int {
			if e.EventTime.Before(t) {
				return 1
			}
			return -1
		})
		return i
	}
	match := evs[newest(*in.EndTime):newest(*in.StartTime)]
	s.mu.Unlock()
	from := 0
	if in.NextToken != nil {
		from, _ = strconv.Atoi(*in.NextToken)
	}
	out := &cloudtrail.LookupEventsOutput{Events: match[min(from, len(match)):min(from+50, len(match))]}
	if from+50 < len(match) {
		out.NextToken = aws.String(strconv.Itoa(from + 50))
	}
	return out, nil
}

const paceAccount = "123456789012"

// sweepWith sweeps key's window through svc, as Investigate does, and
// returns the region's statistics and the tracker.
func sweepWith(t *testing.T, svc *lookupService, key string, start, end time.Time) (RegionStats, *tracker) {
	t.Helper()
	st, tr, err := sweepShared(t.Context(), svc, newLookupBudget(), key, start, end)
	if err != nil {
		t.Fatal(err)
	}
	return st, tr
}

// sweepShared is sweepWith with the budget the sweep takes its pacer from.
func sweepShared(ctx context.Context, svc *lookupService, budget *lookupBudget, key string, start, end time.Time) (RegionStats, *tracker, error) {
	k, err := ParseAccessKeyID(key)
	if err != nil {
		return RegionStats{}, nil, err
	}
	tr := newTracker(Session{AccessKeyID: key, Account: paceAccount})
	regions := func(context.Context, string) ([]string, error) { return []string{"eu-west-1"}, nil }
	api := func(context.Context, string, string) (lookupAPI, error) { return svc, nil }
	sw := newTreeSweep(tr, InvestigateOptions{}, time.Now, regions, api)
	sw.budget = budget
	sw.run(ctx, sweepTasks(k, paceAccount, []string{"eu-west-1"}, Window{Start: start, End: end}, end))
	stats, gaps := sw.results()
	if len(gaps) > 0 {
		return RegionStats{}, nil, fmt.Errorf("gaps: %+v", gaps)
	}
	if len(stats) != 1 {
		return RegionStats{}, nil, fmt.Errorf("stats = %+v, want one region", stats)
	}
	return stats[0], tr, nil
}

const leakedPaceKey = "AKIARZPUZDIKPBTH3MJK"

// TestPacingKeepsTheBudgetBusy: with 700 ms calls, one chain alone could
// make 1.4 calls a second; the region's chains together keep CloudTrail's
// budget busy without crossing it, however CloudTrail counts it.
func TestPacingKeepsTheBudgetBusy(t *testing.T) {
	for _, tt := range []struct {
		throttle string
		jitter   time.Duration
	}{
		{tokenBucket, 0}, {tokenBucket, 5 * time.Millisecond},
		{slidingWindow, 0}, {slidingWindow, 5 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%s, %s jitter", tt.throttle, tt.jitter), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newLookupService(tt.throttle, 700*time.Millisecond, tt.jitter)
				end := time.Now()
				for i := range 5000 {
					svc.add(leakedPaceKey, end.Add(-time.Duration(i+1)*time.Minute), map[string]any{"eventName": "GetCallerIdentity", "eventSource": "sts.amazonaws.com"})
				}
				st, tr := sweepWith(t, svc, leakedPaceKey, end.Add(-96*time.Hour), end)
				if got := tr.sessions()[0].Activity.Events; got != 5000 {
					t.Errorf("events found = %d, want 5000", got)
				}
				t.Logf("%d requests, %d throttled, %.3f requests/s", st.Requests, st.Throttled, st.RequestsPerSecond)
				if st.Throttled*100 >= st.Requests {
					t.Errorf("%d of %d calls throttled, want under 1%%", st.Throttled, st.Requests)
				}
				if st.RequestsPerSecond < 1.9 || st.RequestsPerSecond > LookupRate {
					t.Errorf("%.3f requests/s, want 1.9 to %d", st.RequestsPerSecond, LookupRate)
				}
			})
		})
	}
}

// TestPacingAdaptsToJitter: when calls arrive with more jitter than the
// margin allows for, the pacer widens its margin after the first throttles
// and keeps them under 1%.
func TestPacingAdaptsToJitter(t *testing.T) {
	for _, throttle := range []string{tokenBucket, slidingWindow} {
		t.Run(throttle, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newLookupService(throttle, 300*time.Millisecond, 40*time.Millisecond)
				end := time.Now()
				for i := range 100_000 {
					svc.add(leakedPaceKey, end.Add(-time.Duration(i+1)*10*time.Second), map[string]any{"eventName": "GetCallerIdentity", "eventSource": "sts.amazonaws.com"})
				}
				st, _ := sweepWith(t, svc, leakedPaceKey, end.Add(-1000*time.Hour), end)
				t.Logf("%d requests, %d throttled, %.3f requests/s", st.Requests, st.Throttled, st.RequestsPerSecond)
				if st.Throttled == 0 {
					t.Errorf("no call throttled: the jitter does not test adaptation")
				}
				if st.Throttled*100 >= st.Requests {
					t.Errorf("%d of %d calls throttled, want under 1%%", st.Throttled, st.Requests)
				}
				if st.RequestsPerSecond < 1.75 {
					t.Errorf("%.3f requests/s: the margin grew more than the jitter needs", st.RequestsPerSecond)
				}
			})
		})
	}
}

// TestPacingRecoversAfterAStorm: after a burst of throttling (another
// client using the account's budget), the pacer slows down, then returns
// to full speed once the storm has passed.
func TestPacingRecoversAfterAStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(LookupRate)
		for range 20 {
			p.observe(true)
		}
		if got := p.spacing(); got != time.Second/LookupRate+paceMarginMax {
			t.Fatalf("spacing after a storm = %s, want %s", got, time.Second/LookupRate+paceMarginMax)
		}
		calls := 0
		for p.spacing() > time.Second/LookupRate+paceMargin {
			p.observe(false)
			calls++
		}
		// Three minutes of calls at most.
		if calls > 360 {
			t.Errorf("back to full speed after %d successful calls, want at most 360", calls)
		}
		t.Logf("back to full speed after %d calls", calls)
	})
}

// TestDerivedKeyFirstInLine: a credential minted from the key is swept at
// the next call its region's budget allows, ahead of the pages of the
// key's own history still waiting.
func TestDerivedKeyFirstInLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newLookupService(slidingWindow, 400*time.Millisecond, 0)
		end := time.Now()
		for i := range 3000 {
			svc.add(leakedPaceKey, end.Add(-time.Duration(i+1)*time.Minute), map[string]any{"eventName": "ListBuckets", "eventSource": "s3.amazonaws.com"})
		}
		const derived = "ASIARZPUZDIKAAAAAAAA"
		minted := end.Add(-90 * time.Second)
		svc.add(leakedPaceKey, minted, map[string]any{"eventName": "AssumeRole", "eventSource": "sts.amazonaws.com",
			"requestParameters":  map[string]any{"roleArn": "arn:aws:iam::123456789012:role/eks-node-role", "roleSessionName": "x"},
			"responseElements":   map[string]any{"credentials": map[string]any{"accessKeyId": derived, "expiration": minted.Add(time.Hour).UTC().Format(time.RFC3339)}},
			"recipientAccountId": paceAccount, "awsRegion": "eu-west-1"})
		svc.add(derived, minted.Add(time.Second), map[string]any{"eventName": "GetObject", "eventSource": "s3.amazonaws.com"})
		_, tr := sweepWith(t, svc, leakedPaceKey, end.Add(-72*time.Hour), end)
		var got *Session
		for _, s := range tr.sessions() {
			if s.AccessKeyID == derived {
				got = &s
			}
		}
		if got == nil {
			t.Fatalf("the derived key was not found")
		}
		if got.Activity.Events != 1 {
			t.Errorf("derived key's events = %d, want 1", got.Activity.Events)
		}
		// The next call after the page that showed the minting event: at
		// most one spacing later.
		if limit := time.Second/LookupRate + paceMargin; got.SweepDelay <= 0 || got.SweepDelay > limit {
			t.Errorf("derived key swept %s after its minting event was seen, want within %s", got.SweepDelay, limit)
		}
	})
}

// TestLookupBudgetIsShared: two investigations and a verify reading
// CloudTrail in the same account and region at once split its budget,
// through the sweeps' pacers and the SDK client's pacing middleware alike,
// and are not throttled; each with a budget of its own, they are.
func TestLookupBudgetIsShared(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newLookupService(slidingWindow, 300*time.Millisecond, 0)
				end := time.Now()
				keys := []string{leakedPaceKey, "AKIARZPUZDIKQQQQQQQQ"}
				for _, k := range keys {
					for i := range 1500 {
						svc.add(k, end.Add(-time.Duration(i+1)*time.Minute), map[string]any{"eventName": "ListBuckets", "eventSource": "s3.amazonaws.com"})
					}
				}
				budget := newLookupBudget()
				each := func() *lookupBudget {
					if shared {
						return budget
					}
					return newLookupBudget()
				}
				var wg sync.WaitGroup
				errs := make(chan error, len(keys)+1)
				for _, k := range keys {
					b := each()
					wg.Go(func() {
						st, tr, err := sweepShared(t.Context(), svc, b, k, end.Add(-48*time.Hour), end)
						if err == nil && tr.sessions()[0].Activity.Events != 1500 {
							err = fmt.Errorf("%s: %d events found, want 1500 (%+v)", k, tr.sessions()[0].Activity.Events, st)
						}
						errs <- err
					})
				}
				verify := cloudtrail.New(cloudtrail.Options{Region: "eu-west-1", HTTPClient: lookupHTTP{svc},
					Credentials: aws.AnonymousCredentials{}}, each().paced(paceAccount))
				wg.Go(func() {
					for range 60 {
						if _, err := verify.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{}); err != nil {
							errs <- fmt.Errorf("verify's lookup: %w", err)
							return
						}
					}
					errs <- nil
				})
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil && shared { // apart, the verify gives up, throttled, as it once did
						t.Error(err)
					}
				}
				t.Logf("%d calls, %d throttled", svc.calls, svc.throttled)
				if shared && svc.throttled > 0 {
					t.Errorf("%d of %d calls throttled with one shared budget, want none", svc.throttled, svc.calls)
				}
				if !shared && svc.throttled == 0 {
					t.Errorf("no call throttled with a budget each: the test does not load the region")
				}
			})
		})
	}
}

// lookupHTTP is CloudTrail's HTTP endpoint in front of a lookupService:
// its throttle, and empty pages.
type lookupHTTP struct{ svc *lookupService }

func (h lookupHTTP) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") != "CloudTrail_20131101.LookupEvents" {
		return nil, fmt.Errorf("unexpected call %s", req.Header.Get("X-Amz-Target"))
	}
	status, body := http.StatusOK, `{"Events":[]}`
	if !h.svc.admit(time.Now()) {
		status, body = http.StatusBadRequest, `{"__type":"ThrottlingException","message":"Rate exceeded"}`
	} else if err := sleepCtx(req.Context(), h.svc.latency); err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}
