package bot

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func goldenReplies() map[string]commands.Reply {
	at := time.Date(2026, 11, 22, 11, 30, 0, 0, time.UTC)
	inc := state.Incident{
		ID: "KL-2026-0007", AccessKeyID: "AKIAQYLPMN5HHHFPZAM2", Status: state.IncidentOpen, Severity: state.SeverityCritical,
		AccountID: "123456789012", Owner: state.Owner{Kind: state.OwnerUser, UserName: "ci-deploy-user"}, Reporter: state.Actor{ID: "U0ANA", Name: "Ana", Platform: "slack"},
		OpenedAt: at, ChatSpaceURL: "https://mail.google.com/chat/u/0/#chat/space/AAAAkl", MeetURL: "https://meet.google.com/abc-defg-hij",
	}
	a := state.Action{
		ID: "KL-2026-0007-A1", Incident: inc.ID, Name: "revoke-sessions", Status: state.ActionRequested, TwoPerson: true,
		Plan:        []string{`iam:PutRolePolicy RoleName=eks-node-role PolicyName=keyleak-revoke-KL-2026-0007 (Deny * when aws:TokenIssueTime < 2026-11-22T11:30:00Z)`},
		Impact:      []string{"eks-node-role is used by 50 nodes; sessions issued after the cutoff keep working"},
		Requester:   state.Actor{ID: "users/1", Name: "Alice"},
		RequestedAt: at, ExpiresAt: at.Add(15 * time.Minute), Digest: "d1gest",
	}
	outside := a
	outside.Warnings = []string{"OUTSIDE THE CREDENTIAL TREE: arn:aws:iam::123456789012:role/<b>ops*</b> was typed by the requester"}
	done := a
	done.Status, done.Approver, done.DecidedAt = state.ActionSucceeded, &state.Actor{ID: "users/2", Name: "Bob"}, at.Add(2*time.Minute)
	done.Result, done.RequestIDs = "1 of 1 roles revoked", []string{"7c3e2f7a-req"}
	return map[string]commands.Reply{
		"incident_card":    commands.IncidentCard(inc, []string{"ci-deploy-user can write IAM: critical", "<script>alert(1)</script> stays text"}, []commands.Button{{Label: "Deactivate key", Command: "deactivate", Style: "danger"}}),
		"action_requested": commands.ActionReply(a, at),
		"action_outside":   commands.ActionReply(outside, at),
		"action_succeeded": commands.ActionReply(done, at.Add(3*time.Minute)),
		"problem":          {Text: "There is no command \"stauts\". <!channel>", Problem: true, Private: true},
	}
}

func TestRenderGolden(t *testing.T) {
	for name, r := range goldenReplies() {
		for platform, render := range map[string]func(commands.Reply) any{
			"slack": func(r commands.Reply) any { return SlackBlocks(r) },
			"chat":  func(r commands.Reply) any { return ChatMessage(r, "card") },
		} {
			t.Run(platform+"/"+name, func(t *testing.T) {
				var got bytes.Buffer
				enc := json.NewEncoder(&got)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(render(r)); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", platform+"_"+name+".golden.json")
				if *update {
					if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./bot -run Golden -update to create it)", err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s differs from its golden file:\ngot:\n%s\nwant:\n%s", path, got.Bytes(), want)
				}
			})
		}
	}
}

// TestPageLinksCannotMentionTheChannel: a finding's link comes from
// outside (a custom event's url); whatever it holds, the page's links
// cannot end early, mention @channel or forge their text.
func TestPageLinksCannotMentionTheChannel(t *testing.T) {
	at := time.Date(2026, 11, 22, 11, 30, 0, 0, time.UTC)
	for _, u := range []string{"https://evil.example/a><!channel>", "https://evil.example/a|Approve here", "https://evil.example/?a=1&b=<!here>"} {
		inc := state.Incident{ID: "KL-2026-0001", AccessKeyID: "AKIAQYLPMN5HHHFPZAM2", Status: state.IncidentOpen, OpenedAt: at,
			ChatSpaceURL: u, MeetURL: u, Detection: &state.Detection{Detector: "com.example.scanner", Type: "github", URL: u, At: at}}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(PageBlocks(inc, "")); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		if strings.Contains(page, "<!channel>") || strings.Contains(page, "<!here>") || strings.Contains(page, "|Approve here") {
			t.Errorf("link %q reaches the page's mrkdwn raw:\n%s", u, page)
		}
		if !strings.Contains(page, "|Open the finding>") {
			t.Errorf("link %q: the finding's link is gone:\n%s", u, page)
		}
	}
}
