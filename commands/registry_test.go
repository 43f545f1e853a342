package commands

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

func nop(context.Context, Request) (Reply, error) { return Reply{Text: "ok"}, nil }

func TestNewRegistryRejects(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name string
		cmds []Command
		want string
	}{
		{"duplicate", []Command{{Name: "status", Scope: InSpace, Run: nop}, {Name: "status", Scope: InSpace, Run: nop}}, "registered twice"},
		{"clash with built-in help", []Command{{Name: "help", Scope: InSpace, Run: nop}}, "registered twice"},
		{"empty name", []Command{{Name: "", Scope: InSpace, Run: nop}}, "one word"},
		{"two words", []Command{{Name: "close now", Scope: InSpace, Run: nop}}, "one word"},
		{"no run", []Command{{Name: "x", Scope: InSpace}}, "no Run"},
		{"no scope", []Command{{Name: "x", Run: nop}}, "no scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRegistry(log, tt.cmds...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func newTestRegistry(tb testing.TB, w *world) *Registry {
	tb.Helper()
	now := func() time.Time { return w.now }
	cmds := []Command{Status(w.store, now), List(w.store), Note(w.store, now), Assign(w.store, w.eng.Policy(), now)}
	cmds = append(cmds, w.eng.ActionCommands()...)
	r, err := NewRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)), cmds...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestDispatch(t *testing.T) {
	w := newWorld(t, Policy{})
	r := newTestRegistry(t, w)
	in := func(name string, args ...string) Request {
		return Request{Name: name, Args: args, Actor: bob, Scope: InSpace, Incident: w.inc.ID}
	}
	tests := []struct {
		name     string
		req      Request
		problem  bool
		contains string
	}{
		{"unknown command gets help", in("deactivat"), true, "There is no command \"deactivat\""},
		{"help lists every command", in("help"), false, "delete-key [--dry-run]"},
		{"space command from slack says where", Request{Name: "note", Args: []string{"x"}, Scope: InSlack, Actor: bob}, true, "Google Chat space"},
		{"needs incident outside a space", Request{Name: "note", Args: []string{"x"}, Scope: InSpace, Actor: bob}, true, "inside an incident's Google Chat space"},
		{"note without text", in("note"), true, "note needs text"},
		{"note", in("note", "key", "found", "in", "a", "public", "repo"), false, "Noted"},
		{"assign bad role", in("assign", "boss", "bob@example.com"), true, "not a role"},
		{"assign bad person", in("assign", "lead", "<script>"), true, "does not look like a person"},
		{"assign by unauthorised", Request{Name: "assign", Args: []string{"lead", "x@example.com"}, Actor: mallory, Scope: InSpace, Incident: w.inc.ID}, true, "not an authorised responder"},
		{"assign", in("assign", "lead", "alice@example.com"), false, "alice@example.com is now lead"},
		{"status of unknown incident", in("status", "KL-2099-0001"), true, "There is no incident KL-2099-0001"},
		{"status shows role", in("status"), false, "lead: alice@example.com"},
		{"list", in("list"), false, w.inc.ID},
		{"action takes no args", in("deactivate", "now"), true, "takes no arguments"},
		{"dry run", in("deactivate", "--dry-run"), false, "iam:UpdateAccessKey"},
		{"approve without ID", in("approve"), true, "needs the request ID"},
		{"approve of another incident", in("approve", "KL-2020-0001-A1"), true, "not a request of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Dispatch(context.Background(), tt.req)
			if got.Problem != tt.problem {
				t.Errorf("problem = %v, want %v (%+v)", got.Problem, tt.problem, got)
			}
			if flat := flatten(got); !strings.Contains(flat, tt.contains) {
				t.Errorf("reply %q does not contain %q", flat, tt.contains)
			}
		})
	}
	// The note and the assignment are in the timeline.
	kinds := w.timelineKinds(t)
	if !slices.Contains(kinds, state.EventNote) || !slices.Contains(kinds, state.EventAssigned) {
		t.Errorf("timeline %v lacks the note or the assignment", kinds)
	}
}

func flatten(r Reply) string {
	var b strings.Builder
	b.WriteString(r.Title + "\n" + r.Text + "\n")
	for _, f := range r.Fields {
		b.WriteString(f.Label + ": " + f.Value + "\n")
	}
	for _, s := range r.Sections {
		b.WriteString(s.Title + "\n" + strings.Join(s.Lines, "\n") + "\n")
	}
	return b.String()
}
