package respond

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/world"
)

// verify before the investigation has finished: f.roles fails, the error
// is dropped, no derived key is known, and verify says "Contained: the key
// and every derived credential are refused" while the attacker's role
// session works.
func TestVerifyBeforeTheInvestigationFinished(t *testing.T) {
	moto := world.NewMotoTB(t)
	w := world.New(t, moto)
	cfg := w.Config("us-east-1", w.Admin(world.DefaultAccount))
	admin := iam.NewFromConfig(cfg)
	rig := &actionRig{w: w, admin: admin}
	rig.leaked = rig.user(t, "ci-deploy-user")
	role, err := admin.CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: aws.String("eks-node-role"), MaxSessionDuration: aws.Int32(43200),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	rig.roleARN = aws.ToString(role.Role.Arn)
	attacker := rig.assume(t, rig.leaked, "attacker", time.Now().Add(-3*time.Hour))
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("config-bucket")}); err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(filepath.Join(t.TempDir(), "k.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var inc state.Incident
	if err := store.Update(func(tx *state.Tx) (err error) {
		inc, _, err = tx.Report(state.NewIncident{AccessKeyID: rig.leaked.AccessKeyID, Reporter: alice, At: time.Now()})
		if err != nil {
			return err
		}
		inc.AccountID = world.DefaultAccount
		inc.Owner = state.Owner{Kind: state.OwnerUser, UserName: "ci-deploy-user", ARN: "arn:aws:iam::" + world.DefaultAccount + ":user/ci-deploy-user"}
		return tx.PutIncident(inc)
	}); err != nil {
		t.Fatal(err)
	}
	c := awsops.NewFromConfig(cfg, awsops.Options{Regions: []string{"us-east-1"}})
	rs := New(Config{AWS: c, Store: store})
	tg, err := (&containExecutor{c: c}).target(t.Context(), inc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteDeactivate(t.Context(), tg); err != nil {
		t.Fatal(err)
	}
	rep, err := rs.verify(t.Context(), inc, time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	reply := verifyReply(inc.ID, rep)
	if rep.Contained() || !strings.Contains(reply.Text, "has not finished") {
		t.Errorf("before the investigation finished, verify replies %q (the attacker's session of %s works: %v)", reply.Text, rig.roleARN, rig.listBuckets(t, attacker) == "")
	}
}

// The verify command reads the trail bucket's files since containment
// (Config.Investigate's trail settings): the role session the leaked key
// assumed reads an object after the key is deactivated, a data event
// LookupEvents does not show, and verify says NOT CONTAINED, naming it.
// The watch's check (withTrail false) reads LookupEvents alone.
func TestVerifyCommandReadsTheTrailBucket(t *testing.T) {
	r := newActionRig(t, world.NewMotoTB(t), true)
	ctx := t.Context()
	cfg := r.w.Config("us-east-1", r.w.Admin(world.DefaultAccount))
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("config-bucket"), Key: aws.String("prod.env"), Body: strings.NewReader("DB_PASSWORD=x")}); err != nil {
		t.Fatal(err)
	}
	r.approveAndRun(t, ActionDeactivate)
	time.Sleep(1100 * time.Millisecond) // CloudTrail times are to the second
	if _, err := s3.NewFromConfig(r.w.Config("us-east-1", r.attacker), func(o *s3.Options) { o.UsePathStyle = true }).GetObject(ctx,
		&s3.GetObjectInput{Bucket: aws.String("config-bucket"), Key: aws.String("prod.env")}); err != nil {
		t.Fatalf("the role session reads the object after the key is deactivated: %v", err)
	}
	if err := r.w.Gateway.FlushTrail(ctx); err != nil {
		t.Fatal(err)
	}
	c := awsops.NewFromConfig(cfg, awsops.Options{Regions: []string{"us-east-1"}})
	rs := New(Config{AWS: c, Store: r.store, Investigate: awsops.InvestigateOptions{TrailBucket: r.w.Gateway.TrailBucket()}})
	read := "GetObject succeeded with " + r.attacker.AccessKeyID
	reply, err := rs.verifyCommand().Run(ctx, commands.Request{Actor: alice, Incident: r.inc.ID, Scope: commands.InSpace})
	if err != nil {
		t.Fatal(err)
	}
	if !reply.Problem || !strings.Contains(reply.Text, read) {
		t.Errorf("verify replies %q, want NOT CONTAINED naming %q", reply.Text, read)
	}
	since, err := containedSince(r.store, r.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rs.verify(ctx, r.inc, since, false)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, read) }) {
		t.Errorf("the watch's check read the trail bucket: %v", rep.Problems)
	}
}
