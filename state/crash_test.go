package state

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "KEYLEAK_STATE_CRASH_CHILD"

// TestMain lets the crash test re-run this binary as a writer child.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild writes incidents as fast as it can, printing the number of
// each committed transaction, until it is killed.
func crashChild(path string) {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 1; ; i++ {
		err := s.Update(func(tx *Tx) error { return writeBurstRecord(tx, i) })
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "%d\n", i)
		out.Flush()
	}
}

func burstKey(i int) string { return fmt.Sprintf("AKIACRASH%011d", i) }

// writeBurstRecord is one transaction of the burst: a report, a note and
// two outbox messages that must all exist together or not at all.
func writeBurstRecord(tx *Tx, i int) error {
	at := t0.Add(time.Duration(i) * time.Second)
	inc, _, err := tx.Report(NewIncident{AccessKeyID: burstKey(i), Reporter: alice, At: at})
	if err != nil {
		return err
	}
	if _, err := tx.Append(Event{Incident: inc.ID, At: at, Actor: alice, Kind: EventNote, Text: strings.Repeat("x", 512)}); err != nil {
		return err
	}
	for _, ch := range []string{"slack", "email"} {
		if _, _, err := tx.Enqueue(Message{Key: ch + ":" + inc.ID, Channel: ch, Incident: inc.ID, CreatedAt: at}); err != nil {
			return err
		}
	}
	return nil
}

func TestCrashMidBurstKeepsEveryCommit(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crash.db")
			committed := runAndKill(t, path, 200+round*150)

			s, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("open after SIGKILL: %v", err)
			}
			defer s.Close()
			err = s.View(func(tx *Tx) error {
				for i := 1; i <= committed; i++ {
					inc, err := tx.OpenIncidentFor(burstKey(i))
					if err != nil {
						return fmt.Errorf("committed record %d lost: %w", i, err)
					}
					tl, err := tx.Timeline(inc.ID)
					if err != nil {
						return err
					}
					if len(tl) != 2 {
						return fmt.Errorf("incident %s has %d timeline entries, want 2", inc.ID, len(tl))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}

			// Every committed message is still pending; a delivery pass
			// after the restart reaches each one exactly once.
			delivered := map[string]int{}
			for {
				var due []Message
				if err := s.View(func(tx *Tx) (err error) { due, _, err = tx.Due(t0.Add(24*time.Hour), 64); return err }); err != nil {
					t.Fatal(err)
				}
				if len(due) == 0 {
					break
				}
				for _, m := range due {
					delivered[m.Key]++
					if err := s.Update(func(tx *Tx) error { return tx.Ack(m.ID) }); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(delivered) < 2*committed {
				t.Fatalf("delivered %d messages after restart, want at least %d", len(delivered), 2*committed)
			}
			for key, n := range delivered {
				if n != 1 {
					t.Errorf("message %s delivered %d times", key, n)
				}
			}
		})
	}
}

// runAndKill starts the writer child, kills it with SIGKILL once it has
// reported at least after commits, and returns the last commit it
// reported. The child may have committed one more before dying.
func runAndKill(tb testing.TB, path string, after int) int {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	last := 0
	sc := bufio.NewScanner(stdout)
	deadline := time.Now().Add(60 * time.Second)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			tb.Fatalf("child printed %q", sc.Text())
		}
		last = n
		if last >= after {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				tb.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			tb.Fatalf("child reached only %d commits in 60s", last)
		}
	}
	for sc.Scan() {
		if n, err := strconv.Atoi(sc.Text()); err == nil {
			last = n
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		tb.Fatalf("child did not die by SIGKILL: %v", err)
	}
	if last < after {
		tb.Fatalf("child committed %d records, want at least %d", last, after)
	}
	return last
}
