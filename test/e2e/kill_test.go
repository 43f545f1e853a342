package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// keyN is the n-th of a family of well-formed access key IDs.
func keyN(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := []byte("AKIAQYLPMN5HKILLAAAA")
	for i := len(b) - 1; n > 0; i-- {
		b[i] = alphabet[n%32]
		n /= 32
	}
	return string(b)
}

// TestKillNineAtRandomPoints kills keyleak with SIGKILL at a random moment
// while reports, war rooms and commands are in flight, restarts it, and
// repeats; then checks that nothing acknowledged was lost and nothing was
// done twice.
func TestKillNineAtRandomPoints(t *testing.T) {
	const rounds = 20
	h := Start(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	type ack struct {
		key  string
		note string
	}
	var mu sync.Mutex
	var acked []ack
	spaces := map[string]string{} // incident → space, as they appear
	n := 0
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range 3 {
			n++
			key := keyN(n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := h.Slash(key, url.Values{"user_id": {fmt.Sprintf("U%04d", i)}})
				if err == nil && res.Error == "" && strings.Contains(string(res.Body), "Opened KL-") {
					mu.Lock()
					acked = append(acked, ack{key: key})
					mu.Unlock()
				}
			}()
		}
		for id, space := range spaces {
			note := fmt.Sprintf("round %d note for %s", round, id)
			wg.Add(1)
			go func() {
				defer wg.Done()
				reply, err := h.Command(space, alice, "note "+note)
				if err == nil && strings.Contains(fmt.Sprint(reply), "Noted") {
					mu.Lock()
					acked = append(acked, ack{key: id, note: note})
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(10+rng.IntN(250)) * time.Millisecond)
		h.Kill()
		wg.Wait()
		h.StartKeyleak()
		for _, inc := range h.Google.Spaces() {
			spaces[strings.Fields(inc.DisplayName)[0]] = inc.Name
		}
	}

	// Let everything pending be delivered, then check the world.
	incidents := map[string]Detail{}
	Eventually(t, 60*time.Second, "every outbox message delivered", func() (bool, string) {
		all, err := h.AllIncidents()
		if err != nil {
			return false, err.Error()
		}
		for _, id := range all {
			d, err := h.Incident(id)
			if err != nil || len(d.Pending) > 0 {
				return false, fmt.Sprintf("%s: %d pending, %v", id, len(d.Pending), err)
			}
			incidents[id] = d
		}
		return true, ""
	})
	byKey := map[string]string{}
	for id, d := range incidents {
		if other, dup := byKey[d.Incident.AccessKeyID]; dup {
			t.Errorf("key %s has two incidents: %s and %s", d.Incident.AccessKeyID, other, id)
		}
		byKey[d.Incident.AccessKeyID] = id
		if len(d.Dead) > 0 {
			t.Errorf("%s has dead letters: %+v", id, d.Dead)
		}
		if d.Incident.SlackTS == "" || d.Incident.ChatSpace == "" || d.Incident.MeetURL == "" {
			t.Errorf("%s is missing its page, space or Meet: %+v", id, d.Incident)
		}
	}
	for _, a := range acked {
		if a.note != "" {
			d := incidents[a.key]
			count := 0
			for _, e := range d.Timeline {
				if e.Text == a.note {
					count++
				}
			}
			if count != 1 {
				t.Errorf("acknowledged note %q is in the timeline %d times, want 1", a.note, count)
			}
			continue
		}
		if _, ok := byKey[a.key]; !ok {
			t.Errorf("acknowledged report of %s was lost", a.key)
		}
	}
	pagesBy := map[string]int{}
	for _, m := range h.Slack.Messages(oncall) {
		if m.FromResponseURL || m.EphemeralTo != "" {
			continue
		}
		for id := range incidents {
			// The page's header reads "Leaked AWS access key: <ID>".
			if strings.Contains(string(m.Blocks), ": "+id+`"`) {
				pagesBy[id]++
			}
		}
	}
	spacesBy := map[string]int{}
	for _, sp := range h.Google.Spaces() {
		spacesBy[strings.Fields(sp.DisplayName)[0]]++
	}
	for id := range incidents {
		if pagesBy[id] != 1 {
			t.Errorf("%s was paged %d times, want 1", id, pagesBy[id])
		}
		if spacesBy[id] != 1 {
			t.Errorf("%s has %d spaces, want 1", id, spacesBy[id])
		}
		cards := 0
		for _, m := range h.Google.Messages(incidents[id].Incident.ChatSpace) {
			if m.ClientID == "client-"+strings.ToLower(id)+"-card" {
				cards++
			}
		}
		if cards != 1 {
			t.Errorf("%s has %d incident cards, want 1", id, cards)
		}
	}
	repeated := 0
	for id := range incidents {
		mails := h.Emails(id)
		open := "<" + strings.ToLower(id) + ".open@keyleak>"
		if mails[open] == 0 {
			t.Errorf("%s: the opening email was never sent", id)
		}
		// A kill after the server took the message but before keyleak
		// recorded it sends it again with the same Message-ID, which
		// receivers deduplicate; count how often that happened.
		repeated += mails[open] - 1
	}
	t.Logf("emails resent with the same Message-ID after a kill: %d", repeated)
	t.Logf("%d rounds, %d kills, %d incidents, %d acknowledged reports and notes", rounds, rounds, len(incidents), len(acked))
}
