package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/smtpfake"
)

// mailSecretKey looks like an AWS secret access key; it must never leave
// keyleak in an email or a log line.
const mailSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY"

var mailOpened = time.Date(2026, 3, 2, 10, 45, 0, 0, time.UTC)

// mailRig is a store holding one incident, a fake SMTP server and a mailer.
type mailRig struct {
	store  *state.Store
	server *smtpfake.Server
	mailer *bot.Mailer
	log    *syncBuffer // slack_test.go's log sink
	inc    state.Incident
}

type mailRigOptions struct {
	server   smtpfake.Options
	cfg      func(*bot.MailConfig)
	opts     func(*smtpfake.Server) []bot.MailerOption
	incident func(*state.Incident)
	findings map[state.FindingKind]any // kind → document
}

func newMailRig(tb testing.TB, o mailRigOptions) *mailRig {
	tb.Helper()
	r := &mailRig{log: &syncBuffer{}}
	var err error
	if r.store, err = state.Open(filepath.Join(tb.TempDir(), "k.db"), state.Options{}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.store.Close() })
	if r.server, err = smtpfake.New(o.server); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.server.Close() })

	err = r.store.Update(func(tx *state.Tx) error {
		inc, _, err := tx.Report(state.NewIncident{
			AccessKeyID: "AKIAIOSFODNN7EXAMPLE",
			Reporter:    state.Actor{ID: "U024BE7LH", Name: "Ana", Email: "ana@example.com", Platform: "slack"},
			Source:      state.Source{Platform: "slack", Verified: true},
			At:          mailOpened,
		})
		if err != nil {
			return err
		}
		if o.incident != nil {
			o.incident(&inc)
		}
		r.inc = inc
		if err := tx.PutIncident(inc); err != nil {
			return err
		}
		for kind, doc := range o.findings {
			data, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			if err := tx.PutFinding(inc.ID, kind, data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}

	cfg := bot.MailConfig{
		Host: r.server.Host(), Port: r.server.Port(), TLS: bot.MailNoTLS,
		From: "keyleak <keyleak@example.com>", To: []string{"infosec@example.com"}, Cc: []string{"ciso@example.com"},
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	var opts []bot.MailerOption
	if o.opts != nil {
		opts = o.opts(r.server)
	}
	log := slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if r.mailer, err = bot.NewMailer(cfg, r.store, log, opts...); err != nil {
		tb.Fatalf("new mailer: %v", err)
	}
	return r
}

// enqueue writes the email notice of kind to the outbox.
func (r *mailRig) enqueue(tb testing.TB, kind string) state.Message {
	tb.Helper()
	payload, err := json.Marshal(commands.Notice{Kind: kind, Incident: r.inc.ID})
	if err != nil {
		tb.Fatal(err)
	}
	var m state.Message
	err = r.store.Update(func(tx *state.Tx) (err error) {
		m, _, err = tx.Enqueue(state.Message{
			Key: kind + "-mail:" + r.inc.ID, Channel: commands.ChannelEmail, Kind: kind,
			Incident: r.inc.ID, Payload: payload, CreatedAt: time.Now(),
		})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// run drives the real outbox worker with a fast backoff until done
// reports true.
func (r *mailRig) run(tb testing.TB, what string, done func(tx *state.Tx) (bool, error)) {
	tb.Helper()
	w := bot.NewWorker(r.store, slog.New(slog.NewTextHandler(r.log, nil)), map[string]bot.Notifier{commands.ChannelEmail: r.mailer},
		bot.WorkerOptions{Backoff: bot.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 10}, Poll: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(tb.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = w.Run(ctx)
	}()
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed check
	for {
		var ok bool
		if err := r.store.View(func(tx *state.Tx) (err error) { ok, err = done(tx); return err }); err != nil {
			tb.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func outboxEmpty(tx *state.Tx) (bool, error) {
	p, err := tx.Pending("")
	return len(p) == 0, err
}

// parsedMail is an email as a recipient reads it.
type parsedMail struct {
	header mail.Header
	body   string
}

func (p parsedMail) get(tb testing.TB, name string) string {
	tb.Helper()
	v, err := new(mime.WordDecoder).DecodeHeader(p.header.Get(name))
	if err != nil {
		tb.Fatalf("decode header %s: %v", name, err)
	}
	return v
}

func parseMail(tb testing.TB, raw []byte) parsedMail {
	tb.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("parse email: %v\n%s", err, raw)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return parsedMail{header: msg.Header, body: string(text)}
}

func onlyMessage(tb testing.TB, s *smtpfake.Server) (smtpfake.Message, parsedMail) {
	tb.Helper()
	msgs := s.Messages()
	if len(msgs) != 1 {
		tb.Fatalf("server received %d messages, want 1", len(msgs))
	}
	return msgs[0], parseMail(tb, msgs[0].Data)
}

// checkMail compares p's headers with headers and looks for each of body
// in its body.
func checkMail(tb testing.TB, p parsedMail, headers map[string]string, body []string) {
	tb.Helper()
	for header, want := range headers {
		if got := p.get(tb, header); got != want {
			tb.Errorf("%s: got %q, want %q", header, got, want)
		}
	}
	for _, want := range body {
		if !strings.Contains(p.body, want) {
			tb.Errorf("body lacks %q:\n%s", want, p.body)
		}
	}
}

func TestMailRetriedUntilDeliveredOnce(t *testing.T) {
	r := newMailRig(t, mailRigOptions{})
	r.server.Refuse(2, 451)
	r.enqueue(t, bot.MailOpen)
	r.run(t, "the opening email", outboxEmpty)

	if got, want := len(r.server.Refusals()), 2; got != want {
		t.Errorf("refused attempts: got %d, want %d", got, want)
	}
	m, p := onlyMessage(t, r.server)
	if got, want := p.get(t, "Message-ID"), "<kl-2026-0001.open@keyleak>"; got != want {
		t.Errorf("Message-ID: got %q, want %q", got, want)
	}
	if got, want := strings.Join(m.To, ","), "infosec@example.com,ciso@example.com"; got != want {
		t.Errorf("envelope recipients: got %q, want %q", got, want)
	}
	var dead []state.Message
	if err := r.store.View(func(tx *state.Tx) (err error) { dead, err = tx.DeadLetters(""); return err }); err != nil {
		t.Fatal(err)
	}
	if len(dead) != 0 {
		t.Errorf("dead letters: got %d, want none", len(dead))
	}
}

func TestMailPermanentRefusalIsDeadLettered(t *testing.T) {
	r := newMailRig(t, mailRigOptions{})
	r.server.Refuse(1, 550)
	r.enqueue(t, bot.MailOpen)
	var dead []state.Message
	r.run(t, "the dead letter", func(tx *state.Tx) (bool, error) {
		var err error
		dead, err = tx.DeadLetters(r.inc.ID)
		return len(dead) == 1, err
	})
	if got, want := dead[0].Attempts, 1; got != want {
		t.Errorf("attempts: got %d, want %d (a 5xx must not be retried)", got, want)
	}
	for _, want := range []string{"550", "Message rejected"} {
		if !strings.Contains(dead[0].LastError, want) {
			t.Errorf("last error %q lacks %q", dead[0].LastError, want)
		}
	}
	if got := len(r.server.Messages()); got != 0 {
		t.Errorf("messages accepted: got %d, want 0", got)
	}
	var timeline []state.Event
	if err := r.store.View(func(tx *state.Tx) (err error) { timeline, err = tx.Timeline(r.inc.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if last := timeline[len(timeline)-1]; last.Kind != state.EventDeadLettered || !strings.Contains(last.Text, "550") {
		t.Errorf("last timeline entry: got %s %q, want a dead-lettered entry with the SMTP reply", last.Kind, last.Text)
	}
}

func fullIncident(inc *state.Incident) {
	inc.Severity = state.SeverityCritical
	inc.AccountID = "123456789012"
	inc.Owner = state.Owner{Kind: state.OwnerUser, UserName: "ci-deploy-user", ARN: "arn:aws:iam::123456789012:user/ci-deploy-user"}
	inc.ChatSpaceURL = "https://chat.google.com/room/AAAAkeyleak"
	inc.MeetURL = "https://meet.google.com/abc-defg-hij"
}

func TestMailOpenContent(t *testing.T) {
	cases := []struct {
		name        string
		incident    func(*state.Incident)
		findings    map[state.FindingKind]any
		wantSubject string
		wantBody    []string
	}{
		{
			name:        "everything known",
			incident:    fullIncident,
			findings:    map[state.FindingKind]any{state.FindingSummary: state.Summary{Lines: []string{"AssumeRole of eks-node-role at 10:45", "admin privileges: critical"}}},
			wantSubject: "[KL-2026-0001] Leaked AWS access key AKIAIOSFODNN7EXAMPLE — CRITICAL",
			wantBody: []string{
				"KL-2026-0001", "AKIAIOSFODNN7EXAMPLE", "CRITICAL", "123456789012", "ci-deploy-user",
				"arn:aws:iam::123456789012:user/ci-deploy-user", "Ana <ana@example.com>", "2026-03-02 10:45 UTC",
				"https://chat.google.com/room/AAAAkeyleak", "https://meet.google.com/abc-defg-hij",
				"- AssumeRole of eks-node-role at 10:45", "- admin privileges: critical",
				"Do not discuss this incident on Slack",
			},
		},
		{
			name:        "just opened",
			wantSubject: "[KL-2026-0001] Leaked AWS access key AKIAIOSFODNN7EXAMPLE — UNKNOWN",
			wantBody: []string{
				"Account:      being identified", "Owner:        being identified",
				"Chat space:   being created", "Meet:         being created",
				"First findings: identification in progress.", "Do not discuss this incident on Slack",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sent := mailOpened.Add(time.Minute)
			r := newMailRig(t, mailRigOptions{incident: tc.incident, findings: tc.findings, opts: func(*smtpfake.Server) []bot.MailerOption {
				return []bot.MailerOption{bot.WithMailClock(func() time.Time { return sent })}
			}})
			retry, err := r.mailer.Deliver(t.Context(), r.enqueue(t, bot.MailOpen))
			if err != nil {
				t.Fatalf("deliver: %v (retry %v)", err, retry)
			}
			m, p := onlyMessage(t, r.server)
			if got, want := m.From, "keyleak@example.com"; got != want {
				t.Errorf("envelope from: got %q, want %q", got, want)
			}
			checkMail(t, p, map[string]string{
				"Subject":            tc.wantSubject,
				"From":               `"keyleak" <keyleak@example.com>`,
				"To":                 "<infosec@example.com>",
				"Cc":                 "<ciso@example.com>",
				"Message-ID":         "<kl-2026-0001.open@keyleak>",
				"X-Keyleak-Incident": "KL-2026-0001",
				"In-Reply-To":        "",
				"Date":               "Mon, 02 Mar 2026 10:46:00 +0000",
			}, tc.wantBody)
		})
	}
}

func TestMailCloseThreadsAndCarriesReport(t *testing.T) {
	closed := func(inc *state.Incident) {
		fullIncident(inc)
		if err := inc.Close(mailOpened.Add(3*time.Hour), "contained"); err != nil {
			panic(err)
		}
	}
	cases := []struct {
		name     string
		findings map[state.FindingKind]any
		wantBody []string
	}{
		{
			name:     "with report",
			findings: map[state.FindingKind]any{state.FindingClosingReport: state.ClosingReport{Markdown: "# Report KL-2026-0001\n\n## Timeline\n- 10:45 key reported"}},
			wantBody: []string{"# Report KL-2026-0001", "## Timeline", "- 10:45 key reported", "2026-03-02 13:45 UTC (contained)", "Duration:     3h 0m 0s"},
		},
		{
			name:     "report missing",
			wantBody: []string{"The report was not available when this email was sent"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newMailRig(t, mailRigOptions{incident: closed, findings: tc.findings})
			if _, err := r.mailer.Deliver(t.Context(), r.enqueue(t, bot.MailClose)); err != nil {
				t.Fatalf("deliver: %v", err)
			}
			_, p := onlyMessage(t, r.server)
			checkMail(t, p, map[string]string{
				"Subject":     "[KL-2026-0001] Closed: leaked AWS access key AKIAIOSFODNN7EXAMPLE — CRITICAL",
				"Message-ID":  "<kl-2026-0001.close@keyleak>",
				"In-Reply-To": "<kl-2026-0001.open@keyleak>",
				"References":  "<kl-2026-0001.open@keyleak>",
			}, tc.wantBody)
		})
	}
}

// TestMailOpenWaitsForTheRoom: with WithRoomWait the opening email is
// put off while the space is being created, so that it carries the links,
// and goes without them once the wait is over.
func TestMailOpenWaitsForTheRoom(t *testing.T) {
	now := mailOpened.Add(5 * time.Second)
	r := newMailRig(t, mailRigOptions{opts: func(*smtpfake.Server) []bot.MailerOption {
		return []bot.MailerOption{bot.WithRoomWait(30 * time.Second), bot.WithMailClock(func() time.Time { return now })}
	}})
	msg := r.enqueue(t, bot.MailOpen)
	retry, err := r.mailer.Deliver(t.Context(), msg)
	var again *commands.Reschedule
	if retry || !errors.As(err, &again) {
		t.Fatalf("deliver while the space is being created: retry %v, err %v; want a reschedule", retry, err)
	}
	if n := len(r.server.Messages()); n != 0 {
		t.Fatalf("%d emails sent before the space exists", n)
	}
	if err := r.store.Update(func(tx *state.Tx) error {
		inc, err := tx.Incident(r.inc.ID)
		if err != nil {
			return err
		}
		inc.ChatSpaceURL = "https://chat.google.com/room/AAAAkl"
		return tx.PutIncident(inc)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.mailer.Deliver(t.Context(), msg); err != nil {
		t.Fatalf("deliver once the space exists: %v", err)
	}
	_, p := onlyMessage(t, r.server)
	checkMail(t, p, nil, []string{"Chat space:   https://chat.google.com/room/AAAAkl"})

	late := newMailRig(t, mailRigOptions{opts: func(*smtpfake.Server) []bot.MailerOption {
		return []bot.MailerOption{bot.WithRoomWait(30 * time.Second), bot.WithMailClock(func() time.Time { return mailOpened.Add(31 * time.Second) })}
	}})
	if _, err := late.mailer.Deliver(t.Context(), late.enqueue(t, bot.MailOpen)); err != nil {
		t.Fatalf("deliver after the wait: %v", err)
	}
	_, p = onlyMessage(t, late.server)
	checkMail(t, p, nil, []string{"Chat space:   being created"})
}

func TestMailNeverLeaksSecrets(t *testing.T) {
	const password = "pw-Zq8!never-in-logs-7731"
	cases := []struct {
		name         string
		serverPass   string
		wantDelivery bool
		wantLog      string // proves the log was written
	}{
		{name: "accepted", serverPass: password, wantDelivery: true, wantLog: "email sent"},
		{name: "authentication refused", serverPass: "another-password", wantDelivery: false, wantLog: "535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newMailRig(t, mailRigOptions{
				server:   smtpfake.Options{Username: "keyleak", Password: tc.serverPass},
				cfg:      func(c *bot.MailConfig) { c.Username, c.Password = "keyleak", password },
				incident: fullIncident,
				findings: map[state.FindingKind]any{
					state.FindingSummary:       state.Summary{Lines: []string{"pasted in chat: " + mailSecretKey}},
					state.FindingClosingReport: state.ClosingReport{Markdown: "secret seen: " + mailSecretKey},
				},
			})
			r.enqueue(t, bot.MailOpen)
			r.enqueue(t, bot.MailClose)
			r.run(t, "both emails to finish", func(tx *state.Tx) (bool, error) {
				p, err := tx.Pending("")
				d, _ := tx.DeadLetters("")
				return len(p) == 0 || len(d) > 0, err
			})
			if got := len(r.server.Messages()) == 2; got != tc.wantDelivery {
				t.Fatalf("both delivered: got %v, want %v (%d messages)", got, tc.wantDelivery, len(r.server.Messages()))
			}
			var dead []state.Message
			if err := r.store.View(func(tx *state.Tx) (err error) { dead, err = tx.DeadLetters(""); return err }); err != nil {
				t.Fatal(err)
			}
			everything := r.log.String()
			if !strings.Contains(everything, tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, everything)
			}
			for _, d := range dead {
				everything += d.LastError
			}
			for _, m := range r.server.Messages() {
				everything += string(m.Data) + parseMail(t, m.Data).body
			}
			for _, secret := range []string{password, mailSecretKey} {
				if strings.Contains(everything, secret) {
					t.Errorf("a secret (%.4s…) appeared in logs, errors or emails", secret)
				}
			}
			if tc.wantDelivery && !strings.Contains(everything, commands.Redaction) {
				t.Errorf("emails do not show %q where the secret was", commands.Redaction)
			}
		})
	}
}

// rawRecorder is a RawSender that records what it is given.
type rawRecorder struct {
	mu   sync.Mutex
	from string
	to   []string
	raw  [][]byte
	err  error
}

func (r *rawRecorder) SendRaw(_ context.Context, from string, to []string, raw []byte) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return "", r.err
	}
	r.from, r.to = from, to
	r.raw = append(r.raw, bytes.Clone(raw))
	return fmt.Sprintf("ses-%d", len(r.raw)), nil
}

// permanentErr is an error a RawSender marks as not worth retrying.
type permanentErr struct{}

func (permanentErr) Error() string   { return "message rejected" }
func (permanentErr) Retryable() bool { return false }

func TestMailRawSender(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		wantRetry bool
	}{
		{name: "sent"},
		{name: "permanent refusal", err: fmt.Errorf("ses: %w", permanentErr{}), wantRetry: false},
		{name: "unclassified failure", err: errors.New("connection reset"), wantRetry: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &rawRecorder{err: tc.err}
			r := newMailRig(t, mailRigOptions{
				incident: fullIncident,
				cfg:      func(c *bot.MailConfig) { c.Host = "" },
				opts:     func(*smtpfake.Server) []bot.MailerOption { return []bot.MailerOption{bot.WithRawSender(rec)} },
			})
			retry, err := r.mailer.Deliver(t.Context(), r.enqueue(t, bot.MailOpen))
			if tc.err != nil {
				if err == nil || retry != tc.wantRetry {
					t.Fatalf("got retry %v, err %v; want retry %v and an error", retry, err, tc.wantRetry)
				}
				return
			}
			if err != nil {
				t.Fatalf("deliver: %v", err)
			}
			if len(rec.raw) != 1 || len(r.server.Messages()) != 0 {
				t.Fatalf("raw sends: got %d (SMTP %d), want 1 (SMTP 0)", len(rec.raw), len(r.server.Messages()))
			}
			if got, want := rec.from+" → "+strings.Join(rec.to, ","), "keyleak@example.com → infosec@example.com,ciso@example.com"; got != want {
				t.Errorf("envelope: got %q, want %q", got, want)
			}
			p := parseMail(t, rec.raw[0])
			if got, want := p.get(t, "Subject"), "[KL-2026-0001] Leaked AWS access key AKIAIOSFODNN7EXAMPLE — CRITICAL"; got != want {
				t.Errorf("subject: got %q, want %q", got, want)
			}
			if !strings.Contains(p.body, "https://meet.google.com/abc-defg-hij") {
				t.Errorf("body lacks the Meet link:\n%s", p.body)
			}
		})
	}
}

func TestMailRejectsBadMessages(t *testing.T) {
	r := newMailRig(t, mailRigOptions{})
	cases := []struct {
		name string
		msg  state.Message
	}{
		{name: "unknown kind", msg: state.Message{ID: 7, Payload: []byte(`{"kind":"page","incident":"KL-2026-0001"}`)}},
		{name: "unknown incident", msg: state.Message{ID: 8, Payload: []byte(`{"kind":"open","incident":"KL-2026-0999"}`)}},
		{name: "bad payload", msg: state.Message{ID: 9, Payload: []byte(`{`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			retry, err := r.mailer.Deliver(t.Context(), tc.msg)
			if err == nil || retry {
				t.Fatalf("got retry %v, err %v; want a permanent error", retry, err)
			}
		})
	}
}

func TestMailSubjectAndMessageID(t *testing.T) {
	d := bot.MailData{Incident: "KL-2026-0007", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Severity: "HIGH"}
	cases := []struct {
		name, got, want string
	}{
		{"open subject", bot.MailSubject(bot.MailOpen, d), "[KL-2026-0007] Leaked AWS access key AKIAIOSFODNN7EXAMPLE — HIGH"},
		{"close subject", bot.MailSubject(bot.MailClose, d), "[KL-2026-0007] Closed: leaked AWS access key AKIAIOSFODNN7EXAMPLE — HIGH"},
		{"no header injection", bot.MailSubject(bot.MailOpen, bot.MailData{Incident: "KL\r\nBcc: x@example.com", Severity: "LOW"}), "[KL  Bcc: x@example.com] Leaked AWS access key  — LOW"},
		{"open ID", bot.MailMessageID("KL-2026-0007", bot.MailOpen), "kl-2026-0007.open@keyleak"},
		{"close ID", bot.MailMessageID("KL-2026-0007", bot.MailClose), "kl-2026-0007.close@keyleak"},
		{"odd ID", bot.MailMessageID("KL 2026>0007", bot.MailOpen), "kl_2026_0007.open@keyleak"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// FuzzMailSummary feeds arbitrary summary findings to the opening email:
// whatever they hold, the email parses, keeps its headers and carries no
// secret.
func FuzzMailSummary(f *testing.F) {
	f.Add(`{"lines":["AssumeRole of eks-node-role"]}`)
	f.Add(`{"lines":["` + mailSecretKey + `"]}`)
	f.Add(`{"lines":["a\r\nBcc: x@example.com\r\n\r\n.","{{.Incident}}"]}`)
	f.Add(`{"lines":null}`)
	f.Add(`not json`)
	rec := &rawRecorder{}
	r := newMailRig(f, mailRigOptions{
		cfg:  func(c *bot.MailConfig) { c.Host = "" },
		opts: func(*smtpfake.Server) []bot.MailerOption { return []bot.MailerOption{bot.WithRawSender(rec)} },
	})
	msg := r.enqueue(f, bot.MailOpen)
	f.Fuzz(func(t *testing.T, summary string) {
		if err := r.store.Update(func(tx *state.Tx) error { return tx.PutFinding(r.inc.ID, state.FindingSummary, []byte(summary)) }); err != nil {
			t.Fatal(err)
		}
		rec.raw = nil
		if _, err := r.mailer.Deliver(t.Context(), msg); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		p := parseMail(t, rec.raw[0])
		if got, want := p.get(t, "Message-ID"), "<kl-2026-0001.open@keyleak>"; got != want {
			t.Errorf("Message-ID: got %q, want %q", got, want)
		}
		if got := p.header.Get("Bcc"); got != "" {
			t.Errorf("a Bcc header appeared: %q", got)
		}
		if len(commands.FindSecrets(p.body)) != 0 {
			t.Errorf("the body holds a secret:\n%s", p.body)
		}
	})
}
