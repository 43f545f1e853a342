package test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakePython stands in for python3 and for the python3 of the virtual
// environments it makes. What it answers depends on files: moto-installed
// beside it (this interpreter has moto), and old, no-venv and index-down
// in $FAKEPY_STATE (the Python is 3.8, has no venv module, or pip cannot
// reach the package index). Every call is appended to $FAKEPY_STATE/calls.
const fakePython = `#!/bin/sh
state="${FAKEPY_STATE:?}"
here="$(cd "$(dirname "$0")" && pwd)"
echo "$here/python3 $*" >>"$state/calls"
case "$1" in
-c)
	case "$2" in
	*version_info*) [ -e "$state/old" ] && exit 1; exit 0 ;;
	*python_version*) echo 3.8.10; exit 0 ;;
	*"import moto"*)
		[ -e "$here/moto-installed" ] && exit 0
		echo "ModuleNotFoundError: No module named 'moto'" >&2; exit 1 ;;
	esac ;;
-m)
	case "$2" in
	venv)
		if [ -e "$state/no-venv" ]; then
			echo "The virtual environment was not created successfully because ensurepip is not"
			echo "available.  On Debian/Ubuntu systems, you need to install the python3-venv package"
			exit 1
		fi
		mkdir -p "$3/bin" && cp "$0" "$3/bin/python3" && exit 0 ;;
	pip)
		if [ -e "$state/index-down" ]; then
			echo "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f3>: Failed to establish a new connection: [Errno -2] Name or service not known')': /simple/moto/"
			echo "ERROR: Could not find a version that satisfies the requirement moto[server]==5.2.1 (from versions: none)"
			echo "ERROR: No matching distribution found for moto[server]==5.2.1"
			exit 1
		fi
		touch "$here/moto-installed"; exit 0 ;;
	esac ;;
esac
echo "fake python3: unexpected arguments: $*" >&2
exit 2
`

// withMotoRun is one run of scripts/with-moto in a sandbox.
type withMotoRun struct {
	code           int
	stdout, stderr string
	calls          []string // the fake interpreters' calls, with the sandbox's path as $S
}

// withMotoSandbox is a PATH with the tools the script needs and nothing
// else (no real python3), a fake python3 when python is true, and a place
// for the virtual environment.
type withMotoSandbox struct {
	dir, bin, state, venv string
	path                  string
}

func newWithMotoSandbox(t *testing.T, python bool) *withMotoSandbox {
	t.Helper()
	dir := t.TempDir()
	s := &withMotoSandbox{dir: dir, bin: filepath.Join(dir, "bin"), state: filepath.Join(dir, "state"), venv: filepath.Join(dir, "venv", "moto")}
	tools := filepath.Join(dir, "tools")
	for _, d := range []string{s.bin, s.state, tools} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range []string{"bash", "sh", "env", "dirname", "mkdir", "rm", "cp", "grep", "sed", "head", "tail", "mktemp", "touch", "cat"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("the script needs %s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(tools, tool)); err != nil {
			t.Fatal(err)
		}
	}
	s.path = tools
	if python {
		if err := os.WriteFile(filepath.Join(s.bin, "python3"), []byte(fakePython), 0o755); err != nil {
			t.Fatal(err)
		}
		s.path = s.bin + string(os.PathListSeparator) + tools
	}
	return s
}

// mark creates a marker file of the fake python: name in the state
// directory, or beside the interpreter for "moto-installed".
func (s *withMotoSandbox) mark(t *testing.T, name string) {
	t.Helper()
	dir := s.state
	if name == "moto-installed" {
		dir = s.bin
	}
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs the script with a command that prints the python3 it finds.
func (s *withMotoSandbox) run(t *testing.T, env ...string) withMotoRun {
	t.Helper()
	script, err := filepath.Abs("../scripts/with-moto")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "sh", "-c", "echo ran with $(command -v python3)")
	cmd.Env = append([]string{"PATH=" + s.path, "FAKEPY_STATE=" + s.state, "MOTO_VENV=" + s.venv, "HOME=" + s.dir}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := withMotoRun{stdout: strings.TrimSpace(strings.ReplaceAll(stdout.String(), s.dir, "$S")), stderr: strings.ReplaceAll(stderr.String(), s.dir, "$S")}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", script, err)
	}
	if data, err := os.ReadFile(filepath.Join(s.state, "calls")); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			r.calls = append(r.calls, strings.ReplaceAll(line, s.dir, "$S"))
		}
	}
	return r
}

func (r withMotoRun) called(prefix string) bool {
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// lastLine is the script's last word on standard error.
func (r withMotoRun) lastLine() string {
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	return lines[len(lines)-1]
}

// TestWithMotoFindsOrInstallsMoto runs scripts/with-moto (what make demo,
// make test and make check run through) against fake python3 executables
// that play each machine: no Python, a Python with moto, a Python without
// it with the package index reachable or not, without the venv module, too
// old, and CI, which must never install. No network is used.
func TestWithMotoFindsOrInstallsMoto(t *testing.T) {
	const pipInstall = "$S/venv/moto/bin/python3 -m pip install"
	tests := []struct {
		name    string
		python  bool
		marks   []string
		env     []string
		code    int
		stdout  string   // what the command printed; "" means it did not run
		says    []string // in the last line of standard error
		pip     bool     // pip install was called
		noVenv  bool     // no virtual environment was made
		ranWith string
	}{
		{name: "no python3", python: false, code: 1,
			says: []string{"no python3 on PATH", "install Python 3.9 or newer", "apt-get install python3 python3-venv"}, noVenv: true},
		{name: "python3 has moto", python: true, marks: []string{"moto-installed"},
			stdout: "ran with $S/bin/python3", noVenv: true},
		{name: "index reachable", python: true,
			stdout: "ran with $S/venv/moto/bin/python3", pip: true},
		{name: "index unreachable", python: true, marks: []string{"index-down"}, code: 1, pip: true,
			says: []string{"cannot install moto[server]==5.2.1", "the package index is unreachable", "PIP_INDEX_URL", "pip install 'moto[server]==5.2.1'"}},
		{name: "no venv module", python: true, marks: []string{"no-venv"}, code: 1, noVenv: true,
			says: []string{"cannot make the virtual environment", "ensurepip is not", "apt-get install python3-venv"}},
		{name: "python too old", python: true, marks: []string{"old"}, code: 1, noVenv: true,
			says: []string{"needs Python 3.9 or newer", "python3 is 3.8.10"}},
		{name: "CI never installs", python: true, env: []string{"MOTO_INSTALL=never"}, code: 1, noVenv: true,
			says: []string{"has no moto", "MOTO_INSTALL=never", "pip install 'moto[server]==5.2.1'"}},
		{name: "pinned version", python: true, env: []string{"MOTO_VERSION=5.1.0"},
			stdout: "ran with $S/venv/moto/bin/python3", pip: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newWithMotoSandbox(t, tt.python)
			for _, m := range tt.marks {
				s.mark(t, m)
			}
			r := s.run(t, tt.env...)
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d\nstderr:\n%s", r.code, tt.code, r.stderr)
			}
			if r.stdout != tt.stdout {
				t.Errorf("command printed %q, want %q", r.stdout, tt.stdout)
			}
			if tt.code != 0 {
				last := r.lastLine()
				for _, want := range tt.says {
					if !strings.Contains(last, want) {
						t.Errorf("last line %q does not say %q", last, want)
					}
				}
				if strings.Count(strings.TrimSuffix(last, "."), ". ") > 0 || !strings.HasSuffix(last, ".") {
					t.Errorf("last line %q is not one sentence", last)
				}
			}
			if got := r.called(pipInstall); got != tt.pip {
				t.Errorf("pip install called: %v, want %v; calls:\n%s", got, tt.pip, strings.Join(r.calls, "\n"))
			}
			if tt.pip {
				version := "5.2.1"
				for _, e := range tt.env {
					if v, ok := strings.CutPrefix(e, "MOTO_VERSION="); ok {
						version = v
					}
				}
				if !r.called(pipInstall) || !strings.Contains(strings.Join(r.calls, "\n"), "moto[server]=="+version) {
					t.Errorf("pip did not install moto[server]==%s; calls:\n%s", version, strings.Join(r.calls, "\n"))
				}
			}
			_, err := os.Stat(s.venv)
			if made := err == nil; made == tt.noVenv {
				t.Errorf("virtual environment made: %v, want %v", made, !tt.noVenv)
			}
		})
	}
}

// TestWithMotoReusesItsEnvironment: once moto is in the project's
// environment, later runs use it without calling pip again.
func TestWithMotoReusesItsEnvironment(t *testing.T) {
	s := newWithMotoSandbox(t, true)
	if r := s.run(t); r.code != 0 || !r.called("$S/venv/moto/bin/python3 -m pip install") {
		t.Fatalf("first run: exit %d, calls %q\n%s", r.code, r.calls, r.stderr)
	}
	if err := os.Remove(filepath.Join(s.state, "calls")); err != nil {
		t.Fatal(err)
	}
	s.mark(t, "index-down") // a second install would fail
	r := s.run(t)
	if r.code != 0 || r.stdout != "ran with $S/venv/moto/bin/python3" {
		t.Fatalf("second run: exit %d, printed %q\n%s", r.code, r.stdout, r.stderr)
	}
	if r.called("$S/venv/moto/bin/python3 -m pip") || r.called("$S/bin/python3 -m venv") {
		t.Errorf("second run made or filled the environment again: %q", r.calls)
	}
	if r.stderr != "" {
		t.Errorf("second run said %q; a found moto needs no words", r.stderr)
	}
}
