package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const leakedKey = "AKIAQYLPMN5HHHFPZAM2"

func pages(h *Harness) int {
	n := 0
	for _, m := range h.Slack.Messages(oncall) {
		if !m.FromResponseURL && m.EphemeralTo == "" {
			n++
		}
	}
	return n
}

// openIncident reports the key in Slack and waits for the page and the
// war room.
func openIncident(t *testing.T, h *Harness, key string) Detail {
	t.Helper()
	res, err := h.Slash(key+" found in a public repo", nil)
	if err != nil || res.Error != "" {
		t.Fatalf("slash command: %v %+v", err, res)
	}
	if !strings.Contains(string(res.Body), "Opened KL-") {
		t.Fatalf("reply: %s", res.Body)
	}
	id := OpenedID(t, res.Body)
	var d Detail
	Eventually(t, 60*time.Second, "the page and the war room", func() (bool, string) {
		d, err = h.Incident(id)
		return err == nil && d.Incident.SlackTS != "" && d.Incident.ChatSpace != "" && d.Incident.MeetURL != "" && len(d.Pending) == 0,
			fmt.Sprintf("%+v %v", d.Incident, err)
	})
	return d
}

func TestSlackToWarRoomOverHTTP(t *testing.T) {
	h := Start(t)
	d := openIncident(t, h, leakedKey)
	if n := pages(h); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
	page := h.Slack.Messages(oncall)
	if last := page[len(page)-1]; !strings.Contains(string(last.Blocks), d.Incident.ChatSpaceURL) || last.Updates == 0 {
		t.Errorf("page does not link the war room (updates %d): %s", last.Updates, last.Blocks)
	}
	if n := len(h.Google.Spaces()); n != 1 {
		t.Errorf("%d spaces, want 1", n)
	}
	var humans []string
	for _, m := range h.Google.Members(d.Incident.ChatSpace) {
		if m.Type == "HUMAN" {
			humans = append(humans, m.User)
		}
	}
	if strings.Join(humans, " ") != "users/alice@example.com users/bob@example.com users/ana@example.com" {
		t.Errorf("human members = %v, want alice, bob and the reporter", humans)
	}

	reply, err := h.Command(d.Incident.ChatSpace, alice, "note key was in github.com/acme/deploy")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "Noted") {
		t.Fatalf("note: %v %v", reply, err)
	}
	reply, err = h.Command(d.Incident.ChatSpace, bob, "status")
	if err != nil || !strings.Contains(fmt.Sprint(reply), leakedKey) {
		t.Fatalf("status: %v %v", reply, err)
	}
	reply, err = h.Command(d.Incident.ChatSpace, alice, "close")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "close with a reason") {
		t.Fatalf("close without a reason: %v %v", reply, err)
	}
	reply, err = h.Command(d.Incident.ChatSpace, alice, "close key deleted by hand in the console")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "Incident report") {
		t.Fatalf("close: %v %v", reply, err)
	}
	Eventually(t, 60*time.Second, "the page to show the incident closed", func() (bool, string) {
		m := h.Slack.Messages(oncall)
		last := m[len(m)-1]
		return strings.Contains(string(last.Blocks), "Closed: "+d.Incident.ID), string(last.Blocks)
	})
	id := strings.ToLower(d.Incident.ID)
	Eventually(t, 60*time.Second, "the opening and closing emails", func() (bool, string) {
		got := h.Emails(d.Incident.ID)
		return got["<"+id+".open@keyleak>"] == 1 && got["<"+id+".close@keyleak>"] == 1, fmt.Sprint(got)
	})
	for _, m := range h.SMTP.Messages() {
		if len(m.To) != 2 || !strings.Contains(string(m.Data), leakedKey) {
			t.Errorf("email to %v lacks the key or a recipient", m.To)
		}
	}
}
