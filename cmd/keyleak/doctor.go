package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/bot"
)

// checkLine is one line of keyleak doctor: a check of an outside piece.
type checkLine struct {
	Name, Detail, Fix string
	Err               error
	Skipped           bool
}

func (l checkLine) status() string {
	switch {
	case l.Skipped:
		return "skip"
	case l.Err != nil:
		return "FAIL"
	}
	return "ok"
}

// format writes the line as keyleak doctor prints it.
func (l checkLine) format(w io.Writer) {
	text := l.Detail
	if l.Err != nil {
		text = l.Err.Error()
	}
	fmt.Fprintf(w, "%-5s %-40s %s\n", l.status(), l.Name, strings.ReplaceAll(text, "\n", "\n"+strings.Repeat(" ", 47)))
	if l.Err != nil && l.Fix != "" {
		fmt.Fprintf(w, "      fix: %s\n", l.Fix)
	}
}

// piece is the checks of one outside service, run together.
type piece struct {
	name string
	run  func(ctx context.Context) []checkLine
}

func fromBot(cs ...bot.Check) []checkLine {
	out := make([]checkLine, 0, len(cs))
	for _, c := range cs {
		out = append(out, checkLine{Name: c.Name, Detail: c.Detail, Err: c.Err, Fix: c.Fix})
	}
	return out
}

func fromAWS(cs []awsops.Check) []checkLine {
	out := make([]checkLine, 0, len(cs))
	for _, c := range cs {
		out = append(out, checkLine{Name: c.Name, Detail: c.Detail, Err: c.Err, Fix: c.Fix})
	}
	return out
}

func skipped(name, why string) []checkLine {
	return []checkLine{{Name: name, Detail: why, Skipped: true}}
}

// pieces are the checks of every outside service cfg names: Slack, Chat
// and Meet, Chat's signing keys, email, AWS. client is nil without AWS;
// sendEmail also sends a test email.
func (c Config) pieces(client *awsops.Client, ses bot.RawSender, sendEmail bool) []piece {
	quiet := slog.New(slog.DiscardHandler)
	return []piece{
		{"slack", func(ctx context.Context) []checkLine {
			if c.Slack.BotToken == "" {
				return skipped("slack", "no slack.bot_token: keyleak pages no one on Slack")
			}
			lines := fromBot(bot.CheckSlack(ctx, c.pagerConfig())...)
			if c.Slack.AppToken != "" {
				lines = append(lines, fromBot(bot.CheckSocketMode(ctx, bot.SocketModeConfig{AppToken: string(c.Slack.AppToken), BotToken: string(c.Slack.BotToken), APIURL: c.Slack.APIURL}))...)
			}
			return lines
		}},
		{"chat", func(ctx context.Context) []checkLine {
			if !c.chatConfigured() {
				return skipped("chat", "no chat.credentials_file: keyleak opens no war room")
			}
			return fromBot(bot.CheckRoom(ctx, c.roomConfig())...)
		}},
		{"chat keys", func(ctx context.Context) []checkLine {
			if c.Chat.Audience == "" {
				return skipped("chat keys", "no chat.audience: keyleak takes no commands from Chat")
			}
			v, err := bot.NewChatVerifier(c.chatVerifierConfig(time.Now, quiet))
			if err != nil {
				return []checkLine{{Name: "chat keys", Err: err, Fix: "correct chat.audience and chat.audience_type"}}
			}
			return fromBot(v.Check(ctx))
		}},
		{"email", func(ctx context.Context) []checkLine {
			if len(c.Email.To) == 0 {
				return skipped("email", "no email.to: keyleak emails no one")
			}
			var opts []bot.MailerOption
			if c.Email.Sender == "ses" {
				if ses == nil {
					return []checkLine{{Name: "email", Err: errors.New("email.sender ses needs AWS"), Fix: "set aws.enabled"}}
				}
				opts = append(opts, bot.WithRawSender(ses))
			}
			return fromBot(bot.CheckMail(ctx, c.mailConfig(), sendEmail, opts...))
		}},
		{"aws", func(ctx context.Context) []checkLine {
			if client == nil {
				return skipped("aws", "aws.enabled is false: keyleak neither identifies, investigates nor contains keys")
			}
			return fromAWS(client.Preflight(ctx, awsops.PreflightOptions{Accounts: c.AWS.Accounts, TrailBucket: c.AWS.TrailBucket, QueueURL: c.Intake.QueueURL}))
		}},
	}
}

// pieceTimeout bounds the checks of one outside service.
const pieceTimeout = 2 * time.Minute

// runPieces runs every piece at once and returns their lines in order.
func runPieces(ctx context.Context, pieces []piece) [][]checkLine {
	out := make([][]checkLine, len(pieces))
	var wg sync.WaitGroup
	for i, p := range pieces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, pieceTimeout)
			defer cancel()
			out[i] = p.run(pctx)
		}()
	}
	wg.Wait()
	return out
}

func failedLines(lines []checkLine) int {
	n := 0
	for _, l := range lines {
		if l.Err != nil {
			n++
		}
	}
	return n
}

func runDoctor(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	cfgPath := configFlag(fs, getenv)
	sendEmail := fs.Bool("send-email", false, "also send a test email to email.to and email.cc")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: doctor takes no arguments, got %q", errUsage, fs.Args())
	}
	source := "the environment"
	if *cfgPath != "" {
		source = *cfgPath + " and the environment"
	}
	fmt.Fprintf(stdout, "keyleak doctor: the configuration from %s, against every service it names\n\n", source)
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		checkLine{Name: "configuration", Err: err, Fix: "correct the settings named (README.md, Configuration)"}.format(stdout)
		return errors.New("the configuration is not valid")
	}
	checkLine{Name: "configuration", Detail: "valid; " + cfg.summary()}.format(stdout)
	var client *awsops.Client
	var ses bot.RawSender
	if cfg.AWS.Enabled {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		client, err = awsops.New(actx, cfg.awsOptions(time.Now, slog.New(slog.DiscardHandler)))
		cancel()
		if err != nil {
			checkLine{Name: "aws", Err: err, Fix: "correct the AWS settings of the environment (AWS_PROFILE, AWS_REGION, AWS_CONFIG_FILE)"}.format(stdout)
			return errors.New("AWS cannot be reached as configured")
		}
		ses = client.SES()
	}
	total, failed := 1, 0
	for _, lines := range runPieces(ctx, cfg.pieces(client, ses, *sendEmail)) {
		for _, l := range lines {
			l.format(stdout)
		}
		total += len(lines)
		failed += failedLines(lines)
	}
	fmt.Fprintf(stdout, "\n%d checks, %d failed.\n", total, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, total)
	}
	return nil
}

// summary names the outside services the configuration uses.
func (c Config) summary() string {
	var on []string
	for _, s := range []struct {
		name string
		on   bool
	}{
		{"Slack", c.Slack.BotToken != ""}, {"Slack Socket Mode", c.Slack.AppToken != ""}, {"Google Chat", c.chatConfigured()},
		{"Chat events", c.Chat.Audience != ""}, {"Meet", c.Meet.APIURL != "" || c.Meet.CredentialsFile != ""},
		{"email by " + c.Email.Sender, len(c.Email.To) > 0}, {"AWS", c.AWS.Enabled}, {"intake queue", c.Intake.QueueURL != ""},
	} {
		if s.on {
			on = append(on, s.name)
		}
	}
	if len(on) == 0 {
		return "no outside service is configured"
	}
	return "uses " + strings.Join(on, ", ")
}

// startupCheck runs the checks of serve --check: at start-up, then the
// pieces that failed again every checkRetry until they pass, logging each
// line. Readyz reports the latest result.
type startupCheck struct {
	pieces []piece
	log    *slog.Logger
	now    func() time.Time

	mu    sync.Mutex
	lines [][]checkLine // by piece; nil until the first run
	at    time.Time
}

// checkRetry is how soon serve --check runs a failed piece again.
const checkRetry = time.Minute

func (s *startupCheck) run(ctx context.Context) {
	todo := make([]int, len(s.pieces))
	for i := range todo {
		todo[i] = i
	}
	for {
		run := make([]piece, len(todo))
		for i, p := range todo {
			run[i] = s.pieces[p]
		}
		results := runPieces(ctx, run)
		if ctx.Err() != nil {
			return
		}
		var again []int
		s.mu.Lock()
		if s.lines == nil {
			s.lines = make([][]checkLine, len(s.pieces))
		}
		for i, p := range todo {
			s.lines[p] = results[i]
			for _, l := range results[i] {
				if l.Err != nil {
					s.log.ErrorContext(ctx, "check failed", "check", l.Name, "err", l.Err, "fix", l.Fix)
				} else {
					s.log.InfoContext(ctx, "check passed", "check", l.Name, "detail", l.Detail)
				}
			}
			if failedLines(results[i]) > 0 {
				again = append(again, p)
			}
		}
		s.at = s.now()
		s.mu.Unlock()
		if len(again) == 0 {
			return
		}
		todo = again
		select {
		case <-ctx.Done():
			return
		case <-time.After(checkRetry):
		}
	}
}

// report is the latest result as /readyz shows it, and whether every
// check passed.
func (s *startupCheck) report() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lines == nil {
		return "checking the configuration (serve --check)\n", false
	}
	var b strings.Builder
	total, failed := 0, 0
	for _, lines := range s.lines {
		for _, l := range lines {
			l.format(&b)
			total++
			if l.Err != nil {
				failed++
			}
		}
	}
	head := fmt.Sprintf("checks at %s: %d, %d failed\n", s.at.UTC().Format(time.RFC3339), total, failed)
	return head + b.String(), failed == 0
}
