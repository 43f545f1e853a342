package awsops_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/signin"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// TestRevokeConsole: the attacker signed in to the console as a user it
// gave a password; revoke-console revokes the sign-in session with AWS
// Sign-In and denies the console credentials issued before the cutoff, so
// the attacker's next console call fails, while a sign-in after the
// cutoff works; lift-console removes the deny. Where AWS Sign-In does not
// offer its session API, the deny alone is planned, and the plan says so.
func TestRevokeConsole(t *testing.T) {
	moto := world.NewMotoTB(t)
	for _, offered := range []bool{true, false} {
		t.Run(map[bool]string{true: "with the Sign-In session API", false: "without it"}[offered], func(t *testing.T) {
			s := newCTSeed(t, moto, awsops.Options{})
			ctx := t.Context()
			s.w.Gateway.OfferSigninSessions(offered)
			s.newUser(t, "analyst")
			if _, err := s.admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("analyst"), Password: aws.String("Own3d-by-us-2026!")}); err != nil {
				t.Fatal(err)
			}
			earlier := time.Now().Add(-time.Hour)
			console, err := s.w.Gateway.SignIn(ctx, world.SignIn{Account: world.DefaultAccount, UserName: "analyst", SourceIP: "203.0.113.66", At: earlier})
			if err != nil {
				t.Fatal(err)
			}
			attempt := func() error {
				_, err := iam.NewFromConfig(s.w.Config("us-east-1", console)).ListUsers(ctx, &iam.ListUsersInput{})
				return err
			}
			if err := attempt(); err != nil {
				t.Fatalf("the attacker's console session before revoking: %v", err)
			}
			user := "arn:aws:iam::" + world.DefaultAccount + ":user/analyst"
			plan, err := s.c.PlanRevokeConsole(ctx, s.target, []string{user})
			if err != nil {
				t.Fatal(err)
			}
			revokes := slices.ContainsFunc(plan.Calls, func(c string) bool { return strings.HasPrefix(c, "signin:BatchRevokeSessions ") })
			impact := strings.Join(plan.Impact, "\n")
			if revokes != offered || offered == strings.Contains(impact, "not offered") {
				t.Errorf("plan = %v\n%s\nwant the session revoked exactly when the API is offered (%v)", plan.Calls, impact, offered)
			}
			res, err := s.c.ExecuteRevokeConsole(ctx, s.target, plan.Params)
			if err != nil {
				t.Fatalf("revoke-console: %v", err)
			}
			if !slices.Equal(res.Calls, plan.Calls) {
				t.Errorf("calls %v, want the plan's %v", res.Calls, plan.Calls)
			}
			if got := ctErrorCode(t, attempt()); got != "AccessDenied" {
				t.Errorf("the attacker's console call after revoking: %q, want AccessDenied", got)
			}
			if offered {
				out, err := signin.NewFromConfig(s.w.Config("us-east-1", s.w.Admin(world.DefaultAccount)), func(o *signin.Options) { o.EndpointResolverV2 = awsops.SigninEndpoint{} }).
					ListSessions(ctx, &signin.ListSessionsInput{PrincipalArn: aws.String(user)})
				if err != nil || len(out.Items) != 1 || out.Items[0].Status != "REVOKED" {
					t.Errorf("sign-in sessions after revoking: %+v %v", out, err)
				}
			}
			again, err := s.w.Gateway.SignIn(ctx, world.SignIn{Account: world.DefaultAccount, UserName: "analyst", At: time.Now().Add(2 * time.Second)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := iam.NewFromConfig(s.w.Config("us-east-1", again)).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
				t.Errorf("a sign-in after the cutoff: %v", err)
			}
			lift, err := s.c.PlanLiftConsole(ctx, s.target, plan.Params)
			if err != nil || len(lift.Calls) != 1 {
				t.Fatalf("lift plan = %+v, %v", lift, err)
			}
			if _, err := s.c.ExecuteLiftConsole(ctx, s.target, lift.Params); err != nil {
				t.Fatal(err)
			}
			if err := attempt(); err != nil {
				t.Errorf("after lifting, the old console session (its sign-in revoked, its credentials not expired): %v", err)
			}
		})
	}
}
