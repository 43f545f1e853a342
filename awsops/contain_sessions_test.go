package awsops_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// testSeedIncident replays seed 003: the attacker assumed eks-node-role
// hours before detection. After deactivate and revoke-sessions the
// attacker's key and session are refused, while a node that gets a new
// session keeps working (no 50-node outage).
func testSeedIncident(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	ctx := t.Context()
	now := time.Now()
	attacker := s.assume(t, s.leaked, s.roleARN, "attacker", now.Add(-3*time.Hour))
	nodeOld := s.assume(t, s.node, s.roleARN, "node-1", now.Add(-30*time.Minute))
	for name, creds := range map[string]world.Credentials{"leaked key": s.leaked, "attacker session": attacker, "node session": nodeOld} {
		if got := s.listBuckets(t, creds); got != "" {
			t.Fatalf("before containment, %s: ListBuckets error %s", name, got)
		}
	}
	before, err := s.c.Verify(ctx, s.target, awsops.VerifyOptions{Since: now.Add(-time.Hour), SessionKeys: []string{attacker.AccessKeyID}})
	if err != nil {
		t.Fatalf("verify before containment: %v", err)
	}
	if before.Contained() {
		t.Fatalf("verify before containment says contained: %+v", before)
	}

	// deactivate, then revoke-sessions: each planned, then executed.
	plan, err := s.c.PlanDeactivate(ctx, s.target)
	if err != nil {
		t.Fatalf("plan deactivate: %v", err)
	}
	n := len(s.w.Gateway.Events())
	// CloudTrail times have whole seconds: start containment on a fresh one.
	containedAt := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(containedAt))
	res, err := s.c.ExecuteDeactivate(ctx, s.target)
	if err != nil {
		t.Fatalf("deactivate: %v (done %v)", err, res.Done)
	}
	ctCallsMatch(t, s.w, n, plan, res)

	plan, err = s.c.PlanRevokeSessions(ctx, s.target)
	if err != nil {
		t.Fatalf("plan revoke-sessions: %v", err)
	}
	cutoff, err := time.Parse(time.RFC3339, plan.Params[awsops.ParamCutoff])
	if err != nil {
		t.Fatalf("cutoff %q: %v", plan.Params[awsops.ParamCutoff], err)
	}
	if !strings.Contains(strings.Join(plan.Impact, "\n"), "eks-node-role: every session issued before "+plan.Params[awsops.ParamCutoff]) {
		t.Errorf("impact does not say what happens to eks-node-role's sessions:\n%s", strings.Join(plan.Impact, "\n"))
	}
	n = len(s.w.Gateway.Events())
	res, err = s.c.ExecuteRevokeSessions(ctx, s.target, plan.Params)
	if err != nil {
		t.Fatalf("revoke-sessions: %v (done %v)", err, res.Done)
	}
	ctCallsMatch(t, s.w, n, plan, res)
	if len(plan.Calls) != 2 {
		t.Errorf("revoke-sessions planned %d calls, want 2 (user and eks-node-role): %v", len(plan.Calls), plan.Calls)
	}

	nodeNew := s.assume(t, s.node, s.roleARN, "node-2", cutoff.Add(2*time.Second))
	tests := []struct {
		name  string
		creds world.Credentials
		want  string
	}{
		{"leaked key", s.leaked, "InvalidAccessKeyId"},
		{"attacker's session from 3 hours ago", attacker, "AccessDenied"},
		{"node session issued before the cutoff", nodeOld, "AccessDenied"},
		{"node session issued after the cutoff", nodeNew, ""},
		{"node launcher's own key", s.node, ""},
	}
	for _, tt := range tests {
		if got := s.listBuckets(t, tt.creds); got != tt.want {
			t.Errorf("%s: ListBuckets error = %q, want %q", tt.name, got, tt.want)
		}
	}

	after, err := s.c.Verify(ctx, s.target, awsops.VerifyOptions{Since: containedAt, SessionKeys: []string{attacker.AccessKeyID}})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !after.Contained() {
		t.Errorf("verify after containment: problems %v", after.Problems)
	}
	if got, want := after.KeyStatus, awsops.KeyInactive; got != want {
		t.Errorf("verify key status = %q, want %q", got, want)
	}
	refused := 0
	for _, a := range after.Activity {
		if a.Refused() {
			refused++
		}
	}
	if refused < 2 {
		t.Errorf("verify saw %d refused attacker calls after containment, want the key's and the session's: %+v", refused, after.Activity)
	}
	for _, p := range after.Principals {
		if !p.Revoked || p.Cutoff != plan.Params[awsops.ParamCutoff] {
			t.Errorf("verify: %s revoked=%v cutoff=%q, want revoked at %s", p.ARN, p.Revoked, p.Cutoff, plan.Params[awsops.ParamCutoff])
		}
	}
}

// testRevokeAgain asks for revoke-sessions twice, ten minutes apart: the
// second request moves the cutoff forward and says so, and the policy
// carries the new cutoff.
func testRevokeAgain(t *testing.T, moto *world.Moto) {
	now := time.Now().UTC().Truncate(time.Second)
	s := newCTSeed(t, moto, awsops.Options{Now: func() time.Time { return now }})
	first, _ := s.run(t, ctStep{"revoke-sessions", s.c.PlanRevokeSessions, s.c.ExecuteRevokeSessions})
	now = now.Add(10 * time.Minute)
	second, _ := s.run(t, ctStep{"revoke-sessions", s.c.PlanRevokeSessions, s.c.ExecuteRevokeSessions})
	want := "already revokes sessions before " + first.Params[awsops.ParamCutoff] + " there; the cutoff moves to " + second.Params[awsops.ParamCutoff]
	if !strings.Contains(strings.Join(second.Impact, "\n"), want) {
		t.Errorf("second plan's impact does not say %q:\n%s", want, strings.Join(second.Impact, "\n"))
	}
	rep, err := s.c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Principals {
		if p.Cutoff != second.Params[awsops.ParamCutoff] {
			t.Errorf("%s cutoff = %q, want %q", p.ARN, p.Cutoff, second.Params[awsops.ParamCutoff])
		}
	}
}
