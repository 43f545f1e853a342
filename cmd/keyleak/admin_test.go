package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

// TestAdminRefusesForeignHosts: a request through a name that is not a
// loopback one (what a DNS-rebinding page sends) is refused, even with
// the token; so is a request without the token or with another one.
func TestAdminRefusesForeignHosts(t *testing.T) {
	app, dbPath, stop := testApp(t)
	defer stop()
	token, err := os.ReadFile(dbPath + ".admin-token")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dbPath + ".admin-token"); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("admin token file mode = %v (%v), want 0600", st.Mode().Perm(), err)
	}
	bearer := "Bearer " + strings.TrimSpace(string(token))
	tests := []struct {
		name, host, auth, path string
		want                   int
	}{
		{"rebound name with the token", "attacker.example:8081", bearer, "/backup", http.StatusMisdirectedRequest},
		{"rebound name without a port", "attacker.example", bearer, "/incidents", http.StatusMisdirectedRequest},
		{"public address", "192.0.2.10:8081", bearer, "/incidents", http.StatusMisdirectedRequest},
		{"probe through a rebound name", "attacker.example", "", "/readyz", http.StatusMisdirectedRequest},
		{"no token", "", "", "/backup", http.StatusUnauthorized},
		{"another token", "", "Bearer " + strings.Repeat("0", 64), "/incidents", http.StatusUnauthorized},
		{"token without Bearer", "", strings.TrimSpace(string(token)), "/incidents", http.StatusUnauthorized},
		{"localhost with the token", "localhost", bearer, "/incidents", http.StatusOK},
		{"loopback with the token", "", bearer, "/incidents", http.StatusOK},
		{"probe without a token", "", "", "/healthz", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+app.AdminAddr()+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s (Host %q) = %d %q, want %d", tt.path, req.Host, resp.StatusCode, body, tt.want)
			}
			if resp.StatusCode != http.StatusOK && strings.Contains(string(body), strings.TrimSpace(string(token))) {
				t.Errorf("the refusal shows the token")
			}
		})
	}
}

// TestSlowBackupReaderDoesNotBlockWrites: a client that asks for a backup
// and then stops reading holds no database transaction: keyleak goes on
// writing.
func TestSlowBackupReaderDoesNotBlockWrites(t *testing.T) {
	app, dbPath, stop := testApp(t)
	defer stop()
	// About 32 MB: more than the socket buffers hold, so that a stalled
	// reader stalls the writer of the response.
	filler := strings.Repeat("x", 1<<20)
	for i := range 32 {
		if err := app.store.Update(func(tx *state.Tx) error {
			return tx.PutFinding(fmt.Sprintf("KL-2026-%04d", i), state.FindingInvestigation, []byte(filler))
		}); err != nil {
			t.Fatal(err)
		}
	}
	token, err := readAdminToken(Config{Database: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", app.AdminAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /backup HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n", token)
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("backup status line %q: %v", status, err)
	}
	// The client reads nothing more. Writes must still go through, also
	// those that grow the file (bbolt remaps it, which waits for every
	// read transaction to end).
	done := make(chan error, 1)
	go func() {
		for i := range 64 {
			if err := app.store.Update(func(tx *state.Tx) error {
				return tx.PutFinding(fmt.Sprintf("KL-2027-%04d", i), state.FindingInvestigation, []byte(filler))
			}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // a guard against a hang, not a speed check
		t.Fatal("a write waited a minute behind a backup nobody reads")
	}
}

// TestServersCutSlowClients: a client that trickles a request body, or
// sends headers forever, loses its connection; the server does not keep
// it open for as long as the client likes.
func TestServersCutSlowClients(t *testing.T) {
	cfg := defaultConfig()
	cfg.Database = t.TempDir() + "/keyleak.db"
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Approvals.Responders = []string{"alice@example.com"}
	cfg.Slack.SigningSecret = "signing-secret"
	app, err := NewApp(cfg, newLogger(io.Discard, "info"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	app.timeouts.read, app.timeouts.readHeader = 500*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() { cancel(); <-done; app.Close() }()
	waitHTTP(t, "http://"+app.Addr()+"/readyz")
	for _, tc := range []struct{ name, head string }{
		{"trickled body", "POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 65536\r\n\r\n"},
		{"endless headers", "POST /slack/commands HTTP/1.1\r\nHost: x\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", app.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.head); err != nil {
				t.Fatal(err)
			}
			cut := make(chan struct{})
			go func() {
				defer close(cut)
				for {
					time.Sleep(100 * time.Millisecond)
					if _, err := io.WriteString(conn, "a"); err != nil {
						return
					}
					conn.SetReadDeadline(time.Now().Add(time.Millisecond))
					if _, err := conn.Read(make([]byte, 512)); err != nil && !os.IsTimeout(err) {
						return // closed by the server (or answered and closed)
					}
				}
			}()
			select {
			case <-cut:
			case <-time.After(time.Minute): // a guard against a hang, not a speed check
				t.Fatal("the server kept a trickling connection open for a minute")
			}
		})
	}
}

// TestOutboxDeadLettersListedAndRequeued: an operator lists the dead
// letters and sends one again, through the running server; an unknown ID
// is refused with a clear message.
func TestOutboxDeadLettersListedAndRequeued(t *testing.T) {
	app, dbPath, stop := testApp(t)
	defer stop()
	var id uint64
	err := app.store.Update(func(tx *state.Tx) error {
		m, _, err := tx.Enqueue(state.Message{Key: "open-mail:KL-2026-0001", Channel: "email", Kind: "open", Incident: "KL-2026-0001", CreatedAt: time.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		_, err = tx.DeadLetter(m.ID, time.Now(), "smtp answered 550")
		id = m.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	env := envFrom(map[string]string{"KEYLEAK_DATABASE": dbPath, "KEYLEAK_ADMIN_LISTEN": app.AdminAddr(), "KEYLEAK_RESPONDERS": "alice@example.com"})
	run := func(args ...string) (int, string, string) {
		var out, errOut strings.Builder
		code := Main(context.Background(), args, &out, &errOut, env)
		return code, out.String(), errOut.String()
	}
	if code, out, errOut := run("outbox", "dead"); code != 0 || !strings.Contains(out, "smtp answered 550") || !strings.Contains(out, fmt.Sprint(id)) {
		t.Fatalf("outbox dead = %d %q %q", code, out, errOut)
	}
	if code, out, errOut := run("outbox", "requeue", fmt.Sprint(id)); code != 0 || !strings.Contains(out, "requeued") {
		t.Fatalf("outbox requeue = %d %q %q", code, out, errOut)
	}
	// This keyleak sends no email, so the requeued message is delivered
	// at once and fails anew, for its own reason.
	deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed check
	for {
		code, out, _ := run("outbox", "dead", "--incident", "kl-2026-0001")
		if code == 0 && strings.Contains(out, `no notifier for channel "email"`) && !strings.Contains(out, "smtp answered 550") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the requeued message was not delivered again: %q", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _, errOut := run("outbox", "requeue", "424242"); code != 1 || !strings.Contains(errOut, "dead letter 424242") {
		t.Errorf("requeue of an unknown ID = %d %q", code, errOut)
	}
	if code, _, errOut := run("outbox", "requeue", "abc"); code != 2 || !strings.Contains(errOut, "not the number") {
		t.Errorf("requeue of a word = %d %q", code, errOut)
	}
}
