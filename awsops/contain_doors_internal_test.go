package awsops

import (
	"encoding/json"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail"
)

// TestWithoutDoor: closing removes from the attacker's statements only
// the principals the door admits; what the owner had stays, even when the
// attacker's document repeated it, and a statement shared with an owner's
// principal keeps that principal. With the document before the attacker's
// write, what the write added is exact; a Deny statement is never touched;
// an account is the same principal however it is written.
func TestWithoutDoor(t *testing.T) {
	const outsider = "arn:aws:iam::999988887777:root"
	owner := `{"Sid":"org-pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"ecr:BatchGetImage"}`
	theirs := `{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"` + outsider + `"},"Action":"ecr:BatchGetImage"}`
	mixed := `{"Sid":"mixed","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:role/ci","999988887777"]},"Action":"sqs:SendMessage"}`
	public := `{"Sid":"any","Effect":"Allow","Principal":"*","Action":"sns:Publish"}`
	deny := `{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`
	partner := `{"Sid":"PartnerRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:GetObject"}`
	grown := `{"Sid":"PartnerRead","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","999988887777"]},"Action":"s3:GetObject"}`
	written := `{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"ecr:BatchGetImage"}`
	gov := `{"Sid":"gov","Effect":"Allow","Principal":{"AWS":["arn:aws-us-gov:iam::123456789012:root","arn:aws-us-gov:iam::999988887777:root"]},"Action":"sts:AssumeRole"}`
	doc := func(stmts ...string) string {
		s := `{"Version":"2012-10-17","Statement":[`
		for i, st := range stmts {
			if i > 0 {
				s += ","
			}
			s += st
		}
		return s + `]}`
	}
	sids := func(t *testing.T, d string) map[string]any {
		t.Helper()
		var p struct{ Statement []map[string]any }
		if err := json.Unmarshal([]byte(d), &p); err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		for _, s := range p.Statement {
			out[s["Sid"].(string)] = s["Principal"]
		}
		return out
	}
	for _, tt := range []struct {
		name, current, attacker string
		earlier                 *string // the document before the attacker's write, when CloudTrail has it
		admitted                []string
		want                    map[string]any
		doubt                   bool
	}{
		{"the attacker's document repeats the owner's statement", doc(owner, theirs), doc(owner, theirs), nil, []string{outsider},
			map[string]any{"org-pull": map[string]any{"AWS": "arn:aws:iam::210987654321:root"}}, true},
		{"a statement shared with the owner's principal", doc(mixed), doc(mixed), nil, []string{outsider},
			map[string]any{"mixed": map[string]any{"AWS": "arn:aws:iam::123456789012:role/ci"}}, true},
		{"anyone", doc(owner, public), doc(owner, public), nil, []string{"*"},
			map[string]any{"org-pull": map[string]any{"AWS": "arn:aws:iam::210987654321:root"}}, true},
		{"CloudTrail no longer shows the document", doc(owner, theirs), "", nil, []string{outsider},
			map[string]any{"org-pull": map[string]any{"AWS": "arn:aws:iam::210987654321:root"}}, true},
		{"a statement the owner added since, naming the outsider, is not the attacker's", doc(owner, theirs), doc(owner), nil, []string{outsider},
			map[string]any{"org-pull": map[string]any{"AWS": "arn:aws:iam::210987654321:root"}, "pull": map[string]any{"AWS": outsider}}, false},
		{"a Deny naming anyone is kept", doc(deny, public), doc(deny, public), nil, []string{"*"},
			map[string]any{"DenyInsecureTransport": "*"}, true},
		{"the partner the owner had stays, known from the document before", doc(deny, partner, public, theirs), doc(deny, partner, public, theirs),
			ptr(doc(deny, partner)), []string{"arn:aws:iam::444455556666:root", "*", outsider},
			map[string]any{"DenyInsecureTransport": "*", "PartnerRead": map[string]any{"AWS": "arn:aws:iam::444455556666:root"}}, false},
		{"the attacker grew the partner's statement", doc(grown), doc(grown), ptr(doc(partner)), []string{"arn:aws:iam::444455556666:root", outsider},
			map[string]any{"PartnerRead": map[string]any{"AWS": "arn:aws:iam::444455556666:root"}}, false},
		{"there was no document before", doc(partner, public), doc(partner, public), ptr(""), []string{"arn:aws:iam::444455556666:root", "*"},
			map[string]any{}, false},
		{"the service wrote the account as its root", doc(owner, theirs), doc(owner, written), nil, []string{"999988887777"},
			map[string]any{"org-pull": map[string]any{"AWS": "arn:aws:iam::210987654321:root"}}, true},
		{"another partition", doc(gov), "", nil, []string{"999988887777"},
			map[string]any{"gov": map[string]any{"AWS": "arn:aws-us-gov:iam::123456789012:root"}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			earlier, known := "", tt.earlier != nil
			if known {
				earlier = *tt.earlier
			}
			got, doubt, err := withoutDoor(tt.current, tt.attacker, earlier, known, tt.admitted, false)
			if err != nil {
				t.Fatal(err)
			}
			if doubt != tt.doubt {
				t.Errorf("doubt = %v, want %v", doubt, tt.doubt)
			}
			gotSids, _ := json.Marshal(sids(t, got))
			want, _ := json.Marshal(tt.want)
			if string(gotSids) != string(want) {
				t.Errorf("without the door = %s, want statements %s", got, want)
			}
		})
	}
}

// TestOutsidersInWeighsConditions: a statement open to "*" but limited by
// its conditions to the account's own callers (a topic's default policy)
// admits no outsider; limited to another account, or by a condition
// keyleak cannot read, it does.
func TestOutsidersInWeighsConditions(t *testing.T) {
	e := newEvent(&trail.Record{RecipientAccountID: "123456789012"}, func(a string) bool { return a == "123456789012" })
	for _, tt := range []struct{ name, cond, want string }{
		{"the topic's default", `{"StringEquals":{"AWS:SourceOwner":"123456789012"}}`, ""},
		{"the account's own principals", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/*"}}`, ""},
		{"another account", `{"StringEquals":{"aws:PrincipalAccount":"999988887777"}}`, "*"},
		{"a wildcard account", `{"StringLike":{"aws:PrincipalAccount":"*"}}`, "*"},
		{"a negated condition pins nothing", `{"StringNotEquals":{"aws:PrincipalAccount":"123456789012"}}`, "*"},
		{"a condition keyleak cannot read", `"odd"`, "*"},
		{"no condition", `null`, "*"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sns:Publish","Resource":"*","Condition":` + tt.cond + `}]}`
			if got := e.outsidersIn(doc); got != tt.want {
				t.Errorf("outsiders = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEveryActionableKindIsChecked: verify says a door is shut or a
// resource gone only by reading it, so each type that close-doors or
// cleanup acts on has an existence check.
func TestEveryActionableKindIsChecked(t *testing.T) {
	for _, kinds := range []map[string]string{cleanupKinds, doorKinds} {
		for typ := range kinds {
			if _, ok := existsChecks[typ]; !ok {
				t.Errorf("%s has an action but no existence check: verify cannot say whether it is shut", typ)
			}
		}
	}
}

func ptr(s string) *string { return &s }

// TestQualifiedFunction: a permission added on an alias or a version is
// in that qualifier's policy: the door names the function with it, in
// every form a request may name a function.
func TestQualifiedFunction(t *testing.T) {
	for _, tt := range []struct{ name, qualifier, want string }{
		{"billing", "", "billing"},
		{"billing", "live", "billing:live"},
		{"billing:live", "live", "billing:live"},
		{"123456789012:function:billing", "7", "123456789012:function:billing:7"},
		{"123456789012:function:billing:7", "7", "123456789012:function:billing:7"},
		{"arn:aws:lambda:us-east-1:123456789012:function:billing", "live", "arn:aws:lambda:us-east-1:123456789012:function:billing:live"},
		{"arn:aws:lambda:us-east-1:123456789012:function:billing:live", "live", "arn:aws:lambda:us-east-1:123456789012:function:billing:live"},
	} {
		if got := qualifiedFunction(tt.name, tt.qualifier); got != tt.want {
			t.Errorf("qualifiedFunction(%q, %q) = %q, want %q", tt.name, tt.qualifier, got, tt.want)
		}
	}
}
