package bot_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/redaction"
)

// TestPastedSecretsGoNowhere sends every paste of the redaction corpus as
// the note of /keyleak, then closes the incident, renders its report and
// sends its emails: no form of any secret reaches the store, a reply, the
// logs, Slack, the report or an email, and every reply to a paste with a
// secret says to treat it as compromised, also when the text could not be
// read as a command (an unbalanced quote).
func TestPastedSecretsGoNowhere(t *testing.T) {
	r := newSlackRig(t)
	var replies bytes.Buffer
	for _, p := range redaction.Corpus() {
		res, err := r.fake.SendSlashCommand(context.Background(), r.srv.URL, signingSecret, map[string][]string{"text": {leakedKey + " " + p.Text}})
		if err != nil {
			t.Fatal(err)
		}
		replies.Write(res.Body)
		if warned := bytes.Contains(res.Body, []byte("treat it as compromised")); warned != (len(p.Secrets) > 0) {
			t.Errorf("%s: warned %v with %d secrets; reply %s", p.Name, warned, len(p.Secrets), res.Body)
		}
	}
	r.worker.DrainOnce(context.Background())
	incs := r.incidents(t)
	if len(incs) != 1 {
		t.Fatalf("incidents = %+v, want the one the reports joined", incs)
	}
	id := incs[0].ID
	reports := &commands.Reports{Store: r.store, Policy: commands.Policy{Responders: []string{"alice@example.com"}}, Now: func() time.Time { return r.now }}
	close := reports.CloseCommand()
	if _, err := close.Run(context.Background(), commands.Request{Actor: state.Actor{ID: "users/1", Email: "alice@example.com"}, Incident: id, Args: []string{"test", "over"}}); err != nil {
		t.Fatal(err)
	}
	report, err := reports.Render(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	rec := &rawRecorder{}
	mailer, err := bot.NewMailer(bot.MailConfig{From: "keyleak@example.com", To: []string{"infosec@example.com"}}, r.store, slog.New(slog.NewTextHandler(r.logs, nil)), bot.WithRawSender(rec))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{bot.MailOpen, bot.MailClose} {
		m := state.Message{ID: 1, Key: kind + ":" + id, Channel: commands.ChannelEmail, Kind: kind, Incident: id, Payload: []byte(`{"kind":"` + kind + `","incident":"` + id + `"}`)}
		if _, err := mailer.Deliver(context.Background(), m); err != nil {
			t.Fatalf("email %s: %v", kind, err)
		}
	}
	var dump bytes.Buffer
	if _, err := r.store.Backup(&dump); err != nil {
		t.Fatal(err)
	}
	places := map[string]string{"database": dump.String(), "replies": replies.String(), "logs": r.logs.String(),
		"slack": fakeDump(r.fake), "report": report, "email": string(bytes.Join(rec.raw, nil))}
	for _, p := range redaction.Corpus() {
		for _, s := range p.Secrets {
			for _, form := range redaction.Forms(s) {
				for where, hay := range places {
					if strings.Contains(hay, form) {
						t.Errorf("%s: a secret reached the %s (as %q)", p.Name, where, form)
					}
				}
			}
		}
	}
}
