package main

import (
	"testing"
	"time"

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
