package awsops_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// TestDoorsTheKeyOpened: what the leaked key created or opened joins the
// tree as branches created by the attacker, swept like minted sessions:
// an access key it created and the calls made with it, a user it created
// that then signed in to the console and what that session did, and a
// role whose trust it rewrote, assumed from another account. A colleague
// who assumes the same role from inside the organisation is not in it.
func TestDoorsTheKeyOpened(t *testing.T) {
	w := world.Start(t)
	ctx := t.Context()
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	clock := func(d time.Duration) func() time.Time { return func() time.Time { return start.Add(d) } }
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
	leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
	colleague := newLeakedUser(t, w, world.DefaultAccount, "release-bot")
	for _, u := range []string{"ci-deploy-user", "release-bot"} {
		if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(u), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deploy-role"),
		AssumeRolePolicyDocument: aws.String(trustOf("arn:aws:iam::" + world.DefaultAccount + ":root"))}); err != nil {
		t.Fatal(err)
	}
	const attackerIP, consoleIP, ciIP = "198.51.100.23", "203.0.113.66", "192.0.2.10"
	// The key's own life: CI lists buckets from its runner.
	ci := s3.NewFromConfig(w.Config("us-east-1", leaked, world.WithSourceIP(ciIP), world.WithEventTime(clock(0))), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := ci.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	// The attacker: a user with a console password and a key, and a role
	// that now trusts another account.
	bad := iam.NewFromConfig(w.Config("us-east-1", leaked, world.WithSourceIP(attackerIP), world.WithEventTime(clock(time.Hour))))
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(bad.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("svc-backup")}))
	must(bad.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("svc-backup"), Password: aws.String("Hunter2-Hunter2!")}))
	must(bad.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("svc-backup"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	created, err := bad.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("svc-backup")})
	if err != nil {
		t.Fatal(err)
	}
	must(bad.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("deploy-role"),
		PolicyDocument: aws.String(trustOf("arn:aws:iam::"+world.DefaultAccount+":root", "arn:aws:iam::"+world.SecondAccount+":root"))}))

	// The created key, used from elsewhere.
	key2 := world.Credentials{AccessKeyID: aws.ToString(created.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(created.AccessKey.SecretAccessKey)}
	must(iam.NewFromConfig(w.Config("us-east-1", key2, world.WithSourceIP("198.51.100.99"), world.WithEventTime(clock(90*time.Minute)))).
		CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("svc-backup-2")}))
	// The created user signs in to the console and acts there.
	console, err := w.Gateway.SignIn(ctx, world.SignIn{Account: world.DefaultAccount, UserName: "svc-backup", SourceIP: consoleIP, At: start.Add(100 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	must(iam.NewFromConfig(w.Config("us-east-1", console, world.WithSourceIP(consoleIP), world.WithEventTime(clock(101*time.Minute)))).
		ListUsers(ctx, &iam.ListUsersInput{}))
	// The other account assumes the backdoored role and acts with it.
	roleARN := "arn:aws:iam::" + world.DefaultAccount + ":role/deploy-role"
	out, err := sts.NewFromConfig(w.Config("us-east-1", w.Admin(world.SecondAccount), world.WithSourceIP("198.51.100.7"), world.WithEventTime(clock(110*time.Minute)))).
		AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	outsider := world.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)}
	must(iam.NewFromConfig(w.Config("us-east-1", outsider, world.WithSourceIP("198.51.100.7"), world.WithEventTime(clock(111*time.Minute)))).
		CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("outsider-made")}))
	// A colleague assumes the same role, as every release does.
	legit, err := sts.NewFromConfig(w.Config("us-east-1", colleague, world.WithSourceIP(ciIP), world.WithEventTime(clock(120*time.Minute)))).
		AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("release")})
	if err != nil {
		t.Fatal(err)
	}

	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{Now: clock(3 * time.Hour)})
	key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
	inv, err := c.Investigate(ctx, key, awsops.InvestigateOptions{Regions: []string{"us-east-1"}, Since: start.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	find := func(via awsops.Via) (awsops.Session, bool) {
		i := slices.IndexFunc(inv.Sessions, func(s awsops.Session) bool { return s.Via == via })
		if i < 0 {
			return awsops.Session{}, false
		}
		return inv.Sessions[i], true
	}
	named := func(s awsops.Session, name string) bool {
		return slices.ContainsFunc(s.Activity.EventNames, func(c awsops.Count) bool { return c.Name == name })
	}
	if s, ok := find(awsops.ViaCreatedKey); !ok || s.AccessKeyID != key2.AccessKeyID || !s.CreatedByAttacker || s.UserName != "svc-backup" || !named(s, "CreateUser") {
		t.Errorf("created key branch = %+v (found %v), want %s of svc-backup, created by the attacker, with its CreateUser", s, ok, key2.AccessKeyID)
	}
	user, ok := find(awsops.ViaCreatedUser)
	if !ok || user.UserName != "svc-backup" || !user.CreatedByAttacker || !named(user, "ConsoleLogin") {
		t.Errorf("created user branch = %+v (found %v), want svc-backup with its ConsoleLogin", user, ok)
	}
	if s, ok := find(awsops.ViaLoginProfile); !ok || s.ParentID != user.ID || s.UserName != "svc-backup" || s.AccessKeyID == "" || !named(s, "ListUsers") {
		t.Errorf("console session = %+v (found %v), want a session of svc-backup under its branch with the console's ListUsers", s, ok)
	}
	if s, ok := find(awsops.ViaTrust); !ok || s.AccessKeyID != outsider.AccessKeyID || !strings.Contains(s.By, world.SecondAccount) || s.Door != roleARN || !named(s, "CreateUser") {
		t.Errorf("backdoored trust branch = %+v (found %v), want %s assumed by %s with its CreateUser", s, ok, outsider.AccessKeyID, world.SecondAccount)
	}
	for _, s := range inv.Sessions {
		if s.AccessKeyID == aws.ToString(legit.Credentials.AccessKeyId) || s.AccessKeyID == colleague.AccessKeyID {
			t.Errorf("the colleague's session of the role is in the tree: %+v", s)
		}
	}
	login := slices.IndexFunc(inv.Flagged, func(f awsops.FlaggedEvent) bool { return f.EventName == "ConsoleLogin" })
	if login < 0 || !inv.Flagged[login].NewSource {
		t.Errorf("the created user's ConsoleLogin is not flagged as the attacker's: %+v", inv.Flagged)
	}
	for _, f := range inv.Flagged {
		if f.SourceIP == ciIP {
			t.Errorf("an event of the key's CI (%s) is flagged: %+v", ciIP, f)
		}
	}
	var tree string
	for _, sec := range inv.Sections() {
		if sec.Title == "Credential tree" {
			tree = strings.Join(sec.Lines, "\n")
		}
	}
	t.Logf("tree:\n%s\nsummary:\n%s", tree, strings.Join(inv.Summary(), "\n"))
	for _, want := range []string{"CREATED BY THE ATTACKER (an access key of user svc-backup", "user svc-backup · CREATED BY THE ATTACKER", "assumed through the trust it wrote on deploy-role"} {
		if !strings.Contains(tree, want) {
			t.Errorf("the tree does not say %q:\n%s", want, tree)
		}
	}
}

func trustOf(principals ...string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` + strings.Join(principals, `","`) + `"]},"Action":"sts:AssumeRole"}]}`
}
