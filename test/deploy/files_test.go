package deploy

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// repoPath returns the absolute path of rel, a slash-separated path from
// the repository root.
func repoPath(tb testing.TB, rel string) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the test's source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", filepath.FromSlash(rel))
}

// readRepoFile reads rel from the repository.
func readRepoFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	data, err := os.ReadFile(repoPath(tb, rel))
	if err != nil {
		tb.Fatalf("read %s: %v", rel, err)
	}
	return data
}
