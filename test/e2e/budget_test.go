package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/test/googlefake"
	"github.com/keyleak/keyleak/test/world"
)

// BenchmarkReportToWarRoom measures, through the real binary, the time
// from a /keyleak in Slack to the page posted, the Chat space and the Meet
// created and the InfoSec email queued, with 50 ms of latency on every
// call to Slack, Google and AWS (product budget: under 2 s).
//
//	go test -run '^$' -bench ReportToWarRoom -benchtime 20x ./test/e2e/
func BenchmarkReportToWarRoom(b *testing.B) {
	h := Start(b, WithScenario("seed"))
	const latency = 50 * time.Millisecond
	h.Slack.SetLatency("", latency)
	h.Google.SetFault("*", googlefake.Fault{Delay: latency})
	for _, svc := range []string{"sts", "iam", "cloudtrail", "ec2", "s3", "ce", "lambda", "kms", "rds"} {
		h.World.Gateway.SetFault(svc, world.Fault{Delay: latency})
	}
	var took []time.Duration
	n := 0
	for b.Loop() {
		n++
		key := keyN(5000 + n)
		start := time.Now()
		res, err := h.Slash(key, nil)
		if err != nil || res.Error != "" || !strings.Contains(string(res.Body), "Opened KL-") {
			b.Fatalf("report %s: %v %+v", key, err, res)
		}
		id := strings.Fields(strings.SplitN(string(res.Body), "Opened ", 2)[1])[0]
		id = strings.TrimRight(id, ".")
		deadline := time.Now().Add(30 * time.Second)
		for {
			d, err := h.Incident(id)
			if err == nil && d.Incident.SlackTS != "" && d.Incident.ChatSpace != "" && d.Incident.MeetURL != "" && emailQueued(h, d, id) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: no page, room, Meet or email after 30 s: %+v %v", id, d.Incident, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	pct := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(took[len(took)-1])/float64(time.Millisecond), "max-ms")
}

// emailQueued reports whether the opening email is in the outbox or sent.
func emailQueued(h *Harness, d Detail, id string) bool {
	if h.Emails(id)["<"+strings.ToLower(id)+".open@keyleak>"] > 0 {
		return true
	}
	for _, raw := range d.Pending {
		if strings.Contains(string(raw), fmt.Sprintf(`"key":"open:%s"`, id)) {
			return true
		}
	}
	return false
}
