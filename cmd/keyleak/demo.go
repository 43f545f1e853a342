//go:build demo

// The demo: keyleak against the local world, built with -tags demo (make
// demo). The shipped binary does not carry the local world.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/googlefake"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/slackfake"
	"github.com/keyleak/keyleak/test/smtpfake"
	"github.com/keyleak/keyleak/test/transcript"
	"github.com/keyleak/keyleak/test/world"
)

const (
	demoSecret  = "demo-slack-signing-secret"
	demoChannel = "C0ONCALL"
)

var (
	demoGroup   = slackfake.UserGroup{ID: "S0ONCALL", Handle: "security-oncall", Name: "Security on-call"}
	demoAna     = slackfake.User{ID: "U0ANA", Name: "ana", RealName: "Ana (security on-call)", Email: "ana@example.com"}
	demoAlice   = map[string]any{"name": "users/1001", "displayName": "Alice (SRE lead)", "email": "alice@example.com", "type": "HUMAN"}
	demoAnaChat = map[string]any{"name": "users/1003", "displayName": "Ana (security on-call)", "email": "ana@example.com", "type": "HUMAN"}
	demoBob     = map[string]any{"name": "users/1002", "displayName": "Bob (security team lead)", "email": "bob@example.com", "type": "HUMAN"}
)

// demo is one run of the demo.
type demo struct {
	out    io.Writer
	start  time.Time
	w      *world.World
	intake *world.Intake // the detectors' queue and EventBridge rules
	run    *scenario.Run
	slack  *slackfake.Server
	google *googlefake.Server
	smtp   *smtpfake.Server
	app    *App
	shown  *shown
	seq    int
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer, _ func(string) string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	name := fs.String("scenario", "seed", "scenario to play: seed, role-chain or cost-attack")
	keep := fs.Bool("keep", false, "keep the world and keyleak running afterwards, to explore")
	dir := fs.String("dir", ".demo", "where the database, the log and the report are written")
	nodes := fs.Int("nodes", 12, "legitimate Kubernetes nodes in the seed scenario")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := scenario.ByName(*name)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	d := &demo{out: stdout, start: time.Now(), shown: newShown()}
	defer d.close()
	d.say("keyleak demo: scenario %q. %s", s.Name, s.Description)
	d.say("Starting the local world: moto behind keyleak's AWS gateway, and local Slack, Google Chat, Meet and SMTP servers.")
	if err := d.startWorld(ctx, s, *nodes); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(*dir, "keyleak.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	db := filepath.Join(*dir, "keyleak.db")
	os.Remove(db)
	if err := d.startKeyleak(ctx, db, logFile); err != nil {
		return err
	}
	appCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.app.Run(appCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			fmt.Fprintln(stderr, "keyleak:", err)
		}
		d.app.Close()
	}()
	if err := d.play(ctx, *dir); err != nil {
		d.print()
		return fmt.Errorf("%w (keyleak's log: %s)", err, logFile.Name())
	}
	d.say("Done in %s. Database: %s; keyleak's log: %s; report: %s.", time.Since(d.start).Round(time.Second), db, logFile.Name(), filepath.Join(*dir, "report.md"))
	if *keep {
		d.explore(ctx)
	}
	return nil
}

func (d *demo) close() {
	for _, c := range []func(){
		func() {
			if d.slack != nil {
				d.slack.Close()
			}
		},
		func() {
			if d.google != nil {
				d.google.Close()
			}
		},
		func() {
			if d.smtp != nil {
				d.smtp.Close()
			}
		},
		func() {
			if d.w != nil {
				d.w.Gateway.Close()
				d.w.Moto.Close()
			}
		},
	} {
		c()
	}
}

func (d *demo) startWorld(ctx context.Context, s scenario.Scenario, nodes int) error {
	quiet := slog.New(slog.DiscardHandler)
	m, err := world.StartMoto(ctx, quiet)
	if errors.Is(err, world.ErrMotoMissing) {
		return fmt.Errorf("%w; the demo needs it (make demo installs it)", err)
	}
	if err != nil {
		return err
	}
	g, err := world.StartGateway(world.Config{MotoURL: m.URL(), Logger: quiet})
	if err != nil {
		m.Close()
		return err
	}
	d.w = &world.World{Moto: m, Gateway: g}
	d.say("Playing the attack: the leaked key is used from abroad hours before anyone notices.")
	if d.run, err = scenario.Play(ctx, d.w, s, scenario.Options{Nodes: nodes}); err != nil {
		return err
	}
	// CloudTrail delivers its log files (with the S3 data events) within
	// minutes; the world does it now.
	if err := g.FlushTrail(ctx); err != nil {
		return err
	}
	d.slack = slackfake.New(slackfake.Options{
		Users:      []slackfake.User{demoAna},
		Channels:   []slackfake.Channel{{ID: demoChannel, Name: "security-oncall"}},
		UserGroups: []slackfake.UserGroup{demoGroup},
	})
	if d.google, err = googlefake.New(ctx, googlefake.Config{}); err != nil {
		return err
	}
	d.smtp, err = smtpfake.New(smtpfake.Options{TLS: smtpfake.TLSNone})
	return err
}

func (d *demo) startKeyleak(ctx context.Context, db string, log io.Writer) error {
	creds, err := scenario.KeyleakIdentity(ctx, d.w, "KeyleakResponder")
	if err != nil {
		return err
	}
	cfg := defaultConfig()
	cfg.Database, cfg.Listen, cfg.AdminListen, cfg.LogLevel = db, "127.0.0.1:0", "127.0.0.1:0", "debug"
	cfg.Approvals.Responders = []string{"alice@example.com", "bob@example.com", "ana@example.com"}
	cfg.Slack = Slack{SigningSecret: demoSecret, BotToken: Secret(d.slack.BotToken()), APIURL: d.slack.URL(), PageChannel: demoChannel, OncallGroup: "security-oncall"}
	cfg.Chat.APIURL, cfg.Chat.KeysURL, cfg.Meet.APIURL = d.google.URL(), d.google.JWKSURL(), d.google.URL()
	cfg.Email = Email{Sender: "smtp", Host: d.smtp.Host(), Port: d.smtp.Port(), TLS: "none", From: "keyleak@example.com", To: []string{"infosec@example.com", "security-team@example.com"}}
	cfg.AWS = AWS{Enabled: true, Region: "us-east-1", ResponderRole: "KeyleakResponder", Regions: d.run.Target.Regions, TrailBucket: d.run.Target.TrailBucket}
	cfg.Watch = Watch{Period: time.Minute, Interval: 2 * time.Second}
	// GuardDuty's findings reach keyleak as in production: an EventBridge
	// rule sends them to the intake queue keyleak long-polls.
	if d.intake, err = d.w.StartIntake(ctx, world.DefaultAccount, 30*time.Second, 5); err != nil {
		return err
	}
	cfg.Intake.QueueURL, cfg.Intake.Wait = d.intake.QueueURL, 5*time.Second
	client := awsops.NewFromConfig(d.w.Config("us-east-1", creds), awsops.Options{Regions: d.run.Target.Regions})
	logger := slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The Chat audience is keyleak's own URL, so choose the port first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg.Listen = l.Addr().String()
	l.Close()
	cfg.Chat.Audience = "http://" + cfg.Listen + "/chat/events"
	d.app, err = NewApp(cfg, logger, time.Now, withAWS(client))
	return err
}

// room is how Chat names space: "Chat " and the incident ID the space is
// named after.
func (d *demo) room(space string) string {
	for _, sp := range d.google.Spaces() {
		if sp.Name == space {
			return "Chat " + strings.Fields(sp.DisplayName)[0]
		}
	}
	return "Chat " + space
}

// directory names the Slack users and groups of the demo as Slack shows
// them.
func (d *demo) directory() transcript.Directory {
	return transcript.Directory{
		Users:  map[string]string{demoAna.ID: demoAna.RealName},
		Groups: map[string]string{demoGroup.ID: demoGroup.Handle},
	}
}

// chatURL is keyleak's Chat endpoint, which is also the tokens' audience.
func (d *demo) chatURL() string { return "http://" + d.app.Addr() + "/chat/events" }

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "\n%s  ── %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// slash types a Slack slash command as ana and shows it.
func (d *demo) slash(ctx context.Context, text string) error {
	fmt.Fprintf(d.out, "%s  Slack #security-oncall  %s: /keyleak %s\n", time.Now().Format("15:04:05"), demoAna.RealName, text)
	res, err := d.slack.SendSlashCommand(ctx, "http://"+d.app.Addr()+"/slack/commands", []byte(demoSecret), url.Values{"text": {text}, "user_id": {demoAna.ID}, "user_name": {demoAna.Name}})
	if err != nil {
		return err
	}
	if res.Error != "" {
		return fmt.Errorf("slack would show the user %q", res.Error)
	}
	d.print()
	return nil
}

// chat types a command in the war room as user, shows it and keyleak's
// reply, and returns the reply as text.
func (d *demo) chat(space string, user map[string]any, line string) (string, error) {
	d.seq++
	text := "/keyleak " + line
	fmt.Fprintf(d.out, "%s  %-22s  %s: %s\n", time.Now().Format("15:04:05"), d.room(space), user["displayName"], text)
	ev := map[string]any{
		"type": "MESSAGE", "eventTime": time.Now().UTC().Format(time.RFC3339Nano), "space": map[string]any{"name": space, "type": "ROOM"}, "user": user,
		"message": map[string]any{
			"name": fmt.Sprintf("%s/messages/demo%04d", space, d.seq), "text": text, "argumentText": text,
			"slashCommand": map[string]any{"commandId": "1"},
			"annotations": []any{map[string]any{"type": "SLASH_COMMAND", "startIndex": 0, "length": len("/keyleak"),
				"slashCommand": map[string]any{"commandId": "1", "commandName": "/keyleak", "type": "INVOKE"}}},
		},
	}
	return d.event(ev)
}

// click clicks a card button as user.
func (d *demo) click(space string, user map[string]any, function, args string) (string, error) {
	fmt.Fprintf(d.out, "%s  %-22s  %s clicks [%s] on %s\n", time.Now().Format("15:04:05"), d.room(space)+" (thread)", user["displayName"], strings.ToUpper(function[:1])+function[1:], strings.Fields(args)[0])
	ev := map[string]any{
		"type": "CARD_CLICKED", "eventTime": time.Now().UTC().Format(time.RFC3339Nano), "space": map[string]any{"name": space}, "user": user,
		"common": map[string]any{"invokedFunction": function, "parameters": map[string]string{"args": args}},
	}
	return d.event(ev)
}

func (d *demo) event(ev any) (string, error) {
	rep, err := d.google.SendEvent(context.Background(), d.chatURL(), d.chatURL(), googlefake.ModeEndpointURL, ev)
	if err != nil {
		return "", err
	}
	if rep.StatusCode != 200 {
		return "", fmt.Errorf("keyleak answered the event with %d: %s", rep.StatusCode, rep.Body)
	}
	reply := replyText(rep.Body)
	fmt.Fprintf(d.out, "%s  %-22s  keyleak:\n%s\n", time.Now().Format("15:04:05"), "Chat (reply)", indentLines(reply, "          "))
	d.print()
	return reply, nil
}

// wait polls cond, printing what arrives meanwhile, for up to timeout.
func (d *demo) wait(what string, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		d.print()
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.print()
	return nil
}

func indentLines(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
