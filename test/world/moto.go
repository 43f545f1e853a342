package world

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrMotoMissing reports that python3 or the moto server package is not installed.
var ErrMotoMissing = errors.New("moto is not installed: pip install 'moto[server]'")

// Moto is a running moto server process (python3 -m moto.server) on 127.0.0.1.
type Moto struct {
	url    string
	cmd    *exec.Cmd
	logger *slog.Logger
	client *http.Client
	output *tailBuffer
	exited chan struct{} // closed when the process has exited
	once   sync.Once
}

const motoStartTimeout = 30 * time.Second

// StartMoto starts moto on a free loopback port and waits until GET /moto-api/ answers 200.
// AWS managed policies (such as AWSCompromisedKeyQuarantineV3 and V4) are loaded into every account.
// The process runs in its own process group; Close kills the group.
func StartMoto(ctx context.Context, logger *slog.Logger) (*Moto, error) {
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("find python3: %w", ErrMotoMissing)
	}
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding
		m, err := startMotoOnce(ctx, logger, python)
		if err == nil {
			return m, nil
		}
		if errors.Is(err, ErrMotoMissing) || ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// motoBootstrap starts moto's server with the AWS managed policies AWS has
// published since moto's copy was made: AWSCompromisedKeyQuarantineV4
// (created 2026-11-06, default version v2). Its full document is not in
// moto; the world gives it V3's statements, which the published V4 keeps
// (its reference page opens with the same denied actions), so that what
// keyleak reads and reports of it is what it would read of the real one.
const motoBootstrap = `
import copy, json, sys
import moto.iam.models as models
data = json.loads(models.aws_managed_policies_data)
v4 = copy.deepcopy(data["AWSCompromisedKeyQuarantineV3"])
v4.update({"CreateDate": "2026-11-06T00:37:00+00:00", "UpdateDate": "2026-11-09T22:27:00+00:00", "DefaultVersionId": "v2"})
data["AWSCompromisedKeyQuarantineV4"] = v4
models.aws_managed_policies_data = json.dumps(data)
from moto.server import main
sys.argv[0] = "moto_server"
main(sys.argv[1:])
`

func startMotoOnce(ctx context.Context, logger *slog.Logger, python string) (*Moto, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	out := &tailBuffer{max: 8 << 10}
	cmd := exec.Command(python, "-c", motoBootstrap, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto: %w", err)
	}
	m := &Moto{
		url:    "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:    cmd,
		logger: logger,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}},
		output: out,
		exited: make(chan struct{}),
	}
	go func() { // owned by m: Close waits on m.exited
		_ = cmd.Wait()
		close(m.exited)
	}()
	if err := m.waitReady(ctx); err != nil {
		m.Close()
		return nil, err
	}
	logger.Debug("moto started", "url", m.url, "pid", cmd.Process.Pid)
	return m, nil
}

func (m *Moto) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, motoStartTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.exited:
			text := m.output.String()
			if strings.Contains(text, "No module named") {
				return fmt.Errorf("run python3 -m moto.server: %w", ErrMotoMissing)
			}
			return fmt.Errorf("moto exited before it was ready: %s", lastLines(text, 5))
		case <-ctx.Done():
			return fmt.Errorf("wait for moto at %s: %w", m.url, ctx.Err())
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url+"/moto-api/", nil)
		if err != nil {
			return fmt.Errorf("build moto probe: %w", err)
		}
		resp, err := m.client.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
}

// URL is moto's base URL, e.g. http://127.0.0.1:40123.
func (m *Moto) URL() string { return m.url }

// Reset wipes all of moto's state (POST /moto-api/reset).
func (m *Moto) Reset(ctx context.Context) error {
	return m.post(ctx, "/moto-api/reset", nil)
}

// SeedCostAndUsage makes Cost Explorer GetCostAndUsage in account return results, one per call,
// in order (POST /moto-api/static/ce/cost-and-usage-results). Each result is a
// GetCostAndUsage response body.
func (m *Moto) SeedCostAndUsage(ctx context.Context, account string, results []json.RawMessage) error {
	body, err := json.Marshal(map[string]any{"account_id": account, "results": results})
	if err != nil {
		return fmt.Errorf("encode cost and usage results: %w", err)
	}
	return m.post(ctx, "/moto-api/static/ce/cost-and-usage-results", body)
}

func (m *Moto) post(ctx context.Context, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build moto request %s: %w", path, err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("post moto %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post moto %s: status %d: %s", path, resp.StatusCode, msg)
	}
	return nil
}

// Close kills moto's process group and waits for the process to exit. It is safe to call twice.
func (m *Moto) Close() error {
	m.once.Do(func() {
		pid := m.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-m.exited
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL) // anything the server forked
		m.client.CloseIdleConnections()
	})
	return nil
}

// NewMotoTB starts moto for a test and closes it at cleanup. It fails the test, saying what
// to install, when python3 or moto is missing.
func NewMotoTB(tb testing.TB) *Moto {
	tb.Helper()
	m, err := StartMoto(tb.Context(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("start moto: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
