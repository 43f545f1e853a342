package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyleak/keyleak/test/slackfake"
)

const killSecret = "kill-test-signing-secret"

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// child is keyleak serve running as its own process.
type child struct {
	cmd   *exec.Cmd
	addr  string
	admin string
}

func startServe(tb testing.TB, env []string, addr, admin string) *child {
	tb.Helper()
	c := &child{addr: addr, admin: admin}
	c.cmd = exec.Command(os.Args[0], "serve")
	c.cmd.Env = append(append(os.Environ(), serveChildEnv+"=1", "KEYLEAK_LISTEN="+addr, "KEYLEAK_ADMIN_LISTEN="+admin), env...)
	c.cmd.Stderr = os.Stderr
	if err := c.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	waitHTTP(tb, "http://"+addr+"/readyz")
	return c
}

func (c *child) kill(tb testing.TB) {
	tb.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	c.cmd.Wait()
}

// TestKillAfterAckLosesNothing acknowledges a /keyleak, kills keyleak with
// SIGKILL before the page could reach Slack, restarts it, and checks that
// the page goes out exactly once.
func TestKillAfterAckLosesNothing(t *testing.T) {
	fake := slackfake.New(slackfake.Options{
		Users:      []slackfake.User{{ID: "U0ANA", Name: "ana", Email: "ana@example.com"}},
		Channels:   []slackfake.Channel{{ID: "C0ONCALL", Name: "oncall"}},
		UserGroups: []slackfake.UserGroup{{ID: "S0ONCALL", Handle: "security-oncall"}},
	})
	defer fake.Close()
	// Slack is slow: the page cannot be out before the kill.
	fake.SetLatency("chat.postMessage", 30*time.Second)

	db := filepath.Join(t.TempDir(), "keyleak.db")
	env := []string{
		"KEYLEAK_DATABASE=" + db, "KEYLEAK_RESPONDERS=ana@example.com",
		"KEYLEAK_SLACK_SIGNING_SECRET=" + killSecret, "KEYLEAK_SLACK_BOT_TOKEN=" + fake.BotToken(),
		"KEYLEAK_SLACK_API_URL=" + fake.URL(), "KEYLEAK_SLACK_PAGE_CHANNEL=C0ONCALL",
		"KEYLEAK_SLACK_ONCALL_GROUP=security-oncall",
	}
	addr, admin := freeAddr(t), freeAddr(t)
	first := startServe(t, env, addr, admin)
	res, err := fake.SendSlashCommand(context.Background(), "http://"+addr+"/slack/commands", []byte(killSecret), url.Values{"text": {"AKIAQYLPMN5HHHFPZAM2"}})
	if err != nil || res.Error != "" || !strings.Contains(string(res.Body), "Opened KL-") {
		t.Fatalf("slash command: %v %+v %s", err, res, res.Body)
	}
	first.kill(t)
	if pages := pageCount(fake); pages != 0 {
		t.Fatalf("%d pages before the restart; the test needs the kill to come first", pages)
	}

	fake.SetLatency("chat.postMessage", 0)
	startServe(t, env, addr, admin)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fake.Await(ctx, func() bool { return pageCount(fake) >= 1 }); err != nil {
		t.Fatalf("no page after the restart: %v", err)
	}
	// Wait until nothing is pending, then count again.
	deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed check
	id := regexp.MustCompile(`KL-\d{4}-\d{4,}`).FindString(string(res.Body))
	for pendingMessages(t, admin, db, id) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := pageCount(fake); n != 1 {
		t.Errorf("%d pages after the restart, want exactly 1", n)
	}
}

func pageCount(f *slackfake.Server) int {
	n := 0
	for _, m := range f.Messages("C0ONCALL") {
		if !m.FromResponseURL && m.EphemeralTo == "" {
			n++
		}
	}
	return n
}

func pendingMessages(tb testing.TB, admin, db, id string) int {
	tb.Helper()
	token, err := readAdminToken(Config{Database: db})
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+admin+"/incidents/"+id, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var d incidentDetail
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		tb.Fatal(err)
	}
	return len(d.Pending)
}
