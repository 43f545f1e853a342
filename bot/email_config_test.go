package bot_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/test/smtpfake"
)

func TestMailConfigHidesPassword(t *testing.T) {
	const password = "pw-Zq8!never-printed"
	cfg := bot.MailConfig{Host: "smtp.example.com", Username: "keyleak", Password: password, From: "keyleak@example.com", To: []string{"a@example.com"}}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "mail", cfg)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "mail", cfg)
	fmt.Fprintf(&buf, "%v %+v %#v %s", cfg, cfg, cfg, cfg)
	if strings.Contains(buf.String(), password) {
		t.Errorf("the password appears in:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "smtp.example.com") {
		t.Errorf("the host is missing from:\n%s", buf.String())
	}
}

func TestMailTLS(t *testing.T) {
	trust := func(s *smtpfake.Server) []bot.MailerOption {
		return []bot.MailerOption{bot.WithMailTLSConfig(&tls.Config{RootCAs: s.CertPool()})}
	}
	cases := []struct {
		name      string
		server    smtpfake.Options
		mode      string
		opts      func(*smtpfake.Server) []bot.MailerOption
		wantErr   string // empty: delivered
		wantRetry bool
	}{
		{name: "starttls with auth", server: smtpfake.Options{TLS: smtpfake.TLSStartTLS, Username: "u", Password: "p"}, mode: bot.MailStartTLS, opts: trust},
		{name: "implicit tls", server: smtpfake.Options{TLS: smtpfake.TLSImplicit}, mode: bot.MailTLS, opts: trust},
		{name: "untrusted certificate", server: smtpfake.Options{TLS: smtpfake.TLSStartTLS}, mode: bot.MailStartTLS, wantErr: "certificate"},
		{name: "starttls is mandatory", server: smtpfake.Options{}, mode: bot.MailStartTLS, wantErr: "STARTTLS", wantRetry: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newMailRig(t, mailRigOptions{server: tc.server, opts: tc.opts, cfg: func(c *bot.MailConfig) {
				c.TLS = tc.mode
				if tc.server.Username != "" {
					c.Username, c.Password = tc.server.Username, tc.server.Password
				}
			}})
			retry, err := r.mailer.Deliver(t.Context(), r.enqueue(t, bot.MailOpen))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tc.wantErr)
				}
				if retry != tc.wantRetry {
					t.Errorf("retry: got %v, want %v", retry, tc.wantRetry)
				}
				if n := len(r.server.Messages()); n != 0 {
					t.Errorf("server received %d messages; want none", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("deliver: %v", err)
			}
			m, _ := onlyMessage(t, r.server)
			if !m.TLS {
				t.Error("message travelled without TLS")
			}
			if got, want := m.AuthUser, tc.server.Username; got != want {
				t.Errorf("authenticated user: got %q, want %q", got, want)
			}
		})
	}
}

func TestMailUnreachableIsRetried(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never greets
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused.Close()
	cases := []struct {
		name string
		addr net.Addr
	}{
		{name: "connection refused", addr: refused.Addr()},
		{name: "no greeting", addr: silent.Addr()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newMailRig(t, mailRigOptions{
				cfg: func(c *bot.MailConfig) { c.Port = tc.addr.(*net.TCPAddr).Port },
				opts: func(*smtpfake.Server) []bot.MailerOption {
					return []bot.MailerOption{bot.WithMailTimeout(200 * time.Millisecond)}
				},
			})
			retry, err := r.mailer.Deliver(t.Context(), r.enqueue(t, bot.MailOpen))
			if err == nil || !retry {
				t.Fatalf("got retry %v, err %v; want a retryable error", retry, err)
			}
		})
	}
}

func TestMailTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "open.txt.tmpl"), []byte("Custom opening for {{.Incident}} about {{.AccessKeyID}}.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newMailRig(t, mailRigOptions{cfg: func(c *bot.MailConfig) { c.TemplateDir = dir }})
	for _, kind := range []string{bot.MailOpen, bot.MailClose} {
		if _, err := r.mailer.Deliver(t.Context(), r.enqueue(t, kind)); err != nil {
			t.Fatalf("deliver %s: %v", kind, err)
		}
	}
	msgs := r.server.Messages()
	if len(msgs) != 2 {
		t.Fatalf("messages: got %d, want 2", len(msgs))
	}
	if got, want := strings.TrimSpace(parseMail(t, msgs[0].Data).body), "Custom opening for KL-2026-0001 about AKIAIOSFODNN7EXAMPLE."; got != want {
		t.Errorf("overridden body: got %q, want %q", got, want)
	}
	if body := parseMail(t, msgs[1].Data).body; !strings.Contains(body, "Incident report") {
		t.Errorf("closing email does not use the embedded template:\n%s", body)
	}
}

func TestNewMailerValidates(t *testing.T) {
	good := bot.MailConfig{Host: "smtp.example.com", From: "keyleak@example.com", To: []string{"infosec@example.com"}}
	badDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(badDir, "close.txt.tmpl"), []byte("{{.NoSuchField}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	brokenDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(brokenDir, "open.txt.tmpl"), []byte("{{if}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		change  func(*bot.MailConfig)
		opts    []bot.MailerOption
		wantErr string // empty: valid
	}{
		{name: "valid", change: func(*bot.MailConfig) {}},
		{name: "raw sender needs no host", change: func(c *bot.MailConfig) { c.Host = "" }, opts: []bot.MailerOption{bot.WithRawSender(&rawRecorder{})}},
		{name: "no host", change: func(c *bot.MailConfig) { c.Host = "" }, wantErr: "no SMTP host"},
		{name: "bad from", change: func(c *bot.MailConfig) { c.From = "keyleak" }, wantErr: `from "keyleak"`},
		{name: "no recipients", change: func(c *bot.MailConfig) { c.To = nil }, wantErr: "no recipients"},
		{name: "bad to", change: func(c *bot.MailConfig) { c.To = []string{"infosec"} }, wantErr: `to "infosec"`},
		{name: "bad cc", change: func(c *bot.MailConfig) { c.Cc = []string{"a@b@c"} }, wantErr: `cc "a@b@c"`},
		{name: "bad tls", change: func(c *bot.MailConfig) { c.TLS = "ssl" }, wantErr: `tls "ssl"`},
		{name: "bad port", change: func(c *bot.MailConfig) { c.Port = 70000 }, wantErr: "port 70000"},
		{name: "password alone", change: func(c *bot.MailConfig) { c.Password = "x" }, wantErr: "password is set without a username"},
		{name: "clear-text auth off host", change: func(c *bot.MailConfig) { c.TLS, c.Username = bot.MailNoTLS, "u" }, wantErr: "in clear"},
		{name: "bad timeout", change: func(*bot.MailConfig) {}, opts: []bot.MailerOption{bot.WithMailTimeout(0)}, wantErr: "timeout"},
		{name: "missing template dir", change: func(c *bot.MailConfig) { c.TemplateDir = filepath.Join(badDir, "nope") }, wantErr: "template directory"},
		{name: "unknown field", change: func(c *bot.MailConfig) { c.TemplateDir = badDir }, wantErr: "NoSuchField"},
		{name: "unparsable template", change: func(c *bot.MailConfig) { c.TemplateDir = brokenDir }, wantErr: "parse template"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.change(&cfg)
			_, err := bot.NewMailer(cfg, nil, slog.New(slog.DiscardHandler), tc.opts...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error mentioning %q", err, tc.wantErr)
			case tc.wantErr != "" && !errors.Is(err, bot.ErrMailConfig):
				t.Errorf("got %v, want it to wrap ErrMailConfig", err)
			}
		})
	}
}
