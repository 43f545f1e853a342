package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeKeyleak is a stand-in for `keyleak backup`: it records its
// arguments, takes FAKE_SLEEP seconds, and writes the file named by the
// last one, or fails.
const fakeKeyleak = `#!/bin/sh
for last; do :; done
echo "$*" >> "$FAKE_LOG"
if [ -n "${FAKE_SLEEP:-}" ]; then sleep "$FAKE_SLEEP"; fi
if [ -n "${FAKE_FAIL:-}" ]; then echo "keyleak: backup failed" >&2; exit 1; fi
echo data > "$last"
`

// backupRun is one run of keyleak-backup.sh with a fake keyleak.
type backupRun struct {
	dir, log string
	cmd      *exec.Cmd
	stderr   *bytes.Buffer
}

func startBackupLoop(tb testing.TB, env []string, existing ...string) *backupRun {
	tb.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		tb.Fatal("a POSIX sh is needed to run deploy/kubernetes/backup/keyleak-backup.sh: install dash or busybox")
	}
	tmp := tb.TempDir()
	r := &backupRun{dir: filepath.Join(tmp, "backup"), log: filepath.Join(tmp, "calls.log"), stderr: new(bytes.Buffer)}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, name := range existing {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte("old"), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	fake := filepath.Join(tmp, "keyleak")
	if err := os.WriteFile(fake, []byte(fakeKeyleak), 0o755); err != nil {
		tb.Fatal(err)
	}
	r.cmd = exec.Command(sh, repoPath(tb, "deploy/kubernetes/backup/keyleak-backup.sh"), "--config", "/etc/keyleak/keyleak.yaml")
	r.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "KEYLEAK=" + fake, "FAKE_LOG=" + r.log, "BACKUP_DIR=" + r.dir}, env...)
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	return r
}

// calls waits until the fake keyleak has been called n times and
// returns the calls.
func (r *backupRun) calls(tb testing.TB, n int) []string {
	tb.Helper()
	deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed check
	for {
		data, _ := os.ReadFile(r.log)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(data) > 0 && len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			tb.Fatalf("keyleak backup was called %d times in a minute, want %d; stderr:\n%s", len(lines), n, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM, as Kubernetes does, and returns the exit status.
func (r *backupRun) stop(tb testing.TB) int {
	tb.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	return r.wait(tb, "of SIGTERM")
}

// wait waits up to a minute for the script to exit and returns its status.
func (r *backupRun) wait(tb testing.TB, after string) int {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		tb.Fatalf("keyleak-backup.sh did not exit within a minute %s", after)
	}
	return r.cmd.ProcessState.ExitCode()
}

func (r *backupRun) files(tb testing.TB) []string {
	tb.Helper()
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

var backupName = regexp.MustCompile(`^keyleak-\d{8}T\d{6}Z\.db$`)

// SIGTERM while a backup is being written: the backup is finished and the
// old ones pruned before the loop exits.
func TestBackupLoopFinishesTheBackupUnderWay(t *testing.T) {
	old := "keyleak-20200101T000000Z.db"
	r := startBackupLoop(t, []string{"BACKUP_INTERVAL=60", "BACKUP_INITIAL_DELAY=0", "BACKUP_KEEP=1", "FAKE_SLEEP=1"}, old)
	calls := r.calls(t, 1) // under way: the fake takes a second to write
	if code := r.stop(t); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	written := filepath.Base(strings.Fields(calls[0])[3])
	if got := r.files(t); !slices.Equal(got, []string{written}) {
		t.Errorf("files after SIGTERM during a backup = %q, want the backup under way alone, %s", got, written)
	}
}

func TestBackupLoopKeepsNewest(t *testing.T) {
	old := []string{"keyleak-20200101T000000Z.db", "keyleak-20200102T000000Z.db", "keyleak-20200103T000000Z.db"}
	others := []string{"notes.txt", "keyleak-20200101T000000Z.db.tmp"}
	r := startBackupLoop(t, []string{"BACKUP_INTERVAL=1", "BACKUP_INITIAL_DELAY=0", "BACKUP_KEEP=2"}, append(old, others...)...)
	calls := r.calls(t, 3)
	if code := r.stop(t); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	for _, c := range calls {
		f := strings.Fields(c)
		if len(f) != 4 || f[0] != "backup" || f[1] != "--config" || f[2] != "/etc/keyleak/keyleak.yaml" {
			t.Errorf("call %q, want backup --config /etc/keyleak/keyleak.yaml FILE", c)
			continue
		}
		if filepath.Dir(f[3]) != r.dir || !backupName.MatchString(filepath.Base(f[3])) {
			t.Errorf("backup file %q, want %s/keyleak-YYYYMMDDTHHMMSSZ.db", f[3], r.dir)
		}
	}
	var backups []string
	for _, name := range r.files(t) {
		if backupName.MatchString(name) {
			backups = append(backups, name)
		}
	}
	if len(backups) != 2 {
		t.Errorf("backups kept = %q, want the newest 2", backups)
	}
	for _, name := range backups {
		if slices.Contains(old, name) {
			t.Errorf("old backup %s was kept over newer ones", name)
		}
	}
	for _, name := range others {
		if !slices.Contains(r.files(t), name) {
			t.Errorf("%s, not a backup, was removed", name)
		}
	}
}

func TestBackupLoopFailureRemovesNothing(t *testing.T) {
	old := []string{"keyleak-20200101T000000Z.db", "keyleak-20200102T000000Z.db"}
	r := startBackupLoop(t, []string{"BACKUP_INTERVAL=1", "BACKUP_INITIAL_DELAY=0", "BACKUP_KEEP=1", "FAKE_FAIL=1"}, old...)
	r.calls(t, 2) // it keeps trying
	if code := r.stop(t); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	if got := r.files(t); !slices.Equal(got, old) {
		t.Errorf("after failed backups the directory holds %q, want %q untouched", got, old)
	}
	if !strings.Contains(r.stderr.String(), "failed") {
		t.Errorf("stderr = %q, want the failure reported", r.stderr)
	}
}

func TestBackupLoopRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		env  []string
	}{
		{"keep not a number", []string{"BACKUP_KEEP=all"}},
		{"keep zero", []string{"BACKUP_KEEP=0"}},
		{"interval negative", []string{"BACKUP_INTERVAL=-5"}},
		{"interval zero", []string{"BACKUP_INTERVAL=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startBackupLoop(t, tt.env)
			if code := r.wait(t, "of starting with bad settings"); code != 2 {
				t.Errorf("exit status = %d, want 2; stderr: %s", code, r.stderr)
			}
			if _, err := os.Stat(r.log); err == nil {
				t.Error("keyleak backup ran despite bad settings")
			}
		})
	}
}

// TestBackupImage checks that the backup image runs the script tested
// above with keyleak's own binary as the non-root user.
func TestBackupImage(t *testing.T) {
	df := string(readRepoFile(t, "deploy/kubernetes/backup/Dockerfile"))
	for _, want := range []string{
		"COPY --from=keyleak /keyleak /keyleak",
		"COPY keyleak-backup.sh /keyleak-backup.sh",
		"USER 65532:65532",
		"KEYLEAK=/keyleak",
		`ENTRYPOINT ["/busybox/sh", "/keyleak-backup.sh"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("backup/Dockerfile lacks %q", want)
		}
	}
}
