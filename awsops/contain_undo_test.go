package awsops_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// ctStep is one containment action as the approval engine runs it: a plan,
// then an execution with the plan's frozen parameters.
type ctStep struct {
	name string
	plan func(context.Context, awsops.Target) (awsops.ActionPlan, error)
	exec func(context.Context, awsops.Target, map[string]string) (awsops.Result, error)
}

func ctNoParams(f func(context.Context, awsops.Target) (awsops.Result, error)) func(context.Context, awsops.Target, map[string]string) (awsops.Result, error) {
	return func(ctx context.Context, t awsops.Target, _ map[string]string) (awsops.Result, error) {
		return f(ctx, t)
	}
}

// ctContainSteps and ctUndoSteps are the reversible actions and their undos.
func ctContainSteps(c *awsops.Client) []ctStep {
	return []ctStep{
		{"deactivate", c.PlanDeactivate, ctNoParams(c.ExecuteDeactivate)},
		{"revoke-sessions", c.PlanRevokeSessions, c.ExecuteRevokeSessions},
		{"quarantine", c.PlanQuarantine, c.ExecuteQuarantine},
		{"deny-all", c.PlanDenyAll, ctNoParams(c.ExecuteDenyAll)},
	}
}

func ctUndoSteps(c *awsops.Client) []ctStep {
	return []ctStep{
		{"reactivate", c.PlanReactivate, ctNoParams(c.ExecuteReactivate)},
		{"lift-revoke", c.PlanLiftRevoke, c.ExecuteLiftRevoke},
		{"release", c.PlanRelease, ctNoParams(c.ExecuteRelease)},
		{"lift-deny-all", c.PlanLiftDenyAll, c.ExecuteLiftDenyAll},
	}
}

// run plans and executes st, checking that the execution made exactly
// the planned calls.
func (s *ctSeed) run(tb testing.TB, st ctStep) (awsops.ActionPlan, awsops.Result) {
	tb.Helper()
	plan, err := st.plan(tb.Context(), s.target)
	if err != nil {
		tb.Fatalf("plan %s: %v", st.name, err)
	}
	if plan.Noop != "" {
		tb.Fatalf("plan %s: nothing to do: %s", st.name, plan.Noop)
	}
	n := len(s.w.Gateway.Events())
	res, err := st.exec(tb.Context(), s.target, plan.Params)
	if err != nil {
		tb.Fatalf("%s: %v (done: %v)", st.name, err, res.Done)
	}
	ctCallsMatch(tb, s.w, n, plan, res)
	return plan, res
}

// addLegitimatePolicies gives the user and role policies of their own,
// which containment and its undo must leave exactly as they are.
func (s *ctSeed) addLegitimatePolicies(tb testing.TB) {
	tb.Helper()
	ctx := tb.Context()
	doc := aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	if _, err := s.admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ci-deploy-user"), PolicyName: aws.String("deploy"), PolicyDocument: doc}); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("ci-deploy-user"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("eks-node-role"), PolicyName: aws.String("nodes"), PolicyDocument: doc}); err != nil {
		tb.Fatal(err)
	}
}

func testUndoRestores(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	s.addLegitimatePolicies(t)
	before := s.snapshot(t, "ci-deploy-user", s.roleARN)
	for _, st := range ctContainSteps(s.c) {
		s.run(t, st)
	}
	contained := s.snapshot(t, "ci-deploy-user", s.roleARN)
	if reflect.DeepEqual(contained, before) {
		t.Fatalf("containment changed nothing: %+v", contained)
	}
	if got := s.listBuckets(t, s.leaked); got != "InvalidAccessKeyId" {
		t.Errorf("contained key: ListBuckets error %q, want InvalidAccessKeyId", got)
	}
	for _, st := range ctUndoSteps(s.c) {
		s.run(t, st)
	}
	if after := s.snapshot(t, "ci-deploy-user", s.roleARN); !reflect.DeepEqual(after, before) {
		t.Errorf("after undo the IAM state is\n%+v\nwant\n%+v", after, before)
	}
	if got := s.listBuckets(t, s.leaked); got != "" {
		t.Errorf("after undo, the key: ListBuckets error %q, want success", got)
	}
}

func testUndoLeavesChangedPolicy(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	ctx := t.Context()
	s.run(t, ctStep{"revoke-sessions", s.c.PlanRevokeSessions, s.c.ExecuteRevokeSessions})
	s.run(t, ctStep{"deny-all", s.c.PlanDenyAll, ctNoParams(s.c.ExecuteDenyAll)})

	// Someone edits keyleak's revocation on the role before the undo is
	// requested: the plan leaves it alone.
	edited := aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`)
	if _, err := s.admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("eks-node-role"), PolicyName: aws.String("keyleak-revoke-KL-2026-0007"), PolicyDocument: edited}); err != nil {
		t.Fatal(err)
	}
	plan, _ := s.run(t, ctStep{"lift-revoke", s.c.PlanLiftRevoke, s.c.ExecuteLiftRevoke})
	if len(plan.Calls) != 1 || !strings.Contains(plan.Calls[0], ":user/ci-deploy-user") {
		t.Errorf("lift-revoke planned %v, want only the user's policy removed", plan.Calls)
	}
	if !strings.Contains(strings.Join(plan.Impact, " "), "Left in place: keyleak-revoke-KL-2026-0007 on "+s.roleARN) {
		t.Errorf("lift-revoke impact does not say the edited policy stays: %v", plan.Impact)
	}
	if got := s.snapshot(t, "ci-deploy-user", s.roleARN).RolePolicies["eks-node-role"]; !reflect.DeepEqual(got, []string{"keyleak-revoke-KL-2026-0007"}) {
		t.Errorf("role policies after lift-revoke = %v, want the edited one kept", got)
	}

	// Someone edits the deny-all after the undo was approved: the
	// execution refuses to remove it.
	liftPlan, err := s.c.PlanLiftDenyAll(ctx, s.target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ci-deploy-user"), PolicyName: aws.String("keyleak-deny-all-KL-2026-0007"), PolicyDocument: edited}); err != nil {
		t.Fatal(err)
	}
	res, err := s.c.ExecuteLiftDenyAll(ctx, s.target, liftPlan.Params)
	if !errors.Is(err, awsops.ErrPolicyChanged) {
		t.Errorf("lift-deny-all of an edited policy: err = %v, want ErrPolicyChanged", err)
	}
	if len(res.Calls) != 0 {
		t.Errorf("lift-deny-all of an edited policy made calls %v", res.Calls)
	}
	if got := s.snapshot(t, "ci-deploy-user").UserPolicies; !reflect.DeepEqual(got, []string{"keyleak-deny-all-KL-2026-0007"}) {
		t.Errorf("user policies = %v, want the edited deny-all kept", got)
	}
}

func testIdempotent(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	ctx := t.Context()
	all := append(ctContainSteps(s.c), ctUndoSteps(s.c)...)
	all = append(all, ctStep{"deactivate", s.c.PlanDeactivate, ctNoParams(s.c.ExecuteDeactivate)},
		ctStep{"delete-key", s.c.PlanDeleteKey, ctNoParams(s.c.ExecuteDeleteKey)})
	for _, st := range all {
		plan, _ := s.run(t, st)
		n := len(s.w.Gateway.Events())
		again, err := st.exec(ctx, s.target, plan.Params)
		if err != nil {
			t.Errorf("%s again: %v", st.name, err)
		}
		if len(again.Calls) != 0 || len(ctWriteEvents(s.w, n)) != 0 {
			t.Errorf("%s again changed AWS: %v", st.name, again.Calls)
		}
		if !strings.Contains(strings.Join(again.Done, " "), "already") {
			t.Errorf("%s again says %q, want it to say it was already done", st.name, again.Done)
		}
		replan, err := st.plan(ctx, s.target)
		switch {
		case err != nil:
			t.Errorf("%s planned again: %v", st.name, err)
		case st.name == "revoke-sessions" && replan.Noop == "":
			// Asked again later, it revokes what was issued since: the
			// plan says the cutoff moves.
			if !strings.Contains(strings.Join(replan.Impact, " "), "the cutoff moves to") {
				t.Errorf("revoke-sessions planned again: %v, want a noop or the cutoff moved", replan.Impact)
			}
		case replan.Noop == "":
			t.Errorf("%s planned again: %v; want a noop", st.name, replan.Calls)
		}
	}
}
