package respond

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
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
