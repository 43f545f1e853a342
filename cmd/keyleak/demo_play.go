//go:build demo

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/transcript"
	"github.com/keyleak/keyleak/test/world"
)

// play runs the response as the seed incident's responders would have,
// with keyleak.
func (d *demo) play(ctx context.Context, dir string) error {
	leaked := d.run.Target.Leaked.AccessKeyID
	truth, err := d.run.GroundTruth(ctx)
	if err != nil {
		return err
	}
	// GuardDuty's finding is about the attacker's first call from abroad.
	first := truth.Actions[0]
	for _, a := range truth.Actions {
		if a.AccessKeyID == leaked {
			first = a
			break
		}
	}
	d.say("GuardDuty flags %s by %s from %s and puts its finding on EventBridge. Nobody has typed anything yet.", first.EventName, d.run.Target.LeakedUser, first.SourceIP)
	detected := time.Now()
	if _, err := d.intake.Put(ctx, "aws.guardduty", "GuardDuty Finding", world.GuardDutyFinding(world.Finding{
		Type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller", Severity: 8, Account: world.DefaultAccount, Region: "us-east-1",
		Key: leaked, UserName: d.run.Target.LeakedUser, UserType: "IAMUser", API: first.EventName,
		SourceIP: first.SourceIP, UserAgent: first.UserAgent, At: first.Time,
		Title: "API " + first.EventName + " was invoked from an IP address on a threat list.",
	})); err != nil {
		return err
	}
	var inc state.Incident
	if err := d.wait("the page, the war room and the email", 60*time.Second, func() bool {
		inc = d.incident(leaked)
		return inc.SlackTS != "" && inc.ChatSpace != "" && inc.MeetURL != "" && d.mailed(inc.ID, "open")
	}); err != nil {
		return err
	}
	d.print()
	d.say("%.1f s after the finding, keyleak has opened %s from it, paged on-call, opened the war room and its Meet, and emailed InfoSec. It investigates before anyone touches anything.", time.Since(detected).Seconds(), inc.ID)
	d.say("Ana, on call, reports the same key in Slack: her report joins the incident.")
	if err := d.slash(ctx, leaked+" GuardDuty: unusual API calls from a foreign IP"); err != nil {
		return err
	}
	if err := d.wait("the findings", 120*time.Second, func() bool { return d.chatHas(inc.ChatSpace, "Findings") }); err != nil {
		return err
	}
	space := inc.ChatSpace
	resources, _ := d.app.respond.Removable(ctx, inc) // none listed: nothing to clean up
	if d.run.Scenario.Name == "seed" {
		d.say("The findings show the attacker assumed eks-node-role hours ago. Revoking only sessions issued before now cuts the attacker off and keeps the nodes working. Alice looks first.")
	} else {
		d.say("The findings show what the key did and every credential it minted. Alice looks at the session revocation first.")
	}
	if _, err := d.chat(space, demoAlice, "revoke-sessions --dry-run"); err != nil {
		return err
	}
	if err := d.contain(space, "revoke-sessions", inc.ID); err != nil {
		return err
	}
	d.say("Now the key itself: deactivate, reversible.")
	if err := d.contain(space, "deactivate", inc.ID); err != nil {
		return err
	}
	if len(resources) > 0 {
		d.say("The attacker created %d resources (a backdoor user and its key among them when there is one). Deleting them is irreversible, so it always takes two people; each is shown with the event that created it.", len(resources))
		if err := d.contain(space, "cleanup "+strings.Join(resources, " "), inc.ID); err != nil {
			return err
		}
	}

	// A second on: the revocation cutoff is rounded up to the next whole
	// second, and the workload's new sessions come after it.
	now := time.Now().Add(time.Second)
	d.say("The attacker tries again with everything it holds:")
	probe := d.run.Probe(ctx, now)
	keys := make([]string, 0, len(probe))
	for k := range probe {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		outcome := "SUCCEEDED"
		if probe[k] != "" {
			outcome = "refused: " + probe[k]
		}
		fmt.Fprintf(d.out, "          %s  %s\n", k, outcome)
	}
	d.say("Meanwhile the legitimate workload carries on as it always does:")
	if err := d.run.Scenario.Legit(ctx, d.run, now, now.Add(16*time.Minute)); err != nil {
		fmt.Fprintf(d.out, "          it FAILS: %v\n", err)
	} else if d.run.Scenario.Name == "seed" {
		fmt.Fprintf(d.out, "          %d nodes assumed eks-node-role again: their new sessions work (issued after the cutoff)\n", d.run.Nodes())
	} else {
		fmt.Fprintf(d.out, "          it works\n")
	}
	if _, err := d.chat(space, demoBob, "verify"); err != nil {
		return err
	}
	if _, err := d.chat(space, demoAnaChat, "note the key was committed to github.com/acme/ci-config, which was made public three weeks ago"); err != nil {
		return err
	}
	d.say("Bob closes the incident: keyleak posts the report, emails it to InfoSec and updates the page.")
	if _, err := d.chat(space, demoBob, "close"); err != nil {
		return err
	}
	if err := d.wait("the closing email", 30*time.Second, func() bool { return d.mailed(inc.ID, "close") }); err != nil {
		return err
	}
	md, err := d.app.reports.Render(ctx, inc.ID)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o600); err != nil {
		return err
	}
	d.say("The report (%s):", filepath.Join(dir, "report.md"))
	fmt.Fprintln(d.out, indentLines(md, "    "))
	return nil
}

// contain requests an action (with its arguments) as Alice, shows that she cannot approve it
// herself, has Bob approve it, and waits for the outcome.
func (d *demo) contain(space, line, incident string) error {
	if _, err := d.chat(space, demoAlice, line); err != nil {
		return err
	}
	a, err := d.lastAction(incident)
	if err != nil {
		return err
	}
	if _, err := d.click(space, demoAlice, "approve", a.ID+" "+a.Digest); err != nil {
		return err
	}
	if _, err := d.click(space, demoBob, "approve", a.ID+" "+a.Digest); err != nil {
		return err
	}
	return d.wait(a.ID+" to finish", 60*time.Second, func() bool {
		cur, err := d.action(a.ID)
		return err == nil && (cur.Status == state.ActionSucceeded || cur.Status == state.ActionFailed)
	})
}

func (d *demo) incident(key string) state.Incident {
	var inc state.Incident
	d.app.store.View(func(tx *state.Tx) (err error) { inc, err = tx.OpenIncidentFor(key); return err })
	return inc
}

func (d *demo) lastAction(incident string) (state.Action, error) {
	var actions []state.Action
	err := d.app.store.View(func(tx *state.Tx) (err error) { actions, err = tx.Actions(incident); return err })
	if err != nil || len(actions) == 0 {
		return state.Action{}, fmt.Errorf("no request was recorded: %v", err)
	}
	return actions[len(actions)-1], nil
}

func (d *demo) action(id string) (state.Action, error) {
	var a state.Action
	err := d.app.store.View(func(tx *state.Tx) (err error) { a, err = tx.Action(id); return err })
	return a, err
}

func (d *demo) chatHas(space, text string) bool {
	for _, m := range d.google.Messages(space) {
		if strings.Contains(transcript.ChatText(m.Text, m.CardsV2), text) {
			return true
		}
	}
	return false
}

func (d *demo) mailed(incident, kind string) bool {
	id := "<" + strings.ToLower(incident) + "." + kind + "@keyleak>"
	for _, m := range d.smtp.Messages() {
		if m.Header.Get("Message-Id") == id {
			return true
		}
	}
	return false
}

// shown remembers what the transcript printed.
type shown struct {
	slack map[string]int // message ts → updates printed
	chat  map[string]int // message name → updates printed
	mails int
}

func newShown() *shown { return &shown{slack: map[string]int{}, chat: map[string]int{}} }

// print shows what Slack, Chat and email received since the last call.
func (d *demo) print() {
	stamp := time.Now().Format("15:04:05")
	dir := d.directory()
	for _, m := range d.slack.Messages(demoChannel) {
		n, seen := d.shown.slack[m.TS]
		switch {
		case !seen && m.FromResponseURL:
			fmt.Fprintf(d.out, "%s  Slack, to %s only  keyleak:\n%s\n", stamp, demoAna.RealName, indentLines(dir.SlackText(m.Text, m.Blocks), "          "))
		case !seen:
			fmt.Fprintf(d.out, "%s  Slack #security-oncall  keyleak:\n%s\n", stamp, indentLines(dir.SlackText(m.Text, m.Blocks), "          "))
		case m.Updates > n:
			fmt.Fprintf(d.out, "%s  Slack #security-oncall  (the page is updated in place)\n%s\n", stamp, indentLines(brief(dir.SlackText(m.Text, m.Blocks), 12), "          "))
		default:
			continue
		}
		d.shown.slack[m.TS] = m.Updates
	}
	for _, sp := range d.google.Spaces() {
		room := strings.Fields(sp.DisplayName)[0]
		for _, m := range d.google.Messages(sp.Name) {
			n, seen := d.shown.chat[m.Name]
			where := "Chat " + room
			if m.ThreadKey != "" {
				where += " (thread)"
			}
			switch {
			case !seen:
				fmt.Fprintf(d.out, "%s  %-22s  keyleak:\n%s\n", stamp, where, indentLines(transcript.ChatText(m.Text, m.CardsV2), "          "))
			case m.Updates > n:
				fmt.Fprintf(d.out, "%s  %-22s  (card updated in place)\n%s\n", stamp, where, indentLines(brief(transcript.ChatText(m.Text, m.CardsV2), 2), "          "))
			default:
				continue
			}
			d.shown.chat[m.Name] = m.Updates
		}
	}
	mails := d.smtp.Messages()
	for _, m := range mails[d.shown.mails:] {
		fmt.Fprintf(d.out, "%s  Email to %s\n%s\n", stamp, strings.Join(m.To, ", "), indentLines(mailText(m.Data), "          "))
	}
	d.shown.mails = len(mails)
}

// mailText is an email as its reader sees it: the subject and the decoded
// body. The closing email's report is cut, as the demo prints it in full
// at the end.
func mailText(data []byte) string {
	m, err := transcript.ReadMail(data)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	body := strings.TrimRight(m.Body, "\n")
	if head, _, ok := strings.Cut(body, "\nIncident report\n"); ok {
		body = head + "\nIncident report\n(the report, printed in full below)"
	}
	return "Subject: " + m.Subject + "\n\n" + body
}

// brief keeps the first n lines of an updated message: what changed is
// at the top, and the rest was shown already.
func brief(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n")
}

// replyText renders a synchronous Chat reply.
func replyText(body []byte) string {
	var m struct {
		Text           string          `json:"text"`
		CardsV2        json.RawMessage `json:"cardsV2"`
		ActionResponse *struct {
			Type string `json:"type"`
		} `json:"actionResponse"`
		PrivateMessageViewer *struct{} `json:"privateMessageViewer"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return string(body)
	}
	s := transcript.ChatText(m.Text, m.CardsV2)
	if m.ActionResponse != nil && m.ActionResponse.Type == "UPDATE_MESSAGE" {
		s = "(replaces the clicked card)\n" + s
	}
	if m.PrivateMessageViewer != nil {
		s = "(only the sender sees this)\n" + s
	}
	return s
}

// explore keeps the world and keyleak up, with a small console that sends
// signed Slack and Chat commands for a person, until interrupted.
func (d *demo) explore(ctx context.Context) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(d.out, "console:", err)
		return
	}
	users := map[string]map[string]any{"alice": demoAlice, "bob": demoBob, "ana": demoAnaChat}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack", func(w http.ResponseWriter, r *http.Request) {
		if err := d.slash(r.Context(), r.FormValue("text")); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	})
	mux.HandleFunc("POST /chat", func(w http.ResponseWriter, r *http.Request) {
		user, ok := users[r.FormValue("user")]
		if !ok {
			http.Error(w, "user is alice, bob or ana", http.StatusBadRequest)
			return
		}
		reply, err := d.chat(r.FormValue("space"), user, r.FormValue("text"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, reply)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Close()
	var spaces []string
	for _, sp := range d.google.Spaces() {
		spaces = append(spaces, sp.Name+" ("+strings.Fields(sp.DisplayName)[0]+")")
	}
	admin := d.w.Admin(world.DefaultAccount)
	console := "http://" + l.Addr().String()
	fmt.Fprintf(d.out, `
Everything keeps running until you press Ctrl-C.
  keyleak          http://%s  (/healthz, /readyz, /metrics)
  admin API        curl -H "Authorization: Bearer $(cat %s)" http://%s/incidents
  war rooms        %s
  send commands    curl -d user=alice -d space=SPACE --data-urlencode 'text=status' %s/chat
                   curl --data-urlencode 'text=AKIA… note' %s/slack
  the AWS world    export AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=us-east-1
`, d.app.Addr(), adminTokenPath(d.app.cfg), d.app.AdminAddr(), strings.Join(spaces, ", "), console, console, d.w.URL(), admin.AccessKeyID, admin.SecretAccessKey)
	<-ctx.Done()
}
