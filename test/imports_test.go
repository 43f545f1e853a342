package test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/keyleak/keyleak"

// pkg is what go list says of one package of the module.
type pkg struct {
	path    string
	dir     string
	imports []string // direct
	deps    []string // transitive (go list -deps)
}

// listPackages lists the module's packages as built with the build tags.
func listPackages(tb testing.TB, tags string) []pkg {
	tb.Helper()
	cmd := exec.Command("go", "list", "-tags", tags, "-f", "{{.ImportPath}}|{{.Dir}}|{{join .Imports \",\"}}|{{join .Deps \",\"}}", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			tb.Fatalf("go list line %q", line)
		}
		pkgs = append(pkgs, pkg{path: f[0], dir: f[1], imports: split(f[2]), deps: split(f[3])})
	}
	if len(pkgs) < 5 {
		tb.Fatalf("go list found only %d packages; the module layout is broken", len(pkgs))
	}
	return pkgs
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// rule forbids packages matching from (a prefix within the module, "" for
// all but the allowed) to import to, directly or transitively.
type rule struct {
	why        string
	to         string   // import path prefix
	allowed    []string // module-relative prefixes that may import it
	transitive bool
	from       []string // if set, only these module-relative prefixes are checked
}

// shipped are the packages of the keyleak binary.
var shipped = []string{"cmd", "respond", "intake", "bot", "commands", "awsops", "state"}

// rulesFor are the import rules of a build with the tags. The demo build
// (-tags demo) is the one place where a shipped package, cmd/keyleak,
// imports the local world.
func rulesFor(tags string) []rule {
	out := append([]rule(nil), rules...)
	world := rule{why: "nothing shipped depends on the test world", to: module + "/test", transitive: true, from: shipped}
	if tags == "demo" {
		world.why = "in the demo build only cmd/keyleak imports the test world"
		world.from = shipped[1:]
		out = append(out, rule{why: world.why, to: module + "/test", from: []string{"cmd"}, allowed: []string{"cmd/keyleak", "test"}})
	}
	return append(out, world)
}

var rules = []rule{
	{why: "only state uses bbolt", to: "go.etcd.io/bbolt", allowed: []string{"state"}},
	{why: "only awsops (and the local world) use the AWS SDK", to: "github.com/aws/", allowed: []string{"awsops", "test"}},
	{why: "only bot (and the local world) use slack-go", to: "github.com/slack-go/", allowed: []string{"bot", "test"}},
	{why: "only bot (and the local world) use the Google APIs", to: "google.golang.org/api", allowed: []string{"bot", "test"}},
	{why: "state depends on nothing of keyleak", to: module + "/", transitive: true, from: []string{"state"}, allowed: []string{"state"}},
	{why: "commands sits above state only", to: module + "/", transitive: true, from: []string{"commands"}, allowed: []string{"commands", "state"}},
	{why: "awsops has its own types and depends on nothing of keyleak", to: module + "/", transitive: true, from: []string{"awsops"}, allowed: []string{"awsops"}},
	{why: "bot renders commands; it does not call AWS or main", to: module + "/", transitive: true, from: []string{"bot"}, allowed: []string{"bot", "commands", "state"}},
	{why: "respond sits on awsops, commands and state", to: module + "/", transitive: true, from: []string{"respond"}, allowed: []string{"respond", "awsops", "commands", "state"}},
	{why: "intake sits on awsops, commands and state", to: module + "/", transitive: true, from: []string{"intake"}, allowed: []string{"intake", "awsops", "commands", "state"}},
	{why: "nothing below main depends on respond", to: module + "/respond", transitive: true, from: []string{"bot", "commands", "awsops", "state", "intake"}},
	{why: "nothing below main depends on intake", to: module + "/intake", transitive: true, from: []string{"bot", "commands", "awsops", "state", "respond"}},
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func hasPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// violations returns every forbidden edge in pkgs under rules.
func violations(pkgs []pkg, rules []rule) []string {
	var out []string
	for _, r := range rules {
		for _, p := range pkgs {
			from := rel(p.path)
			if len(r.from) > 0 && !hasPrefix(from, r.from) {
				continue
			}
			edges := p.imports
			if r.transitive {
				edges = p.deps
			}
			for _, imp := range edges {
				if !strings.HasPrefix(imp, r.to) {
					continue
				}
				if strings.HasPrefix(imp, module) && hasPrefix(rel(imp), r.allowed) {
					continue
				}
				if !strings.HasPrefix(imp, module) && hasPrefix(from, r.allowed) {
					continue
				}
				out = append(out, p.path+" → "+imp+": "+r.why)
			}
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	for _, tags := range []string{"", "demo"} {
		t.Run("tags="+tags, func(t *testing.T) {
			pkgs := listPackages(t, tags)
			for _, v := range violations(pkgs, rulesFor(tags)) {
				t.Error(v)
			}
			if tags == "demo" && !slices.ContainsFunc(pkgs, func(p pkg) bool {
				return p.path == module+"/cmd/keyleak" && slices.ContainsFunc(p.imports, func(i string) bool { return strings.HasPrefix(i, module+"/test/") })
			}) {
				t.Error("the demo build of cmd/keyleak imports no test package: the build tags were not applied")
			}
		})
	}
}

// TestImportRulesCatchViolations feeds the checker edges that break each
// rule, so the test above cannot pass by checking nothing.
func TestImportRulesCatchViolations(t *testing.T) {
	bad := []pkg{
		{path: module + "/commands", imports: []string{"go.etcd.io/bbolt"}, deps: []string{module + "/bot"}},
		{path: module + "/state", imports: nil, deps: []string{module + "/commands"}},
		{path: module + "/bot", imports: []string{"github.com/aws/aws-sdk-go-v2/service/iam"}, deps: []string{module + "/awsops"}},
		{path: module + "/awsops", imports: []string{"github.com/slack-go/slack"}, deps: []string{module + "/state"}},
		{path: module + "/cmd/keyleak", imports: []string{"google.golang.org/api/chat/v1"}, deps: []string{module + "/test/world"}},
		{path: module + "/respond", deps: []string{module + "/bot"}},
		{path: module + "/commands", deps: []string{module + "/respond"}},
	}
	got := strings.Join(violations(bad, rulesFor("")), "\n")
	for _, want := range []string{
		"commands → go.etcd.io/bbolt", "commands → " + module + "/bot", "state → " + module + "/commands",
		"bot → github.com/aws/", "bot → " + module + "/awsops", "awsops → github.com/slack-go/slack",
		"awsops → " + module + "/state", "cmd/keyleak → google.golang.org/api", "cmd/keyleak → " + module + "/test/world",
		"respond → " + module + "/bot", "commands → " + module + "/respond",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("checker missed %q; it found:\n%s", want, got)
		}
	}
}

// TestOnlyMainReadsEnvironment parses every non-test Go file outside
// cmd/ and test/ and fails on calls that read the environment.
func TestOnlyMainReadsEnvironment(t *testing.T) {
	for _, p := range listPackages(t, "") {
		r := rel(p.path)
		if hasPrefix(r, []string{"cmd", "test"}) {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(p.dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			for _, call := range envReads(t, f) {
				t.Errorf("%s reads the environment (%s); only cmd/keyleak may", f, call)
			}
		}
	}
}

func envReads(tb testing.TB, file string) []string {
	tb.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" {
			switch sel.Sel.Name {
			case "Getenv", "LookupEnv", "Environ", "ExpandEnv":
				found = append(found, fset.Position(sel.Pos()).String()+" os."+sel.Sel.Name)
			}
		}
		return true
	})
	return found
}

// TestDemoImportRulesCatchViolations: in the demo build cmd/keyleak may
// import the world; nothing else shipped may, directly or not.
func TestDemoImportRulesCatchViolations(t *testing.T) {
	pkgs := []pkg{
		{path: module + "/cmd/keyleak", imports: []string{module + "/test/world"}, deps: []string{module + "/test/world"}},
		{path: module + "/respond", deps: []string{module + "/test/scenario"}},
		{path: module + "/bot", imports: []string{module + "/test/slackfake"}, deps: []string{module + "/test/slackfake"}},
	}
	got := violations(pkgs, rulesFor("demo"))
	joined := strings.Join(got, "\n")
	for _, want := range []string{"respond → " + module + "/test/scenario", "bot → " + module + "/test/slackfake"} {
		if !strings.Contains(joined, want) {
			t.Errorf("checker missed %q; it found:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "cmd/keyleak →") {
		t.Errorf("the demo build's cmd/keyleak → test/world was refused:\n%s", joined)
	}
}
