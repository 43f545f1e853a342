package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// buildCommand builds this command into a temporary directory.
func buildCommand(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "world")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// readEnv reads exports from r until the ready line.
func readEnv(r io.Reader) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == readyLine {
			return env, nil
		}
		if k, v, ok := parseExport(line); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return env, err
	}
	return env, errors.New("output ended before the ready line")
}

// parseExport reads one `export K=V` line, V as shellQuote writes it.
func parseExport(line string) (key, value string, ok bool) {
	rest, found := strings.CutPrefix(line, "export ")
	if !found {
		return "", "", false
	}
	key, raw, found := strings.Cut(rest, "=")
	if !found || key == "" {
		return "", "", false
	}
	if !strings.HasPrefix(raw, "'") {
		return key, raw, true
	}
	if len(raw) < 2 || !strings.HasSuffix(raw, "'") {
		return "", "", false
	}
	return key, strings.ReplaceAll(raw[1:len(raw)-1], `'\''`, "'"), true
}

func TestCommandServesScenario(t *testing.T) {
	bin := buildCommand(t)
	cmd := exec.Command(bin, "-scenario", "role-chain", "-as", "responder")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start command: %v", err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	type result struct {
		env map[string]string
		err error
	}
	ready := make(chan result, 1)
	go func() { // owned by the test: it reads ready, then waits for exited, which needs stdout drained
		env, err := readEnv(stdout)
		ready <- result{env, err}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	var env map[string]string
	select {
	case res := <-ready:
		if res.err != nil {
			t.Fatalf("read environment: %v\nstderr:\n%s", res.err, stderr.String())
		}
		env = res.env
	case <-time.After(3 * time.Minute):
		t.Fatalf("no ready line within 3 minutes; stderr:\n%s", stderr.String())
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
		"KEYLEAK_LEAKED_KEY_ID", "KEYLEAK_TRAIL_BUCKET", "WORLD_MOTO_URL"} {
		if env[k] == "" {
			t.Errorf("%s not printed", k)
		}
	}

	cfg := aws.Config{
		Region: env["AWS_REGION"], BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL"]),
		Credentials: credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with the printed environment: %v", err)
	}
	if got, want := aws.ToString(out.Arn), "arn:aws:iam::123456789012:user/security-responder"; got != want {
		t.Errorf("caller = %s, want %s", got, want)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("send SIGINT: %v", err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("command exit after SIGINT: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("command still running 30s after SIGINT")
	}
	u, err := url.Parse(env["WORLD_MOTO_URL"])
	if err != nil {
		t.Fatalf("parse moto URL: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Fatalf("moto at %s still accepts connections after the command exited", u.Host)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"no flags", nil, false},
		{"scenario", []string{"-scenario", "seed"}, false},
		{"responder with scenario", []string{"-scenario", "seed", "-as", "responder"}, false},
		{"responder without scenario", []string{"-as", "responder"}, true},
		{"unknown identity", []string{"-as", "root"}, true},
		{"truth without scenario", []string{"-truth", "x.json"}, true},
		{"stray argument", []string{"seed"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
		})
	}
}

func TestUnknownScenarioExits1(t *testing.T) {
	var stderr bytes.Buffer
	if got, want := run(t.Context(), []string{"-scenario", "nope"}, io.Discard, &stderr), 1; got != want {
		t.Fatalf("exit code = %d, want %d", got, want)
	}
	if !strings.Contains(stderr.String(), "unknown scenario") {
		t.Fatalf("stderr %q does not name the problem", stderr.String())
	}
}

func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{"", "AKIA", "a b", "it's", "'''", "x=y", "$HOME", "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "\n\r") {
			return // values are single lines
		}
		line := fmt.Sprintf("export K=%s", shellQuote(s))
		k, v, ok := parseExport(line)
		if !ok || k != "K" || v != s {
			t.Fatalf("parseExport(%q) = %q, %q, %v; want K, %q", line, k, v, ok, s)
		}
	})
}
