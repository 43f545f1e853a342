package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	yamlv3 "gopkg.in/yaml.v3"
)

// settings is what cmd/keyleak reads: environment variables and the keys
// of the YAML file, taken from the source rather than from a list kept by
// hand.
type settings struct {
	env     map[string]bool // KEYLEAK_* names, including KEYLEAK_<NAME>_FILE of secrets
	keys    map[string]bool // dotted YAML paths of leaf settings, e.g. "slack.page_channel"
	structs map[string]bool // dotted YAML paths of sections, e.g. "slack"
}

// readSettings parses cmd/keyleak: the env and yaml tags of Config and the
// structs it contains (KEYLEAK_ + the env tag; fields of type Secret also
// take KEYLEAK_<tag>_FILE), plus every "KEYLEAK_…" string literal, such as
// KEYLEAK_CONFIG.
func readSettings(tb testing.TB) settings {
	tb.Helper()
	dir := repoPath(tb, "cmd/keyleak")
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		tb.Fatalf("parse cmd/keyleak: %v", err)
	}
	types := map[string]*ast.StructType{}
	s := settings{env: map[string]bool{}, keys: map[string]bool{}, structs: map[string]bool{}}
	envName := regexp.MustCompile(`^KEYLEAK_[A-Z][A-Z0-9_]*$`)
	for _, p := range pkgs {
		for _, f := range p.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.TypeSpec:
					if st, ok := n.Type.(*ast.StructType); ok {
						types[n.Name.Name] = st
					}
				case *ast.BasicLit:
					if v, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && envName.MatchString(v) {
						s.env[v] = true
					}
				}
				return true
			})
		}
	}
	root, ok := types["Config"]
	if !ok {
		tb.Fatal("cmd/keyleak has no Config struct")
	}
	s.walk(root, "", types)
	return s
}

func (s settings) walk(st *ast.StructType, prefix string, types map[string]*ast.StructType) {
	for _, f := range st.Fields.List {
		if f.Tag == nil {
			continue
		}
		raw, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			continue
		}
		tag := reflect.StructTag(raw)
		key, _, _ := strings.Cut(tag.Get("yaml"), ",")
		typeName := ""
		if id, ok := f.Type.(*ast.Ident); ok {
			typeName = id.Name
		}
		if sub, ok := types[typeName]; ok && typeName != "Secret" {
			s.structs[prefix+key] = true
			s.walk(sub, prefix+key+".", types)
			continue
		}
		if key != "" {
			s.keys[prefix+key] = true
		}
		if env := tag.Get("env"); env != "" {
			s.env["KEYLEAK_"+env] = true
			if typeName == "Secret" {
				s.env["KEYLEAK_"+env+"_FILE"] = true
			}
		}
	}
}

// TestReadSettings shows the parser tells settings apart: it finds plain
// settings, secrets' _FILE variants and literal names, and nothing else.
func TestReadSettings(t *testing.T) {
	s := readSettings(t)
	tests := []struct {
		name string
		env  string
		want bool
	}{
		{"plain setting", "KEYLEAK_DATABASE", true},
		{"nested setting", "KEYLEAK_SLACK_PAGE_CHANNEL", true},
		{"secret", "KEYLEAK_SLACK_SIGNING_SECRET", true},
		{"secret from a file", "KEYLEAK_SLACK_SIGNING_SECRET_FILE", true},
		{"config file from a literal", "KEYLEAK_CONFIG", true},
		{"a non-secret has no _FILE", "KEYLEAK_DATABASE_FILE", false},
		{"invented", "KEYLEAK_NO_SUCH_SETTING", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.env[tt.env]; got != tt.want {
				t.Errorf("env[%s] = %v, want %v", tt.env, got, tt.want)
			}
		})
	}
	for _, k := range []string{"database", "approvals.responders", "slack.signing_secret", "chat.audience_type"} {
		if !s.keys[k] {
			t.Errorf("keys lacks %q", k)
		}
	}
	if s.keys["slack"] || !s.structs["slack"] {
		t.Error("slack should be a section, not a leaf setting")
	}
}

var envRef = regexp.MustCompile(`KEYLEAK_[A-Z][A-Z0-9_]*[A-Z0-9]`)

// TestDeployNamesOnlyKnownVariables reads every file under deploy/ and
// checks that each KEYLEAK_* name in it is one keyleak reads.
func TestDeployNamesOnlyKnownVariables(t *testing.T) {
	known := readSettings(t).env
	root := repoPath(t, "deploy")
	seen := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repoPath(t, ""), p)
		for _, name := range envRef.FindAllString(string(readRepoFile(t, filepath.ToSlash(rel))), -1) {
			seen++
			if !known[name] {
				t.Errorf("%s names %s, which cmd/keyleak does not read", rel, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("found no KEYLEAK_ names under deploy/; the scan is broken")
	}
}

// keyleakSettings decodes a keyleak.yaml and checks that it names only
// settings keyleak knows (keyleak refuses unknown keys at start-up).
func keyleakSettings(tb testing.TB, doc string) map[string]any {
	tb.Helper()
	var cfg map[string]any
	if err := yamlv3.Unmarshal([]byte(doc), &cfg); err != nil {
		tb.Fatalf("keyleak.yaml: %v", err)
	}
	for _, k := range unknownKeys(readSettings(tb), cfg, "") {
		tb.Errorf("keyleak.yaml sets %q, which keyleak does not know", k)
	}
	return cfg
}

func unknownKeys(s settings, m map[string]any, prefix string) []string {
	var bad []string
	for k, v := range m {
		p := prefix + k
		switch {
		case s.structs[p]:
			sub, ok := v.(map[string]any)
			if !ok {
				bad = append(bad, p+" (a section, not a value)")
				continue
			}
			bad = append(bad, unknownKeys(s, sub, p+".")...)
		case !s.keys[p]:
			bad = append(bad, p)
		}
	}
	slices.Sort(bad)
	return bad
}

func TestUnknownKeys(t *testing.T) {
	s := readSettings(t)
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"known", "database: x\nslack:\n  page_channel: C1\nchat:\n  commands:\n    \"1\": keyleak\n", nil},
		{"misspelt leaf", "databse: x\n", []string{"databse"}},
		{"misspelt nested", "slack:\n  page_chanel: C1\n", []string{"slack.page_chanel"}},
		{"section as value", "slack: yes\n", []string{"slack (a section, not a value)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := yamlv3.Unmarshal([]byte(tt.doc), &m); err != nil {
				t.Fatal(err)
			}
			if got := unknownKeys(s, m, ""); !slices.Equal(got, tt.want) {
				t.Errorf("unknownKeys = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExampleSettingsAreKnown(t *testing.T) {
	cfg := keyleakSettings(t, string(readRepoFile(t, "deploy/keyleak.example.yaml")))
	if len(cfg) == 0 {
		t.Fatal("deploy/keyleak.example.yaml is empty")
	}
}
