package awsops_test

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

const ctTrustAnyone = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`

// ctSeed is the seed incident's account: ci-deploy-user's key leaked, the
// attacker assumed eks-node-role with it hours ago, and nodes assume the
// same role for their own work.
type ctSeed struct {
	w       *world.World
	c       *awsops.Client
	admin   *iam.Client
	leaked  world.Credentials
	node    world.Credentials // what the nodes' instance profile stands for
	roleARN string
	target  awsops.Target
}

func newCTSeed(tb testing.TB, moto *world.Moto, opts awsops.Options) *ctSeed {
	tb.Helper()
	w := world.New(tb, moto)
	adminCfg := w.Config("us-east-1", w.Admin(world.DefaultAccount))
	s := &ctSeed{w: w, admin: iam.NewFromConfig(adminCfg), c: awsops.NewFromConfig(adminCfg, opts)}
	s.leaked = s.newUser(tb, "ci-deploy-user")
	s.node = s.newUser(tb, "eks-node-launcher")
	s.roleARN = s.newRole(tb, "eks-node-role")
	s.target = awsops.Target{
		Account:     world.DefaultAccount,
		UserName:    "ci-deploy-user",
		UserARN:     "arn:aws:iam::" + world.DefaultAccount + ":user/ci-deploy-user",
		AccessKeyID: s.leaked.AccessKeyID,
		Roles:       []string{s.roleARN},
		Incident:    "KL-2026-0007",
	}
	if _, err := s3.NewFromConfig(adminCfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(tb.Context(),
		&s3.CreateBucketInput{Bucket: aws.String("config-bucket")}); err != nil {
		tb.Fatalf("create bucket: %v", err)
	}
	return s
}

func (s *ctSeed) newUser(tb testing.TB, name string) world.Credentials {
	tb.Helper()
	ctx := tb.Context()
	if _, err := s.admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		tb.Fatalf("create user %s: %v", name, err)
	}
	out, err := s.admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		tb.Fatalf("create access key for %s: %v", name, err)
	}
	return world.Credentials{AccessKeyID: *out.AccessKey.AccessKeyId, SecretAccessKey: *out.AccessKey.SecretAccessKey}
}

func (s *ctSeed) newRole(tb testing.TB, name string) string {
	tb.Helper()
	out, err := s.admin.CreateRole(tb.Context(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(ctTrustAnyone), MaxSessionDuration: aws.Int32(12 * 3600)})
	if err != nil {
		tb.Fatalf("create role %s: %v", name, err)
	}
	return *out.Role.Arn
}

// assume assumes roleARN with creds as if at time at.
func (s *ctSeed) assume(tb testing.TB, creds world.Credentials, roleARN, session string, at time.Time) world.Credentials {
	tb.Helper()
	client := sts.NewFromConfig(s.w.Config("us-east-1", creds, world.WithEventTime(func() time.Time { return at })))
	out, err := client.AssumeRole(tb.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String(session), DurationSeconds: aws.Int32(12 * 3600),
	})
	if err != nil {
		tb.Fatalf("assume %s as %s at %s: %v", roleARN, session, at.Format(time.RFC3339), err)
	}
	c := out.Credentials
	return world.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
}

// listBuckets is the attacker's (or a node's) next call; it returns the
// AWS error code, "" on success.
func (s *ctSeed) listBuckets(tb testing.TB, creds world.Credentials) string {
	tb.Helper()
	cfg := s.w.Config("us-east-1", creds)
	cfg.RetryMaxAttempts = 1
	_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(tb.Context(), &s3.ListBucketsInput{})
	return ctErrorCode(tb, err)
}

func ctErrorCode(tb testing.TB, err error) string {
	tb.Helper()
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	tb.Fatalf("not an AWS error: %v", err)
	return ""
}

// ctIAMState is what undo must restore.
type ctIAMState struct {
	KeyStatus      string
	UserPolicies   []string
	UserAttached   []string
	RolePolicies   map[string][]string
	RoleDocuments  map[string]string
	UserDocuments  map[string]string
	AttachedByRole map[string][]string
}

func (s *ctSeed) snapshot(tb testing.TB, user string, roles ...string) ctIAMState {
	tb.Helper()
	ctx := tb.Context()
	st := ctIAMState{RolePolicies: map[string][]string{}, RoleDocuments: map[string]string{}, UserDocuments: map[string]string{}, AttachedByRole: map[string][]string{}}
	keys, err := s.admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		tb.Fatalf("list keys: %v", err)
	}
	for _, k := range keys.AccessKeyMetadata {
		st.KeyStatus += aws.ToString(k.AccessKeyId) + "=" + string(k.Status) + " "
	}
	up, err := s.admin.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(user)})
	if err != nil {
		tb.Fatalf("list user policies: %v", err)
	}
	st.UserPolicies = up.PolicyNames
	for _, n := range up.PolicyNames {
		d, err := s.admin.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(n)})
		if err != nil {
			tb.Fatalf("get user policy: %v", err)
		}
		st.UserDocuments[n] = aws.ToString(d.PolicyDocument)
	}
	ua, err := s.admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)})
	if err != nil {
		tb.Fatalf("list attached: %v", err)
	}
	for _, p := range ua.AttachedPolicies {
		st.UserAttached = append(st.UserAttached, aws.ToString(p.PolicyArn))
	}
	for _, r := range roles {
		name := r[strings.LastIndex(r, "/")+1:]
		rp, err := s.admin.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
		if err != nil {
			tb.Fatalf("list role policies: %v", err)
		}
		st.RolePolicies[name] = rp.PolicyNames
		for _, n := range rp.PolicyNames {
			d, err := s.admin.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(n)})
			if err != nil {
				tb.Fatalf("get role policy: %v", err)
			}
			st.RoleDocuments[name+"/"+n] = aws.ToString(d.PolicyDocument)
		}
		ra, err := s.admin.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
		if err != nil {
			tb.Fatalf("list attached role policies: %v", err)
		}
		for _, p := range ra.AttachedPolicies {
			st.AttachedByRole[name] = append(st.AttachedByRole[name], aws.ToString(p.PolicyArn))
		}
	}
	return st
}

// ctVersionedName is the API version some services (Lambda) add to
// CloudTrail event names: DeleteFunction20150331.
var ctVersionedName = regexp.MustCompile(`\d{8}(v\d+)?$`)

// ctWriteEvents returns the calls that changed AWS (not read-only) which
// the world recorded after the first n events, as "service:Operation".
func ctWriteEvents(w *world.World, n int) []string {
	var got []string
	for _, e := range w.Gateway.Events()[n:] {
		if e.ReadOnly || e.ErrorCode != "" {
			continue
		}
		svc, _, _ := strings.Cut(e.EventSource, ".")
		got = append(got, svc+":"+ctVersionedName.ReplaceAllString(e.EventName, ""))
	}
	return got
}

// ctOperations returns the "service:Operation" of each call of a plan.
func ctOperations(calls []string) []string {
	ops := make([]string, len(calls))
	for i, c := range calls {
		ops[i], _, _ = strings.Cut(c, " ")
	}
	return ops
}

// ctCallsMatch asserts that an execution made exactly the planned
// calls: by its own log, by its request IDs, and by the world's CloudTrail.
func ctCallsMatch(tb testing.TB, w *world.World, eventsBefore int, plan awsops.ActionPlan, res awsops.Result) {
	tb.Helper()
	if !slices.Equal(res.Calls, plan.Calls) {
		tb.Errorf("executed calls:\n  %s\nplanned:\n  %s", strings.Join(res.Calls, "\n  "), strings.Join(plan.Calls, "\n  "))
	}
	if got, want := ctWriteEvents(w, eventsBefore), ctOperations(plan.Calls); !slices.Equal(got, want) {
		tb.Errorf("calls that changed AWS (CloudTrail) = %v, planned %v", got, want)
	}
	var idOps []string
	for _, id := range res.RequestIDs {
		op, rid, _ := strings.Cut(id, " ")
		if rid == "" || rid == "(none)" {
			tb.Errorf("request ID missing for %s", op)
		}
		idOps = append(idOps, op)
	}
	for _, op := range ctOperations(plan.Calls) {
		if !slices.Contains(idOps, op) {
			tb.Errorf("no request ID recorded for %s (have %v)", op, idOps)
		}
	}
}
