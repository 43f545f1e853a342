package awsops_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// ctPlayScenario plays s in a fresh world and gives keyleak its identity
// there, as in a real organisation.
func ctPlayScenario(tb testing.TB, moto *world.Moto, s scenario.Scenario, opts scenario.Options) (*world.World, *scenario.Run, scenario.GroundTruth, *awsops.Client) {
	tb.Helper()
	ctx := tb.Context()
	w := world.New(tb, moto)
	run, err := scenario.Play(ctx, w, s, opts)
	if err != nil {
		tb.Fatalf("play %s: %v", s.Name, err)
	}
	gt, err := run.GroundTruth(ctx)
	if err != nil {
		tb.Fatalf("ground truth of %s: %v", s.Name, err)
	}
	creds, err := scenario.KeyleakIdentity(ctx, w, awsops.DefaultResponderRole)
	if err != nil {
		tb.Fatalf("keyleak's identity: %v", err)
	}
	return w, run, gt, awsops.NewFromConfig(w.Config("us-east-1", creds), awsops.Options{})
}

func ctScenarioTarget(gt scenario.GroundTruth) awsops.Target {
	t := awsops.Target{
		Account: gt.Account, UserName: gt.LeakedUser, UserARN: "arn:aws:iam::" + gt.Account + ":user/" + gt.LeakedUser,
		AccessKeyID: gt.LeakedKeyID, Incident: "KL-2026-0042",
	}
	for _, c := range gt.Credentials {
		if c.RoleARN != "" && !slices.Contains(t.Roles, c.RoleARN) {
			t.Roles = append(t.Roles, c.RoleARN)
		}
	}
	return t
}

// testScenarioSeed contains the scripted seed incident (50 nodes on
// eks-node-role): every credential the attacker holds is refused, and the
// nodes' next rounds, with sessions issued after the cutoff, all succeed.
func testScenarioSeed(t *testing.T, moto *world.Moto) {
	w, run, gt, c := ctPlayScenario(t, moto, scenario.Seed(), scenario.Options{})
	ctx := t.Context()
	target := ctScenarioTarget(gt)
	if len(target.Roles) == 0 {
		t.Fatal("the seed attacker assumed no role")
	}
	var cutoff time.Time
	for _, st := range []ctStep{
		{"deactivate", c.PlanDeactivate, ctNoParams(c.ExecuteDeactivate)},
		{"revoke-sessions", c.PlanRevokeSessions, c.ExecuteRevokeSessions},
	} {
		plan, err := st.plan(ctx, target)
		if err != nil {
			t.Fatalf("plan %s: %v", st.name, err)
		}
		n := len(w.Gateway.Events())
		res, err := st.exec(ctx, target, plan.Params)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		ctCallsMatch(t, w, n, plan, res)
		if c := plan.Params[awsops.ParamCutoff]; c != "" {
			cutoff, _ = time.Parse(time.RFC3339, c)
		}
	}
	for key, code := range run.Probe(ctx, time.Now()) {
		if code == "" {
			t.Errorf("after containment the attacker's %s still works", key)
		}
	}
	from := cutoff.Add(time.Second)
	if err := run.Scenario.Legit(ctx, run, from, from.Add(15*time.Minute)); err != nil {
		t.Errorf("the %d nodes after containment: %v", run.Nodes(), err)
	}
}

// ctCleanupKinds maps the ground truth's resource types to cleanup's kinds
// and the CloudTrail event that creates each.
var ctCleanupKinds = map[string]struct{ kind, event string }{
	"AWS::EC2::Instance":             {awsops.CleanupInstance, "RunInstances"},
	"AWS::EC2::SpotInstanceRequest":  {awsops.CleanupSpotRequest, "RequestSpotInstances"},
	"AWS::Lambda::Function":          {awsops.CleanupFunction, "CreateFunction"},
	"AWS::IAM::User":                 {awsops.CleanupUser, "CreateUser"},
	"AWS::IAM::Role":                 {awsops.CleanupRole, "CreateRole"},
	"AWS::IAM::AccessKey":            {awsops.CleanupAccessKey, "CreateAccessKey"},
	"AWS::IAM::LoginProfile":         {}, // removed with its user
	"AWS::IAM::UserPolicyAttachment": {},
	"AWS::IAM::RolePolicyAttachment": {},
}

// testScenarioCostAttack removes everything the cost attacker created, each
// with the CloudTrail event that created it.
func testScenarioCostAttack(t *testing.T, moto *world.Moto) {
	w, run, gt, c := ctPlayScenario(t, moto, scenario.CostAttack(), scenario.Options{})
	ctx := t.Context()
	target := ctScenarioTarget(gt)
	users := map[string]bool{}
	for _, r := range gt.Resources {
		if r.Type == "AWS::IAM::User" {
			users[r.ID] = true
		}
	}
	var items []awsops.CleanupItem
	for _, r := range gt.Resources {
		k, ok := ctCleanupKinds[r.Type]
		if !ok {
			t.Fatalf("the attacker created a %s, which cleanup does not know", r.Type)
		}
		if k.kind == "" || (r.Type == "AWS::IAM::AccessKey" && users[r.Parent]) {
			continue
		}
		i := slices.IndexFunc(w.Gateway.Events(), func(e world.Record) bool {
			return e.UserIdentity.AccessKeyID == r.CreatedBy && e.Time().Equal(r.Time) && strings.HasPrefix(e.EventName, k.event)
		})
		if i < 0 {
			t.Fatalf("no %s event by %s at %s for %s", k.event, r.CreatedBy, r.Time, r.ID)
		}
		e := w.Gateway.Events()[i]
		items = append(items, awsops.CleanupItem{Kind: k.kind, ID: r.ID, Region: r.Region, Account: r.Account,
			EventID: e.EventID, EventName: e.EventName, EventTime: e.Time(), UniqueID: createdID(e)})
	}
	existing := 0
	for _, r := range gt.Resources {
		if r.StillExists {
			existing++
		}
	}
	if len(items) < 5 || existing == 0 {
		t.Fatalf("the attack left %d resources (%d to clean up), want instances, spot requests, functions and a user", existing, len(items))
	}
	plan, err := c.PlanCleanup(ctx, target, items)
	if err != nil {
		t.Fatalf("plan cleanup: %v", err)
	}
	n := len(w.Gateway.Events())
	res, err := c.ExecuteCleanup(ctx, target, plan.Params)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	ctCallsMatch(t, w, n, plan, res)
	after, err := run.GroundTruth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after.Resources {
		if r.StillExists {
			t.Errorf("%s %s (%s) still exists after cleanup", r.Type, r.ID, r.Region)
		}
	}
}

// createdID is the user's or role's ID in a CreateUser or CreateRole
// event, as the investigation reads it.
func createdID(e world.Record) string {
	for _, k := range []string{"user", "role"} {
		if m, ok := e.ResponseElements[k].(map[string]any); ok {
			for _, f := range []string{"userId", "roleId"} {
				if id, ok := m[f].(string); ok {
					return id
				}
			}
		}
	}
	return ""
}
