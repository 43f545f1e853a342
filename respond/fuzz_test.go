package respond

import (
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// FuzzActionParams feeds arbitrary typed arguments to the actions'
// parameter readers: nothing panics; what they accept is what they say
// (role ARNs frozen as a list that reads back the same, resource IDs
// without separators, a request ID of this incident only); what they
// refuse is refused with a reply for the responder.
func FuzzActionParams(f *testing.F) {
	for _, s := range []string{
		"arn:aws:iam::123456789012:role/eks-node-role",
		"arn:aws:iam::123456789012:role/a,b --outside-tree",
		"KL-2026-0007-A1", "kl-2026-0007-a2 arn:aws:iam::123456789012:role/x",
		"i-0abc backdoor", "--outside-tree", "KL-2026-0001-A1", "", "a\tb", "arn:aws-us-gov:iam::123456789012:role/p/q",
	} {
		f.Add(s)
	}
	inc := state.Incident{ID: "KL-2026-0007"}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		for name, parse := range map[string]func([]string, state.Incident) (map[string]string, error){
			"roles": roleParams, "undo": undoParams, "cleanup": cleanupParams,
		} {
			p, err := parse(args, inc)
			if err != nil {
				if _, ok := commands.AsUserError(err); !ok {
					t.Fatalf("%s(%q): error without a reply for the responder: %v", name, args, err)
				}
				continue
			}
			if id := p[commands.ParamUndoOf]; id != "" && !strings.HasPrefix(id, inc.ID+"-A") {
				t.Fatalf("%s(%q) accepted request %q of another incident", name, args, id)
			}
			if s, ok := p[awsops.ParamRoles]; ok {
				roles := awsops.FrozenRoles(p)
				if awsops.EncodeRoles(roles) != s || len(roles) == 0 {
					t.Fatalf("%s(%q) froze %q, which reads back as %q", name, args, s, roles)
				}
				for _, r := range roles {
					if !isRoleARN(r) || !slices.Contains(args, r) {
						t.Fatalf("%s(%q) froze %q, not a typed role ARN", name, args, r)
					}
				}
			}
			for _, id := range requestedResources(p) {
				if strings.ContainsAny(id, " \t,") || !slices.Contains(args, id) {
					t.Fatalf("%s(%q) would clean up %q", name, args, id)
				}
			}
		}
	})
}
