package respond

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/world"
)

// TestInvestigationStopsAtItsDeadline: CloudTrail does not answer; at its
// deadline the investigation records and posts what it found (the key's
// owner) with what is missing, instead of holding its delivery forever.
func TestInvestigationStopsAtItsDeadline(t *testing.T) {
	w := world.Start(t)
	ctx := t.Context()
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci-deploy-user")}); err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci-deploy-user")})
	if err != nil {
		t.Fatal(err)
	}
	w.Gateway.SetFault("cloudtrail", world.Fault{Delay: time.Hour})
	store, err := state.Open(filepath.Join(t.TempDir(), "k.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var inc state.Incident
	if err := store.Update(func(tx *state.Tx) (err error) {
		inc, _, err = tx.Report(state.NewIncident{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), Reporter: alice, At: time.Now()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	r := New(Config{AWS: c, Store: store, Channels: []string{commands.ChannelChat}, InvestigationDeadline: 5 * time.Second,
		Investigate: awsops.InvestigateOptions{Regions: []string{"eu-west-1"}}})
	var msg state.Message
	if err := store.Update(func(tx *state.Tx) error {
		return commands.EnqueueNotice(tx, commands.ChannelWork, "identify:"+inc.ID, commands.Notice{Kind: commands.NoticeIdentify, Incident: inc.ID}, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	store.View(func(tx *state.Tx) error { p, err := tx.Pending(inc.ID); msg = p[0]; return err })
	retry, err := r.Investigator().Deliver(context.Background(), msg)
	if err != nil || retry {
		t.Fatalf("Deliver = retry %v, %v; want the partial result recorded", retry, err)
	}
	inv, err := r.findings.load(inc.ID)
	if err != nil || inv == nil {
		t.Fatalf("no investigation recorded: %v", err)
	}
	if inv.Identity.UserName != "ci-deploy-user" {
		t.Errorf("identity = %+v, want the owner found before the deadline", inv.Identity)
	}
	found := false
	for _, g := range inv.Gaps {
		if strings.Contains(g.Reason, "stopped at its deadline") {
			found = true
		}
	}
	if !found {
		t.Errorf("gaps = %+v, want the deadline named", inv.Gaps)
	}
	var pending []state.Message
	store.View(func(tx *state.Tx) (err error) { pending, err = tx.Pending(inc.ID); return err })
	posted := false
	for _, m := range pending {
		if strings.HasPrefix(m.Key, "findings:") {
			posted = true
		}
	}
	if !posted {
		t.Error("the partial findings were not posted to the room")
	}
}
