package main

import (
	"testing"

	"github.com/keyleak/keyleak/state"
)

func TestDoneBy(t *testing.T) {
	revoke := state.Action{Name: "revoke-sessions", Status: state.ActionSucceeded,
		Plan: []string{"iam:PutRolePolicy arn:aws:iam::123456789012:role/eks-node-role PolicyName=keyleak-revoke-KL-2026-0001 (…)"}}
	deactivated := state.Action{Name: "deactivate", Status: state.ActionSucceeded}
	undone := state.Action{Name: "deactivate", Status: state.ActionSucceeded, Undone: "KL-2026-0001-A3"}
	failed := state.Action{Name: "deactivate", Status: state.ActionFailed}
	tests := []struct {
		name     string
		followUp string
		actions  []state.Action
		want     bool
	}{
		{"deactivated", "deactivate AKIAQYLPMN5HHHFPZAM2 (then rotate it)", []state.Action{deactivated}, true},
		{"deactivation undone", "deactivate AKIAQYLPMN5HHHFPZAM2 (then rotate it)", []state.Action{undone}, false},
		{"deactivation failed", "deactivate AKIAQYLPMN5HHHFPZAM2 (then rotate it)", []state.Action{failed}, false},
		{"role revoked", "revoke the sessions of role arn:aws:iam::123456789012:role/eks-node-role issued before now: …", []state.Action{revoke}, true},
		{"another role", "revoke the sessions of role arn:aws:iam::123456789012:role/eks-node issued before now: …", []state.Action{revoke}, false},
		{"rotation is never done by an action", "rotate the credentials in config-bucket/prod.tfstate", []state.Action{revoke, deactivated}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := doneBy(tt.followUp, tt.actions); got != tt.want {
				t.Errorf("doneBy(%q) = %v, want %v", tt.followUp, got, tt.want)
			}
		})
	}
}
