package awsops_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// responderPolicy allows every responder permission but those left out.
func responderPolicy(tb testing.TB, without ...string) string {
	tb.Helper()
	var actions []string
	for _, p := range awsops.ResponderPermissions() {
		if !contains(without, p.Action) {
			actions = append(actions, p.Action)
		}
	}
	doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return string(doc)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// preflightWorld is an organisation as deploy/ sets it up: keyleak's own
// user in the first account, the responder role with its permissions in
// the second, a trail bucket with log files, and the intake queue.
type preflightWorld struct {
	w      *world.World
	client *awsops.Client
	opts   awsops.PreflightOptions
	intake *world.Intake
}

func newPreflightWorld(t *testing.T, moto *world.Moto) *preflightWorld {
	t.Helper()
	ctx := t.Context()
	w := world.New(t, moto)
	creds, err := scenario.KeyleakIdentity(ctx, w, awsops.DefaultResponderRole)
	if err != nil {
		t.Fatal(err)
	}
	second := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.SecondAccount)))
	if _, err := second.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(awsops.DefaultResponderRole),
		PolicyName: aws.String("keyleak-responder"), PolicyDocument: aws.String(responderPolicy(t))}); err != nil {
		t.Fatal(err)
	}
	if err := w.Gateway.FlushTrail(ctx); err != nil {
		t.Fatal(err)
	}
	intake, err := w.StartIntake(ctx, world.DefaultAccount, 30*time.Second, 5)
	if err != nil {
		t.Fatal(err)
	}
	return &preflightWorld{
		w: w, intake: intake,
		client: awsops.NewFromConfig(w.Config("us-east-1", creds), awsops.Options{}),
		opts:   awsops.PreflightOptions{Accounts: []string{world.SecondAccount}, TrailBucket: w.Gateway.TrailBucket(), QueueURL: intake.QueueURL},
	}
}

type preflightWant struct {
	name string
	fail bool
	says []string // in the detail, or in the error and the fix when it fails
}

func matchPreflight(t *testing.T, got []awsops.Check, want []preflightWant) {
	t.Helper()
	var all strings.Builder
	for _, c := range got {
		all.WriteString("  " + c.Name + ": " + c.Detail)
		if c.Err != nil {
			all.WriteString("FAIL " + c.Err.Error() + " | fix: " + c.Fix)
		}
		all.WriteString("\n")
	}
	if len(got) != len(want) {
		t.Fatalf("%d checks, want %d:\n%s", len(got), len(want), all.String())
	}
	for i, w := range want {
		c := got[i]
		if c.Name != w.name || (c.Err != nil) != w.fail {
			t.Errorf("check %d: %q failing %v, want %q failing %v\n%s", i, c.Name, c.Err != nil, w.name, w.fail, all.String())
			continue
		}
		text := c.Detail
		if w.fail {
			text = c.Err.Error() + " | " + c.Fix
		}
		for _, s := range w.says {
			if !strings.Contains(text, s) {
				t.Errorf("%s: %q does not say %q", c.Name, text, s)
			}
		}
	}
}

// TestPreflight runs the AWS checks of keyleak doctor against the local
// world, whole and with each piece broken in turn.
func TestPreflight(t *testing.T) {
	moto := world.NewMotoTB(t)
	role := "responder role " + world.SecondAccount
	good := []preflightWant{
		{name: "aws identity", says: []string{"user/" + scenario.KeyleakUser}},
		{name: role, says: []string{"assumed arn:aws:iam::" + world.SecondAccount + ":role/KeyleakResponder"}},
		// moto has no iam:SimulatePrincipalPolicy: the role's policies are read.
		{name: role + " permissions", says: []string{"every action of deploy/aws/responder-role.yaml is allowed", "read from its policies"}},
		{name: "trail bucket", says: []string{"s3://world-cloudtrail: log files listed and read", "AWSLogs/"}},
		{name: "intake queue", says: []string{"keyleak-intake-dlq"}},
	}
	tests := []struct {
		name   string
		break_ func(t *testing.T, p *preflightWorld)
		want   []preflightWant
	}{
		{name: "all good", want: good},
		{name: "no responder role", break_: func(t *testing.T, p *preflightWorld) {
			ic := iam.NewFromConfig(p.w.Config("us-east-1", p.w.Admin(world.SecondAccount)))
			if _, err := ic.DeleteRolePolicy(t.Context(), &iam.DeleteRolePolicyInput{RoleName: aws.String(awsops.DefaultResponderRole), PolicyName: aws.String("keyleak-responder")}); err != nil {
				t.Fatal(err)
			}
			if _, err := ic.DeleteRole(t.Context(), &iam.DeleteRoleInput{RoleName: aws.String(awsops.DefaultResponderRole)}); err != nil {
				t.Fatal(err)
			}
		}, want: []preflightWant{good[0],
			{name: role, fail: true, says: []string{"cannot assume the responder role", "deploy the responder role to account " + world.SecondAccount, "deploy/aws/stackset.md", "aws.external_id"}},
			good[3], good[4]}},
		{name: "a permission missing", break_: func(t *testing.T, p *preflightWorld) {
			ic := iam.NewFromConfig(p.w.Config("us-east-1", p.w.Admin(world.SecondAccount)))
			if _, err := ic.PutRolePolicy(t.Context(), &iam.PutRolePolicyInput{RoleName: aws.String(awsops.DefaultResponderRole),
				PolicyName: aws.String("keyleak-responder"), PolicyDocument: aws.String(responderPolicy(t, "iam:UpdateAccessKey", "iam:UpdateAssumeRolePolicy"))}); err != nil {
				t.Fatal(err)
			}
		}, want: []preflightWant{good[0], good[1],
			{name: role + " permissions", fail: true, says: []string{"may not iam:UpdateAccessKey", "update-stack-set", "deploy/aws/responder-role.yaml"}},
			good[3], good[4]}},
		{name: "an optional permission left out", break_: func(t *testing.T, p *preflightWorld) {
			ic := iam.NewFromConfig(p.w.Config("us-east-1", p.w.Admin(world.SecondAccount)))
			if _, err := ic.PutRolePolicy(t.Context(), &iam.PutRolePolicyInput{RoleName: aws.String(awsops.DefaultResponderRole),
				PolicyName: aws.String("keyleak-responder"), PolicyDocument: aws.String(responderPolicy(t, "iam:UpdateAssumeRolePolicy"))}); err != nil {
				t.Fatal(err)
			}
		}, want: []preflightWant{good[0], good[1],
			{name: role + " permissions", says: []string{"left out by stack parameters: iam:UpdateAssumeRolePolicy (RestoreTrustPolicies)"}},
			good[3], good[4]}},
		{name: "own account listed", break_: func(t *testing.T, p *preflightWorld) {
			p.opts.Accounts = []string{world.DefaultAccount, world.SecondAccount}
		}, want: []preflightWant{good[0],
			// keyleak's own user has no responder permissions: it is not meant to contain there.
			{name: "own account " + world.DefaultAccount + " permissions", fail: true, says: []string{"keyleak's own arn:aws:iam::" + world.DefaultAccount + ":user/keyleak-bot may not iam:GetAccessKeyLastUsed", "more of the", "aws.responder_in_own_account"}},
			good[1], good[2], good[3], good[4]}},
		{name: "unreadable bucket", break_: func(t *testing.T, p *preflightWorld) {
			ic := iam.NewFromConfig(p.w.Config("us-east-1", p.w.Admin(world.DefaultAccount)))
			deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`
			if _, err := ic.PutUserPolicy(t.Context(), &iam.PutUserPolicyInput{UserName: aws.String(scenario.KeyleakUser),
				PolicyName: aws.String("no-s3"), PolicyDocument: aws.String(deny)}); err != nil {
				t.Fatal(err)
			}
		}, want: []preflightWant{good[0], good[1], good[2],
			{name: "trail bucket", fail: true, says: []string{"AccessDenied", "s3:ListBucket on arn:aws:s3:::world-cloudtrail", "keyleak-bot-policy.json"}},
			good[4]}},
		{name: "no such bucket", break_: func(t *testing.T, p *preflightWorld) { p.opts.TrailBucket = "org-trail-typo" },
			want: []preflightWant{good[0], good[1], good[2],
				{name: "trail bucket", fail: true, says: []string{"NoSuchBucket", "aws.trail_bucket must name the trail's bucket"}},
				good[4]}},
		{name: "queue without dead letters", break_: func(t *testing.T, p *preflightWorld) {
			q := sqs.NewFromConfig(p.w.Config("us-east-1", p.w.Admin(world.DefaultAccount)))
			out, err := q.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("keyleak-intake-plain")})
			if err != nil {
				t.Fatal(err)
			}
			p.opts.QueueURL = aws.ToString(out.QueueUrl)
		}, want: []preflightWant{good[0], good[1], good[2], good[3],
			{name: "intake queue", fail: true, says: []string{"no dead-letter queue", "redrive policy", "deploy/aws/intake.yaml"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPreflightWorld(t, moto)
			if tt.break_ != nil {
				tt.break_(t, p)
			}
			matchPreflight(t, p.client.Preflight(t.Context(), p.opts), tt.want)
		})
	}
}

// TestPreflightWithoutCredentials: keyleak's own identity is checked
// first, and nothing else is tried without it.
func TestPreflightWithoutCredentials(t *testing.T) {
	w := world.Start(t)
	client := awsops.NewFromConfig(w.Config("us-east-1", world.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "not-a-key"}), awsops.Options{})
	matchPreflight(t, client.Preflight(t.Context(), awsops.PreflightOptions{Accounts: []string{world.SecondAccount}, TrailBucket: "b"}), []preflightWant{
		{name: "aws identity", fail: true, says: []string{"InvalidClientTokenId", "give keyleak AWS credentials"}},
	})
}
