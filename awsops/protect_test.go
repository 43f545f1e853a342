package awsops_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// testProtectedSpellings: revoke-sessions, quarantine, deny-all and cleanup
// refuse every spelling of a protected principal: a path, another case of
// the name, another partition or account, an assumed-role session, a
// service-linked role with or without its path. Nothing is written.
func testProtectedSpellings(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{Protected: []string{"arn:aws:iam::*:role/BreakGlass", "arn:aws:iam::*:user/break-glass-*"}})
	ctx := t.Context()
	for _, r := range []struct{ name, path string }{{"BreakGlass", "/admin/"}, {awsops.DefaultResponderRole, "/"}} {
		if _, err := s.admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r.name), Path: aws.String(r.path), AssumeRolePolicyDocument: aws.String(ctTrustAnyone)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("break-glass-ops"), Path: aws.String("/ops/")}); err != nil {
		t.Fatal(err)
	}
	acct := world.DefaultAccount
	revoke := func(arn string) func() (awsops.ActionPlan, error) {
		return func() (awsops.ActionPlan, error) {
			tg := s.target
			tg.Roles, tg.TypedRoles = []string{arn}, true
			return s.c.PlanRevokeSessions(ctx, tg)
		}
	}
	onUser := func(plan func(awsops.Target) (awsops.ActionPlan, error), arn string) func() (awsops.ActionPlan, error) {
		return func() (awsops.ActionPlan, error) {
			tg := s.target
			tg.UserName, tg.UserARN = "break-glass-ops", arn
			return plan(tg)
		}
	}
	quarantine := func(tg awsops.Target) (awsops.ActionPlan, error) { return s.c.PlanQuarantine(ctx, tg) }
	denyAll := func(tg awsops.Target) (awsops.ActionPlan, error) { return s.c.PlanDenyAll(ctx, tg) }
	cleanup := func(kind, id string) func() (awsops.ActionPlan, error) {
		return func() (awsops.ActionPlan, error) {
			return s.c.PlanCleanup(ctx, s.target, []awsops.CleanupItem{{Kind: kind, ID: id, Account: acct, Region: "us-east-1", EventID: "e1"}})
		}
	}
	tests := []struct {
		name string
		plan func() (awsops.ActionPlan, error)
	}{
		{"responder role", revoke("arn:aws:iam::" + acct + ":role/" + awsops.DefaultResponderRole)},
		{"responder role behind a path", revoke("arn:aws:iam::" + acct + ":role/x/" + awsops.DefaultResponderRole)},
		{"responder role in lower case", revoke("arn:aws:iam::" + acct + ":role/keyleakresponder")},
		{"responder role, deep path, upper case", revoke("arn:aws:iam::" + acct + ":role/a/b/KEYLEAKRESPONDER")},
		{"responder role in GovCloud", revoke("arn:aws-us-gov:iam::" + acct + ":role/" + awsops.DefaultResponderRole)},
		{"responder role in China", revoke("arn:aws-cn:iam::" + acct + ":role/" + awsops.DefaultResponderRole)},
		{"responder role of another account", revoke("arn:aws:iam::" + world.SecondAccount + ":role/" + awsops.DefaultResponderRole)},
		{"break-glass role without its path", revoke("arn:aws:iam::" + acct + ":role/BreakGlass")},
		{"break-glass role with its path", revoke("arn:aws:iam::" + acct + ":role/admin/BreakGlass")},
		{"break-glass role, other path and case", revoke("arn:aws:iam::" + acct + ":role/other/breakglass")},
		{"service-linked role", revoke("arn:aws:iam::" + acct + ":role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS")},
		{"service-linked role without its path", revoke("arn:aws:iam::" + acct + ":role/AWSServiceRoleForAmazonEKS")},
		{"quarantine of a break-glass user", onUser(quarantine, "arn:aws:iam::"+acct+":user/ops/break-glass-ops")},
		{"quarantine, the user's path left out", onUser(quarantine, "arn:aws:iam::"+acct+":user/break-glass-ops")},
		{"deny-all of a break-glass user in upper case", onUser(denyAll, "arn:aws:iam::"+acct+":user/OPS/BREAK-GLASS-OPS")},
		{"cleanup of a break-glass user", cleanup(awsops.CleanupUser, "break-glass-ops")},
		{"cleanup of the break-glass role", cleanup(awsops.CleanupRole, "BreakGlass")},
		{"cleanup of the responder role", cleanup(awsops.CleanupRole, awsops.DefaultResponderRole)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(s.w.Gateway.Events())
			plan, err := tt.plan()
			if !errors.Is(err, awsops.ErrProtected) {
				t.Fatalf("plan = %+v, err %v: want it refused as protected", plan, err)
			}
			if got := ctWriteEvents(s.w, n); len(got) != 0 {
				t.Errorf("a refused plan changed AWS: %v", got)
			}
		})
	}
}

// testTypedRoleCanonical: a typed role ARN whose path or case differs from
// the one IAM gives is refused, naming the right one; the investigation's
// roles are used as IAM spells them.
func testTypedRoleCanonical(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	ctx := t.Context()
	if _, err := s.admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deploy"), Path: aws.String("/ci/"), AssumeRolePolicyDocument: aws.String(ctTrustAnyone)}); err != nil {
		t.Fatal(err)
	}
	real := "arn:aws:iam::" + world.DefaultAccount + ":role/ci/deploy"
	wrong := "arn:aws:iam::" + world.DefaultAccount + ":role/deploy"
	tg := s.target
	tg.Roles, tg.TypedRoles = []string{wrong}, true
	if _, err := s.c.PlanRevokeSessions(ctx, tg); !errors.Is(err, awsops.ErrRoleMismatch) {
		t.Fatalf("typed %s: err = %v, want the mismatch refused", wrong, err)
	} else if msg := err.Error(); !strings.Contains(msg, real) {
		t.Errorf("the refusal does not name the role's ARN %s: %s", real, msg)
	}
	tg.Roles, tg.TypedRoles = []string{wrong}, false // as the investigation found it
	plan, err := s.c.PlanRevokeSessions(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if got := awsops.FrozenRoles(plan.Params); len(got) != 1 || got[0] != real {
		t.Errorf("frozen roles = %q, want IAM's %s", got, real)
	}
}

// testCleanupRefusesRecreated: cleanup deletes a user or role by name only
// if it is the one the attacker's event created: deleted and made again
// since, it is someone else's and is refused.
func testCleanupRefusesRecreated(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	ctx := t.Context()
	first, err := s.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backdoor")})
	if err != nil {
		t.Fatal(err)
	}
	role, err := s.admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("backdoor-role"), AssumeRolePolicyDocument: aws.String(ctTrustAnyone)})
	if err != nil {
		t.Fatal(err)
	}
	created := *first.User.CreateDate
	items := []awsops.CleanupItem{
		{Kind: awsops.CleanupUser, ID: "backdoor", Account: world.DefaultAccount, EventID: "e1", EventName: "CreateUser", EventTime: created, UniqueID: aws.ToString(first.User.UserId)},
		{Kind: awsops.CleanupRole, ID: "backdoor-role", Account: world.DefaultAccount, EventID: "e2", EventName: "CreateRole", EventTime: created, UniqueID: aws.ToString(role.Role.RoleId)},
	}
	if _, err := s.c.PlanCleanup(ctx, s.target, items); err != nil {
		t.Fatalf("the attacker's own user and role: %v", err)
	}
	if _, err := s.admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("backdoor")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backdoor")}); err != nil {
		t.Fatal(err)
	}
	n := len(s.w.Gateway.Events())
	if _, err := s.c.PlanCleanup(ctx, s.target, items[:1]); !errors.Is(err, awsops.ErrRecreated) {
		t.Errorf("cleanup of a user made again under the attacker's name: err = %v, want ErrRecreated", err)
	}
	if got := ctWriteEvents(s.w, n); len(got) != 0 {
		t.Errorf("a refused cleanup changed AWS: %v", got)
	}
}
