package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(tb testing.TB, name, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	good := "database: /tmp/k.db\napprovals:\n  responders: [alice@example.com, bob@example.com]\n"
	secretFile := writeFile(t, "secret", "s3cr3t-signing\n")
	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		check func(t *testing.T, c Config)
		err   string // fragment of the error; "" for success
	}{
		{name: "defaults and file", yaml: good, check: func(t *testing.T, c Config) {
			if c.Listen != ":8080" || c.Approvals.Expiry != 15*time.Minute || len(c.Approvals.Responders) != 2 {
				t.Errorf("config = %+v", c)
			}
		}},
		{name: "env overrides", yaml: good, env: map[string]string{"KEYLEAK_LISTEN": "127.0.0.1:9999", "KEYLEAK_RESPONDERS": "carol@example.com, dan@example.com", "KEYLEAK_APPROVAL_EXPIRY": "5m"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:9999" || c.Approvals.Expiry != 5*time.Minute || strings.Join(c.Approvals.Responders, ",") != "carol@example.com,dan@example.com" {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "secret from file", yaml: good, env: map[string]string{"KEYLEAK_SLACK_SIGNING_SECRET_FILE": secretFile},
			check: func(t *testing.T, c Config) {
				if c.Slack.SigningSecret != "s3cr3t-signing" {
					t.Errorf("secret not read from file (or newline kept)")
				}
			}},
		{name: "secret and file both set", yaml: good, env: map[string]string{"KEYLEAK_SLACK_SIGNING_SECRET": "x", "KEYLEAK_SLACK_SIGNING_SECRET_FILE": secretFile}, err: "both set"},
		{name: "secret file missing", yaml: good, env: map[string]string{"KEYLEAK_SLACK_BOT_TOKEN_FILE": "/nonexistent/token"}, err: "KEYLEAK_SLACK_BOT_TOKEN_FILE"},
		{name: "no responders", yaml: "database: x.db\n", err: "approvals.responders"},
		{name: "intake", yaml: good + "aws:\n  enabled: true\nintake:\n  queue_url: https://sqs.eu-west-1.amazonaws.com/111122223333/keyleak-intake\n",
			env: map[string]string{"KEYLEAK_INTAKE_MIN_SEVERITY": "7.5", "KEYLEAK_INTAKE_DENY_TYPES": "Policy:*, PenTest:*"},
			check: func(t *testing.T, c Config) {
				r := c.intakeRules()
				if c.Intake.Wait != 20*time.Second || r.MinSeverity != 7.5 || strings.Join(r.Deny, ",") != "Policy:*,PenTest:*" {
					t.Errorf("intake = %+v, rules %+v", c.Intake, r)
				}
			}},
		{name: "intake without AWS", yaml: good + "intake:\n  queue_url: https://sqs.eu-west-1.amazonaws.com/111122223333/keyleak-intake\n", err: "needs aws.enabled"},
		{name: "intake queue not a URL", yaml: good + "aws:\n  enabled: true\nintake:\n  queue_url: keyleak-intake\n", err: "not an SQS queue URL"},
		{name: "intake severity not a number", yaml: good + "aws:\n  enabled: true\nintake:\n  queue_url: https://sqs.eu-west-1.amazonaws.com/111122223333/q\n", env: map[string]string{"KEYLEAK_INTAKE_MIN_SEVERITY": "high"}, err: "KEYLEAK_INTAKE_MIN_SEVERITY"},
		{name: "intake bad canary", yaml: good + "aws:\n  enabled: true\nintake:\n  queue_url: https://sqs.eu-west-1.amazonaws.com/111122223333/q\n  canary_keys: [AKIA123]\n", err: "canary key"},
		{name: "unknown field", yaml: good + "lissten: :80\n", err: "lissten"},
		{name: "chat API without a key", yaml: good + "chat:\n  api_url: https://chat.example.com/\n", err: "chat.credentials_file (KEYLEAK_CHAT_CREDENTIALS_FILE): required with chat.api_url"},
		{name: "meet API without a key", yaml: good + "meet:\n  api_url: https://meet.example.com/\n", err: "meet.credentials_file (KEYLEAK_MEET_CREDENTIALS_FILE): required with meet.api_url"},
		{name: "local chat API without a key", yaml: good + "chat:\n  api_url: http://127.0.0.1:8443/\nmeet:\n  api_url: http://localhost:8443\n", check: func(t *testing.T, c Config) {
			if !c.chatConfigured() {
				t.Error("a local Chat API is not taken as the war room")
			}
		}},
		{name: "chat events without the app's key", yaml: good + "chat:\n  audience: https://keyleak.example.com/chat/events\n", err: "needs the Chat app's key"},
		{name: "slack API without /api", yaml: good + "slack:\n  api_url: https://slack.com/\n", err: "Slack's Web API is https://slack.com/api/"},
		{name: "slack API with /api and no slash", yaml: good + "slack:\n  api_url: https://slack.com/api\n", check: func(t *testing.T, c Config) {
			if c.Slack.APIURL != "https://slack.com/api" {
				t.Errorf("slack.api_url = %q", c.Slack.APIURL)
			}
		}},
		{name: "bad listen", yaml: good + "listen: 8080\n", err: "listen (KEYLEAK_LISTEN)"},
		{name: "admin not loopback", yaml: good + "admin_listen: 0.0.0.0:8081\n", err: "loopback"},
		{name: "bad log level", yaml: good, env: map[string]string{"KEYLEAK_LOG_LEVEL": "loud"}, err: "log_level"},
		{name: "bad duration", yaml: good, env: map[string]string{"KEYLEAK_APPROVAL_EXPIRY": "soon"}, err: "KEYLEAK_APPROVAL_EXPIRY"},
		{name: "expiry out of range", yaml: good + "  expiry: 10s\n", err: "outside 1m to 24h"},
		{name: "bot token shape", yaml: good, env: map[string]string{"KEYLEAK_SLACK_BOT_TOKEN": "xoxp-user"}, err: "xoxb-"},
		{name: "organisation accounts", yaml: good, env: map[string]string{"KEYLEAK_AWS_ACCOUNTS": "111122223333, 444455556666"},
			check: func(t *testing.T, c Config) {
				if strings.Join(c.AWS.Accounts, ",") != "111122223333,444455556666" {
					t.Errorf("aws.accounts = %v", c.AWS.Accounts)
				}
			}},
		{name: "bad account", yaml: good + "aws:\n  accounts: ['12345']\n", err: "aws.accounts (KEYLEAK_AWS_ACCOUNTS): \"12345\""},
		{name: "organisation IDs", yaml: good, env: map[string]string{"KEYLEAK_AWS_ORGANIZATIONS": "o-a1b2c3d4e5"},
			check: func(t *testing.T, c Config) {
				if o := c.awsOptions(time.Now, nil).Organizations; strings.Join(o, ",") != "o-a1b2c3d4e5" {
					t.Errorf("the AWS client's organizations = %v", o)
				}
			}},
		{name: "bad organisation", yaml: good + "aws:\n  organizations: ['123456789012']\n", err: "aws.organizations (KEYLEAK_AWS_ORGANIZATIONS): \"123456789012\""},
		{name: "athena", yaml: good + "aws:\n  trail_bucket: org-trail\n  athena:\n    account: '111122223333'\n    table: trail_2026\n",
			env: map[string]string{"KEYLEAK_AWS_ATHENA_BUDGET_BYTES": "10737418240", "KEYLEAK_AWS_ATHENA_REGION": "eu-west-1"},
			check: func(t *testing.T, c Config) {
				o := c.AWS.Athena.options()
				if o == nil || o.BudgetBytes != 10<<30 || o.Account != "111122223333" || o.Region != "eu-west-1" || o.Table != "trail_2026" || o.Workgroup != "" {
					t.Errorf("athena options = %+v", o)
				}
			}},
		{name: "athena off without a budget", yaml: good + "aws:\n  athena:\n    workgroup: keyleak\n", check: func(t *testing.T, c Config) {
			if o := c.AWS.Athena.options(); o != nil {
				t.Errorf("athena options = %+v without aws.athena.budget_bytes, want none", o)
			}
		}},
		{name: "athena without the trail bucket", yaml: good + "aws:\n  athena:\n    budget_bytes: 1000\n", err: "set aws.trail_bucket too"},
		{name: "athena bad settings", yaml: good + "aws:\n  trail_bucket: org-trail\n  athena:\n    budget_bytes: 1000\n    table: Trail-2026\n    output_location: https://x/\n", err: "aws.athena.table"},
		{name: "athena budget not a number", yaml: good, env: map[string]string{"KEYLEAK_AWS_ATHENA_BUDGET_BYTES": "10GB"}, err: "KEYLEAK_AWS_ATHENA_BUDGET_BYTES"},
		{name: "trail bucket a replica", yaml: good + "aws:\n  trail_bucket: security-copy\n  trail_source_bucket: org-trail\n", check: func(t *testing.T, c Config) {
			if c.AWS.TrailSource != "org-trail" {
				t.Errorf("aws.trail_source_bucket = %q", c.AWS.TrailSource)
			}
		}},
		{name: "trail source without the trail bucket", yaml: good + "aws:\n  trail_source_bucket: org-trail\n", err: "aws.trail_source_bucket (KEYLEAK_AWS_TRAIL_SOURCE_BUCKET): it names the bucket aws.trail_bucket replicates"},
		{name: "trail source the trail bucket itself", yaml: good + "aws:\n  trail_bucket: org-trail\n  trail_source_bucket: org-trail\n", err: "is aws.trail_bucket itself"},
		{name: "trail bucket not a bucket name", yaml: good, env: map[string]string{"KEYLEAK_AWS_TRAIL_BUCKET": "s3://org-trail"},
			err: `aws.trail_bucket (KEYLEAK_AWS_TRAIL_BUCKET): "s3://org-trail" is not an S3 bucket name`},
		{name: "trail source not a bucket name", yaml: good, env: map[string]string{"KEYLEAK_AWS_TRAIL_BUCKET": "copy", "KEYLEAK_AWS_TRAIL_SOURCE_BUCKET": "org trail"},
			err: `aws.trail_source_bucket (KEYLEAK_AWS_TRAIL_SOURCE_BUCKET): "org trail" is not an S3 bucket name`},
		{name: "trail buckets of old names and access points", yaml: good, env: map[string]string{"KEYLEAK_AWS_TRAIL_BUCKET": "arn:aws:s3::111122223333:accesspoint/mfzwi23gnjvgw.mrap", "KEYLEAK_AWS_TRAIL_SOURCE_BUCKET": "Org_Trail.2009"},
			check: func(t *testing.T, c Config) {
				if c.AWS.TrailSource != "Org_Trail.2009" {
					t.Errorf("aws.trail_source_bucket = %q", c.AWS.TrailSource)
				}
			}},
		{name: "several problems at once", yaml: "database: ''\nlog_level: x\n", err: "database (KEYLEAK_DATABASE)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(writeFile(t, "keyleak.yaml", tt.yaml), envFrom(tt.env))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	c := defaultConfig()
	c.Slack.SigningSecret = "very-secret-signing"
	c.Slack.BotToken = "xoxb-very-secret-token"
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %+v %#v %s", c, c, c, c.Slack.BotToken)
	json.NewEncoder(&buf).Encode(c)
	newLogger(&buf, "debug").Info("config", "config", c, "token", c.Slack.BotToken)
	for _, s := range []string{"very-secret-signing", "very-secret-token"} {
		if strings.Contains(buf.String(), s) {
			t.Fatalf("secret %q printed: %s", s, buf.String())
		}
	}
}

// testApp starts keyleak serve on loopback ports with a fresh database.
func testApp(tb testing.TB) (*App, string, func()) {
	tb.Helper()
	cfg := defaultConfig()
	cfg.Database = filepath.Join(tb.TempDir(), "keyleak.db")
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Approvals.Responders = []string{"alice@example.com"}
	app, err := NewApp(cfg, newLogger(io.Discard, "info"), time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	waitHTTP(tb, "http://"+app.Addr()+"/readyz")
	return app, cfg.Database, func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("run: %v", err)
		}
		app.Close()
	}
}

func waitHTTP(tb testing.TB, url string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed check
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not ready: %v", url, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(tb testing.TB, url string) (int, string) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeProbesAndMetrics(t *testing.T) {
	app, _, stop := testApp(t)
	defer stop()
	base := "http://" + app.Addr()
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "go_goroutines"} {
		code, body := get(t, base+path)
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d %q, want 200 containing %q", path, code, body, want)
		}
	}
	if code, _ := get(t, base+"/backup"); code != http.StatusNotFound {
		t.Errorf("backup on the public listener: %d, want 404", code)
	}
}

func TestCLIWhileServing(t *testing.T) {
	app, dbPath, stop := testApp(t)
	defer stop()
	var id string
	err := app.store.Update(func(tx *state.Tx) error {
		inc, _, err := tx.Report(state.NewIncident{AccessKeyID: "AKIAQYLPMN5HHHFPZAM2", Reporter: state.Actor{ID: "U1", Name: "Alice"}, At: time.Now()})
		id = inc.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	env := envFrom(map[string]string{"KEYLEAK_DATABASE": dbPath, "KEYLEAK_ADMIN_LISTEN": app.AdminAddr(), "KEYLEAK_RESPONDERS": "alice@example.com"})
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, &out, &errOut, env)
		return code, out.String(), errOut.String()
	}
	if code, out, errOut := run("incidents", "list"); code != 0 || !strings.Contains(out, "AKIAQYLPMN5HHHFPZAM2") {
		t.Errorf("incidents list = %d %q %q", code, out, errOut)
	}
	if code, out, errOut := run("incidents", "show", strings.ToLower(id)); code != 0 || !strings.Contains(out, "opened the incident") {
		t.Errorf("incidents show = %d %q %q", code, out, errOut)
	}
	if code, out, errOut := run("incidents", "report", strings.ToLower(id)); code != 0 || !strings.Contains(out, "# Incident report") || !strings.Contains(out, "opened the incident") {
		t.Errorf("incidents report = %d %q %q", code, out, errOut)
	}
	if code, _, errOut := run("incidents", "show", "KL-1999-0001"); code != 1 || !strings.Contains(errOut, "no incident KL-1999-0001") {
		t.Errorf("show unknown = %d %q", code, errOut)
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	if code, out, errOut := run("backup", dst); code != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("backup = %d %q %q", code, out, errOut)
	}
	b, err := state.Open(dst, state.Options{})
	if err != nil {
		t.Fatalf("backup does not open: %v", err)
	}
	defer b.Close()
	if err := b.View(func(tx *state.Tx) error { _, err := tx.OpenIncidentFor("AKIAQYLPMN5HHHFPZAM2"); return err }); err != nil {
		t.Errorf("backup lacks the incident: %v", err)
	}
	if code, _, errOut := run("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command = %d %q", code, errOut)
	}
}

const serveChildEnv = "KEYLEAK_TEST_SERVE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(serveChildEnv) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestSIGTERMShutsDownCleanly runs the real main in a child process,
// sends SIGTERM and checks it exits 0 having closed the database, which
// then opens at once.
func TestSIGTERMShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keyleak.db")
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(os.Environ(), serveChildEnv+"=1", "KEYLEAK_DATABASE="+db, "KEYLEAK_LISTEN=127.0.0.1:0",
		"KEYLEAK_ADMIN_LISTEN=127.0.0.1:0", "KEYLEAK_RESPONDERS=alice@example.com")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var logs []string
	for sc.Scan() {
		logs = append(logs, sc.Text())
		if strings.Contains(sc.Text(), "keyleak serving") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		logs = append(logs, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v; log:\n%s", err, strings.Join(logs, "\n"))
	}
	all := strings.Join(logs, "\n")
	if !strings.Contains(all, `"msg":"shutting down"`) || !strings.Contains(all, `"msg":"stopped"`) {
		t.Errorf("log lacks the shutdown:\n%s", all)
	}
	s, err := state.Open(db, state.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("database not released: %v", err)
	}
	s.Close()
}

// FuzzParseConfig reads arbitrary YAML and environment values: nothing
// panics; a configuration accepted validates, and its secrets never show
// in how it prints.
func FuzzParseConfig(f *testing.F) {
	f.Add("listen: 127.0.0.1:8080\napprovals:\n  responders: [a@example.com]\n", "KEYLEAK_SLACK_BOT_TOKEN", "xoxb-1")
	f.Add("database: /tmp/x.db\napprovals:\n  responders: [a@example.com]\n  expiry: 10m\n", "KEYLEAK_APPROVAL_EXPIRY", "-1s")
	f.Add("aws:\n  protected_principals: ['arn:aws:iam::*:role/BreakGlass']\n", "KEYLEAK_AWS_PROTECTED_PRINCIPALS", "arn:aws:iam::1:role/x")
	f.Add("watch: {period: 1h, interval: 2h}\n", "KEYLEAK_RESPONDERS", "a@example.com")
	f.Add("{", "", "")
	f.Fuzz(func(t *testing.T, yaml, name, value string) {
		env := func(k string) string {
			if k == name {
				return value
			}
			if k == "KEYLEAK_RESPONDERS" && name != k {
				return "alice@example.com"
			}
			return ""
		}
		cfg, err := parseConfig([]byte(yaml), "fuzz.yaml", env)
		if err != nil {
			return
		}
		if err := cfg.validate(); err != nil {
			t.Fatalf("accepted a configuration that does not validate: %v", err)
		}
		if value != "" && len(value) > 8 && strings.HasPrefix(name, "KEYLEAK_") && strings.Contains(strings.ToLower(name), "token") {
			if printed := fmt.Sprintf("%v %+v", cfg, cfg); strings.Contains(printed, value) {
				t.Fatalf("the secret %s shows when the configuration prints", name)
			}
		}
	})
}
