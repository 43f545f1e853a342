package scenario

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/test/world"
)

// TestRecorderKeepsBrokenAnswers: a call whose connection breaks under a
// successful answer was served, and recorded by the gateway; the ground
// truth records it as the success it was. A read is made again (another
// call, recorded by both); a write is not.
func TestRecorderKeepsBrokenAnswers(t *testing.T) {
	w := world.New(t, sharedMoto)
	ctx := t.Context()
	rec := &recorder{}
	a := newActor(w, rec, "198.51.100.1", "recorder-test", time.Now().UTC().Add(-time.Hour).Truncate(time.Second))
	admin := credential{Credentials: w.Admin(world.DefaultAccount), Label: "admin", Account: world.DefaultAccount}
	served := func(name string) (n int) {
		for _, r := range w.Gateway.Events() {
			if r.EventName == name && r.UserIdentity.AccessKeyID == admin.AccessKeyID && r.ErrorCode == "" {
				n++
			}
		}
		return n
	}
	recorded := func(name string) (n int) {
		for _, c := range rec.all() {
			if c.Operation == name && c.ErrorCode == "" {
				n++
			}
		}
		return n
	}

	w.Gateway.SetFault("sts", world.Fault{BreakRate: 1})
	if _, err := sts.NewFromConfig(a.config("us-east-1", admin)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Fatal("every answer broken, yet the read succeeded")
	}
	if got, want := recorded("GetCallerIdentity"), served("GetCallerIdentity"); got != 2 || want != 2 {
		t.Errorf("a broken read: %d calls in the ground truth, %d served, want 2 of each (the call and the one made again)", got, want)
	}

	w.Gateway.SetFault("iam", world.Fault{BreakRate: 1})
	if _, err := iam.NewFromConfig(a.config("us-east-1", admin)).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("made-once")}); err == nil {
		t.Fatal("every answer broken, yet the write succeeded")
	}
	if got, want := recorded("CreateUser"), served("CreateUser"); got != 1 || want != 1 {
		t.Errorf("a broken write: %d calls in the ground truth, %d served, want 1 of each (a write is not made again)", got, want)
	}
}
