package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/keyleak/keyleak/test/googlefake"
	"github.com/keyleak/keyleak/test/world"
)

// pageOf is the text of the on-call pages that name the incident.
func pageOf(h *Harness, id string) (pages int, text string) {
	for _, m := range h.Slack.Messages(oncall) {
		if m.ThreadTS == "" && strings.Contains(m.Text+string(m.Blocks), id) {
			pages++
			text = m.Text + string(m.Blocks)
		}
	}
	return pages, text
}

func (h *Harness) guardDutyFinding(t testing.TB, key string, at time.Time) {
	t.Helper()
	_, err := h.Intake.Put(t.Context(), "aws.guardduty", "GuardDuty Finding", world.GuardDutyFinding(world.Finding{
		Type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller", Severity: 8, Account: world.DefaultAccount, Region: "us-east-1",
		Key: key, UserName: h.Run.Target.LeakedUser, UserType: "IAMUser", API: "ListBuckets",
		SourceIP: "203.0.113.66", UserAgent: "aws-cli/1.32.70", At: at, Title: "API ListBuckets was invoked from a known malicious IP address.",
	}))
	if err != nil {
		t.Fatal(err)
	}
}

// TestDetectorOpensIncident: a GuardDuty finding put on the bus becomes a
// page that says where it came from, a space, a Meet and an email, before
// anyone types anything; the responder's /keyleak then joins it.
func TestDetectorOpensIncident(t *testing.T) {
	h := Start(t, WithScenario("seed"), WithIntake())
	leaked := h.Run.Target.Leaked.AccessKeyID
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	h.guardDutyFinding(t, leaked, at)
	var id string
	Eventually(t, 60*time.Second, "the incident, its page, room, Meet and email", func() (bool, string) {
		ids, err := h.AllIncidents()
		if err != nil || len(ids) == 0 {
			return false, fmt.Sprint(ids, err)
		}
		id = ids[0]
		d, err := h.Incident(id)
		if err != nil {
			return false, err.Error()
		}
		pages, _ := pageOf(h, id)
		return pages == 1 && d.Incident.ChatSpace != "" && d.Incident.MeetURL != "" && h.Emails(id)["<"+strings.ToLower(id)+".open@keyleak>"] == 1, fmt.Sprintf("%+v pages=%d", d.Incident, pages)
	})
	_, page := pageOf(h, id)
	want := "Opened automatically from GuardDuty finding UnauthorizedAccess:IAMUser/MaliciousIPCaller (severity 8.0) at " + at.UTC().Format("15:04 MST")
	if !strings.Contains(page, want) || !strings.Contains(page, "guardduty/home") {
		t.Errorf("the page does not say how the incident opened (%q, with a link):\n%s", want, page)
	}
	res, err := h.Slash(leaked+" found in a public GitHub repo", nil)
	if err != nil || !strings.Contains(string(res.Body), id+" is already open") || !strings.Contains(string(res.Body), "by GuardDuty") {
		t.Errorf("the responder's report: %v %s, want it to join %s opened by GuardDuty", err, res.Body, id)
	}
	ids, _ := h.AllIncidents()
	if len(ids) != 1 {
		t.Errorf("incidents %v, want one", ids)
	}
}

// TestIntakeSurvivesKill: keyleak is killed after the incident committed
// but before the message was deleted; restarted, it receives the message
// again and answers it once: one incident, one page, an empty queue.
func TestIntakeSurvivesKill(t *testing.T) {
	h := Start(t, WithScenario("seed"), WithIntake())
	leaked := h.Run.Target.Leaked.AccessKeyID
	// Every SQS call now takes 12 s: the DeleteMessage after the commit is
	// still on its way when keyleak dies, however busy the machine.
	h.World.Gateway.SetFault("sqs", world.Fault{Delay: 12 * time.Second})
	h.guardDutyFinding(t, leaked, time.Now().Add(-time.Minute))
	var id string
	Eventually(t, 60*time.Second, "the incident committed", func() (bool, string) {
		ids, err := h.AllIncidents()
		if len(ids) > 0 {
			id = ids[0]
		}
		return len(ids) > 0, fmt.Sprint(ids, err)
	})
	h.Kill()
	sq := sqs.NewFromConfig(h.World.Config("us-east-1", h.World.Admin(world.DefaultAccount)))
	out, err := sq.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(h.Intake.QueueURL), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages"}})
	if err != nil || out.Attributes["ApproximateNumberOfMessagesNotVisible"]+out.Attributes["ApproximateNumberOfMessages"] == "00" {
		t.Fatalf("the message was deleted before the kill (%v, %v): the test did not kill in between", out.Attributes, err)
	}
	h.World.Gateway.SetFault("sqs", world.Fault{})
	h.StartKeyleak()
	Eventually(t, 60*time.Second, "the message received again and deleted", func() (bool, string) {
		out, err := sq.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(h.Intake.QueueURL), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages"}})
		return err == nil && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" && out.Attributes["ApproximateNumberOfMessages"] == "0", fmt.Sprint(out, err)
	})
	Eventually(t, 30*time.Second, "the page", func() (bool, string) {
		pages, _ := pageOf(h, id)
		return pages >= 1, fmt.Sprint(pages)
	})
	ids, _ := h.AllIncidents()
	pages, _ := pageOf(h, id)
	if len(ids) != 1 || pages != 1 {
		t.Errorf("incidents %v, %d pages: want exactly one of each", ids, pages)
	}
	d, err := h.Incident(id)
	if err != nil || len(d.Incident.Detections) != 1 || d.Incident.Detections[0].Count != 1 {
		t.Errorf("detections %+v (%v): the redelivery was counted again", d.Incident.Detections, err)
	}
}

// BenchmarkDetectorToPage measures, through the real binary, the time
// from PutEvents of a GuardDuty finding to the page posted on Slack, with
// 50 ms of latency on every call to Slack, Google and AWS (EventBridge and
// SQS included). Budget: under 5 s.
//
//	go test -run '^$' -bench DetectorToPage -benchtime 10x ./test/e2e/
func BenchmarkDetectorToPage(b *testing.B) {
	h := Start(b, WithScenario("seed"), WithIntake())
	const latency = 50 * time.Millisecond
	h.Slack.SetLatency("", latency)
	h.Google.SetFault("*", googlefake.Fault{Delay: latency})
	for _, svc := range []string{"sts", "iam", "cloudtrail", "ec2", "s3", "ce", "lambda", "kms", "rds", "sqs", "events"} {
		h.World.Gateway.SetFault(svc, world.Fault{Delay: latency})
	}
	var took []time.Duration
	n := 0
	for b.Loop() {
		n++
		key := keyN(7000 + n)
		start := time.Now()
		h.guardDutyFinding(b, key, start)
		deadline := time.Now().Add(30 * time.Second)
		for {
			paged := false
			for _, m := range h.Slack.Messages(oncall) {
				if m.ThreadTS == "" && strings.Contains(m.Text, key) {
					paged = true
				}
			}
			if paged {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: no page 30 s after PutEvents", key)
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
