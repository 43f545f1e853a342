package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyleak/keyleak/test/googlefake"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/slackfake"
	"github.com/keyleak/keyleak/test/smtpfake"
	"github.com/keyleak/keyleak/test/world"
)

// The binary under test and the moto it shares, set up once in TestMain.
var (
	keyleakBin string
	moto       *world.Moto
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "keyleak-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	keyleakBin = filepath.Join(dir, "keyleak")
	build := exec.Command("go", "build", "-o", keyleakBin, "github.com/keyleak/keyleak/cmd/keyleak")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build keyleak:", err)
		return 1
	}
	moto, err = world.StartMoto(context.Background(), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "start moto:", err)
		return 1
	}
	defer moto.Close()
	return m.Run()
}

const (
	signingSecret = "e2e-slack-signing-secret"
	oncall        = "C0ONCALL"
)

// Responders of the local world.
var (
	ana   = slackfake.User{ID: "U0ANA", Name: "ana", RealName: "Ana Reporter", Email: "ana@example.com"}
	alice = map[string]any{"name": "users/1001", "displayName": "Alice", "email": "alice@example.com", "type": "HUMAN"}
	bob   = map[string]any{"name": "users/1002", "displayName": "Bob", "email": "bob@example.com", "type": "HUMAN"}
)

// Harness is the local world with keyleak serving in it, as its own
// process.
type Harness struct {
	tb     testing.TB
	client *http.Client // sends Chat's events; its idle connections die with keyleak
	World  *world.World
	Slack  *slackfake.Server
	Google *googlefake.Server
	SMTP   *smtpfake.Server
	DB     string
	Addr   string // keyleak's public listener
	Admin  string // keyleak's admin listener
	env    []string
	proc   *exec.Cmd

	scenario string
	Run      *scenario.Run // the played scenario, with WithScenario
	intake   bool
	Intake   *world.Intake // the detectors' queue and rules, with WithIntake
	extraEnv []string
	logs     *os.File
}

// Option shapes a harness.
type Option func(*Harness)

// WithScenario plays a scenario of the local AWS world before keyleak
// starts, and runs keyleak with AWS enabled against that world.
func WithScenario(name string) Option {
	return func(h *Harness) { h.scenario = name }
}

// WithIntake creates the intake queue and its EventBridge rules in
// keyleak's account (with WithScenario) and has keyleak read it.
func WithIntake() Option {
	return func(h *Harness) { h.intake = true }
}

// WithEnv adds settings to keyleak's environment.
func WithEnv(kv ...string) Option {
	return func(h *Harness) { h.extraEnv = append(h.extraEnv, kv...) }
}

// Start brings up the world and keyleak.
func Start(tb testing.TB, opts ...Option) *Harness {
	tb.Helper()
	h := &Harness{tb: tb, World: world.New(tb, moto), client: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(h)
	}
	h.Slack = slackfake.New(slackfake.Options{
		Users:      []slackfake.User{ana},
		Channels:   []slackfake.Channel{{ID: oncall, Name: "security-oncall"}},
		UserGroups: []slackfake.UserGroup{{ID: "S0ONCALL", Handle: "security-oncall", Name: "Security on-call"}},
	})
	tb.Cleanup(h.Slack.Close)
	var err error
	h.Google, err = googlefake.New(context.Background(), googlefake.Config{HTTPClient: h.client})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Google.Close() })
	h.SMTP, err = smtpfake.New(smtpfake.Options{TLS: smtpfake.TLSNone})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.SMTP.Close() })
	h.DB = filepath.Join(tb.TempDir(), "keyleak.db")
	h.Addr, h.Admin = freeAddr(tb), freeAddr(tb)
	h.logs, err = os.Create(filepath.Join(tb.TempDir(), "keyleak.log"))
	if err != nil {
		tb.Fatal(err)
	}
	h.env = []string{
		"KEYLEAK_DATABASE=" + h.DB,
		"KEYLEAK_LISTEN=" + h.Addr,
		"KEYLEAK_ADMIN_LISTEN=" + h.Admin,
		"KEYLEAK_LOG_LEVEL=debug",
		"KEYLEAK_RESPONDERS=alice@example.com,bob@example.com",
		"KEYLEAK_SLACK_SIGNING_SECRET=" + signingSecret,
		"KEYLEAK_SLACK_BOT_TOKEN=" + h.Slack.BotToken(),
		"KEYLEAK_SLACK_API_URL=" + h.Slack.URL(),
		"KEYLEAK_SLACK_PAGE_CHANNEL=" + oncall,
		"KEYLEAK_SLACK_ONCALL_GROUP=security-oncall",
		"KEYLEAK_CHAT_AUDIENCE=" + h.ChatURL(),
		"KEYLEAK_CHAT_KEYS_URL=" + h.Google.JWKSURL(),
		"KEYLEAK_CHAT_API_URL=" + h.Google.URL(),
		"KEYLEAK_MEET_API_URL=" + h.Google.URL(),
		"KEYLEAK_CHAT_COMMANDS=1=keyleak",
		"KEYLEAK_EMAIL_FROM=keyleak@example.com",
		"KEYLEAK_EMAIL_TO=infosec@example.com,security-team@example.com",
		"KEYLEAK_SMTP_HOST=" + h.SMTP.Host(),
		fmt.Sprintf("KEYLEAK_SMTP_PORT=%d", h.SMTP.Port()),
		"KEYLEAK_SMTP_TLS=none",
	}
	if h.scenario != "" {
		h.env = append(h.env, h.playScenario()...)
	}
	if h.intake {
		if h.scenario == "" {
			tb.Fatal("the intake needs a scenario's world (WithScenario)")
		}
		if h.Intake, err = h.World.StartIntake(context.Background(), world.DefaultAccount, 5*time.Second, 5); err != nil {
			tb.Fatal(err)
		}
		h.env = append(h.env, "KEYLEAK_INTAKE_QUEUE_URL="+h.Intake.QueueURL, "KEYLEAK_INTAKE_WAIT=5s")
	}
	h.env = append(h.env, h.extraEnv...)
	h.StartKeyleak()
	tb.Cleanup(func() {
		h.Stop()
		if tb.Failed() {
			if b, err := os.ReadFile(h.logs.Name()); err == nil {
				tb.Logf("keyleak log (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
	})
	return h
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// playScenario plays the scenario, gives keyleak an IAM user of its own
// in the first account and a responder role in the second, and returns
// the environment that points keyleak's AWS side at the world.
func (h *Harness) playScenario() []string {
	h.tb.Helper()
	ctx := context.Background()
	s, err := scenario.ByName(h.scenario)
	if err != nil {
		h.tb.Fatal(err)
	}
	if h.Run, err = scenario.Play(ctx, h.World, s, scenario.Options{Nodes: 10}); err != nil {
		h.tb.Fatalf("play scenario %s: %v", h.scenario, err)
	}
	// CloudTrail delivers log files (with data events) within minutes.
	if err := h.World.Gateway.FlushTrail(ctx); err != nil {
		h.tb.Fatal(err)
	}
	key, err := scenario.KeyleakIdentity(ctx, h.World, "KeyleakResponder")
	if err != nil {
		h.tb.Fatal(err)
	}
	return []string{
		"AWS_ACCESS_KEY_ID=" + key.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + key.SecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL=" + h.World.URL(),
		"AWS_EC2_METADATA_DISABLED=true",
		"KEYLEAK_AWS_ENABLED=true",
		"KEYLEAK_AWS_REGIONS=" + strings.Join(h.Run.Target.Regions, ","),
		"KEYLEAK_AWS_TRAIL_BUCKET=" + h.Run.Target.TrailBucket,
		"KEYLEAK_WATCH_PERIOD=1m",
		"KEYLEAK_WATCH_INTERVAL=1s",
	}
}

// ChatURL is keyleak's Chat endpoint, also the tokens' audience.
func (h *Harness) ChatURL() string { return "http://" + h.Addr + "/chat/events" }

// StartKeyleak starts keyleak serve and waits until it is ready.
func (h *Harness) StartKeyleak() {
	h.tb.Helper()
	h.proc = exec.Command(keyleakBin, "serve")
	h.proc.Env = append(os.Environ(), h.env...)
	h.proc.Stdout, h.proc.Stderr = h.logs, h.logs
	if err := h.proc.Start(); err != nil {
		h.tb.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute) // a guard against a hang
	for {
		resp, err := http.Get("http://" + h.Addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			h.tb.Fatalf("keyleak not ready after a minute: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill ends keyleak with SIGKILL: no shutdown, no flush.
func (h *Harness) Kill() {
	h.tb.Helper()
	if h.proc == nil {
		return
	}
	h.proc.Process.Signal(syscall.SIGKILL)
	h.proc.Wait()
	h.proc = nil
	// Connections kept alive to the dead process would fail the next
	// requests; Slack and Google open new ones.
	http.DefaultClient.CloseIdleConnections()
	h.client.CloseIdleConnections()
}

// Stop ends keyleak with SIGTERM and expects a clean exit.
func (h *Harness) Stop() {
	if h.proc == nil {
		return
	}
	h.proc.Process.Signal(syscall.SIGTERM)
	if err := h.proc.Wait(); err != nil {
		h.tb.Errorf("keyleak exited with %v after SIGTERM", err)
	}
	h.proc = nil
}

// Slash sends a signed /keyleak as Slack does and returns the reply.
func (h *Harness) Slash(text string, extra url.Values) (*slackfake.SlashResult, error) {
	form := url.Values{"text": {text}}
	for k, v := range extra {
		form[k] = v
	}
	return h.Slack.SendSlashCommand(context.Background(), "http://"+h.Addr+"/slack/commands", []byte(signingSecret), form)
}

var msgSeq atomic.Int64

// Command sends a signed Chat slash command "/keyleak <line>" typed by
// user in space, and returns the synchronous reply.
func (h *Harness) Command(space string, user map[string]any, line string) (map[string]any, error) {
	seq := msgSeq.Add(1)
	text := "/keyleak " + line
	ev := map[string]any{
		"type": "MESSAGE", "eventTime": time.Now().UTC().Format(time.RFC3339Nano),
		"space": map[string]any{"name": space, "type": "ROOM"}, "user": user,
		"message": map[string]any{
			"name": fmt.Sprintf("%s/messages/e2e%06d", space, seq), "text": text, "argumentText": text,
			"slashCommand": map[string]any{"commandId": "1"},
			"annotations": []any{map[string]any{"type": "SLASH_COMMAND", "startIndex": 0, "length": len("/keyleak"),
				"slashCommand": map[string]any{"commandId": "1", "commandName": "/keyleak", "type": "INVOKE"}}},
		},
	}
	return h.event(ev)
}

// Click sends a signed card click.
func (h *Harness) Click(space string, user map[string]any, function, args string) (map[string]any, error) {
	ev := map[string]any{
		"type": "CARD_CLICKED", "eventTime": time.Now().UTC().Format(time.RFC3339Nano),
		"space": map[string]any{"name": space}, "user": user,
		"common": map[string]any{"invokedFunction": function, "parameters": map[string]string{"args": args}},
	}
	return h.event(ev)
}

func (h *Harness) event(ev any) (map[string]any, error) {
	rep, err := h.Google.SendEvent(context.Background(), h.ChatURL(), h.ChatURL(), googlefake.ModeEndpointURL, ev)
	if err != nil {
		return nil, err
	}
	if rep.StatusCode != 200 {
		return nil, fmt.Errorf("chat event answered %d: %s", rep.StatusCode, rep.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rep.Body, &m); err != nil {
		return nil, fmt.Errorf("reply %q: %w", rep.Body, err)
	}
	return m, nil
}

// Detail is keyleak's admin view of an incident.
type Detail struct {
	Incident struct {
		ID           string `json:"id"`
		AccessKeyID  string `json:"access_key_id"`
		ChatSpace    string `json:"chat_space"`
		ChatSpaceURL string `json:"chat_space_url"`
		MeetURL      string `json:"meet_url"`
		SlackTS      string `json:"slack_ts"`
		Status       string `json:"status"`
		Detections   []struct {
			Type  string `json:"type"`
			Count int    `json:"count"`
		} `json:"detections"`
	} `json:"incident"`
	Timeline []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"timeline"`
	Actions []struct {
		ID         string   `json:"id"`
		Name       string   `json:"name"`
		Status     string   `json:"status"`
		RequestIDs []string `json:"request_ids"`
	} `json:"actions"`
	Pending []json.RawMessage `json:"pending"`
	Dead    []struct {
		Kind      string `json:"kind"`
		Channel   string `json:"channel"`
		LastError string `json:"last_error"`
	} `json:"dead"`
}

// adminGet asks keyleak's admin API, with the token it wrote beside its
// database.
func (h *Harness) adminGet(path string) (*http.Response, error) {
	token, err := os.ReadFile(h.DB + ".admin-token")
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+h.Admin+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	return http.DefaultClient.Do(req)
}

// Incident fetches an incident from keyleak's admin API.
func (h *Harness) Incident(id string) (Detail, error) {
	var d Detail
	resp, err := h.adminGet("/incidents/" + id)
	if err != nil {
		return d, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return d, fmt.Errorf("admin answered %d: %s", resp.StatusCode, b)
	}
	return d, json.NewDecoder(resp.Body).Decode(&d)
}

// Report fetches an incident's report from keyleak's admin API.
func (h *Harness) Report(id string) (string, error) {
	resp, err := h.adminGet("/incidents/" + id + "/report")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("admin answered %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// AllIncidents lists every incident's ID from keyleak's admin API.
func (h *Harness) AllIncidents() ([]string, error) {
	resp, err := h.adminGet("/incidents?all=1")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list []struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, in := range list {
		ids[i] = in.ID
	}
	return ids, nil
}

// Emails returns the Message-IDs of the emails received for incident, by
// kind ("open", "close"), counting each delivery.
func (h *Harness) Emails(incident string) map[string]int {
	out := map[string]int{}
	for _, m := range h.SMTP.Messages() {
		if m.Header.Get("X-Keyleak-Incident") == incident {
			out[m.Header.Get("Message-Id")]++
		}
	}
	return out
}

var incidentIDPattern = regexp.MustCompile(`KL-\d{4}-\d{4,}`)

// OpenedID is the incident ID that the reply to /keyleak names.
func OpenedID(tb testing.TB, reply []byte) string {
	tb.Helper()
	id := incidentIDPattern.Find(reply)
	if id == nil {
		tb.Fatalf("the reply names no incident: %s", reply)
	}
	return string(id)
}

// Eventually polls cond every 20 ms until it holds or timeout passes.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
