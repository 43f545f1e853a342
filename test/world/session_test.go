package world

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const trustAnyone = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`

func newRole(tb testing.TB, w *World, account, name string) string {
	tb.Helper()
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(account)))
	out, err := admin.CreateRole(tb.Context(), &iam.CreateRoleInput{
		RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trustAnyone), MaxSessionDuration: aws.Int32(43200),
	})
	if err != nil {
		tb.Fatalf("create role %s: %v", name, err)
	}
	return *out.Role.Arn
}

func assumeRole(tb testing.TB, w *World, creds Credentials, roleARN, session string, at time.Time, seconds int32) Credentials {
	tb.Helper()
	client := sts.NewFromConfig(w.Config("us-east-1", creds, WithEventTime(func() time.Time { return at })))
	out, err := client.AssumeRole(tb.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String(session), DurationSeconds: aws.Int32(seconds),
	})
	if err != nil {
		tb.Fatalf("assume %s: %v", roleARN, err)
	}
	c := out.Credentials
	return Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
}

func listBuckets(tb testing.TB, w *World, creds Credentials) error {
	tb.Helper()
	client := s3.NewFromConfig(w.Config("us-east-1", creds), func(o *s3.Options) { o.UsePathStyle = true })
	_, err := client.ListBuckets(tb.Context(), &s3.ListBucketsInput{})
	return err
}

func TestTokenIssueTimeRevocation(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	roleARN := newRole(t, w, DefaultAccount, "eks-node-role")
	now := time.Now()
	early := assumeRole(t, w, user, roleARN, "attacker", now.Add(-30*time.Minute), 3600)
	if err := listBuckets(t, w, early); err != nil {
		t.Fatalf("session before revocation: %v", err)
	}

	cutoff := now.Add(-time.Minute).UTC().Format(time.RFC3339)
	deny := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*",`+
		`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"%s"}}}]}`, cutoff)
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount)))
	if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String("eks-node-role"), PolicyName: aws.String("revoke-older-sessions"), PolicyDocument: aws.String(deny),
	}); err != nil {
		t.Fatalf("put revocation policy: %v", err)
	}

	late := assumeRole(t, w, user, roleARN, "node-1", now, 3600)
	tests := []struct {
		name  string
		creds Credentials
		want  string
	}{
		{"session issued before the cutoff", early, "AccessDenied"},
		{"session issued after the cutoff", late, ""},
		{"user key without a token issue time", user, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apiCode(listBuckets(t, w, tt.creds)); got != tt.want {
				t.Fatalf("ListBuckets error code = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExpiredSessionRejected(t *testing.T) {
	w := newWorld(t)
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	roleARN := newRole(t, w, DefaultAccount, "eks-node-role")
	old := assumeRole(t, w, user, roleARN, "old", time.Now().Add(-time.Hour), 900)
	if got, want := apiCode(listBuckets(t, w, old)), "ExpiredToken"; got != want {
		t.Fatalf("expired session: error code = %q, want %q", got, want)
	}
	forged := old
	forged.AccessKeyID = "ASIAQWERTYUIOPASDFGH"
	if got, want := apiCode(listBuckets(t, w, forged)), "InvalidAccessKeyId"; got != want {
		t.Fatalf("unissued session: error code = %q, want %q", got, want)
	}
}

func TestCrossAccountRoleChain(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	remote := newRole(t, w, SecondAccount, "audit-role")
	back := newRole(t, w, DefaultAccount, "eks-node-role")
	t0 := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	hop1 := assumeRole(t, w, user, remote, "hop1", t0, 43200)
	hop2 := assumeRole(t, w, hop1, back, "hop2", t0.Add(time.Minute), 3600)

	out, err := sts.NewFromConfig(w.Config("us-east-1", hop1)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("hop1 GetCallerIdentity: %v", err)
	}
	if got, want := *out.Account, SecondAccount; got != want {
		t.Fatalf("hop1 account = %s, want %s", got, want)
	}
	if err := listBuckets(t, w, hop2); err != nil {
		t.Fatalf("hop2 ListBuckets: %v", err)
	}

	var issued, used *Record
	for _, r := range w.Gateway.Events() {
		if r.EventName == "AssumeRole" && r.UserIdentity.AccessKeyID == hop1.AccessKeyID {
			issued = &r
		}
		if r.EventName == "ListBuckets" && r.UserIdentity.AccessKeyID == hop2.AccessKeyID {
			used = &r
		}
	}
	if issued == nil || used == nil {
		t.Fatalf("events missing: AssumeRole by hop1 %v, ListBuckets by hop2 %v", issued != nil, used != nil)
	}
	creds, _ := issued.ResponseElements["credentials"].(map[string]any)
	if got, want := creds["accessKeyId"], hop2.AccessKeyID; got != want {
		t.Errorf("AssumeRole responseElements.credentials.accessKeyId = %v, want %s", got, want)
	}
	if got, want := issued.UserIdentity.SessionContext.SessionIssuer.ARN, remote; got != want {
		t.Errorf("hop1 session issuer = %s, want %s", got, want)
	}
	if got, want := issued.RecipientAccountID, SecondAccount; got != want {
		t.Errorf("hop1 AssumeRole recipient account = %s, want %s", got, want)
	}
	sc := used.UserIdentity.SessionContext
	if got, want := sc.SessionIssuer.ARN, back; got != want {
		t.Errorf("hop2 session issuer = %s, want %s", got, want)
	}
	if got, want := sc.Attributes.CreationDate, formatTime(t0.Add(time.Minute)); got != want {
		t.Errorf("hop2 creationDate = %s, want %s", got, want)
	}
	if got, want := used.UserIdentity.Type, "AssumedRole"; got != want {
		t.Errorf("hop2 identity type = %s, want %s", got, want)
	}
}

func TestGetSessionTokenMintsSessionKey(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	out, err := sts.NewFromConfig(w.Config("us-east-1", user)).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatalf("GetSessionToken: %v", err)
	}
	sess := Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey,
		SessionToken: *out.Credentials.SessionToken}
	if got, ok := accountFromAccessKeyID(sess.AccessKeyID); !ok || got != DefaultAccount || sess.AccessKeyID[:4] != "ASIA" {
		t.Fatalf("session key %s decodes to %q, want an ASIA key of %s", sess.AccessKeyID, got, DefaultAccount)
	}
	id, err := sts.NewFromConfig(w.Config("us-east-1", sess)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("session GetCallerIdentity: %v", err)
	}
	if got, want := *id.Arn, "arn:aws:iam::123456789012:user/ci-deploy-user"; got != want {
		t.Fatalf("session caller = %s, want %s", got, want)
	}
}

func TestLocalSTSAnswers(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	remote := newRole(t, w, SecondAccount, "audit-role")
	sess := assumeRole(t, w, user, remote, "hop", time.Now(), 3600)
	fed, err := sts.NewFromConfig(w.Config("us-east-1", user)).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("fed")})
	if err != nil {
		t.Fatalf("GetFederationToken: %v", err)
	}
	fedCreds := Credentials{AccessKeyID: *fed.Credentials.AccessKeyId, SecretAccessKey: *fed.Credentials.SecretAccessKey,
		SessionToken: *fed.Credentials.SessionToken}
	tests := []struct {
		name        string
		creds       Credentials
		wantARN     string
		wantAccount string
	}{
		{"root", w.Admin(SecondAccount), "arn:aws:iam::210987654321:root", SecondAccount},
		{"user", user, "arn:aws:iam::123456789012:user/ci-deploy-user", DefaultAccount},
		{"cross-account role session", sess, "arn:aws:sts::210987654321:assumed-role/audit-role/hop", SecondAccount},
		{"federated user", fedCreds, "arn:aws:sts::123456789012:federated-user/fed", DefaultAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := sts.NewFromConfig(w.Config("us-east-1", tt.creds))
			id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatalf("GetCallerIdentity: %v", err)
			}
			if *id.Arn != tt.wantARN || *id.Account != tt.wantAccount {
				t.Fatalf("identity = %s in %s, want %s in %s", *id.Arn, *id.Account, tt.wantARN, tt.wantAccount)
			}
			// Any caller learns the key's account.
			info, err := sts.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount))).GetAccessKeyInfo(ctx,
				&sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(tt.creds.AccessKeyID)})
			if err != nil {
				t.Fatalf("GetAccessKeyInfo: %v", err)
			}
			if got := *info.Account; got != tt.wantAccount {
				t.Fatalf("GetAccessKeyInfo account = %s, want %s", got, tt.wantAccount)
			}
		})
	}
}
