package deploy

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v4"
	"github.com/awslabs/goformation/v4/cloudformation/iam"
	"github.com/awslabs/goformation/v4/intrinsics"
)

const (
	// goformation resolves AWS::AccountId to this account.
	testAccount   = "123456789012"
	quarantineARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine*"
	responderARN  = "arn:aws:iam::" + testAccount + ":role/KeyleakResponder"
)

// responderParams are the stack parameters a test deploys with.
type responderParams struct {
	botRoleARN, externalID string
	protected              []string
	detachForCleanup       bool
	restoreTrust           bool
}

// responderTemplate is responder-role.yaml with its intrinsic functions
// resolved for p: the role and its two policy documents.
type responderTemplate struct {
	role   *iam.Role
	trust  policy
	inline policy
}

func parseResponder(tb testing.TB, p responderParams) responderTemplate {
	tb.Helper()
	data := readRepoFile(tb, "deploy/aws/responder-role.yaml")
	protected := make([]any, len(p.protected))
	for i, a := range p.protected {
		protected[i] = a
	}
	// goformation v4 does not know AWS::Partition; resolve it in Fn::Sub
	// (the only place the template uses it) before the usual handler.
	sub := func(name string, input any, template any) any {
		if s, ok := input.(string); ok {
			input = strings.ReplaceAll(s, "${AWS::Partition}", "aws")
		}
		return intrinsics.FnSub(name, input, template)
	}
	opts := &intrinsics.ProcessorOptions{
		EvaluateConditions:        true,
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Fn::Sub": sub},
		ParameterOverrides: map[string]any{
			"BotRoleARN":             p.botRoleARN,
			"ExternalID":             p.externalID,
			"ProtectedPrincipalARNs": protected,
			"CleanupDetachesUsers":   map[bool]string{true: "true", false: "false"}[p.detachForCleanup],
			"RestoreTrustPolicies":   map[bool]string{true: "true", false: "false"}[p.restoreTrust],
		},
	}
	// goformation decodes resources strictly: a property the resource type
	// does not have is an error, as it is in CloudFormation.
	tpl, err := goformation.ParseYAMLWithOptions(data, opts)
	if err != nil {
		tb.Fatalf("responder-role.yaml: %v", err)
	}
	for name, param := range map[string]string{"BotRoleARN": "String", "ExternalID": "String", "ProtectedPrincipalARNs": "CommaDelimitedList", "CleanupDetachesUsers": "String", "RestoreTrustPolicies": "String"} {
		if got := tpl.Parameters[name].Type; got != param {
			tb.Errorf("parameter %s has type %q, want %s", name, got, param)
		}
	}
	role, err := tpl.GetIAMRoleWithName("KeyleakResponderRole")
	if err != nil {
		tb.Fatalf("responder-role.yaml: %v", err)
	}
	rt := responderTemplate{role: role, trust: cfnPolicy(tb, role.AssumeRolePolicyDocument, trustPolicy)}
	if len(role.Policies) != 1 {
		tb.Fatalf("the role has %d inline policies, want 1", len(role.Policies))
	}
	rt.inline = cfnPolicy(tb, role.Policies[0].PolicyDocument, identityPolicy)
	return rt
}

// cfnPolicy decodes a policy document from a resolved template. A
// statement that resolved to AWS::NoValue (goformation: null) is one
// CloudFormation leaves out.
func cfnPolicy(tb testing.TB, doc any, kind policyKind) policy {
	tb.Helper()
	m, ok := doc.(map[string]any)
	if !ok {
		tb.Fatalf("policy document is %T, not an object", doc)
	}
	if list, ok := m["Statement"].([]any); ok {
		m["Statement"] = slices.DeleteFunc(list, func(s any) bool { return s == nil })
	}
	data, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := decodePolicy(data)
	if err != nil {
		tb.Fatal(err)
	}
	if err := validatePolicy(p, kind); err != nil {
		tb.Fatal(err)
	}
	return p
}

var responderCases = []struct {
	name   string
	params responderParams
}{
	{"break-glass roles and users", responderParams{
		botRoleARN:       "arn:aws:iam::111122223333:role/keyleak-bot",
		externalID:       "keyleak-4f9c2d7e1a6b",
		protected:        []string{"arn:aws:iam::*:role/BreakGlass", "arn:aws:iam::" + testAccount + ":user/emergency-admin"},
		detachForCleanup: true,
		restoreTrust:     true,
	}},
	{"nothing else protected, quarantine-only detach", responderParams{
		botRoleARN: "arn:aws:iam::444455556666:role/keyleak",
		externalID: "another-external-id-0042",
	}},
}

func TestResponderRoleTrust(t *testing.T) {
	for _, tc := range responderCases {
		t.Run(tc.name, func(t *testing.T) {
			rt := parseResponder(t, tc.params)
			if rt.role.RoleName != "KeyleakResponder" {
				t.Errorf("role name = %q; the bot policy may assume only KeyleakResponder", rt.role.RoleName)
			}
			if d := rt.role.MaxSessionDuration; d < 900 || d > 3600 {
				t.Errorf("MaxSessionDuration = %d, want 15 min to 1 h", d)
			}
			if len(rt.trust.Statement) != 1 {
				t.Fatalf("trust policy has %d statements, want 1", len(rt.trust.Statement))
			}
			s := rt.trust.Statement[0]
			if s.Effect != "Allow" || !slices.Equal(s.Action, stringList{"sts:AssumeRole"}) {
				t.Errorf("trust statement = %s %q, want Allow sts:AssumeRole", s.Effect, s.Action)
			}
			want := map[string]stringList{"AWS": {tc.params.botRoleARN}}
			if !reflect.DeepEqual(s.Principal, want) {
				t.Errorf("trusted principal = %v, want only %v", s.Principal, want)
			}
			wantCond := map[string]map[string]stringList{"StringEquals": {"sts:ExternalId": {tc.params.externalID}}}
			if !reflect.DeepEqual(s.Condition, wantCond) {
				t.Errorf("trust condition = %v, want %v", s.Condition, wantCond)
			}
		})
	}
}

// wantResponderActions are the calls keyleak makes through the role.
var wantResponderActions = map[string][]string{
	"identify": {
		"iam:GetAccessKeyLastUsed", "iam:GetUser", "iam:ListAccessKeys", "iam:ListAttachedUserPolicies",
		"iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListGroupsForUser", "iam:ListAttachedGroupPolicies",
		"iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole",
		"iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:GetLoginProfile",
		"iam:SimulatePrincipalPolicy", "iam:ListMFADevices", "cloudtrail:LookupEvents", "ec2:DescribeRegions",
		"ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests", "ec2:DescribeKeyPairs", "lambda:ListFunctions", "lambda:GetFunction", "ce:GetCostAndUsage",
	},
	"contain": {
		"iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:PutUserPolicy", "iam:DeleteUserPolicy",
		"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachUserPolicy", "iam:DetachUserPolicy",
	},
	"cleanup": {
		"ec2:TerminateInstances", "ec2:CancelSpotInstanceRequests", "lambda:DeleteFunction", "iam:DeleteUser",
		"iam:DeleteLoginProfile", "iam:DeactivateMFADevice", "iam:DeleteRole", "iam:DetachRolePolicy",
		"iam:ListInstanceProfilesForRole", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile",
	},
}

// grantsPrivilege are actions that would let the role give itself or
// anyone else more access, or leave the account.
var grantsPrivilege = []string{
	"iam:AddUserToGroup", "iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:CreateAccessKey",
	"iam:CreateLoginProfile", "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:CreateRole", "iam:CreateUser",
	"iam:PassRole", "iam:PutGroupPolicy", "iam:SetDefaultPolicyVersion", "iam:UpdateAssumeRolePolicy",
	"iam:UpdateLoginProfile", "sts:AssumeRole", "iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
}

func TestResponderRolePermissions(t *testing.T) {
	for _, tc := range responderCases {
		t.Run(tc.name, func(t *testing.T) {
			p := parseResponder(t, tc.params).inline
			got := allowed(p)
			for group, actions := range wantResponderActions {
				for _, a := range actions {
					if !slices.Contains(got, a) {
						t.Errorf("%s: %s is not allowed", group, a)
					}
				}
			}
			for _, a := range got {
				if strings.ContainsAny(a, "*?") {
					t.Errorf("wildcard action %q is allowed", a)
				}
				// Rewriting a trust (close-doors) is the one grant the
				// stack may opt in to; the protected principals stay
				// denied it (TestResponderRoleDeniesProtected).
				if slices.Contains(grantsPrivilege, a) && (a != "iam:UpdateAssumeRolePolicy" || !tc.params.restoreTrust) {
					t.Errorf("%s is allowed: it grants privileges", a)
				}
			}
			// Attaching is only ever the quarantine policy; detaching too,
			// unless cleanup may detach what an attacker attached.
			conditioned := []string{"iam:AttachUserPolicy"}
			if !tc.params.detachForCleanup {
				conditioned = append(conditioned, "iam:DetachUserPolicy")
				if slices.Contains(got, "iam:RemoveUserFromGroup") {
					t.Error("iam:RemoveUserFromGroup is allowed although cleanup may not detach users")
				}
			}
			want := map[string]map[string]stringList{"ArnLike": {"iam:PolicyARN": {quarantineARN}}}
			for _, s := range p.Statement {
				for _, a := range conditioned {
					if s.Effect == "Allow" && slices.Contains(s.Action, a) && !reflect.DeepEqual(s.Condition, want) {
						t.Errorf("%s: %s allowed with condition %v, want %v", s.Sid, a, s.Condition, want)
					}
				}
				if s.Effect == "Allow" && !slices.Contains(s.Resource, "*") {
					for _, r := range s.Resource {
						if !strings.Contains(r, ":"+testAccount+":") {
							t.Errorf("%s: resource %q is outside the account the stack is in", s.Sid, r)
						}
					}
				}
			}
		})
	}
}

// TestResponderRoleDeniesProtected checks that, for every IAM write the
// role is allowed, a Deny names each protected principal and covers that
// action: the responder role itself, the StackSet execution role, and
// the parameter list.
func TestResponderRoleDeniesProtected(t *testing.T) {
	for _, tc := range responderCases {
		t.Run(tc.name, func(t *testing.T) {
			p := parseResponder(t, tc.params).inline
			var writes []string
			for _, a := range allowed(p) {
				if strings.HasPrefix(a, "iam:") && !readOnlyIAM(a) {
					writes = append(writes, a)
				}
			}
			if len(writes) == 0 {
				t.Fatal("the role is allowed no IAM writes; the check below would prove nothing")
			}
			protected := append([]string{responderARN, "arn:aws:iam::" + testAccount + ":role/stacksets-exec-*"}, tc.params.protected...)
			for _, principal := range protected {
				for _, a := range writes {
					if !denied(p, a, principal) {
						t.Errorf("%s on %s is not denied", a, principal)
					}
				}
			}
			for _, s := range p.Statement {
				if s.Effect == "Deny" && slices.Contains(s.Resource, "") {
					t.Errorf("%s denies on an empty resource", s.Sid)
				}
			}
		})
	}
}

func denied(p policy, action, resource string) bool {
	for _, s := range p.Statement {
		if s.Effect != "Deny" || !slices.Contains(s.Resource, resource) || s.Condition != nil {
			continue
		}
		if slices.ContainsFunc(s.Action, func(pat string) bool { return actionMatches(pat, action) }) {
			return true
		}
	}
	return false
}

func TestDenied(t *testing.T) {
	p := policy{Statement: []statement{
		{Effect: "Allow", Action: stringList{"iam:*"}, Resource: stringList{"arn:a"}},
		{Effect: "Deny", Action: stringList{"iam:Put*", "iam:Delete*"}, Resource: stringList{"arn:b"}},
		{Effect: "Deny", Action: stringList{"iam:*"}, Resource: stringList{"arn:c"}, Condition: map[string]map[string]stringList{"Bool": {"aws:MultiFactorAuthPresent": {"false"}}}},
	}}
	tests := []struct {
		name, action, resource string
		want                   bool
	}{
		{"matching pattern", "iam:PutRolePolicy", "arn:b", true},
		{"case-insensitive", "IAM:deleterole", "arn:b", true},
		{"other action", "iam:UpdateAccessKey", "arn:b", false},
		{"an Allow is not a deny", "iam:PutRolePolicy", "arn:a", false},
		{"a conditional deny is not unconditional", "iam:PutRolePolicy", "arn:c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := denied(p, tt.action, tt.resource); got != tt.want {
				t.Errorf("denied(%s, %s) = %v, want %v", tt.action, tt.resource, got, tt.want)
			}
		})
	}
}
