package state

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedFileIsAnError: a file damaged on disk (garbage over its
// pages, a truncated file, a file that is not a database) is refused with
// an error that names it and says to restore a backup; opening it never
// panics.
func TestDamagedFileIsAnError(t *testing.T) {
	build := func(t *testing.T) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "k.db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			report(t, s, "AKIAQYLPMN5HHHFPZA"+string(rune('A'+i%26))+string(rune('A'+i/26)), alice, t0)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	overwrite := func(t *testing.T, path string, at, n int64) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		junk := make([]byte, n)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range junk {
			junk[i] = byte(rng.UintN(256))
		}
		if _, err := f.WriteAt(junk, at); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"both meta pages", func(t *testing.T, path string) { overwrite(t, path, 0, 8192) }},
		{"data pages", func(t *testing.T, path string) { overwrite(t, path, 3*4096, 5*4096) }},
		{"truncated", func(t *testing.T, path string) {
			if err := os.Truncate(path, 6000); err != nil {
				t.Fatal(err)
			}
		}},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("keyleak ", 4096)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := build(t)
			tt.damage(t, path)
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("a damaged file opened")
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "keyleak backup") {
				t.Errorf("error = %v, want ErrDamaged naming the file and the backup to restore", err)
			}
		})
	}
}
