package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/test/transcript"
)

// messagesText is the space's conversation as text.
func messagesText(h *Harness, space string) string {
	var b strings.Builder
	for _, m := range h.Google.Messages(space) {
		b.WriteString(transcript.ChatText(m.Text, m.CardsV2))
		b.WriteString("\n")
	}
	return b.String()
}

// approve requests action as alice and approves it as bob, and waits for
// it to finish; it returns the action as keyleak recorded it.
func approve(t *testing.T, h *Harness, d Detail, line string) (id string) {
	t.Helper()
	space := d.Incident.ChatSpace
	reply, err := h.Command(space, alice, line)
	if err != nil || !strings.Contains(fmt.Sprint(reply), "awaiting approval") {
		t.Fatalf("%s: %v %v", line, reply, err)
	}
	cur, err := h.Incident(d.Incident.ID)
	if err != nil {
		t.Fatal(err)
	}
	id = cur.Actions[len(cur.Actions)-1].ID
	// The requester's own approval is refused.
	reply, err = h.Click(space, alice, "approve", id)
	if err != nil || !strings.Contains(fmt.Sprint(reply), "second responder must approve") {
		t.Fatalf("self-approval of %s: %v %v", id, reply, err)
	}
	reply, err = h.Click(space, bob, "approve", id)
	if err != nil || !strings.Contains(fmt.Sprint(reply), "Approved by Bob") {
		t.Fatalf("approval of %s: %v %v", id, reply, err)
	}
	Eventually(t, 60*time.Second, id+" to finish", func() (bool, string) {
		cur, err := h.Incident(d.Incident.ID)
		if err != nil {
			return false, err.Error()
		}
		for _, a := range cur.Actions {
			if a.ID == id {
				return a.Status == "succeeded" || a.Status == "failed", a.Status
			}
		}
		return false, "not found"
	})
	return id
}

// TestSeedIncident runs the canonical incident (shared/seeds/003) through
// the real binary over HTTP and checks the outcome in the world.
func TestSeedIncident(t *testing.T) {
	h := Start(t, WithScenario("seed"))
	ctx := context.Background()
	leaked := h.Run.Target.Leaked.AccessKeyID
	res, err := h.Slash(leaked+" found in a public GitHub repo", nil)
	if err != nil || !strings.Contains(string(res.Body), "Opened KL-") {
		t.Fatalf("report: %v %+v", err, res)
	}
	id := "KL-" + time.Now().UTC().Format("2006") + "-0001"
	var d Detail
	Eventually(t, 120*time.Second, "identification and findings", func() (bool, string) {
		d, err = h.Incident(id)
		if err != nil {
			return false, err.Error()
		}
		return d.Incident.ChatSpace != "" && strings.Contains(messagesText(h, d.Incident.ChatSpace), "Findings"), fmt.Sprintf("%+v", d.Incident)
	})
	conversation := messagesText(h, d.Incident.ChatSpace)
	for _, want := range []string{"eks-node-role", h.Run.Target.LeakedUser, "CRITICAL"} {
		if !strings.Contains(conversation, want) {
			t.Errorf("the war room does not mention %q:\n%s", want, conversation)
		}
	}

	reply, err := h.Command(d.Incident.ChatSpace, alice, "revoke-sessions --dry-run")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "eks-node-role") {
		t.Fatalf("dry run: %v %v", reply, err)
	}
	revoke := approve(t, h, d, "revoke-sessions")
	deactivate := approve(t, h, d, "deactivate")

	// The attacker is cut off: the leaked key and every session it minted
	// are refused.
	now := time.Now()
	for key, code := range h.Run.Probe(ctx, now) {
		if code == "" {
			t.Errorf("the attacker's %s still works after containment", key)
		}
	}
	// The nodes keep working: their sessions issued after the cutoff
	// succeed (the seed incident's 50-node outage does not happen).
	if err := h.Run.Scenario.Legit(ctx, h.Run, now, now.Add(16*time.Minute)); err != nil {
		t.Errorf("the legitimate workload fails after containment: %v", err)
	}

	reply, err = h.Command(d.Incident.ChatSpace, bob, "verify")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "Contained") {
		t.Errorf("verify: %v %v", reply, err)
	}
	reply, err = h.Command(d.Incident.ChatSpace, alice, "note the key was committed to a public repo two weeks ago")
	if err != nil {
		t.Fatal(err)
	}
	reply, err = h.Command(d.Incident.ChatSpace, alice, "close")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "Incident report") {
		t.Fatalf("close: %v %v", reply, err)
	}
	final, err := h.Incident(id)
	if err != nil {
		t.Fatal(err)
	}
	report := fmt.Sprint(reply)
	for _, a := range final.Actions {
		if a.ID != revoke && a.ID != deactivate {
			continue
		}
		if a.Status != "succeeded" || len(a.RequestIDs) == 0 {
			t.Errorf("%s %s: status %s, %d request IDs", a.ID, a.Name, a.Status, len(a.RequestIDs))
		}
		for _, rid := range a.RequestIDs {
			if !strings.Contains(report, rid) {
				t.Errorf("the report lacks request ID %s of %s", rid, a.ID)
			}
		}
	}
	lower := strings.ToLower(id)
	Eventually(t, 20*time.Second, "the opening and closing emails, once each", func() (bool, string) {
		got := h.Emails(id)
		return got["<"+lower+".open@keyleak>"] == 1 && got["<"+lower+".close@keyleak>"] == 1, fmt.Sprint(got)
	})
	if t.Failed() {
		t.Logf("war room:\n%s", messagesText(h, d.Incident.ChatSpace))
	}
}

// TestWatchAlarmsWhenActivityContinues deactivates the key but leaves the
// attacker's role session alive: its next call must raise the alarm in
// the war room and on Slack.
func TestWatchAlarmsWhenActivityContinues(t *testing.T) {
	h := Start(t, WithScenario("seed"))
	ctx := context.Background()
	res, err := h.Slash(h.Run.Target.Leaked.AccessKeyID, nil)
	if err != nil || !strings.Contains(string(res.Body), "Opened KL-") {
		t.Fatalf("report: %v %+v", err, res)
	}
	id := "KL-" + time.Now().UTC().Format("2006") + "-0001"
	var d Detail
	Eventually(t, 120*time.Second, "the findings", func() (bool, string) {
		d, err = h.Incident(id)
		return err == nil && d.Incident.ChatSpace != "" && strings.Contains(messagesText(h, d.Incident.ChatSpace), "Findings"), fmt.Sprint(err)
	})
	approve(t, h, d, "deactivate")
	probe := h.Run.Probe(ctx, time.Now())
	alive := 0
	for _, code := range probe {
		if code == "" {
			alive++
		}
	}
	if alive == 0 {
		t.Fatalf("probe %v: the attacker's session should still work before revoke-sessions", probe)
	}
	Eventually(t, 30*time.Second, "the alarm in the war room and on Slack", func() (bool, string) {
		inRoom := strings.Contains(messagesText(h, d.Incident.ChatSpace), "ALARM: activity continues")
		onSlack := false
		for _, m := range h.Slack.Messages(oncall) {
			if strings.Contains(m.Text, "activity continues after containment") && m.ThreadTS != "" {
				onSlack = true
			}
		}
		return inRoom && onSlack, fmt.Sprintf("room=%v slack=%v", inRoom, onSlack)
	})
}
