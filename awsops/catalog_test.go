package awsops_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/awsops/trail"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// TestCatalogueCoverage: every technique of the catalogue shows on a real
// event (the CloudTrail of Stratus Red Team's detonations) or on one the
// world recorded when the techniques scenario did it for real; and the
// catalogue holds each of Stratus Red Team's 44 AWS techniques, citing
// where it comes from.
func TestCatalogueCoverage(t *testing.T) {
	var recs []trail.Record
	files, err := filepath.Glob(filepath.Join("testdata", "stratus", "aws.*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Stratus logs in testdata/stratus (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range raw {
			var rec trail.Record
			if err := trail.Decode(r, &rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			recs = append(recs, rec)
		}
	}
	real := len(recs)
	w := world.Start(t)
	if _, err := scenario.Play(t.Context(), w, scenario.Techniques(), scenario.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range w.Gateway.Events() {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var rec trail.Record
		if err := trail.Decode(b, &rec); err != nil {
			t.Fatalf("a world record does not decode: %v", err)
		}
		recs = append(recs, rec)
	}
	shown := map[string]string{} // technique → where
	for i := range recs {
		where := "world"
		if i < real {
			where = "Stratus Red Team"
		}
		for _, tech := range awsops.TechniquesOf(&recs[i]) {
			if _, ok := shown[tech.ID]; !ok {
				shown[tech.ID] = where + ": " + recs[i].EventSource + " " + recs[i].EventName
			}
		}
	}
	stratus := 0
	for _, tech := range awsops.Catalogue() {
		if strings.HasPrefix(tech.ID, "aws.") {
			stratus++
		}
		if !strings.HasPrefix(tech.Source, "https://") || tech.Why == "" || tech.Category == "" || len(tech.MITRE) == 0 {
			t.Errorf("%s: entry lacks its source, reason, category or ATT&CK technique: %+v", tech.ID, tech)
		}
		where, ok := shown[tech.ID]
		if !ok {
			t.Errorf("%s (%s): no real or world-recorded event shows it", tech.ID, tech.Name)
			continue
		}
		t.Logf("%-60s %s", tech.ID, where)
	}
	if stratus != 44 {
		t.Errorf("the catalogue has %d Stratus Red Team techniques, want the 44 of v2.36", stratus)
	}
	ids := map[string]bool{}
	for _, tech := range awsops.Catalogue() {
		if ids[tech.ID] {
			t.Errorf("technique %s is in the catalogue twice", tech.ID)
		}
		ids[tech.ID] = true
	}
	if !slices.ContainsFunc(awsops.Catalogue(), func(t awsops.Technique) bool { return t.NewSourceOnly }) {
		t.Error("no technique is judged by its source")
	}
}

// TestOpeningsAreResources: every door the techniques scenario opened to
// the attacker's account is a resource naming whom it admits, and says
// whether it still does; once closed, the next investigation says it is
// gone.
func TestOpeningsAreResources(t *testing.T) {
	ctx := t.Context()
	w := world.Start(t)
	run, err := scenario.Play(ctx, w, scenario.Techniques(), scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addResponderRole(t, w, world.SecondAccount)
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(run.Target.Account)), awsops.Options{Regions: run.Target.Regions})
	key, _ := awsops.ParseAccessKeyID(run.Target.Leaked.AccessKeyID)
	investigate := func() map[string]awsops.Resource {
		inv, err := c.Investigate(ctx, key, awsops.InvestigateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]awsops.Resource{}
		for _, r := range inv.Resources {
			out[r.Type] = r
		}
		return out
	}
	outsider := scenario.TechOutsider
	want := map[string]string{ // type → whom it admits
		"AWS::Lambda::Permission": "*", "AWS::Lambda::Url": "anyone", "AWS::EC2::SnapshotShare": outsider, "AWS::EC2::ImageShare": "all",
		"AWS::RDS::DBSnapshotShare": outsider, "AWS::S3::BucketPolicy": outsider, "AWS::S3::BucketAcl": "everyone",
		"AWS::EC2::SecurityGroupRule": "0.0.0.0/0 tcp port 22", "AWS::KMS::Grant": outsider, "AWS::SecretsManager::ResourcePolicy": outsider,
		"AWS::IAM::RoleTrust": outsider, "AWS::IAM::OIDCProvider": "token.actions.example.invalid", "AWS::IAM::SAMLProvider": "",
		"AWS::IAM::LoginProfile": "",
	}
	got := investigate()
	for typ, who := range want {
		r, ok := got[typ]
		switch {
		case !ok:
			t.Errorf("no %s among the resources", typ)
		case !strings.Contains(r.Opening, who):
			t.Errorf("%s %s admits %q, want %q in it", typ, r.ID, r.Opening, who)
		case r.Exists != awsops.ExistsYes:
			t.Errorf("%s %s: exists %q (%s), want yes", typ, r.ID, r.Exists, r.ExistsDetail)
		}
	}
	// A responder closes four of them.
	admin := w.Config("us-east-1", w.Admin(run.Target.Account))
	closeAll(t, admin, got)
	again := investigate()
	for _, typ := range []string{"AWS::Lambda::Permission", "AWS::EC2::SecurityGroupRule", "AWS::EC2::SnapshotShare", "AWS::S3::BucketPolicy"} {
		if r := again[typ]; r.Exists != awsops.ExistsNo {
			t.Errorf("%s %s after it was closed: exists %q (%s), want no", typ, r.ID, r.Exists, r.ExistsDetail)
		}
	}
}
