package e2e

import (
	"context"
	"fmt"
	"slices"
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

// TestScenarios runs every incident of the local world through the real
// binary over HTTP (the canonical one is shared/seeds/003) and checks the
// outcome in the world: the attacker is cut off, the legitimate workload
// keeps working, the report is complete, the emails go out once.
func TestScenarios(t *testing.T) {
	for _, name := range []string{"seed", "role-chain", "cost-attack"} {
		t.Run(name, func(t *testing.T) {
			h := Start(t, WithScenario(name))
			respond(t, h, faultFree, nil)
		})
	}
}

// faultFree asks respond for no extra waiting.
const faultFree = 0

// severity is what each scenario's leaked key deserves: IAM write
// (seed) or administrator access (cost-attack) is critical; reading data
// and assuming roles (role-chain) is high.
var severity = map[string]string{"seed": "CRITICAL", "role-chain": "HIGH", "cost-attack": "CRITICAL"}

// respond plays the response to the harness's scenario, with patience
// for a slower world, and checks the outcome. calm, if set, lifts the
// faults before the attacker and the workload are probed (they call the
// same world).
func respond(t *testing.T, h *Harness, slowness time.Duration, calm func()) {
	t.Helper()
	ctx := context.Background()
	leaked := h.Run.Target.Leaked.AccessKeyID
	res, err := h.Slash(leaked+" found in a public GitHub repo", nil)
	if err != nil || !strings.Contains(string(res.Body), "Opened KL-") {
		t.Fatalf("report: %v %+v", err, res)
	}
	id := OpenedID(t, res.Body)
	var d Detail
	Eventually(t, 120*time.Second+slowness, "identification and findings", func() (bool, string) {
		d, err = h.Incident(id)
		if err != nil {
			return false, err.Error()
		}
		return d.Incident.ChatSpace != "" && strings.Contains(messagesText(h, d.Incident.ChatSpace), "Findings"), fmt.Sprintf("%+v", d.Incident)
	})
	conversation := messagesText(h, d.Incident.ChatSpace)
	for _, want := range []string{h.Run.Target.LeakedUser, "severity " + severity[h.scenario]} {
		if !strings.Contains(conversation, want) {
			t.Errorf("the war room does not mention %q:\n%s", want, conversation)
		}
	}
	if h.scenario == "seed" && !strings.Contains(conversation, "eks-node-role") {
		t.Errorf("the findings do not name eks-node-role")
	}

	reply, err := h.Command(d.Incident.ChatSpace, alice, "revoke-sessions --dry-run")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "PutUserPolicy") {
		t.Fatalf("dry run: %v %v", reply, err)
	}
	// The plan says who else uses the role: the nodes, which keep working.
	if want := fmt.Sprintf("by %d caller(s)", h.Run.Nodes()); h.scenario == "seed" && !strings.Contains(fmt.Sprint(reply), want) {
		t.Errorf("the dry run does not say the role is used by the %d nodes (%q): %v", h.Run.Nodes(), want, reply)
	}
	done := []string{approve(t, h, d, "revoke-sessions"), approve(t, h, d, "deactivate")}
	truth, err := h.Run.GroundTruth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, r := range truth.Resources {
		switch r.Type {
		case "AWS::EC2::Instance", "AWS::EC2::SpotInstanceRequest", "AWS::Lambda::Function", "AWS::IAM::User", "AWS::IAM::Role", "AWS::IAM::AccessKey":
			if r.StillExists && r.ID != "" && !slices.Contains(created, r.ID) {
				created = append(created, r.ID)
			}
		}
	}
	if len(created) > 0 {
		reply, err := h.Command(d.Incident.ChatSpace, bob, "resources")
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, rid := range created {
			if strings.Contains(fmt.Sprint(reply), rid) {
				listed = append(listed, rid)
			}
		}
		if len(listed) != len(created) {
			t.Errorf("resources lists %v of the attacker's %v", listed, created)
		}
		if len(listed) > 0 {
			done = append(done, approve(t, h, d, "cleanup "+strings.Join(listed, " ")))
		}
	}

	if calm != nil {
		calm()
	}
	// A second on: the revocation cutoff is rounded up to the next whole
	// second, and the workload's new sessions come after it.
	now := time.Now().Add(time.Second)
	for key, code := range h.Run.Probe(ctx, now) {
		if code == "" {
			t.Errorf("the attacker's %s still works after containment", key)
		}
	}
	if err := h.Run.Scenario.Legit(ctx, h.Run, now, now.Add(16*time.Minute)); err != nil {
		t.Errorf("the legitimate workload fails after containment: %v", err)
	}
	reply, err = h.Command(d.Incident.ChatSpace, bob, "verify")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "Contained") {
		t.Errorf("verify: %v %v", reply, err)
	}
	if _, err := h.Command(d.Incident.ChatSpace, alice, "note the key was committed to a public repo two weeks ago"); err != nil {
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
	report, err := h.Report(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range final.Actions {
		if !slices.Contains(done, a.ID) {
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
	for _, e := range final.Timeline {
		if !strings.Contains(report, strings.ReplaceAll(e.Text, "|", `\|`)) {
			t.Errorf("the report lacks timeline entry %q", e.Text)
		}
	}
	lower := strings.ToLower(id)
	Eventually(t, 30*time.Second+slowness, "the opening and closing emails, once each", func() (bool, string) {
		got := h.Emails(id)
		return got["<"+lower+".open@keyleak>"] == 1 && got["<"+lower+".close@keyleak>"] == 1, fmt.Sprint(got)
	})
	if t.Failed() {
		t.Logf("war room:\n%s", messagesText(h, d.Incident.ChatSpace))
	}
}

// TestWatchAlarmsWhenActivityContinues deactivates the key but leaves the
// attacker's role session alive, kills keyleak and restarts it: the
// attacker's next call must still raise the alarm in the war room and on
// Slack.
func TestWatchAlarmsWhenActivityContinues(t *testing.T) {
	h := Start(t, WithScenario("seed"))
	ctx := context.Background()
	res, err := h.Slash(h.Run.Target.Leaked.AccessKeyID, nil)
	if err != nil || !strings.Contains(string(res.Body), "Opened KL-") {
		t.Fatalf("report: %v %+v", err, res)
	}
	id := OpenedID(t, res.Body)
	var d Detail
	Eventually(t, 120*time.Second, "the findings", func() (bool, string) {
		d, err = h.Incident(id)
		return err == nil && d.Incident.ChatSpace != "" && strings.Contains(messagesText(h, d.Incident.ChatSpace), "Findings"), fmt.Sprint(err)
	})
	approve(t, h, d, "deactivate")
	// The watch must survive a crash: kill keyleak now and restart it.
	h.Kill()
	h.StartKeyleak()
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
