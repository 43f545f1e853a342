package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/googlefake"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/slackfake"
	"github.com/keyleak/keyleak/test/smtpfake"
	"github.com/keyleak/keyleak/test/world"
)

// doctorWorld is every outside service of keyleak, local: Slack, Google
// Chat and Meet, SMTP, and AWS (moto behind the gateway) set up as
// deploy/ sets up an organisation.
type doctorWorld struct {
	w      *world.World
	slack  *slackfake.Server
	google *googlefake.Server
	smtp   *smtpfake.Server
	yaml   map[string]any // the configuration file, by section
}

func newDoctorWorld(t *testing.T, moto *world.Moto) *doctorWorld {
	t.Helper()
	ctx := t.Context()
	d := &doctorWorld{w: world.New(t, moto)}
	creds, err := scenario.KeyleakIdentity(ctx, d.w, awsops.DefaultResponderRole)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, p := range awsops.ResponderPermissions() {
		actions = append(actions, p.Action)
	}
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"}}})
	if _, err := d.iam(world.SecondAccount).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(awsops.DefaultResponderRole),
		PolicyName: aws.String("keyleak-responder"), PolicyDocument: aws.String(string(doc))}); err != nil {
		t.Fatal(err)
	}
	if err := d.w.Gateway.FlushTrail(ctx); err != nil {
		t.Fatal(err)
	}
	intake, err := d.w.StartIntake(ctx, world.DefaultAccount, 30*time.Second, 5)
	if err != nil {
		t.Fatal(err)
	}
	d.slack = slackfake.New(slackfake.Options{
		Channels:   []slackfake.Channel{{ID: "C0ONCALL", Name: "security-oncall"}},
		UserGroups: []slackfake.UserGroup{{ID: "S0ONCALL", Handle: "security-oncall", Name: "Security on-call"}},
	})
	t.Cleanup(d.slack.Close)
	if d.google, err = googlefake.New(ctx, googlefake.Config{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.google.Close() })
	if d.smtp, err = smtpfake.New(smtpfake.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.smtp.Close() })

	// keyleak's own AWS identity comes from the standard chain.
	t.Setenv("AWS_ENDPOINT_URL", d.w.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	d.yaml = map[string]any{
		"database":  filepath.Join(t.TempDir(), "keyleak.db"),
		"approvals": map[string]any{"responders": []string{"alice@example.com", "bob@example.com"}},
		"slack": map[string]any{"bot_token": d.slack.BotToken(), "api_url": d.slack.URL() + "/api/", "signing_secret": "s",
			"page_channel": "C0ONCALL", "oncall_group": "security-oncall"},
		"chat": map[string]any{"api_url": d.google.URL(), "keys_url": d.google.JWKSURL(), "audience": "https://keyleak.example.com/chat/events"},
		"meet": map[string]any{"api_url": d.google.URL()},
		"email": map[string]any{"smtp_host": d.smtp.Host(), "smtp_port": d.smtp.Port(), "smtp_tls": "none",
			"from": "keyleak@example.com", "to": []string{"infosec@example.com"}},
		"aws":    map[string]any{"enabled": true, "accounts": []string{world.SecondAccount}, "trail_bucket": d.w.Gateway.TrailBucket()},
		"intake": map[string]any{"queue_url": intake.QueueURL},
	}
	return d
}

func (d *doctorWorld) iam(account string) *iam.Client {
	return iam.NewFromConfig(d.w.Config("us-east-1", d.w.Admin(account)))
}

func (d *doctorWorld) set(section, key string, v any) { d.yaml[section].(map[string]any)[key] = v }

// doctor runs keyleak doctor with the configuration file and returns its
// exit status and output.
func (d *doctorWorld) doctor(t *testing.T, args ...string) (int, string) {
	t.Helper()
	data, err := json.Marshal(d.yaml) // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), append([]string{"doctor", "--config", writeFile(t, "keyleak.yaml", string(data))}, args...), &stdout, &stderr, envFrom(nil))
	return code, stdout.String() + stderr.String()
}

// failLines are the FAIL lines of doctor's output, each with its fix.
func failLines(out string) []string {
	var fails []string
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "FAIL") {
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "      fix: ") {
				l += "\n" + lines[i+1]
			}
			fails = append(fails, l)
		}
	}
	return fails
}

// TestDoctor runs keyleak doctor against the local world: every check
// passes, and with each outside piece broken in turn exactly that piece's
// line fails, naming it and its fix.
func TestDoctor(t *testing.T) {
	moto := world.NewMotoTB(t)
	tests := []struct {
		name   string
		break_ func(t *testing.T, d *doctorWorld)
		args   []string
		fail   string   // the failing check's name; "" when all pass
		says   []string // in its line and fix
	}{
		{name: "all good"},
		{name: "all good, with a test email", args: []string{"--send-email"}},
		{name: "wrong Slack token", break_: func(t *testing.T, d *doctorWorld) { d.set("slack", "bot_token", "xoxb-revoked-or-mistyped") },
			fail: "slack token", says: []string{"invalid_auth", "slack.bot_token", "Bot User OAuth Token"}},
		{name: "unreachable key URL", break_: func(t *testing.T, d *doctorWorld) { d.set("chat", "keys_url", unreachable(t)+"/oauth2/v3/certs") },
			fail: "chat keys", says: []string{"connection refused", "chat.keys_url", "leave it empty for Google's"}},
		{name: "missing responder role", break_: func(t *testing.T, d *doctorWorld) {
			ic := d.iam(world.SecondAccount)
			if _, err := ic.DeleteRolePolicy(t.Context(), &iam.DeleteRolePolicyInput{RoleName: aws.String(awsops.DefaultResponderRole), PolicyName: aws.String("keyleak-responder")}); err != nil {
				t.Fatal(err)
			}
			if _, err := ic.DeleteRole(t.Context(), &iam.DeleteRoleInput{RoleName: aws.String(awsops.DefaultResponderRole)}); err != nil {
				t.Fatal(err)
			}
		}, fail: "responder role " + world.SecondAccount, says: []string{"cannot assume the responder role", "deploy the responder role to account " + world.SecondAccount, "deploy/aws/stackset.md"}},
		{name: "unreadable bucket", break_: func(t *testing.T, d *doctorWorld) {
			deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`
			if _, err := d.iam(world.DefaultAccount).PutUserPolicy(t.Context(), &iam.PutUserPolicyInput{UserName: aws.String(scenario.KeyleakUser),
				PolicyName: aws.String("no-s3"), PolicyDocument: aws.String(deny)}); err != nil {
				t.Fatal(err)
			}
		}, fail: "trail bucket", says: []string{"AccessDenied", "s3:ListBucket on arn:aws:s3:::world-cloudtrail", "deploy/aws/keyleak-bot-policy.json"}},
		{name: "SMTP refusing the message", args: []string{"--send-email"}, break_: func(t *testing.T, d *doctorWorld) { d.smtp.Refuse(1, 554) },
			fail: "email", says: []string{"554", "refused the message", "keyleak@example.com"}},
		{name: "SMTP not there", break_: func(t *testing.T, d *doctorWorld) { d.smtp.Close() },
			fail: "email", says: []string{"nothing accepts SMTP", "email.smtp_host", "email.smtp_port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDoctorWorld(t, moto)
			if tt.break_ != nil {
				tt.break_(t, d)
			}
			code, out := d.doctor(t, tt.args...)
			fails := failLines(out)
			if tt.fail == "" {
				if code != 0 || len(fails) > 0 || !strings.Contains(out, "0 failed") {
					t.Fatalf("exit %d, want 0 and no failure:\n%s", code, out)
				}
				for _, want := range []string{"ok    configuration", "ok    slack channel", "ok    chat space", "ok    meet", "ok    chat keys", "ok    email",
					"ok    responder role " + world.SecondAccount + " permissions", "ok    trail bucket", "ok    intake queue"} {
					if !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				if sent := len(d.smtp.Messages()); (sent == 1) != (len(tt.args) > 0) {
					t.Errorf("%d test emails sent with %q", sent, tt.args)
				}
				return
			}
			if code != 1 || len(fails) != 1 || !strings.HasPrefix(fails[0], fmt.Sprintf("FAIL  %-40s", tt.fail)) {
				t.Fatalf("exit %d with failures %q, want 1 and only %q failing:\n%s", code, fails, tt.fail, out)
			}
			for _, want := range tt.says {
				if !strings.Contains(fails[0], want) {
					t.Errorf("failure %q does not say %q", fails[0], want)
				}
			}
			if !strings.Contains(out, "keyleak: 1 of ") {
				t.Errorf("no summary of the failures on stderr:\n%s", out)
			}
		})
	}
}

// unreachable is a loopback URL nothing listens on.
func unreachable(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

func TestDoctorBadConfiguration(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), []string{"doctor", "--config", writeFile(t, "k.yaml", "approvals:\n  responders: [alice@example.com]\nslack:\n  api_url: https://slack.com/\n")}, &stdout, &stderr, envFrom(nil))
	if code != 1 || !strings.Contains(stdout.String(), "FAIL  configuration") || !strings.Contains(stdout.String(), "https://slack.com/api/") {
		t.Errorf("exit %d, output %q: want 1 and the configuration's failure", code, stdout.String())
	}
	if code := Main(t.Context(), []string{"doctor", "extra"}, &stdout, &stderr, envFrom(nil)); code != 2 {
		t.Errorf("doctor with an argument: exit %d, want 2", code)
	}
}

// TestServeCheckReadyz: with serve --check, /readyz answers 503 naming
// the failed check and its fix, and 200 with every check once they pass.
func TestServeCheckReadyz(t *testing.T) {
	smtp, err := smtpfake.New(smtpfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer smtp.Close()
	tests := []struct {
		name   string
		host   func() (string, int)
		status int
		says   []string
	}{
		{"a check fails", func() (string, int) {
			u := strings.TrimPrefix(unreachable(t), "http://")
			host, port, _ := net.SplitHostPort(u)
			var p int
			fmt.Sscan(port, &p)
			return host, p
		}, http.StatusServiceUnavailable, []string{"not ready: checks at", "1 failed", "FAIL  email", "fix: nothing accepts SMTP"}},
		{"every check passes", func() (string, int) { return smtp.Host(), smtp.Port() }, http.StatusOK, []string{"ready: checks at", "0 failed", "ok    email", "skip  slack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.Database = filepath.Join(t.TempDir(), "keyleak.db")
			cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
			cfg.Approvals.Responders = []string{"alice@example.com"}
			host, port := tt.host()
			cfg.Email = Email{Sender: "smtp", Host: host, Port: port, TLS: "none", From: "keyleak@example.com", To: []string{"infosec@example.com"}}
			app, err := NewApp(cfg, newLogger(io.Discard, "info"), time.Now, withStartupCheck())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- app.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
				app.Close()
			}()
			var code int
			var body string
			deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed check
			for {
				resp, err := http.Get("http://" + app.Addr() + "/readyz")
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					code, body = resp.StatusCode, string(b)
					if !strings.Contains(body, "checking the configuration") {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz still %d %q", code, body)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if code != tt.status {
				t.Errorf("/readyz = %d, want %d:\n%s", code, tt.status, body)
			}
			for _, want := range tt.says {
				if !strings.Contains(body, want) {
					t.Errorf("/readyz lacks %q:\n%s", want, body)
				}
			}
		})
	}
}
