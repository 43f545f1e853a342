package awsops_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

func testRefusals(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{Protected: []string{"arn:aws:iam::*:user/break-glass-*"}})
	ctx := t.Context()
	s.newUser(t, "break-glass-admin")
	root := s.target
	root.Root, root.UserName, root.UserARN = true, "", "arn:aws:iam::"+world.DefaultAccount+":root"
	temporary := s.target
	temporary.Temporary, temporary.UserName, temporary.UserARN = true, "", ""
	protected := s.target
	protected.UserName, protected.UserARN = "break-glass-admin", "arn:aws:iam::"+world.DefaultAccount+":user/break-glass-admin"

	tests := []struct {
		name   string
		plan   func() (awsops.ActionPlan, error)
		want   error
		reason string // part of the message the responder sees
	}{
		{"root key cannot be deactivated", func() (awsops.ActionPlan, error) { return s.c.PlanDeactivate(ctx, root) }, awsops.ErrRootKey, "console"},
		{"root key: deny via SCP", func() (awsops.ActionPlan, error) { return s.c.PlanDenyAll(ctx, root) }, awsops.ErrRootKey, "SCP"},
		{"temporary key", func() (awsops.ActionPlan, error) { return s.c.PlanDeactivate(ctx, temporary) }, awsops.ErrTemporaryKey, "revoke-sessions"},
		{"break-glass user", func() (awsops.ActionPlan, error) { return s.c.PlanQuarantine(ctx, protected) }, awsops.ErrProtected, "break-glass"},
		{"delete an Active key", func() (awsops.ActionPlan, error) { return s.c.PlanDeleteKey(ctx, s.target) }, awsops.ErrKeyStillActive, "deactivate it first"},
		{"cleanup without evidence", func() (awsops.ActionPlan, error) {
			return s.c.PlanCleanup(ctx, s.target, []awsops.CleanupItem{{Kind: awsops.CleanupUser, ID: "break-glass-admin"}})
		}, awsops.ErrNoEvidence, "evidence"},
		{"cleanup of the key's own user", func() (awsops.ActionPlan, error) {
			return s.c.PlanCleanup(ctx, s.target, []awsops.CleanupItem{{Kind: awsops.CleanupUser, ID: "ci-deploy-user", EventID: "e1"}})
		}, awsops.ErrProtected, "owns the leaked key"},
		{"cleanup of an Identity Center role", func() (awsops.ActionPlan, error) {
			return s.c.PlanCleanup(ctx, s.target, []awsops.CleanupItem{{Kind: awsops.CleanupRole, ID: "AWSReservedSSO_Admin_0123abcd", EventID: "e1"}})
		}, awsops.ErrProtected, "IAM Identity Center"},
		{"cleanup of a protected user", func() (awsops.ActionPlan, error) {
			return s.c.PlanCleanup(ctx, s.target, []awsops.CleanupItem{{Kind: awsops.CleanupUser, ID: "break-glass-admin", EventID: "e1"}})
		}, awsops.ErrProtected, "protected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(s.w.Gateway.Events())
			_, err := tt.plan()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("message %q does not mention %q", err, tt.reason)
			}
			if got := ctWriteEvents(s.w, n); len(got) != 0 {
				t.Errorf("a refused plan changed AWS: %v", got)
			}
		})
	}

	t.Run("revoke-sessions skips roles it must not touch, and says why", func(t *testing.T) {
		if _, err := s.admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("AWSReservedSSO_Admin_0123abcd"),
			Path: aws.String("/aws-reserved/sso.amazonaws.com/"), AssumeRolePolicyDocument: aws.String(ctTrustAnyone)}); err != nil {
			t.Fatal(err)
		}
		tg := s.target
		tg.Roles = []string{
			s.roleARN,
			"arn:aws:iam::" + world.DefaultAccount + ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd",
			"arn:aws:iam::" + world.DefaultAccount + ":role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
			s.c.ResponderRoleARN(world.DefaultAccount),
		}
		plan, err := s.c.PlanRevokeSessions(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Calls) != 2 || !strings.Contains(plan.Calls[1], s.roleARN+" ") {
			t.Errorf("calls = %v, want the user and eks-node-role only", plan.Calls)
		}
		impact := strings.Join(plan.Impact, "\n")
		for _, want := range []string{"IAM Identity Center", "service-linked role", "responder role"} {
			if !strings.Contains(impact, want) {
				t.Errorf("impact does not explain the %s:\n%s", want, impact)
			}
		}
		if got, want := awsops.FrozenRoles(plan.Params), s.roleARN; len(got) != 1 || got[0] != want {
			t.Errorf("frozen roles = %q, want %q", got, want)
		}
	})
}

func testQuarantine(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	ctx := t.Context()
	v4 := s.c.QuarantinePolicyARN("V4")
	pol, err := s.admin.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(v4)})
	if err != nil {
		t.Fatal(err)
	}
	version := aws.ToString(pol.Policy.DefaultVersionId)
	plan, res := s.run(t, ctStep{"quarantine", s.c.PlanQuarantine, s.c.ExecuteQuarantine})
	if got := plan.Params[awsops.ParamPolicyVersion]; got != version || plan.Params[awsops.ParamPolicyARN] != v4 {
		t.Errorf("planned %s version %q, want the newest the account has, %s, at its default version %q", plan.Params[awsops.ParamPolicyARN], got, v4, version)
	}
	done := strings.Join(res.Done, "\n")
	if !strings.Contains(done, "default version "+version) {
		t.Errorf("result does not name version %s:\n%s", version, done)
	}
	// What the result says remains possible is what the world allows.
	remains := done[strings.Index(done, "Still possible"):]
	if !strings.Contains(remains, "sts:AssumeRole") || strings.Contains(remains, "iam:CreateUser") {
		t.Fatalf("remaining actions = %q, want sts:AssumeRole open and iam:CreateUser denied", remains)
	}
	_, err = iam.NewFromConfig(s.w.Config("us-east-1", s.leaked)).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backdoor")})
	if got := ctErrorCode(t, err); got != "AccessDenied" {
		t.Errorf("quarantined CreateUser: error %q, want AccessDenied", got)
	}
	if _, err := sts.NewFromConfig(s.w.Config("us-east-1", s.leaked)).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(s.roleARN), RoleSessionName: aws.String("still-possible")}); err != nil {
		t.Errorf("quarantined AssumeRole, which keyleak says remains possible: %v", err)
	}
}
