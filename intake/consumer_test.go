package intake_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/intake"
	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/world"
)

// rig is keyleak's intake against the world's EventBridge and SQS, with a
// real store and reporter.
type rig struct {
	w        *world.World
	in       *world.Intake
	queue    *awsops.Queue
	store    *state.Store
	consumer *intake.Consumer
	sqs      *sqs.Client
	now      time.Time

	mu       sync.Mutex
	outcomes []intake.Outcome
}

const keyleakAccount = world.DefaultAccount

func newRig(t *testing.T, rules intake.Rules, opts ...state.Options) *rig {
	t.Helper()
	ctx := t.Context()
	w := world.Start(t)
	in, err := w.StartIntake(ctx, keyleakAccount, 2*time.Second, 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := w.Config("us-east-1", w.Admin(keyleakAccount))
	queue, err := awsops.NewFromConfig(cfg, awsops.Options{}).Queue(in.QueueURL, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var so state.Options
	if len(opts) > 0 {
		so = opts[0]
	}
	store, err := state.Open(filepath.Join(t.TempDir(), "keyleak.db"), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &rig{w: w, in: in, queue: queue, store: store, sqs: sqs.NewFromConfig(cfg), now: time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)}
	reporter := &commands.Reporter{Store: store, Now: func() time.Time { return r.now }, ParseKey: func(s string) (string, error) {
		k, err := awsops.ParseAccessKeyID(s)
		return k.String(), err
	}, Announce: []string{commands.ChannelSlack, commands.ChannelChat, commands.ChannelEmail}}
	r.consumer = &intake.Consumer{Queue: queue, Reporter: reporter, Rules: rules, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handled: func(o intake.Outcome) { r.mu.Lock(); r.outcomes = append(r.outcomes, o); r.mu.Unlock() }}
	return r
}

// drain receives and handles until the queue has been empty for two
// polls in a row.
func (r *rig) drain(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	empty := 0
	for i := 0; empty < 2; i++ {
		if i > 2000 {
			t.Fatal("the queue never drained")
		}
		msgs, err := r.queue.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range msgs {
			o := r.consumer.Handle(ctx, m)
			r.mu.Lock()
			r.outcomes = append(r.outcomes, o...)
			r.mu.Unlock()
		}
	}
}

func (r *rig) finding(t *testing.T, f world.Finding) string {
	t.Helper()
	f.Account, f.Region = cmpOr(f.Account, keyleakAccount), cmpOr(f.Region, "us-east-1")
	if f.At.IsZero() {
		f.At = r.now.Add(-time.Minute)
	}
	id, err := r.in.Put(t.Context(), "aws.guardduty", "GuardDuty Finding", world.GuardDutyFinding(f))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// incidents are the store's incidents, and the page messages queued for
// each.
func (r *rig) incidents(t *testing.T) (map[string]state.Incident, map[string]int) {
	t.Helper()
	incs, pages := map[string]state.Incident{}, map[string]int{}
	err := r.store.View(func(tx *state.Tx) error {
		all, err := tx.Incidents(state.IncidentFilter{})
		if err != nil {
			return err
		}
		for _, inc := range all {
			incs[inc.AccessKeyID] = inc
			msgs, err := tx.Pending(inc.ID)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				if m.Channel == commands.ChannelSlack && m.Kind == commands.NoticePage {
					pages[inc.AccessKeyID]++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return incs, pages
}

// queued counts the messages on a queue, visible or in flight.
func (r *rig) queued(t *testing.T, url string) int {
	t.Helper()
	out, err := r.sqs.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	var n, m int
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessages"], &n)
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessagesNotVisible"], &m)
	return n + m
}

const (
	leaked  = "AKIARZPUZDIKEXAMPLE2"
	leaked2 = "AKIARZPUZDIKEXAMPLE3"
	leaked3 = "AKIARZPUZDIKEXAMPLE4"
)

// TestFindingOpensIncident: a GuardDuty finding put on the bus opens an
// incident that records the finding and queues the page, the war room
// and the email in the same transaction; the message is then deleted.
func TestFindingOpensIncident(t *testing.T) {
	r := newRig(t, intake.Rules{MinSeverity: 4})
	r.finding(t, world.Finding{Type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller", Severity: 8, Key: leaked, UserName: "ci-deploy-user", UserType: "IAMUser",
		API: "ListBuckets", SourceIP: "203.0.113.66", UserAgent: "aws-cli/2.15", Title: "API ListBuckets was invoked from a known malicious IP address."})
	r.drain(t)
	incs, pages := r.incidents(t)
	inc, ok := incs[leaked]
	if !ok || inc.Detection == nil {
		t.Fatalf("no incident with its detection for %s: %+v", leaked, incs)
	}
	d := inc.Detection
	if d.Type != "UnauthorizedAccess:IAMUser/MaliciousIPCaller" || d.Severity != 8 || d.SourceIP != "203.0.113.66" || !strings.Contains(d.URL, "guardduty") || inc.Reporter.Name != "GuardDuty" {
		t.Errorf("detection = %+v, reporter %v", d, inc.Reporter)
	}
	if want := "GuardDuty finding UnauthorizedAccess:IAMUser/MaliciousIPCaller (severity 8.0) at 10:04 UTC"; d.Text() != want {
		t.Errorf("the page would say %q, want %q", d.Text(), want)
	}
	if pages[leaked] != 1 {
		t.Errorf("%d pages queued, want 1", pages[leaked])
	}
	if n := r.queued(t, r.in.QueueURL); n != 0 {
		t.Errorf("%d messages left on the queue", n)
	}
}

// TestRedeliveryHasOneEffect: a message recorded but not deleted (keyleak
// died before DeleteMessage, or the delete failed) comes back after its
// visibility timeout and is answered once: one incident, one page.
func TestRedeliveryHasOneEffect(t *testing.T) {
	r := newRig(t, intake.Rules{})
	r.finding(t, world.Finding{Type: "UnauthorizedAccess:IAMUser/TorIPCaller", Severity: 5, Key: leaked, UserType: "IAMUser"})
	ctx := t.Context()
	msgs, err := r.queue.Receive(ctx)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive: %v %v", msgs, err)
	}
	failing := &failDeletes{Queue: r.queue}
	r.consumer.Queue = failing
	first := one(t, r.consumer.Handle(ctx, msgs[0]))
	if first.Err != nil || first.Result.Incident.ID == "" || failing.failed != 1 {
		t.Fatalf("first delivery: %+v (deletes failed: %d)", first, failing.failed)
	}
	r.consumer.Queue = r.queue
	var again []awsops.QueueMessage
	for range 10 {
		if again, err = r.queue.Receive(ctx); err != nil || len(again) > 0 {
			break
		}
	}
	if len(again) != 1 || again[0].ID != msgs[0].ID || again[0].Receives != 2 {
		t.Fatalf("the message did not come back: %+v %v", again, err)
	}
	second := one(t, r.consumer.Handle(ctx, again[0]))
	if !second.Result.Repeat || second.Result.Incident.ID != first.Result.Incident.ID {
		t.Errorf("second delivery: %+v, want a repeat of %s", second.Result, first.Result.Incident.ID)
	}
	incs, pages := r.incidents(t)
	if len(incs) != 1 || pages[leaked] != 1 || incs[leaked].Detections[0].Count != 1 {
		t.Errorf("%d incidents, %d pages, detections %+v: want one of each", len(incs), pages[leaked], incs[leaked].Detections)
	}
	r.drain(t)
	if n := r.queued(t, r.in.QueueURL); n != 0 {
		t.Errorf("%d messages left", n)
	}
}

type failDeletes struct {
	*awsops.Queue
	failed int
}

func (f *failDeletes) Delete(ctx context.Context, m awsops.QueueMessage) error {
	f.failed++
	return errors.New("connection reset")
}

// TestNothingDeletedBeforeCommit: when the store cannot record the event,
// the message stays on the queue and comes back.
func TestNothingDeletedBeforeCommit(t *testing.T) {
	r := newRig(t, intake.Rules{})
	r.finding(t, world.Finding{Type: "UnauthorizedAccess:IAMUser/TorIPCaller", Severity: 5, Key: leaked, UserType: "IAMUser"})
	ctx := t.Context()
	msgs, err := r.queue.Receive(ctx)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive: %v %v", msgs, err)
	}
	closed, err := state.Open(filepath.Join(t.TempDir(), "closed.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	working := r.consumer.Reporter
	broken := *working
	broken.Store = closed
	r.consumer.Reporter = &broken
	out := one(t, r.consumer.Handle(ctx, msgs[0]))
	if out.Err == nil {
		t.Fatalf("recording into a closed store succeeded: %+v", out)
	}
	if n := r.queued(t, r.in.QueueURL); n != 1 {
		t.Fatalf("%d messages on the queue after a failed commit, want the one kept", n)
	}
	r.consumer.Reporter = working
	r.drain(t)
	if incs, _ := r.incidents(t); len(incs) != 1 {
		t.Errorf("%d incidents after the retry, want 1", len(incs))
	}
}

// TestHostileMessages: malformed, oversized and unknown messages go to the
// dead-letter queue with the reason; keys of uncovered accounts, samples
// and findings about other resources are dropped; none of them stops the
// good finding behind them.
func TestHostileMessages(t *testing.T) {
	r := newRig(t, intake.Rules{Accounts: []string{keyleakAccount}})
	ctx := t.Context()
	send := func(body string) {
		if _, err := r.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.in.QueueURL), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	send("not json at all")
	send(`{"id":"x","source":"aws.guardduty","detail-type":"GuardDuty Finding","detail":` + strings.Repeat(" ", intake.MaxEventBytes) + `{}}`)
	send(`{"version":"0","id":"u1","source":"aws.securityhub","detail-type":"Security Hub Findings - Imported","detail":{}}`)
	send(`{"version":"0","id":"b1","source":"aws.guardduty","detail-type":"GuardDuty Finding","detail":{"id":"f","type":"T","resource":{"accessKeyDetails":{"accessKeyId":"AKIA' \"<script>"}}}}`)
	r.finding(t, world.Finding{Type: "UnauthorizedAccess:IAMUser/TorIPCaller", Severity: 8, Key: leaked2, Account: world.SecondAccount, UserType: "IAMUser"})
	r.finding(t, world.Finding{Type: "UnauthorizedAccess:IAMUser/TorIPCaller", Severity: 8, Key: leaked3, UserType: "IAMUser", Sample: true})
	r.finding(t, world.Finding{Type: "UnauthorizedAccess:IAMUser/TorIPCaller", Severity: 8, Key: leaked, UserType: "IAMUser"})
	r.drain(t)
	incs, _ := r.incidents(t)
	if len(incs) != 1 || incs[leaked].ID == "" {
		t.Errorf("incidents %v, want only %s's", incs, leaked)
	}
	if n := r.queued(t, r.in.QueueURL); n != 0 {
		t.Errorf("%d messages left on the queue", n)
	}
	out, err := r.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.in.DeadLetterURL), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{awsops.ReasonAttribute}})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, m := range out.Messages {
		reasons = append(reasons, aws.ToString(m.MessageAttributes[awsops.ReasonAttribute].StringValue))
	}
	slices.Sort(reasons)
	if len(reasons) != 3 || !strings.Contains(strings.Join(reasons, "|"), "malformed") || !strings.Contains(strings.Join(reasons, "|"), "too large") || !strings.Contains(strings.Join(reasons, "|"), "unknown type") {
		t.Errorf("dead letters %q, want the malformed, oversized and unknown messages with their reasons", reasons)
	}
	dropped, noKey := 0, 0
	for _, o := range r.outcomes {
		switch {
		case o.Rejected != nil && o.Rejected.Reason == intake.NoKey:
			noKey++
		case o.Rejected == nil && o.Decision.Verdict == intake.Drop:
			dropped++
		}
	}
	if dropped != 2 || noKey != 1 {
		t.Errorf("%d events dropped by the rules and %d naming no key, want the other account's and the sample, and the finding with a mangled key", dropped, noKey)
	}
}

// TestBelowTheBarJoinsOnly: a low-severity finding opens nothing, but is
// recorded on the key's open incident, once per type in the timeline.
func TestBelowTheBarJoinsOnly(t *testing.T) {
	r := newRig(t, intake.Rules{MinSeverity: 7})
	low := world.Finding{Type: "Recon:IAMUser/MaliciousIPCaller", Severity: 5, Key: leaked, UserType: "IAMUser"}
	r.finding(t, low)
	r.drain(t)
	if incs, _ := r.incidents(t); len(incs) != 0 {
		t.Fatalf("a finding below the bar opened %v", incs)
	}
	r.finding(t, world.Finding{Type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", Severity: 8, Key: leaked, UserType: "AssumedRole"})
	r.drain(t)
	r.finding(t, low)
	r.finding(t, low)
	r.drain(t)
	incs, pages := r.incidents(t)
	inc := incs[leaked]
	if len(incs) != 1 || pages[leaked] != 1 || len(inc.Detections) != 2 || inc.Detections[1].Count != 2 {
		t.Fatalf("incidents %v, pages %v: want one incident, one page, the low finding counted twice", incs, pages)
	}
	var timeline []state.Event
	r.store.View(func(tx *state.Tx) (err error) { timeline, err = tx.Timeline(inc.ID); return err })
	detected := 0
	for _, e := range timeline {
		if e.Kind == state.EventDetected {
			detected++
		}
	}
	if detected != 1 {
		t.Errorf("%d detection entries in the timeline, want the low finding's one", detected)
	}
}

// TestCanaryTrip: a call made with a canary key, delivered by the canary
// account's CloudTrail rule, opens a canary incident whose finding is the
// caller.
func TestCanaryTrip(t *testing.T) {
	const canary = "AKIARZPUZDIKCANARY22"
	r := newRig(t, intake.Rules{CanaryKeys: []string{canary}, Accounts: []string{keyleakAccount}})
	if err := r.in.AddCanaryRule(t.Context(), canary); err != nil {
		t.Fatal(err)
	}
	call := map[string]any{"eventVersion": "1.08", "eventTime": "2026-03-02T10:03:00Z", "eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity",
		"awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.9", "userAgent": "TruffleHog", "eventID": "e1", "recipientAccountId": "999900001111",
		"userIdentity": map[string]any{"type": "IAMUser", "accountId": "999900001111", "accessKeyId": canary, "userName": "backup-reader", "arn": "arn:aws:iam::999900001111:user/backup-reader"}}
	if _, err := r.in.Put(t.Context(), "aws.sts", "AWS API Call via CloudTrail", call); err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	incs, pages := r.incidents(t)
	inc := incs[canary]
	if !inc.Canary || inc.Detection == nil || inc.Detection.SourceIP != "198.51.100.9" || inc.Detection.UserAgent != "TruffleHog" || pages[canary] != 1 {
		t.Errorf("canary incident = %+v (pages %d)", inc, pages[canary])
	}
}

// TestFloodOfFindings: 1,000 findings for 3 keys make 3 incidents and 3
// pages, every finding counted, the queue drained. (They are sent to the
// queue as EventBridge delivers them: moto's EventBridge delivers about
// ten a second.)
func TestFloodOfFindings(t *testing.T) {
	// A thousand commits without fsync: what is measured here is the
	// handling, and a thousand fsyncs would starve the tests of other
	// packages that share the disk (durability is TestIntakeSurvivesKill's).
	r := newRig(t, intake.Rules{}, state.Options{NoSync: true})
	keys := []string{leaked, leaked2, leaked3}
	types := []string{"UnauthorizedAccess:IAMUser/TorIPCaller", "Recon:IAMUser/MaliciousIPCaller", "Discovery:IAMUser/AnomalousBehavior"}
	ctx, cancel := context.WithCancel(t.Context())
	var flood []world.Finding
	for i := range 1000 {
		flood = append(flood, world.Finding{Type: types[i%7%3], Severity: 5, Key: keys[i%3], Account: keyleakAccount, Region: "us-east-1",
			UserType: "IAMUser", API: "ListUsers", SourceIP: "203.0.113.66", At: r.now})
	}
	if err := r.in.DeliverFindings(ctx, flood); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.consumer.Run(ctx) }()
	// A guard against a hang (50 minutes of polls), not a measure of speed.
	// Messages are counted once: a message whose delete fails (a dropped
	// connection on a busy machine) comes back after its visibility
	// timeout, and its second handling is an outcome too (a repeat,
	// answered once).
	for polls := 0; ; polls++ {
		r.mu.Lock()
		handled := map[string]bool{}
		for _, o := range r.outcomes {
			handled[o.MessageID] = true
		}
		n := len(handled)
		r.mu.Unlock()
		if n >= 1000 {
			break
		}
		if polls > 30000 {
			t.Fatalf("only %d of 1000 findings handled", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	incs, pages := r.incidents(t)
	total := 0
	for _, k := range keys {
		for _, c := range incs[k].Detections {
			total += c.Count
		}
		if pages[k] != 1 {
			t.Errorf("%s: %d pages, want 1", k, pages[k])
		}
	}
	if len(incs) != 3 || total != 1000 {
		t.Errorf("%d incidents counting %d findings, want 3 counting 1000", len(incs), total)
	}
	for _, o := range r.outcomes {
		if o.Err != nil || o.Rejected != nil {
			t.Errorf("message %s: %v %v", o.MessageID, o.Err, o.Rejected)
		}
	}
	if n := r.queued(t, r.in.QueueURL); n != 0 {
		t.Errorf("%d messages left on the queue", n)
	}
}

// one is the outcome of a message that names one key.
func one(tb testing.TB, outs []intake.Outcome) intake.Outcome {
	tb.Helper()
	if len(outs) != 1 {
		tb.Fatalf("%d outcomes, want the one of a message about one key: %+v", len(outs), outs)
	}
	return outs[0]
}

// TestEveryKeyOfAnEventOpensItsIncident: an AWS Health event about two
// keys opens an incident for each, and when the message comes again (its
// delete failed) each key's is answered once.
func TestEveryKeyOfAnEventOpensItsIncident(t *testing.T) {
	r := newRig(t, intake.Rules{})
	detail := world.HealthExposed(leaked, "ci-deploy", keyleakAccount, "https://github.com/example/repo/blob/main/.env", r.now)
	detail["affectedEntities"] = []map[string]any{{"entityValue": leaked}, {"entityValue": leaked2}}
	ctx := t.Context()
	if _, err := r.in.Put(ctx, "aws.health", "AWS Health Event", detail); err != nil {
		t.Fatal(err)
	}
	var msgs []awsops.QueueMessage
	for range 20 {
		var err error
		if msgs, err = r.queue.Receive(ctx); err != nil || len(msgs) > 0 {
			break
		}
	}
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want the Health event", len(msgs))
	}
	failing := &failDeletes{Queue: r.queue}
	r.consumer.Queue = failing
	first := r.consumer.Handle(ctx, msgs[0])
	if len(first) != 2 || first[0].Event.Key != leaked || first[1].Event.Key != leaked2 || first[0].Label() != "opened" || first[1].Label() != "opened" {
		t.Fatalf("outcomes %+v, want an incident opened for each key", first)
	}
	r.consumer.Queue = r.queue
	var back []awsops.QueueMessage // after its visibility timeout
	for range 10 {
		var err error
		if back, err = r.queue.Receive(ctx); err != nil || len(back) > 0 {
			break
		}
	}
	if len(back) != 1 || back[0].ID != msgs[0].ID {
		t.Fatalf("the message did not come back: %+v", back)
	}
	again := r.consumer.Handle(ctx, back[0])
	for _, o := range again {
		if o.Label() != "repeat" {
			t.Errorf("the second delivery for %s: %s, want a repeat", o.Event.Key, o.Label())
		}
	}
	incs, pages := r.incidents(t)
	if len(again) != 2 || len(incs) != 2 || pages[leaked] != 1 || pages[leaked2] != 1 {
		t.Errorf("%d outcomes again, %d incidents, pages %v: want an incident and a page for each key, each answered once", len(again), len(incs), pages)
	}
}

// TestRejectedEventsKeepSecretsOut: a secret access key sent where the key
// ID belongs is neither logged nor sent along with the message's reason.
func TestRejectedEventsKeepSecretsOut(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	var logs strings.Builder
	q := &recordingQueue{}
	c := &intake.Consumer{Queue: q, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	body := `{"id":"c3","source":"com.example.scanner","detail-type":"Leaked Access Key","detail":{"accessKeyId":"` + secret + `","reason":"found ` + secret + `"}}`
	out := one(t, c.Handle(t.Context(), awsops.QueueMessage{ID: "m", Body: body}))
	if out.Rejected == nil || out.Rejected.Reason != intake.Malformed || len(q.deadLettered) != 1 {
		t.Fatalf("outcome %+v, dead letters %q: want the event rejected as malformed and dead-lettered", out, q.deadLettered)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(strings.Join(q.deadLettered, " "), secret) {
		t.Errorf("the secret was logged or sent along:\n%s\n%q", logs.String(), q.deadLettered)
	}
}

// recordingQueue records what is dead-lettered, with the reason.
type recordingQueue struct{ deadLettered []string }

func (q *recordingQueue) Receive(context.Context) ([]awsops.QueueMessage, error) { return nil, nil }
func (q *recordingQueue) Delete(context.Context, awsops.QueueMessage) error      { return nil }
func (q *recordingQueue) Release(context.Context, awsops.QueueMessage, time.Duration) error {
	return nil
}
func (q *recordingQueue) DeadLetter(_ context.Context, m awsops.QueueMessage, reason string) error {
	q.deadLettered = append(q.deadLettered, m.ID+": "+reason)
	return nil
}
