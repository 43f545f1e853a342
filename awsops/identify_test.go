package awsops_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

func TestIdentifyPrivileges(t *testing.T) {
	moto := world.NewMotoTB(t)
	type setup func(tb testing.TB, ic *iam.Client, user string)
	inline := func(doc string) setup {
		return func(tb testing.TB, ic *iam.Client, user string) {
			if _, err := ic.PutUserPolicy(tb.Context(), &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	tests := []struct {
		name         string
		setup        setup
		wantSeverity awsops.Severity
		wantAdmin    bool
		wantIAMWrite bool
		wantSource   string
		wantCapable  string
	}{
		{name: "managed AdministratorAccess", setup: func(tb testing.TB, ic *iam.Client, user string) {
			if _, err := ic.AttachUserPolicy(tb.Context(), &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
				tb.Fatal(err)
			}
		}, wantSeverity: awsops.SeverityCritical, wantAdmin: true, wantIAMWrite: true, wantSource: "attached", wantCapable: "iam:CreateUser"},
		{name: "IAM write through a group", setup: func(tb testing.TB, ic *iam.Client, user string) {
			ctx := tb.Context()
			_, err := ic.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("deployers")})
			if err == nil {
				_, err = ic.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("deployers"), PolicyName: aws.String("deploy"),
					PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:Put*","s3:List*"],"Resource":"*"}}`)})
			}
			if err == nil {
				_, err = ic.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("deployers"), UserName: aws.String(user)})
			}
			if err != nil {
				tb.Fatal(err)
			}
		}, wantSeverity: awsops.SeverityCritical, wantIAMWrite: true, wantSource: "group deployers inline", wantCapable: "iam:PutUserPolicy"},
		{name: "data read", setup: inline(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::config/*"}]}`),
			wantSeverity: awsops.SeverityHigh, wantSource: "inline", wantCapable: "s3:GetObject"},
		{name: "read only", setup: inline(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","ec2:Describe*"],"Resource":"*"}]}`),
			wantSeverity: awsops.SeverityMedium, wantSource: "inline"},
		{name: "no policy", setup: func(testing.TB, *iam.Client, string) {}, wantSeverity: awsops.SeverityLow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := world.New(t, moto)
			ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
			leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
			tt.setup(t, ic, "ci-deploy-user")
			c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
			key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
			id := c.Identify(t.Context(), key)
			if id.UserName != "ci-deploy-user" || id.Status != "Active" || id.Created == nil || id.Account != world.DefaultAccount {
				t.Errorf("identity = %+v, want ci-deploy-user's active key in %s with its creation date", id, world.DefaultAccount)
			}
			if id.Severity != tt.wantSeverity || id.Admin != tt.wantAdmin || id.IAMWrite != tt.wantIAMWrite {
				t.Errorf("severity %s admin %v iam write %v (%v), want %s %v %v", id.Severity, id.Admin, id.IAMWrite, id.SeverityReasons, tt.wantSeverity, tt.wantAdmin, tt.wantIAMWrite)
			}
			if tt.wantSource != "" && !slices.ContainsFunc(id.Policies, func(p awsops.Policy) bool { return p.Source == tt.wantSource && p.Document != "" }) {
				t.Errorf("policies = %+v, want one from %q with its document", id.Policies, tt.wantSource)
			}
			if tt.wantCapable != "" && !slices.Contains(id.Capabilities, tt.wantCapable) {
				t.Errorf("capabilities = %v, want %s", id.Capabilities, tt.wantCapable)
			}
			// moto has no iam:SimulatePrincipalPolicy: that must be a named gap, not a failure.
			if len(id.Simulation) == 0 && !slices.ContainsFunc(id.Gaps, func(g awsops.Gap) bool { return strings.Contains(g.Reason, "SimulatePrincipalPolicy") }) {
				t.Errorf("no simulation and no gap saying so: %+v", id.Gaps)
			}
		})
	}
}

func TestIdentifyBadKeys(t *testing.T) {
	moto := world.NewMotoTB(t)
	t.Run("deleted key", func(t *testing.T) {
		w := world.New(t, moto)
		leaked := newLeakedUser(t, w, world.DefaultAccount, "gone-user")
		ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
		if _, err := ic.DeleteAccessKey(t.Context(), &iam.DeleteAccessKeyInput{UserName: aws.String("gone-user"), AccessKeyId: aws.String(leaked.AccessKeyID)}); err != nil {
			t.Fatal(err)
		}
		c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
		key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
		inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Regions: []string{"us-east-1"}})
		if err != nil {
			t.Fatal(err)
		}
		wantGap(t, inv.Gaps, awsops.StepIdentify, "does not exist in account "+world.DefaultAccount)
		if inv.Identity.Account != world.DefaultAccount {
			t.Errorf("account = %q, want %s decoded from the key", inv.Identity.Account, world.DefaultAccount)
		}
	})
	t.Run("no responder role", func(t *testing.T) {
		w := world.New(t, moto)
		leaked := newLeakedUser(t, w, world.SecondAccount, "ci-deploy-user")
		c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
		key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
		inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Regions: []string{"us-east-1"}})
		if err != nil {
			t.Fatal(err)
		}
		wantGap(t, inv.Gaps, awsops.StepIdentify, "cannot assume the responder role arn:aws:iam::"+world.SecondAccount+":role/KeyleakResponder")
		wantGap(t, inv.Gaps, awsops.StepCloudTrail, "cannot assume the responder role")
		if inv.Identity.Account != world.SecondAccount || inv.Identity.Severity != awsops.SeverityUnknown {
			t.Errorf("identity = %+v, want account %s and unknown severity", inv.Identity, world.SecondAccount)
		}
	})
	t.Run("expired responder session", func(t *testing.T) {
		w := world.New(t, moto)
		bot := newLeakedUser(t, w, world.DefaultAccount, "keyleak-bot")
		leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
		past := func() time.Time { return time.Now().Add(-2 * time.Hour) }
		out, err := sts.NewFromConfig(w.Config("us-east-1", bot, world.WithEventTime(past))).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
		if err != nil {
			t.Fatal(err)
		}
		expired := world.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)}
		c := awsops.NewFromConfig(w.Config("us-east-1", expired), awsops.Options{})
		key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
		inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Regions: []string{"us-east-1"}})
		if err != nil {
			t.Fatal(err)
		}
		wantGap(t, inv.Gaps, awsops.StepIdentify, "session expired")
		if inv.Complete() {
			t.Error("an investigation without credentials says it is complete")
		}
	})
}

func TestIdentifyTemporaryKey(t *testing.T) {
	w := world.Start(t)
	leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
	out, err := sts.NewFromConfig(w.Config("us-east-1", leaked)).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	session := world.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)}
	if _, err := iam.NewFromConfig(w.Config("us-east-1", session)).ListUsers(t.Context(), &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	key, err := awsops.ParseAccessKeyID(session.AccessKeyID)
	if err != nil || key.Kind() != awsops.TemporaryKey {
		t.Fatalf("parse %s: %v, kind %v", session.AccessKeyID, err, key.Kind())
	}
	inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Regions: []string{"us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	id := inv.Identity
	if !id.Temporary || id.Account != world.DefaultAccount || len(id.Notes) == 0 || !strings.Contains(strings.Join(id.Notes, " "), "expires 15 minutes to 36 hours") {
		t.Errorf("identity = %+v, want a temporary key of %s with its explanation", id, world.DefaultAccount)
	}
	root := inv.Sessions[0]
	if root.ParentAccessKeyID != leaked.AccessKeyID || root.MintedBy != "GetSessionToken" {
		t.Errorf("origin = parent %q via %q, want %s via GetSessionToken", root.ParentAccessKeyID, root.MintedBy, leaked.AccessKeyID)
	}
	if root.Activity.Events != countEvents(w, session.AccessKeyID) {
		t.Errorf("events = %d, want %d", root.Activity.Events, countEvents(w, session.AccessKeyID))
	}
}

func wantGap(tb testing.TB, gaps []awsops.Gap, step, text string) {
	tb.Helper()
	if !slices.ContainsFunc(gaps, func(g awsops.Gap) bool { return g.Step == step && strings.Contains(g.Reason, text) }) {
		tb.Errorf("gaps = %+v, want a %s gap saying %q", gaps, step, text)
	}
}

func TestPolicyAnalysis(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		action    string
		wantAllow bool
	}{
		{"star", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "iam:CreateUser", true},
		{"service star", `{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`, "iam:PassRole", true},
		{"prefix", `{"Statement":{"Effect":"Allow","Action":["iam:Create*"],"Resource":"*"}}`, "iam:CreateAccessKey", true},
		{"case", `{"Statement":{"Effect":"Allow","Action":"IAM:createuser","Resource":"*"}}`, "iam:CreateUser", true},
		{"other prefix", `{"Statement":{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}}`, "iam:CreateUser", false},
		{"deny only", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`, "iam:CreateUser", false},
		{"not action", `{"Statement":{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}}`, "iam:CreateUser", true},
		{"not action excludes", `{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`, "iam:CreateUser", false},
		{"url encoded", `%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%7D`, "s3:GetObject", true},
		{"garbage", `{"Statement":`, "iam:CreateUser", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := awsops.PolicyAllows(tt.doc, tt.action); got != tt.wantAllow {
				t.Errorf("PolicyAllows(%s) = %v, want %v", tt.action, got, tt.wantAllow)
			}
		})
	}
}

func FuzzPolicyAllows(f *testing.F) {
	f.Add(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "iam:CreateUser")
	f.Add(`{"Statement":{"Effect":"Allow","NotAction":["s3:*"],"Resource":"*"}}`, "s3:GetObject")
	f.Add(`%7B%22Statement%22%3A%5B%5D%7D`, "*")
	f.Fuzz(func(t *testing.T, doc, action string) {
		allowed := awsops.PolicyAllows(doc, action)
		if !strings.Contains(doc, "Allow") && !strings.Contains(doc, "%") && allowed {
			t.Errorf("a document without Allow allows %q", action)
		}
	})
}
