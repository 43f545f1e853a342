package world

import (
	"errors"
	"net/http"
	"syscall"
	"testing"
	"time"
)

func TestMotoLifecycle(t *testing.T) {
	m := NewMotoTB(t)
	resp, err := http.Get(m.URL() + "/moto-api/")
	if err != nil {
		t.Fatalf("get moto dashboard: %v", err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("dashboard status = %d, want %d", got, want)
	}
	if err := m.Reset(t.Context()); err != nil {
		t.Fatalf("reset: %v", err)
	}
	pid := m.cmd.Process.Pid
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	deadline := time.Now().Add(time.Minute) // a guard against a hang
	for syscall.Kill(-pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("moto process group %d still alive after Close", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := http.Get(m.URL() + "/moto-api/"); err == nil {
		t.Fatalf("moto still answers after Close")
	}
}

func TestStartMotoMissingPython(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartMoto(t.Context(), discardLogger())
	if !errors.Is(err, ErrMotoMissing) {
		t.Fatalf("StartMoto without python3: err = %v, want ErrMotoMissing", err)
	}
	if got, want := ErrMotoMissing.Error(), "moto is not installed: pip install 'moto[server]'"; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
}
