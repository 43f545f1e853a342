package awsops_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// revokedOn reports whether keyleak's revocation is on the role or user.
func (s *ctSeed) revokedOn(tb testing.TB, arn string) bool {
	tb.Helper()
	ctx := tb.Context()
	name := aws.String("keyleak-revoke-" + s.target.Incident)
	var err error
	if i := strings.Index(arn, ":role/"); i >= 0 {
		_, err = s.admin.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(arn[strings.LastIndex(arn, "/")+1:]), PolicyName: name})
	} else {
		_, err = s.admin.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(arn[strings.LastIndex(arn, "/")+1:]), PolicyName: name})
	}
	return ctErrorCode(tb, err) == ""
}

func testPartialRevoke(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	ctx := t.Context()
	roleB, roleC := s.newRole(t, "role-b"), s.newRole(t, "role-c")
	s.target.Roles = []string{s.roleARN, roleB, roleC}
	plan, err := s.c.PlanRevokeSessions(ctx, s.target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("role-c")}); err != nil {
		t.Fatal(err)
	}
	res, err := s.c.ExecuteRevokeSessions(ctx, s.target, plan.Params)
	if err == nil {
		t.Fatalf("revoke with a role gone: no error; done %v", res.Done)
	}
	if msg := err.Error(); !strings.Contains(msg, "2 of 3 roles revoked") || !strings.Contains(msg, roleC+" failed") || !strings.Contains(msg, "NoSuchEntity") {
		t.Errorf("error %q does not say precisely what failed", msg)
	}
	if strings.Contains(err.Error(), "user was not revoked") {
		t.Errorf("error %q says the user failed; it was revoked", err)
	}
	done := strings.Join(res.Done, "\n")
	for _, arn := range []string{s.target.UserARN, s.roleARN, roleB} {
		if !s.revokedOn(t, arn) || !strings.Contains(done, arn+": sessions issued before") {
			t.Errorf("%s: revoked=%v; done says:\n%s", arn, s.revokedOn(t, arn), done)
		}
	}
	if !strings.Contains(done, "2 of 3 roles revoked") {
		t.Errorf("done does not count the roles:\n%s", done)
	}

	// The role comes back (or the permission is fixed): running the same
	// approved action again completes it and redoes nothing.
	s.newRole(t, "role-c")
	n := len(s.w.Gateway.Events())
	res, err = s.c.ExecuteRevokeSessions(ctx, s.target, plan.Params)
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if got, want := ctWriteEvents(s.w, n), []string{"iam:PutRolePolicy"}; !slices.Equal(got, want) {
		t.Errorf("re-run changed %v, want only role-c's policy put", got)
	}
	if !s.revokedOn(t, roleC) || !strings.Contains(strings.Join(res.Done, "\n"), "3 of 3 roles revoked") {
		t.Errorf("re-run: role-c revoked=%v, done %v", s.revokedOn(t, roleC), res.Done)
	}
}

func testFaults(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	attacker := s.assume(t, s.leaked, s.roleARN, "attacker", time.Now().Add(-2*time.Hour))

	t.Run("latency: every action completes as planned", func(t *testing.T) {
		s.w.Gateway.SetFault("*", world.Fault{Delay: 50 * time.Millisecond})
		defer s.w.Gateway.SetFault("*", world.Fault{})
		for _, st := range ctContainSteps(s.c) {
			s.run(t, st)
		}
		for _, st := range ctUndoSteps(s.c) {
			s.run(t, st)
		}
	})

	t.Run("IAM down mid-action: says what was not done; a re-run completes", func(t *testing.T) {
		plan, err := s.c.PlanRevokeSessions(t.Context(), s.target)
		if err != nil {
			t.Fatal(err)
		}
		s.w.Gateway.SetFault("iam", world.Fault{ErrorRate: 1})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		res, err := s.c.ExecuteRevokeSessions(ctx, s.target, plan.Params)
		cancel()
		s.w.Gateway.SetFault("iam", world.Fault{})
		if err == nil {
			t.Fatalf("revoke with IAM down: no error; done %v", res.Done)
		}
		if msg := err.Error(); !strings.Contains(msg, "the user was not revoked; 0 of 1 roles revoked") || !strings.Contains(msg, s.roleARN+" failed") {
			t.Errorf("error %q does not say what was not done", msg)
		}
		if s.revokedOn(t, s.target.UserARN) || s.revokedOn(t, s.roleARN) {
			t.Errorf("a policy was put although the execution reports none")
		}
		res, err = s.c.ExecuteRevokeSessions(t.Context(), s.target, plan.Params)
		if err != nil {
			t.Fatalf("re-run: %v", err)
		}
		if !slices.Equal(res.Calls, plan.Calls) {
			t.Errorf("re-run calls %v, want the plan's %v", res.Calls, plan.Calls)
		}
		if got := s.listBuckets(t, attacker); got != "AccessDenied" {
			t.Errorf("attacker's session after the re-run: %q, want AccessDenied", got)
		}
		if _, err := s.c.ExecuteLiftRevoke(t.Context(), s.target, ctMustPlan(t, s.c.PlanLiftRevoke, s.target).Params); err != nil {
			t.Fatalf("lift: %v", err)
		}
	})

	t.Run("errors and throttling: each action completes, re-run when it says it did not", func(t *testing.T) {
		// The SDK retries with backoff; an execution cut short by its
		// deadline must say what it did not do, and the next run finishes.
		s.w.Gateway.SetFault("iam", world.Fault{ErrorRate: 0.15, ThrottleRate: 0.15})
		defer s.w.Gateway.SetFault("iam", world.Fault{})
		reruns := 0
		for _, st := range ctContainSteps(s.c) {
			var plan awsops.ActionPlan
			var err error
			for range 10 {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				plan, err = st.plan(ctx, s.target)
				cancel()
				if err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("plan %s under faults, ten times: %v", st.name, err)
			}
			for attempt := 0; ; attempt++ {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				res, err := st.exec(ctx, s.target, plan.Params)
				cancel()
				if err == nil {
					break
				}
				reruns++
				for _, c := range res.Calls {
					if !slices.Contains(plan.Calls, c) {
						t.Errorf("%s made %q, which was not planned", st.name, c)
					}
				}
				if attempt == 9 {
					t.Fatalf("%s under faults still failing after ten runs: %v", st.name, err)
				}
			}
		}
		t.Logf("re-runs needed: %d", reruns)
		s.w.Gateway.SetFault("iam", world.Fault{})
		rep, err := s.c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Contained() || rep.KeyStatus != awsops.KeyInactive || len(rep.Principals) != 2 || !rep.Principals[0].DenyAll || !rep.Principals[0].Quarantined {
			t.Errorf("after containment under faults: %+v", rep)
		}
		if got := s.listBuckets(t, attacker); got != "AccessDenied" {
			t.Errorf("attacker's session: %q, want AccessDenied", got)
		}
	})
}

func ctMustPlan(tb testing.TB, plan func(context.Context, awsops.Target) (awsops.ActionPlan, error), t awsops.Target) awsops.ActionPlan {
	tb.Helper()
	p, err := plan(tb.Context(), t)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
