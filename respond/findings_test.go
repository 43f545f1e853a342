package respond

import (
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/state"
)

func TestSettled(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/eks-node-role"
	revoke := state.Action{Name: ActionRevokeSessions, Status: state.ActionSucceeded, Params: map[string]string{awsops.ParamRoles: role},
		Plan: []string{"iam:PutRolePolicy " + role + " PolicyName=keyleak-revoke-KL-2026-0001 (…)"}}
	deactivated := state.Action{Name: ActionDeactivate, Status: state.ActionSucceeded}
	undone := state.Action{Name: ActionDeactivate, Status: state.ActionSucceeded, Undone: "KL-2026-0001-A3"}
	failed := state.Action{Name: ActionDeactivate, Status: state.ActionFailed}
	cleaned := state.Action{Name: ActionCleanup, Status: state.ActionSucceeded, Params: map[string]string{paramRequested: "i-0abc backdoor"}}
	deactivate := awsops.FollowUp{Kind: awsops.FollowUpDeactivateKey, Subject: "AKIAQYLPMN5HHHFPZAM2", Text: "deactivate AKIAQYLPMN5HHHFPZAM2 (then rotate it)"}
	tests := []struct {
		name     string
		followUp awsops.FollowUp
		actions  []state.Action
		want     bool
	}{
		{"deactivated", deactivate, []state.Action{deactivated}, true},
		{"deactivation undone", deactivate, []state.Action{undone}, false},
		{"deactivation failed", deactivate, []state.Action{failed}, false},
		{"role revoked", awsops.FollowUp{Kind: awsops.FollowUpRevokeSessions, Subject: role}, []state.Action{revoke}, true},
		{"another role", awsops.FollowUp{Kind: awsops.FollowUpRevokeSessions, Subject: "arn:aws:iam::123456789012:role/eks-node"}, []state.Action{revoke}, false},
		{"the user's sessions", awsops.FollowUp{Kind: awsops.FollowUpRevokeSessions, Subject: "arn:aws:iam::123456789012:user/ci-deploy-user"}, []state.Action{revoke}, true},
		{"resource deleted", awsops.FollowUp{Kind: awsops.FollowUpDeleteResource, Subject: "backdoor"}, []state.Action{cleaned}, true},
		{"another resource", awsops.FollowUp{Kind: awsops.FollowUpDeleteResource, Subject: "i-0abd"}, []state.Action{cleaned}, false},
		{"rotation is never done by an action", awsops.FollowUp{Kind: awsops.FollowUpRotateSecrets, Subject: "config-bucket/prod.tfstate"}, []state.Action{revoke, deactivated, cleaned}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := settled(tt.followUp, tt.actions); got != tt.want {
				t.Errorf("settled(%+v) = %v, want %v", tt.followUp, got, tt.want)
			}
		})
	}
}

func TestParseDays(t *testing.T) {
	tests := []struct {
		args []string
		want int
		ok   bool
	}{
		{[]string{"--days", "7"}, 7, true},
		{[]string{"--days", "90"}, 90, true},
		{[]string{"--days", "0"}, 0, false},
		{[]string{"--days", "91"}, 0, false},
		{[]string{"--days", "seven"}, 0, false},
		{[]string{"7"}, 0, false},
		{[]string{"--days"}, 0, false},
	}
	for _, tt := range tests {
		got, err := parseDays(tt.args)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDays(%q) = %d, %v; want %d, ok=%v", tt.args, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"48h", now.Add(-48 * time.Hour), true},
		{"2026-11-01T00:00:00Z", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-12-01T00:00:00Z", time.Time{}, false},
		{"-5h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
