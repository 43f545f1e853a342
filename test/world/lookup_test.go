package world

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// lookupClient calls LookupEvents as the account's admin. It retries nothing but a
// connection broken under the response, after the 2 requests/s quota allows another call.
func lookupClient(w *World, region string) *cloudtrail.Client {
	cfg := w.Config(region, w.Admin(DefaultAccount))
	RetryBrokenConnections(&cfg, 600*time.Millisecond)
	return cloudtrail.NewFromConfig(cfg)
}

// pacedLookup calls LookupEvents no faster than the 2 requests/s quota allows.
func pacedLookup(tb testing.TB, c *cloudtrail.Client, in *cloudtrail.LookupEventsInput) *cloudtrail.LookupEventsOutput {
	tb.Helper()
	time.Sleep(550 * time.Millisecond)
	out, err := c.LookupEvents(tb.Context(), in)
	if err != nil {
		tb.Fatalf("LookupEvents: %v", err)
	}
	return out
}

func TestLookupEventsPagesAndFilters(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	const calls = 120
	for i := range calls {
		at := base.Add(time.Duration(i) * time.Second)
		client := sts.NewFromConfig(w.Config("eu-west-1", user, WithEventTime(func() time.Time { return at })))
		if _, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	c := lookupClient(w, "eu-west-1")

	byUser := &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("ci-deploy-user"),
	}}}
	var pages []int
	var times []time.Time
	seen := map[string]bool{}
	for {
		out := pacedLookup(t, c, byUser)
		pages = append(pages, len(out.Events))
		for _, e := range out.Events {
			if seen[*e.EventId] {
				t.Fatalf("event %s returned twice", *e.EventId)
			}
			seen[*e.EventId] = true
			times = append(times, *e.EventTime)
			var rec Record
			if err := json.Unmarshal([]byte(*e.CloudTrailEvent), &rec); err != nil {
				t.Fatalf("CloudTrailEvent is not a record: %v", err)
			}
			if rec.UserIdentity.AccessKeyID != user.AccessKeyID || *e.AccessKeyId != user.AccessKeyID {
				t.Fatalf("event of key %s, want %s", rec.UserIdentity.AccessKeyID, user.AccessKeyID)
			}
		}
		if out.NextToken == nil {
			break
		}
		byUser.NextToken = out.NextToken
	}
	if got, want := pages, []int{50, 50, 20}; !equalInts(got, want) {
		t.Fatalf("page sizes = %v, want %v", got, want)
	}
	for i := 1; i < len(times); i++ {
		if times[i].After(times[i-1]) {
			t.Fatalf("events not newest first at %d: %v after %v", i, times[i], times[i-1])
		}
	}
	if got, want := times[0], base.Add((calls-1)*time.Second); !got.Equal(want) {
		t.Fatalf("newest event at %v, want %v", got, want)
	}

	tests := []struct {
		name string
		in   cloudtrail.LookupEventsInput
		want int
	}{
		{"time window", cloudtrail.LookupEventsInput{
			StartTime: aws.Time(base.Add(10 * time.Second)), EndTime: aws.Time(base.Add(19 * time.Second)),
		}, 10},
		{"access key", cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
			AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(user.AccessKeyID),
		}}, MaxResults: aws.Int32(7)}, 7},
		{"event name elsewhere", cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
			AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateUser"),
		}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := pacedLookup(t, c, &tt.in)
			if got := len(out.Events); got != tt.want {
				t.Fatalf("events = %d, want %d", got, tt.want)
			}
		})
	}
	// IAM is global: CreateUser is recorded in us-east-1.
	out := pacedLookup(t, lookupClient(w, "us-east-1"), &tests[2].in)
	if got, want := len(out.Events), 1; got != want {
		t.Fatalf("CreateUser events in us-east-1 = %d, want %d", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLookupEventsThrottle: over HTTP, calls beyond the quota are refused with
// ThrottlingException, per account and region. The gateway's clock is frozen, so that
// no token comes back during the test whatever the machine's speed.
func TestLookupEventsThrottle(t *testing.T) {
	tests := []struct {
		name      string
		throttle  Throttle
		regions   []string
		throttled int
	}{
		{"burst of 10 in one region", TokenBucket, []string{"eu-west-1"}, 8},
		{"burst of 10 in one region, sliding window", SlidingWindow, []string{"eu-west-1"}, 8},
		{"2 each in 5 regions at once", TokenBucket, []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"}, 0},
		{"2 each in 5 regions at once, sliding window", SlidingWindow, []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Gateway.SetLookupThrottle(tt.throttle)
			frozen := time.Now()
			w.Gateway.lookups.setNow(func() time.Time { return frozen })
			var mu sync.Mutex
			var wg sync.WaitGroup
			throttled := 0
			per := 10 / len(tt.regions)
			for i := range 10 {
				region := tt.regions[i/per]
				c := lookupClient(w, region)
				wg.Go(func() {
					_, err := c.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
					if err != nil && apiCode(err) != "ThrottlingException" {
						t.Errorf("LookupEvents in %s: %v", region, err)
					}
					if apiCode(err) == "ThrottlingException" {
						mu.Lock()
						throttled++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if throttled != tt.throttled {
				t.Fatalf("throttled = %d, want %d", throttled, tt.throttled)
			}
		})
	}
}
