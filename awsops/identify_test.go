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
		// AWS's exposed-key automation, or a hasty owner, deletes the key:
		// IAM no longer knows it, but CloudTrail says whose it was.
		w := world.New(t, moto)
		leaked := newLeakedUser(t, w, world.DefaultAccount, "gone-user")
		ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
		if _, err := ic.AttachUserPolicy(t.Context(), &iam.AttachUserPolicyInput{UserName: aws.String("gone-user"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
			t.Fatal(err)
		}
		if _, err := iam.NewFromConfig(w.Config("eu-west-1", leaked, world.WithSourceIP("198.51.100.23"))).CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("backdoor")}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.DeleteAccessKey(t.Context(), &iam.DeleteAccessKeyInput{UserName: aws.String("gone-user"), AccessKeyId: aws.String(leaked.AccessKeyID)}); err != nil {
			t.Fatal(err)
		}
		c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
		key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
		inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Regions: []string{"us-east-1", "eu-west-1"}})
		if err != nil {
			t.Fatal(err)
		}
		id := inv.Identity
		if id.UserName != "gone-user" || id.ARN != "arn:aws:iam::"+world.DefaultAccount+":user/gone-user" || id.OwnerSource != awsops.OwnerFromTrail {
			t.Errorf("owner = %q %q from %q, want gone-user from CloudTrail", id.UserName, id.ARN, id.OwnerSource)
		}
		if id.Status != awsops.KeyStatusDeleted || id.Deleted == nil || id.Deleted.By != "arn:aws:iam::"+world.DefaultAccount+":root" || id.Created == nil {
			t.Errorf("status %q, deletion %+v, created %v: want Deleted, by the account's root (the world's admin), with the creation date", id.Status, id.Deleted, id.Created)
		}
		if !id.Admin || id.Severity != awsops.SeverityCritical {
			t.Errorf("privileges: admin %v severity %s (%v), want the owner's current AdministratorAccess, critical", id.Admin, id.Severity, id.SeverityReasons)
		}
		if inv.Activity.Events == 0 || !slices.ContainsFunc(inv.Flagged, func(f awsops.FlaggedEvent) bool { return f.EventName == "CreateUser" }) {
			t.Errorf("the sweep did not find the deleted key's CreateUser: %d events, flagged %+v", inv.Activity.Events, inv.Flagged)
		}
		if summary := strings.Join(inv.Summary(), "\n"); !strings.Contains(summary, "no longer in IAM: deleted") {
			t.Errorf("the summary does not say the key is gone:\n%s", summary)
		}
		for _, f := range inv.FollowUps() {
			if f.Kind == awsops.FollowUpDeactivateKey {
				t.Errorf("a deleted key is to be deactivated: %+v", f)
			}
		}
	})
	t.Run("deleted key and user", func(t *testing.T) {
		w := world.New(t, moto)
		leaked := newLeakedUser(t, w, world.DefaultAccount, "gone-user")
		if _, err := iam.NewFromConfig(w.Config("us-east-1", leaked)).ListUsers(t.Context(), &iam.ListUsersInput{}); err != nil {
			t.Fatal(err)
		}
		ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
		_, err := ic.DeleteAccessKey(t.Context(), &iam.DeleteAccessKeyInput{UserName: aws.String("gone-user"), AccessKeyId: aws.String(leaked.AccessKeyID)})
		if err == nil {
			_, err = ic.DeleteUser(t.Context(), &iam.DeleteUserInput{UserName: aws.String("gone-user")})
		}
		if err != nil {
			t.Fatal(err)
		}
		c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{Regions: []string{"us-east-1"}})
		key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
		id := c.Identify(t.Context(), key)
		if id.UserName != "gone-user" || id.Status != awsops.KeyStatusDeleted {
			t.Errorf("identity = %+v, want gone-user's deleted key", id)
		}
		wantGap(t, id.Gaps, awsops.StepIdentify, "user gone-user, the key's owner, was deleted too")
	})
	t.Run("deleted key known by a call in a later region", func(t *testing.T) {
		// Created and deleted more than 90 days ago, as far as LookupEvents
		// can tell (the events are older than it keeps): its one call left,
		// in eu-west-1, says whose it was, after us-east-1 is looked in.
		w := world.New(t, moto)
		old := time.Now().Add(-100 * 24 * time.Hour)
		ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount), world.WithEventTime(func() time.Time { return old })))
		if _, err := ic.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("quiet-user")}); err != nil {
			t.Fatal(err)
		}
		out, err := ic.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("quiet-user")})
		if err != nil {
			t.Fatal(err)
		}
		k := out.AccessKey
		leaked := world.Credentials{AccessKeyID: aws.ToString(k.AccessKeyId), SecretAccessKey: aws.ToString(k.SecretAccessKey)}
		if _, err := sts.NewFromConfig(w.Config("eu-west-1", leaked)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.DeleteAccessKey(t.Context(), &iam.DeleteAccessKeyInput{UserName: aws.String("quiet-user"), AccessKeyId: k.AccessKeyId}); err != nil {
			t.Fatal(err)
		}
		c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{Regions: []string{"us-east-1", "eu-west-1"}})
		key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
		if id := c.Identify(t.Context(), key); id.UserName != "quiet-user" || id.OwnerSource != awsops.OwnerFromTrail {
			t.Errorf("owner %q from %q, want quiet-user, from its call in eu-west-1", id.UserName, id.OwnerSource)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		w := world.New(t, moto)
		c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{Regions: []string{"us-east-1"}})
		key, err := awsops.ParseAccessKeyID(world.NewAccessKeyID("AKIA", world.DefaultAccount))
		if err != nil {
			t.Fatal(err)
		}
		id := c.Identify(t.Context(), key)
		wantGap(t, id.Gaps, awsops.StepIdentify, "its owner is not in CloudTrail either")
		if id.UserName != "" || id.Status != "" {
			t.Errorf("identity = %+v, want no owner for a key neither IAM nor CloudTrail knows", id)
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

// TestRegionsEnabledInTheAccount: with no region list configured, the
// sweep covers the partition's regions the account has enabled (an opt-in
// region it turned on included) and names the opt-in regions it skipped.
func TestRegionsEnabledInTheAccount(t *testing.T) {
	w := world.Start(t)
	w.Gateway.EnableRegion(world.DefaultAccount, "eu-south-2")
	leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
	if _, err := iam.NewFromConfig(w.Config("eu-south-2", leaked)).ListUsers(t.Context(), &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
	inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"us-east-1", "eu-west-1", "sa-east-1", "eu-south-2"} {
		if !slices.Contains(inv.Regions, want) {
			t.Errorf("regions swept %v, want %s among them", inv.Regions, want)
		}
	}
	for _, r := range inv.Regions {
		if strings.HasPrefix(r, "us-gov-") || strings.HasPrefix(r, "cn-") || r == "me-south-1" {
			t.Errorf("swept %s: not a region of the partition the account has enabled (%v)", r, inv.Regions)
		}
	}
	if !slices.Contains(inv.SkippedRegions, "me-south-1") || slices.Contains(inv.SkippedRegions, "eu-south-2") {
		t.Errorf("skipped %v, want the opt-in regions not enabled (me-south-1), not eu-south-2", inv.SkippedRegions)
	}
	swept := map[string]bool{}
	for _, s := range inv.Sweep {
		swept[s.Region] = true
	}
	if len(swept) != len(inv.Regions) || !swept["eu-south-2"] {
		t.Errorf("sweep stats cover %d regions, want the %d listed, eu-south-2 included", len(swept), len(inv.Regions))
	}
	if inv.Activity.Events == 0 {
		t.Error("the call made in eu-south-2 was not found")
	}
	var named bool
	for _, s := range inv.Sections() {
		named = named || strings.Contains(strings.Join(s.Lines, "\n"), "not swept: af-south-1")
	}
	if !named {
		t.Error("the report does not name the skipped opt-in regions")
	}
}
