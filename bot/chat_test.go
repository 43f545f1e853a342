package bot_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	chat "google.golang.org/api/chat/v1"

	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/googlefake"
)

// recordingExecutor stands in for the AWS side of an action, which has
// its own tests against the local AWS world; here only the chat
// mechanics are under test.
type recordingExecutor struct {
	mu   sync.Mutex
	runs []state.Action
}

func (e *recordingExecutor) Plan(_ context.Context, inc state.Incident, _ map[string]string) (commands.Plan, error) {
	return commands.Plan{Calls: []string{"iam:UpdateAccessKey UserName=ci-deploy-user AccessKeyId=" + inc.AccessKeyID + " Status=Inactive"}}, nil
}

func (e *recordingExecutor) Execute(_ context.Context, _ state.Incident, a state.Action) (commands.Outcome, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runs = append(e.runs, a)
	return commands.Outcome{Result: "the key is Inactive", RequestIDs: []string{"4f1c-req-" + a.ID}}, nil
}

func (e *recordingExecutor) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.runs)
}

type chatRig struct {
	store    *state.Store
	google   *googlefake.Server
	srv      *httptest.Server
	worker   *bot.Worker
	reporter *commands.Reporter
	exec     *recordingExecutor
	audience string
}

var (
	alice = &chat.User{Name: "users/1001", DisplayName: "Alice", Email: "alice@example.com", Type: "HUMAN"}
	bob   = &chat.User{Name: "users/1002", DisplayName: "Bob", Email: "bob@example.com", Type: "HUMAN"}
)

func newChatRig(tb testing.TB) *chatRig {
	tb.Helper()
	r := &chatRig{exec: &recordingExecutor{}}
	log := slog.New(slog.DiscardHandler)
	var err error
	r.store, err = state.Open(filepath.Join(tb.TempDir(), "k.db"), state.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.store.Close() })
	r.google, err = googlefake.New(context.Background(), googlefake.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.google.Close() })

	policy := commands.Policy{Responders: []string{"alice@example.com", "bob@example.com"}}
	engine, err := commands.NewEngine(r.store, policy, time.Now, log,
		commands.ActionSpec{Name: "deactivate", Summary: "deactivate the leaked key", Executor: r.exec})
	if err != nil {
		tb.Fatal(err)
	}
	cmds := append([]commands.Command{commands.Status(r.store, time.Now), commands.Note(r.store, time.Now)}, engine.ActionCommands()...)
	registry, err := commands.NewRegistry(log, cmds...)
	if err != nil {
		tb.Fatal(err)
	}
	card := func(_ context.Context, inc state.Incident) commands.Reply {
		return commands.IncidentCard(inc, nil, []commands.Button{{Label: "Deactivate key", Command: "deactivate", Style: "danger"}})
	}
	room, err := bot.NewRoom(context.Background(), bot.RoomConfig{
		ChatAPIURL: r.google.URL(), MeetAPIURL: r.google.URL(), Responders: []string{"alice@example.com", "bob@example.com"},
	}, r.store, log, time.Now, card)
	if err != nil {
		tb.Fatal(err)
	}
	r.worker = bot.NewWorker(r.store, log, map[string]bot.Notifier{
		commands.ChannelChat: room, commands.ChannelWork: engine,
	}, bot.WorkerOptions{Backoff: bot.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: 50}})
	r.reporter = &commands.Reporter{Store: r.store, Now: time.Now, ParseKey: parseKey, Announce: []string{commands.ChannelChat}}

	mux := http.NewServeMux()
	r.srv = httptest.NewServer(mux)
	tb.Cleanup(r.srv.Close)
	r.audience = r.srv.URL + "/chat/events"
	verifier, err := bot.NewChatVerifier(bot.ChatVerifierConfig{AudienceType: bot.ChatAudienceEndpointURL, Audience: r.audience, KeysURL: r.google.JWKSURL()})
	if err != nil {
		tb.Fatal(err)
	}
	front := bot.NewChat(bot.ChatOptions{Verifier: verifier, Registry: registry, Store: r.store,
		Commands: map[int64]string{1: bot.UmbrellaCommand, 2: "deactivate"}, Log: log})
	mux.Handle("/chat/events", front.Handler())
	return r
}

// drain delivers the outbox until it is empty (retries included).
func (r *chatRig) drain(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed check
	for {
		if err := r.worker.DrainOnce(context.Background()); err != nil {
			tb.Fatal(err)
		}
		var pending []state.Message
		r.store.View(func(tx *state.Tx) (err error) { pending, err = tx.Pending(""); return err })
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("outbox not empty after a minute: %+v", pending)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func (r *chatRig) open(tb testing.TB) state.Incident {
	tb.Helper()
	res, err := r.reporter.Open(context.Background(), commands.Report{Key: leakedKey, Actor: state.Actor{ID: "U0ANA", Email: "ana@example.com", Platform: "slack"}})
	if err != nil {
		tb.Fatal(err)
	}
	r.drain(tb)
	var inc state.Incident
	r.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(res.Incident.ID); return err })
	return inc
}

var eventSeq int

func slashEvent(space string, user *chat.User, text string) map[string]any {
	eventSeq++
	return map[string]any{
		"type": "MESSAGE", "eventTime": time.Now().UTC().Format(time.RFC3339Nano), "space": map[string]any{"name": space, "type": "ROOM"},
		"user": user,
		"message": map[string]any{
			"name": space + "/messages/m" + strings.Repeat("x", eventSeq%5) + time.Now().Format("150405.000000000"),
			"text": text, "argumentText": text,
			"slashCommand": map[string]any{"commandId": "1"},
			"annotations":  []any{map[string]any{"type": "SLASH_COMMAND", "startIndex": 0, "length": len("/keyleak"), "slashCommand": map[string]any{"commandId": "1", "commandName": "/keyleak", "type": "INVOKE"}}},
		},
	}
}

func clickEvent(space string, user *chat.User, function, args string) map[string]any {
	return map[string]any{
		"type": "CARD_CLICKED", "eventTime": time.Now().UTC().Format(time.RFC3339Nano), "space": map[string]any{"name": space},
		"user":   user,
		"common": map[string]any{"invokedFunction": function, "parameters": map[string]string{"args": args}},
	}
}

func (r *chatRig) send(tb testing.TB, ev any) (int, chat.Message) {
	tb.Helper()
	rep, err := r.google.SendEvent(context.Background(), r.audience, r.audience, googlefake.ModeEndpointURL, ev)
	if err != nil {
		tb.Fatal(err)
	}
	var m chat.Message
	if rep.StatusCode == 200 {
		if err := json.Unmarshal(rep.Body, &m); err != nil {
			tb.Fatalf("reply %q: %v", rep.Body, err)
		}
	}
	return rep.StatusCode, m
}

func messageText(m chat.Message) string {
	b, _ := json.Marshal(m)
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
}

func TestWarRoomOpens(t *testing.T) {
	r := newChatRig(t)
	inc := r.open(t)
	spaces := r.google.Spaces()
	if len(spaces) != 1 || inc.ChatSpace != spaces[0].Name || !strings.Contains(spaces[0].DisplayName, inc.ID) {
		t.Fatalf("spaces = %+v, incident space %q", spaces, inc.ChatSpace)
	}
	var users []string
	for _, m := range r.google.Members(inc.ChatSpace) {
		users = append(users, m.User)
	}
	for _, want := range []string{"users/alice@example.com", "users/bob@example.com", "users/ana@example.com"} {
		if !strings.Contains(strings.Join(users, " "), want) {
			t.Errorf("members %v lack %s", users, want)
		}
	}
	if meets := r.google.MeetSpaces(); len(meets) != 1 || inc.MeetURL != meets[0].MeetingURI {
		t.Errorf("meet spaces = %+v, incident Meet %q", meets, inc.MeetURL)
	}
	msgs := r.google.Messages(inc.ChatSpace)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].CardsV2), leakedKey) || !strings.Contains(string(msgs[0].CardsV2), "Deactivate key") {
		t.Fatalf("messages = %+v, want the incident card", msgs)
	}
}

func TestWarRoomAppearsOnceWhenGoogleRecovers(t *testing.T) {
	r := newChatRig(t)
	r.google.SetFault("chat.spaces.create", googlefake.Fault{Code: 500, Times: 3})
	r.google.SetFault("chat.spaces.members.create", googlefake.Fault{Code: 429, Times: 2})
	r.google.SetFault("meet.spaces.create", googlefake.Fault{Code: 503, Times: 2})
	inc := r.open(t)
	if n := len(r.google.Spaces()); n != 1 || inc.ChatSpace == "" {
		t.Fatalf("%d spaces after recovery (incident space %q), want 1", n, inc.ChatSpace)
	}
	if n := len(r.google.MeetSpaces()); n != 1 {
		t.Errorf("%d Meet spaces, want 1", n)
	}
	if n := len(r.google.Messages(inc.ChatSpace)); n != 1 {
		t.Errorf("%d messages, want the one incident card", n)
	}
}

func TestThreadedTwoPersonApproval(t *testing.T) {
	r := newChatRig(t)
	inc := r.open(t)
	status, reply := r.send(t, slashEvent(inc.ChatSpace, alice, "/keyleak deactivate"))
	if status != 200 || !strings.Contains(messageText(reply), "awaiting approval") {
		t.Fatalf("request reply %d %s", status, messageText(reply))
	}
	r.drain(t)
	actionID := inc.ID + "-A1"
	var card *googlefake.Message
	for _, m := range r.google.Messages(inc.ChatSpace) {
		if m.ClientID == "client-"+strings.ToLower(actionID) {
			card = &m
		}
	}
	if card == nil || card.ThreadKey != "action-"+strings.ToLower(actionID) || !strings.Contains(string(card.CardsV2), "iam:UpdateAccessKey") {
		t.Fatalf("request card = %+v", card)
	}
	a, _ := actionOf(r, actionID)

	// The requester's own click is refused.
	_, reply = r.send(t, clickEvent(inc.ChatSpace, alice, "approve", actionID+" "+a.Digest))
	if !strings.Contains(messageText(reply), "second responder must approve") {
		t.Fatalf("self-approval reply: %s", messageText(reply))
	}
	// A second responder approves; the clicked card is replaced in place.
	click := clickEvent(inc.ChatSpace, bob, "approve", actionID+" "+a.Digest)
	_, reply = r.send(t, click)
	if reply.ActionResponse == nil || reply.ActionResponse.Type != "UPDATE_MESSAGE" || !strings.Contains(messageText(reply), "Approved by Bob") {
		t.Fatalf("approval reply: %s", messageText(reply))
	}
	// Chat delivering the same click again has no second effect, and gets
	// the same answer (Chat retries when it did not get the first).
	if _, again := r.send(t, click); messageText(again) != messageText(reply) {
		t.Errorf("duplicate delivery answered %s, want the first answer %s", messageText(again), messageText(reply))
	}
	r.drain(t)
	if n := r.exec.count(); n != 1 {
		t.Fatalf("executed %d times, want 1", n)
	}
	var final, result *googlefake.Message
	for _, m := range r.google.Messages(inc.ChatSpace) {
		switch m.ClientID {
		case "client-" + strings.ToLower(actionID):
			final = &m
		case "client-" + strings.ToLower(actionID) + "-result":
			result = &m
		}
	}
	if final == nil || !strings.Contains(string(final.CardsV2), "succeeded") || !strings.Contains(string(final.CardsV2), "4f1c-req-"+actionID) || final.Updates == 0 {
		t.Errorf("request card after execution = %+v", final)
	}
	if result == nil || result.ThreadKey != card.ThreadKey || !strings.Contains(result.Text, "the key is Inactive") {
		t.Errorf("result in thread = %+v", result)
	}
}

func actionOf(r *chatRig, id string) (state.Action, error) {
	var a state.Action
	err := r.store.View(func(tx *state.Tx) (err error) { a, err = tx.Action(id); return err })
	return a, err
}

func TestChatRefusesUnauthenticatedAndAddOns(t *testing.T) {
	r := newChatRig(t)
	inc := r.open(t)
	ev := slashEvent(inc.ChatSpace, alice, "/keyleak deactivate")
	wrongAudience, err := r.google.Token(googlefake.ModeEndpointURL, "https://elsewhere.example.com/chat/events")
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]string{"missing header": "", "not a token": "Bearer abc.def.ghi", "wrong audience": "Bearer " + wrongAudience} {
		rep, err := r.google.SendUnsignedEvent(context.Background(), r.audience, auth, ev)
		if err != nil {
			t.Fatal(err)
		}
		if rep.StatusCode != 401 {
			t.Errorf("%s: status %d, want 401", name, rep.StatusCode)
		}
	}
	status, _ := r.send(t, map[string]any{"chat": map[string]any{"messagePayload": map[string]any{}}, "commonEventObject": map[string]any{}})
	if status != 400 {
		t.Errorf("add-on payload: status %d, want 400", status)
	}
	var actions []state.Action
	r.store.View(func(tx *state.Tx) (err error) { actions, err = tx.Actions(inc.ID); return err })
	if len(actions) != 0 {
		t.Errorf("refused requests created %d actions", len(actions))
	}
}

func TestChatCommandsOutsideIncidentSpace(t *testing.T) {
	r := newChatRig(t)
	_, reply := r.send(t, slashEvent("spaces/elsewhere", alice, "/keyleak deactivate"))
	if !strings.Contains(messageText(reply), "inside an incident") {
		t.Errorf("reply outside an incident space: %s", messageText(reply))
	}
	_, reply = r.send(t, slashEvent("spaces/elsewhere", alice, "/keyleak note wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
	if txt := messageText(reply); strings.Contains(txt, "K7MDENG") || !strings.Contains(txt, "treat it as compromised") {
		t.Errorf("secret reply: %s", txt)
	}
}
