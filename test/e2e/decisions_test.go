package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/test/world"
)

// TestDeniedAndExpiredRequestsDoNothing denies one request and lets
// another expire, and checks in AWS that neither changed anything.
func TestDeniedAndExpiredRequestsDoNothing(t *testing.T) {
	h := Start(t, WithScenario("seed"), WithEnv("KEYLEAK_APPROVAL_EXPIRY=1m"))
	ctx := context.Background()
	res, err := h.Slash(h.Run.Target.Leaked.AccessKeyID, nil)
	if err != nil || !strings.Contains(string(res.Body), "Opened KL-") {
		t.Fatalf("report: %v %+v", err, res)
	}
	id := OpenedID(t, res.Body)
	var d Detail
	Eventually(t, 120*time.Second, "the war room", func() (bool, string) {
		d, err = h.Incident(id)
		return err == nil && d.Incident.ChatSpace != "", fmt.Sprint(err)
	})
	space := d.Incident.ChatSpace
	user := h.Run.Target.LeakedUser
	admin := iam.NewFromConfig(h.World.Config("us-east-1", h.World.Admin(world.DefaultAccount)))
	before := userPolicies(t, ctx, admin, user)

	request := func(line string) string {
		t.Helper()
		if reply, err := h.Command(space, alice, line); err != nil || !strings.Contains(fmt.Sprint(reply), "awaiting approval") {
			t.Fatalf("%s: %v %v", line, reply, err)
		}
		cur, err := h.Incident(id)
		if err != nil {
			t.Fatal(err)
		}
		return cur.Actions[len(cur.Actions)-1].ID
	}
	quarantine := request("quarantine")
	if reply, err := h.Click(space, bob, "deny", quarantine+" not needed yet"); err != nil || !strings.Contains(fmt.Sprint(reply), "Denied by Bob") {
		t.Fatalf("deny: %v %v", reply, err)
	}
	denyAll := request("deny-all")
	time.Sleep(61 * time.Second)
	if reply, err := h.Click(space, bob, "approve", denyAll); err != nil || !strings.Contains(fmt.Sprint(reply), "expired") {
		t.Fatalf("approving an expired request: %v %v", reply, err)
	}
	// Give a wrongly started action time to show.
	time.Sleep(2 * time.Second)
	cur, err := h.Incident(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cur.Actions {
		want := map[string]string{quarantine: "denied", denyAll: "expired"}[a.ID]
		if a.Status != want {
			t.Errorf("%s %s is %s, want %s", a.ID, a.Name, a.Status, want)
		}
		if len(a.RequestIDs) > 0 {
			t.Errorf("%s made AWS calls: %v", a.ID, a.RequestIDs)
		}
	}
	if after := userPolicies(t, ctx, admin, user); after != before {
		t.Errorf("%s's policies changed:\nbefore %s\nafter  %s", user, before, after)
	}
}

// userPolicies describes a user's attached and inline policies.
func userPolicies(tb testing.TB, ctx context.Context, c *iam.Client, user string) string {
	tb.Helper()
	attached, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)})
	if err != nil {
		tb.Fatal(err)
	}
	inline, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(user)})
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, p := range attached.AttachedPolicies {
		names = append(names, aws.ToString(p.PolicyArn))
	}
	return fmt.Sprintf("attached %v inline %v", names, inline.PolicyNames)
}
