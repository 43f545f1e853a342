package awsops_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// playScenario plays s in a fresh world, as keyleak would find it: the
// trail delivered to the bucket and a responder role in every account.
func playScenario(tb testing.TB, moto *world.Moto, s scenario.Scenario) (*world.World, *scenario.Run, scenario.GroundTruth) {
	tb.Helper()
	ctx := tb.Context()
	w := world.New(tb, moto)
	run, err := scenario.Play(ctx, w, s, scenario.Options{Nodes: 5})
	if err != nil {
		tb.Fatalf("play %s: %v", s.Name, err)
	}
	gt, err := run.GroundTruth(ctx)
	if err != nil {
		tb.Fatalf("ground truth of %s: %v", s.Name, err)
	}
	if err := w.Gateway.FlushTrail(ctx); err != nil {
		tb.Fatalf("flush trail: %v", err)
	}
	for _, acct := range w.Gateway.Accounts() {
		if acct != run.Target.Account {
			addResponderRole(tb, w, acct)
		}
	}
	return w, run, gt
}

// investigateRun investigates the run's leaked key as keyleak would: the
// account's credentials, every region, the trail bucket and Cost
// Explorer, on the path given ("" lets the planner choose).
func investigateRun(tb testing.TB, w *world.World, run *scenario.Run, path string) *awsops.Investigation {
	tb.Helper()
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(run.Target.Account)), awsops.Options{})
	key, err := awsops.ParseAccessKeyID(run.Target.Leaked.AccessKeyID)
	if err != nil {
		tb.Fatal(err)
	}
	var progress []awsops.Progress
	var mu sync.Mutex
	inv, err := c.Investigate(tb.Context(), key, awsops.InvestigateOptions{
		TrailBucket: run.Target.TrailBucket, Cost: awsops.NewCostCache(), Path: path,
		Progress: func(p awsops.Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() },
	})
	if err != nil {
		tb.Fatalf("investigate: %v", err)
	}
	tb.Logf("investigation took %s", inv.FinishedAt.Sub(inv.StartedAt))
	mu.Lock()
	defer mu.Unlock()
	if len(progress) == 0 || !progress[len(progress)-1].Done {
		tb.Errorf("progress reports = %+v, want some ending with Done", progress)
	}
	return inv
}

// investigateScenario plays s and investigates its leaked key, the
// planner choosing the path.
func investigateScenario(tb testing.TB, moto *world.Moto, s scenario.Scenario) (*scenario.Run, scenario.GroundTruth, *awsops.Investigation) {
	tb.Helper()
	w, run, gt := playScenario(tb, moto, s)
	return run, gt, investigateRun(tb, w, run, "")
}

// addResponderRole creates keyleak's responder role in account, as
// deploy/ does in every account keyleak may act in.
func addResponderRole(tb testing.TB, w *world.World, account string) {
	tb.Helper()
	ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(account)))
	if _, err := ic.CreateRole(tb.Context(), &iam.CreateRoleInput{RoleName: aws.String(awsops.DefaultResponderRole),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		tb.Fatalf("create the responder role in %s: %v", account, err)
	}
}

// TestInvestigateScenarios investigates every scenario twice, through
// LookupEvents and trail first (the planner's choice in this world, whose
// bucket is small), checks both against the ground truth, and checks
// that they give the same answers.
func TestInvestigateScenarios(t *testing.T) {
	moto := world.NewMotoTB(t)
	for _, s := range scenario.All() {
		t.Run(s.Name, func(t *testing.T) {
			w, run, gt := playScenario(t, moto, s)
			invs := map[string]*awsops.Investigation{}
			for _, path := range []string{awsops.PathLookup, ""} {
				inv := investigateRun(t, w, run, path)
				got := inv.Plan[0].Path
				switch {
				case path == awsops.PathLookup && got != awsops.PathLookup:
					t.Fatalf("forced to LookupEvents, the plan says %+v", inv.Plan[0])
				case path == "" && got != awsops.PathTrail:
					t.Fatalf("the planner chose %s (%s), want the trail for a bucket this small", got, inv.Plan[0].Reason)
				}
				t.Run(got, func(t *testing.T) {
					for _, g := range inv.Gaps {
						t.Logf("gap: %+v", g)
					}
					for _, p := range inv.Plan {
						t.Logf("plan: %s %s %s: %s", p.Account, p.Region, p.Path, p.Reason)
					}
					checkTree(t, gt, inv)
					checkActivity(t, gt, inv)
					checkBaseline(t, gt, inv)
					checkResources(t, gt, inv)
					checkDataEvents(t, gt, inv)
					checkCost(t, gt, inv)
					if got, want := inv.Identity.UserName, run.Target.LeakedUser; got != want {
						t.Errorf("owner = %q, want %q", got, want)
					}
					if got := inv.Summary(); len(got) < 3 || len(got) > 10 {
						t.Errorf("summary has %d lines, want 3 to 10:\n%s", len(got), strings.Join(got, "\n"))
					}
				})
				invs[got] = inv
			}
			sameAnswers(t, invs[awsops.PathLookup], invs[awsops.PathTrail])
		})
	}
}

// tracked are the keys an investigation follows: the leaked key, the STS
// credentials minted from it, and the access keys it (or they) created,
// which are branches created by the attacker.
func tracked(gt scenario.GroundTruth) map[string]scenario.DerivedCredential {
	out := map[string]scenario.DerivedCredential{gt.LeakedKeyID: {AccessKeyID: gt.LeakedKeyID}}
	for _, d := range gt.Credentials {
		if slices.ContainsFunc(d.Chain[:len(d.Chain)-1], func(k string) bool { _, ok := out[k]; return ok }) {
			out[d.AccessKeyID] = d
		}
	}
	return out
}

func checkTree(t *testing.T, gt scenario.GroundTruth, inv *awsops.Investigation) {
	t.Helper()
	want := tracked(gt)
	got := map[string]awsops.Session{}
	for _, s := range inv.Sessions {
		if s.AccessKeyID == "" {
			// A user's branch: a user the attacker created, or whose
			// console password it set.
			created := slices.ContainsFunc(gt.Resources, func(r scenario.Resource) bool { return r.Type == "AWS::IAM::User" && r.ID == s.UserName })
			password := slices.ContainsFunc(gt.Resources, func(r scenario.Resource) bool { return r.Type == "AWS::IAM::LoginProfile" && r.Parent == s.UserName })
			if !(s.Via == awsops.ViaCreatedUser && created) && !(s.Via == awsops.ViaLoginProfile && password) {
				t.Errorf("credential tree has the branch of user %q (%s), which the attacker neither created nor set the password of", s.UserName, s.Via)
			}
			continue
		}
		got[s.AccessKeyID] = s
	}
	for id, d := range want {
		s, ok := got[id]
		if !ok {
			t.Errorf("credential tree misses %s (%s %s)", id, d.Via, d.Label)
			continue
		}
		if id == gt.LeakedKeyID {
			continue
		}
		if d.Via == "CreateAccessKey" && (s.Via != awsops.ViaCreatedKey || !s.CreatedByAttacker || s.UserName != d.UserName) {
			t.Errorf("key %s = %+v, want a branch created by the attacker: a key of %s", id, s, d.UserName)
		}
		if s.ParentAccessKeyID != d.ParentKeyID || s.MintedBy != d.Via || s.RoleARN != d.RoleARN || s.Account != d.Account {
			t.Errorf("session %s = parent %s via %s role %s account %s, want parent %s via %s role %s account %s",
				id, s.ParentAccessKeyID, s.MintedBy, s.RoleARN, s.Account, d.ParentKeyID, d.Via, d.RoleARN, d.Account)
		}
		// How soon the sweep started is measured here, on the wall clock,
		// and only logged: the pacing decision behind it (a derived key is
		// first in line for its region's budget) is checked on a simulated
		// clock in TestDerivedKeyFirstInLine.
		if inv.Plan[0].Path == awsops.PathLookup {
			t.Logf("session %s sweep started %s after its minting event was seen", id, s.SweepDelay)
			if s.SweepDelay <= 0 {
				t.Errorf("session %s: the start of its sweep was not recorded", id)
			}
		}
		if !d.Expires.IsZero() && !s.Expires.Equal(d.Expires) {
			t.Errorf("session %s expires %s, want %s", id, s.Expires, d.Expires)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("credential tree has %s, which was not minted from the leaked key", id)
		}
		if slices.Contains(gt.Legit.SessionKeyIDs, id) {
			t.Errorf("credential tree has the legitimate session %s", id)
		}
	}
}

func checkActivity(t *testing.T, gt scenario.GroundTruth, inv *awsops.Investigation) {
	t.Helper()
	keys := tracked(gt)
	var events, errs int
	var first, last time.Time
	ips := map[string]bool{}
	// A sign-in names no key: it is in the activity when the console
	// session it gave is in the tree.
	signedIn := map[string]bool{}
	for _, d := range keys {
		if d.Via == "ConsoleLogin" {
			signedIn[d.Label] = true
		}
	}
	// The key's own CI is in its activity too, as its baseline.
	for _, a := range slices.Concat(gt.Actions, gt.Legit.KeyActions) {
		if _, ok := keys[a.AccessKeyID]; !ok && !(a.AccessKeyID == "" && a.EventName == "ConsoleLogin" && signedIn[a.Credential]) {
			continue
		}
		events++
		if a.ErrorCode != "" {
			errs++
		}
		if first.IsZero() || a.Time.Before(first) {
			first = a.Time
		}
		last = maxTime(last, a.Time)
		ips[a.SourceIP] = true
	}
	a := inv.Activity
	if a.Events != events || a.Errors != errs {
		t.Errorf("events = %d (%d failed), want %d (%d failed)", a.Events, a.Errors, events, errs)
		for _, s := range inv.Sessions {
			t.Logf("got %s: %+v", s.AccessKeyID, s.Activity.EventNames)
		}
		for _, act := range gt.Actions {
			t.Logf("want %s %s %s %s data=%v", act.AccessKeyID, act.EventName, act.Region, act.Time, act.Data)
		}
	}
	if !a.First.Equal(first) || !a.Last.Equal(last) {
		t.Errorf("first/last seen = %s/%s, want %s/%s", a.First, a.Last, first, last)
	}
	for _, c := range a.SourceIPs {
		if !ips[c.Name] {
			t.Errorf("source IP %s is neither the attacker's nor the key's CI", c.Name)
		}
		delete(ips, c.Name)
	}
	if len(ips) > 0 {
		t.Errorf("source IPs missing: %v", ips)
	}
	for _, act := range gt.Actions {
		if _, ok := keys[act.AccessKeyID]; !ok || act.Data {
			continue
		}
		if isFlaggable(act.EventName) && !slices.ContainsFunc(inv.Flagged, func(f awsops.FlaggedEvent) bool {
			return f.EventName == act.EventName && f.Time.Equal(act.Time) && f.AccessKeyID == act.AccessKeyID
		}) {
			t.Errorf("%s at %s by %s not flagged", act.EventName, act.Time, act.AccessKeyID)
		}
	}
}

// isFlaggable names calls the summary must always flag.
func isFlaggable(name string) bool {
	return slices.Contains([]string{"CreateUser", "CreateAccessKey", "CreateLoginProfile", "AttachUserPolicy", "PutUserPolicy",
		"CreateRole", "AssumeRole", "GetSessionToken", "GetFederationToken", "RunInstances", "RequestSpotInstances",
		"CreateFunction20150331", "StopLogging", "DeleteTrail"}, name)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// checkBaseline: the key's own CI is its baseline, and nothing it did is
// flagged; the attacker's sources are the attacker's, and every change
// they made is flagged as from a new source.
func checkBaseline(t *testing.T, gt scenario.GroundTruth, inv *awsops.Investigation) {
	t.Helper()
	sourceOf := func(ip string) (awsops.Source, bool) {
		i := slices.IndexFunc(inv.Sources, func(s awsops.Source) bool { return slices.Contains(s.IPs, ip) })
		if i < 0 {
			return awsops.Source{}, false
		}
		return inv.Sources[i], true
	}
	for _, a := range gt.Legit.KeyActions {
		if s, ok := sourceOf(a.SourceIP); !ok || !s.Baseline || s.Attacker {
			t.Errorf("the key's CI at %s is not in the baseline: %+v (found %v)", a.SourceIP, s, ok)
		}
		for _, f := range inv.Flagged {
			if f.EventName == a.EventName && f.Time.Equal(a.Time) && f.SourceIP == a.SourceIP {
				t.Errorf("the key's CI call %s at %s is flagged: %+v", a.EventName, a.Time, f)
			}
		}
	}
	for _, ip := range gt.SourceIPs {
		if s, ok := sourceOf(ip); !ok || !s.Attacker {
			t.Errorf("the attacker's address %s is not an attacker source: %+v (found %v)", ip, s, ok)
		}
	}
	for _, f := range inv.Flagged {
		if f.NewSource != slices.Contains(gt.SourceIPs, f.SourceIP) {
			t.Errorf("flagged %s from %s: new source %v, want %v", f.EventName, f.SourceIP, f.NewSource, !f.NewSource)
		}
	}
}

func checkResources(t *testing.T, gt scenario.GroundTruth, inv *awsops.Investigation) {
	t.Helper()
	keys := tracked(gt)
	for _, want := range gt.Resources {
		if _, ok := keys[want.CreatedBy]; !ok || want.Parent != "" {
			continue // created by a key the attacker made, or an attachment
		}
		i := slices.IndexFunc(inv.Resources, func(r awsops.Resource) bool { return r.Type == want.Type && r.ID == want.ID })
		if i < 0 {
			t.Errorf("resource %s %s (created by %s) not found", want.Type, want.ID, want.CreatedBy)
			continue
		}
		got := inv.Resources[i]
		if wantExists := map[bool]string{true: "yes", false: "no"}[want.StillExists]; got.Exists != wantExists {
			t.Errorf("resource %s %s exists = %q (%s), want %q", want.Type, want.ID, got.Exists, got.ExistsDetail, wantExists)
		}
	}
}

func checkDataEvents(t *testing.T, gt scenario.GroundTruth, inv *awsops.Investigation) {
	t.Helper()
	keys := tracked(gt)
	followUps := strings.Join(awsops.FollowUpTexts(inv.FollowUps()), "\n")
	for _, d := range gt.DataEvents {
		if _, ok := keys[d.AccessKeyID]; !ok {
			continue
		}
		if inv.DataEvents == nil {
			t.Fatalf("no data events, want %s/%s", d.Bucket, d.Key)
		}
		i := slices.IndexFunc(inv.DataEvents.Accessed, func(o awsops.ObjectAccess) bool { return o.Bucket == d.Bucket && o.Key == d.Key })
		if i < 0 {
			t.Errorf("data event %s %s/%s by %s not found", d.EventName, d.Bucket, d.Key, d.AccessKeyID)
			continue
		}
		o := inv.DataEvents.Accessed[i]
		if got := o.Sensitive != ""; got != d.Sensitive {
			t.Errorf("%s/%s sensitive = %v (%q), want %v", d.Bucket, d.Key, got, o.Sensitive, d.Sensitive)
		}
		if d.Sensitive && !strings.Contains(followUps, d.Bucket+"/"+d.Key) {
			t.Errorf("follow-ups do not mention %s/%s:\n%s", d.Bucket, d.Key, followUps)
		}
	}
}

func checkCost(t *testing.T, gt scenario.GroundTruth, inv *awsops.Investigation) {
	t.Helper()
	if gt.Cost == nil {
		return
	}
	if inv.Cost == nil {
		t.Fatal("no cost report")
	}
	if !inv.Cost.Estimated {
		t.Error("cost report not marked as estimates")
	}
	for service, extra := range gt.Cost.ByService {
		if extra < awsops.DefaultMinSpike {
			continue
		}
		if !slices.ContainsFunc(inv.Cost.Spikes, func(s awsops.CostSpike) bool { return s.Service == service && s.Day == gt.Cost.Day }) {
			t.Errorf("no spike for %s on %s (extra %.2f); spikes %+v", service, gt.Cost.Day, extra, inv.Cost.Spikes)
		}
	}
}
