package googlefake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The discovery documents that ship inside google.golang.org/api describe
// every method, parameter and field of the real APIs. The fake checks each
// request against them, so a request the real service would refuse for its
// shape is refused here too.

// schema is a discovery JSON schema; only the parts used for validation.
type schema struct {
	ID                   string             `json:"id"`
	Type                 string             `json:"type"`
	Ref                  string             `json:"$ref"`
	Format               string             `json:"format"`
	Enum                 []string           `json:"enum"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties *schema            `json:"additionalProperties"`
}

type param struct {
	Type     string   `json:"type"`
	Location string   `json:"location"`
	Enum     []string `json:"enum"`
	Repeated bool     `json:"repeated"`
}

type resource struct {
	Methods map[string]struct {
		ID         string            `json:"id"`
		HTTPMethod string            `json:"httpMethod"`
		FlatPath   string            `json:"flatPath"`
		Path       string            `json:"path"`
		Parameters map[string]*param `json:"parameters"`
		Request    *struct {
			Ref string `json:"$ref"`
		} `json:"request"`
	} `json:"methods"`
	Resources map[string]*resource `json:"resources"`
}

// api is one parsed discovery document.
type api struct {
	params  map[string]*param // global query parameters (alt, prettyPrint, …)
	schemas map[string]*schema
	methods []*method
}

// method is one API method with its path template split into segments.
type method struct {
	api        *api
	id         string // e.g. "chat.spaces.messages.create"
	httpMethod string
	segments   []string
	params     map[string]*param
	request    string // schema name of the body, "" when none
}

// discovery is every API the fake serves.
type discovery struct {
	apis []*api
}

// findAPIDir locates the google.golang.org/api module directory.
func findAPIDir(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate google.golang.org/api with go list (run inside the keyleak module or set Config.APIDir): %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("locate google.golang.org/api: go list printed no directory (is the module downloaded?)")
	}
	return dir, nil
}

// loadDiscovery parses the Chat v1 and Meet v2 documents under apiDir.
func loadDiscovery(apiDir string) (*discovery, error) {
	var d discovery
	for _, rel := range []string{"chat/v1/chat-api.json", "meet/v2/meet-api.json"} {
		b, err := os.ReadFile(filepath.Join(apiDir, rel))
		if err != nil {
			return nil, fmt.Errorf("load discovery document: %w", err)
		}
		a, err := parseAPI(b)
		if err != nil {
			return nil, fmt.Errorf("parse discovery document %s: %w", rel, err)
		}
		d.apis = append(d.apis, a)
	}
	return &d, nil
}

func parseAPI(b []byte) (*api, error) {
	var doc struct {
		Parameters map[string]*param    `json:"parameters"`
		Schemas    map[string]*schema   `json:"schemas"`
		Resources  map[string]*resource `json:"resources"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	a := &api{params: doc.Parameters, schemas: doc.Schemas}
	var walk func(map[string]*resource)
	walk = func(rs map[string]*resource) {
		for _, r := range rs {
			for _, m := range r.Methods {
				tmpl := m.FlatPath
				if tmpl == "" {
					tmpl = m.Path
				}
				mm := &method{api: a, id: m.ID, httpMethod: m.HTTPMethod, segments: strings.Split(tmpl, "/"), params: m.Parameters}
				if m.Request != nil {
					mm.request = m.Request.Ref
				}
				a.methods = append(a.methods, mm)
			}
			walk(r.Resources)
		}
	}
	walk(doc.Resources)
	if len(a.methods) == 0 {
		return nil, errors.New("no methods")
	}
	return a, nil
}

// match finds the method for an HTTP method and a path such as
// "v1/spaces/AAAA/messages".
func (d *discovery) match(httpMethod, path string) *method {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, a := range d.apis {
		for _, m := range a.methods {
			if m.httpMethod == httpMethod && m.matches(segs) {
				return m
			}
		}
	}
	return nil
}

func (m *method) matches(segs []string) bool {
	if len(segs) != len(m.segments) {
		return false
	}
	for i, tmpl := range m.segments {
		open, end := strings.IndexByte(tmpl, '{'), strings.IndexByte(tmpl, '}')
		if open < 0 || end < open {
			if segs[i] != tmpl {
				return false
			}
			continue
		}
		prefix, suffix := tmpl[:open], tmpl[end+1:]
		s := segs[i]
		if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, suffix) || len(s) <= len(prefix)+len(suffix) {
			return false
		}
		if strings.Contains(s[len(prefix):len(s)-len(suffix)], ":") {
			return false
		}
	}
	return true
}

// checkQuery refuses query parameters the method does not declare and
// values that do not fit the parameter's type or enum.
func (m *method) checkQuery(q url.Values) error {
	for name, values := range q {
		p := m.params[name]
		if p == nil || p.Location != "query" {
			p = m.api.params[name]
		}
		if p == nil || p.Location != "query" {
			return fmt.Errorf("invalid JSON payload received. Unknown name %q: Cannot bind query parameter. Field %q could not be found in request message.", name, name)
		}
		if len(values) > 1 && !p.Repeated {
			return fmt.Errorf("invalid value for parameter %q: repeated, but not a repeated field.", name)
		}
		for _, v := range values {
			if err := checkScalar(p.Type, "", p.Enum, v); err != nil {
				return fmt.Errorf("invalid value at %q (%s), %q", name, err, v)
			}
		}
	}
	return nil
}

// checkBody validates a JSON request body against the method's request schema.
func (m *method) checkBody(body []byte) error {
	if m.request == "" {
		if len(bytes.TrimSpace(body)) > 0 {
			return errors.New("invalid JSON payload received. This method takes no request body.")
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("invalid JSON payload received. %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON payload received. Unexpected data after the object.")
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("invalid JSON payload received. Expected an object.")
	}
	root := strings.ToLower(m.request[:1]) + m.request[1:]
	return m.api.checkValue(&schema{Ref: m.request}, v, root, 0)
}

func (a *api) checkValue(s *schema, v any, at string, depth int) error {
	if depth > 64 {
		return fmt.Errorf("invalid JSON payload received. Nesting too deep at '%s'.", at)
	}
	if s.Ref != "" {
		ref := a.schemas[s.Ref]
		if ref == nil {
			return fmt.Errorf("discovery document lacks schema %q", s.Ref)
		}
		s = ref
	}
	if v == nil {
		return nil // null leaves a field unset
	}
	switch s.Type {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("invalid value at '%s': Starting an object on a scalar field", at)
		}
		if s.Properties == nil && s.AdditionalProperties == nil {
			return nil // free-form object
		}
		for name, fv := range obj {
			fs := s.Properties[name]
			if fs == nil {
				fs = s.AdditionalProperties
			}
			if fs == nil {
				return fmt.Errorf("invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", name, at)
			}
			if err := a.checkValue(fs, fv, at+"."+name, depth+1); err != nil {
				return err
			}
		}
		return nil
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("invalid value at '%s': Proto field is repeated but JSON value is not a list", at)
		}
		if s.Items == nil {
			return nil
		}
		for i, item := range arr {
			if err := a.checkValue(s.Items, item, fmt.Sprintf("%s[%d]", at, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	case "any", "":
		return nil
	}
	var text string
	switch x := v.(type) {
	case string:
		text = x
		if s.Type == "boolean" || s.Type == "number" || (s.Type == "integer" && s.Format == "") {
			return fmt.Errorf("invalid value at '%s' (%s), %q", at, s.Type, x)
		}
	case json.Number:
		text = x.String()
		if s.Type == "string" && s.Format != "int64" && s.Format != "uint64" {
			return fmt.Errorf("invalid value at '%s' (TYPE_STRING), %s", at, x)
		}
	case bool:
		if s.Type != "boolean" {
			return fmt.Errorf("invalid value at '%s' (%s), %t", at, s.Type, x)
		}
		return nil
	default:
		return fmt.Errorf("invalid value at '%s': Starting an object or list on a scalar field", at)
	}
	if err := checkScalar(s.Type, s.Format, s.Enum, text); err != nil {
		return fmt.Errorf("invalid value at '%s' (%s), %q", at, err, text)
	}
	return nil
}

// checkScalar checks one scalar given as text (a query value or a JSON scalar).
func checkScalar(typ, format string, enum []string, v string) error {
	switch {
	case len(enum) > 0 && !slices.Contains(enum, v):
		return errors.New("TYPE_ENUM")
	case typ == "boolean" && v != "true" && v != "false":
		return errors.New("TYPE_BOOL")
	case typ == "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return errors.New("TYPE_INT")
		}
	case typ == "string" && (format == "int64" || format == "uint64"):
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return errors.New("TYPE_INT64")
		}
	case typ == "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return errors.New("TYPE_DOUBLE")
		}
	case typ == "string" && format == "google-datetime":
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return errors.New("TYPE_TIMESTAMP")
		}
	}
	return nil
}
