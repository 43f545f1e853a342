package test

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileBuildsStaticBinary runs the Dockerfile's own build step
// (its RUN line with go build, with the build argument filled in) and
// checks that the result is a statically linked executable, since the
// runtime image has no C library. Docker itself is not needed.
func TestDockerfileBuildsStaticBinary(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var build string
	var sawNonRoot bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build") {
			build = strings.TrimPrefix(line, "RUN ")
		}
		if strings.HasPrefix(line, "USER ") && !strings.Contains(line, "root") && !strings.HasPrefix(line, "USER 0") {
			sawNonRoot = true
		}
	}
	if build == "" {
		t.Fatal("Dockerfile has no RUN … go build line")
	}
	if !sawNonRoot {
		t.Error("Dockerfile does not switch to a non-root USER")
	}
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Errorf("build step %q does not disable cgo", build)
	}
	out := filepath.Join(t.TempDir(), "out")
	build = strings.ReplaceAll(build, "/out/", out+"/")
	build = regexp.MustCompile(`\$\{VERSION\}`).ReplaceAllString(build, "test")
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	bin, err := elf.Open(filepath.Join(out, "keyleak"))
	if err != nil {
		t.Fatalf("built file is not an ELF executable: %v", err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary asks for a dynamic loader; it would not run in the static image")
		}
	}
	if libs, _ := bin.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links %v dynamically", libs)
	}
	v, err := exec.Command(filepath.Join(out, "keyleak"), "version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "keyleak test" {
		t.Errorf("keyleak version = %q, %v; want \"keyleak test\"", v, err)
	}
}
