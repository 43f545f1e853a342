package awsops_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops"
)

// sample is an investigation as the seed incident produces it.
func sample() *awsops.Investigation {
	at := time.Date(2026, 11, 22, 10, 45, 0, 0, time.UTC)
	return &awsops.Investigation{
		AccessKeyID: "AKIAYVP4CIPPERUVIFXG", StartedAt: at.Add(4 * time.Hour), FinishedAt: at.Add(4*time.Hour + time.Minute),
		Window: awsops.Window{Start: at.Add(-24 * time.Hour), End: at.Add(4 * time.Hour), Reason: "set by --since"},
		Identity: awsops.Identity{AccessKeyID: "AKIAYVP4CIPPERUVIFXG", Kind: "long-term", Account: "111122223333", UserName: "ci-deploy-user",
			Status: "Active", Severity: awsops.SeverityCritical, SeverityReasons: []string{"can write IAM"}},
		Activity: awsops.Activity{Events: 19, Errors: 1, First: at, Last: at.Add(2 * time.Hour),
			SourceIPs: []awsops.Count{{Name: "58.218.199.38", Count: 19}}, Regions: []awsops.Count{{Name: "us-east-1", Count: 19}}},
		Sessions: []awsops.Session{
			{AccessKeyID: "AKIAYVP4CIPPERUVIFXG", Account: "111122223333"},
			{AccessKeyID: "ASIAYVP4CIPPAAAAAAAA", ParentAccessKeyID: "AKIAYVP4CIPPERUVIFXG", Depth: 1, MintedBy: "AssumeRole",
				RoleARN: "arn:aws:iam::111122223333:role/eks-node-role", Issued: at, Expires: at.Add(12 * time.Hour)},
		},
		Flagged: []awsops.FlaggedEvent{{Time: at, Category: awsops.CategoryCredentialMinting, EventName: "AssumeRole", Region: "us-east-1",
			SourceIP: "58.218.199.38", UserAgent: "aws-cli/2", AccessKeyID: "AKIAYVP4CIPPERUVIFXG"}},
		Resources: []awsops.Resource{{Type: "AWS::IAM::User", ID: "backup-admin", Account: "111122223333", Region: "us-east-1", CreatedBy: "CreateUser", CreatedAt: at, Exists: "yes"}},
		DataEvents: &awsops.DataEvents{Bucket: "trail", Accessed: []awsops.ObjectAccess{
			{Bucket: "config-bucket", Key: "prod.tfstate", EventNames: []string{"GetObject"}, Count: 1, Sensitive: awsops.SensitiveObject("config-bucket", "prod.tfstate")}}},
		Cost: &awsops.CostReport{Currency: "USD", Estimated: true, Spikes: []awsops.CostSpike{{Day: "2026-11-22", Service: "Amazon Elastic Compute Cloud - Compute", Region: "ap-southeast-1", Amount: 1400, Baseline: 20, Factor: 70}}},
		Gaps: []awsops.Gap{{Step: awsops.StepIdentify, Reason: "iam:SimulatePrincipalPolicy is unavailable"}},
	}
}

func TestRenderFormats(t *testing.T) {
	inv := sample()
	for _, format := range []string{"text", "markdown"} {
		var b bytes.Buffer
		if err := inv.Render(&b, format); err != nil {
			t.Fatalf("render %s: %v", format, err)
		}
		for _, want := range slices.Concat(inv.Summary(), []string{"Credential tree", "eks-node-role", "What is missing", "Follow-ups"}) {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s output lacks %q", format, want)
			}
		}
	}
	if err := inv.Render(&bytes.Buffer{}, "yaml"); !errors.Is(err, awsops.ErrUnknownFormat) {
		t.Errorf("render yaml: %v, want ErrUnknownFormat", err)
	}
}

// TestJSONIsTheDocumentedShape pins the top-level names of the JSON
// document (docs/investigation-json.md): the front ends depend on them.
func TestJSONIsTheDocumentedShape(t *testing.T) {
	var b bytes.Buffer
	if err := sample().Render(&b, "json"); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range doc {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{"access_key_id", "activity", "cost", "data_events", "finished_at", "flagged", "gaps", "identity", "kms_decrypts",
		"plan", "regions", "resources", "sessions", "sources", "started_at", "sweep", "techniques", "window"}
	if !slices.Equal(got, want) {
		t.Errorf("top-level keys = %v, want %v", got, want)
	}
	var back awsops.Investigation
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Sessions[1].RoleARN != "arn:aws:iam::111122223333:role/eks-node-role" {
		t.Errorf("round trip: %v, %+v", err, back.Sessions)
	}
}

func TestSummaryAndFollowUps(t *testing.T) {
	inv := sample()
	summary := inv.Summary()
	if len(summary) < 5 || len(summary) > 10 {
		t.Errorf("summary has %d lines, want 5 to 10:\n%s", len(summary), strings.Join(summary, "\n"))
	}
	if !strings.Contains(summary[0], "CRITICAL") || !strings.Contains(summary[0], "ci-deploy-user") {
		t.Errorf("first line = %q, want the owner and the severity", summary[0])
	}
	follow := strings.Join(awsops.FollowUpTexts(inv.FollowUps()), "\n")
	for _, want := range []string{"deactivate AKIAYVP4CIPPERUVIFXG", "role arn:aws:iam::111122223333:role/eks-node-role",
		"rotate the credentials in config-bucket/prod.tfstate", "AWS::IAM::User backup-admin", "Amazon Elastic Compute Cloud"} {
		if !strings.Contains(follow, want) {
			t.Errorf("follow-ups lack %q:\n%s", want, follow)
		}
	}
	var titles []string
	for _, s := range inv.Sections() {
		titles = append(titles, s.Title)
	}
	for _, want := range []string{"Identity", "CloudTrail activity", "Flagged events", "Credential tree", "Data events (S3)", "Resources created or opened", "KMS decrypt attempts", "Cost (estimates)", "What is missing"} {
		if !slices.Contains(titles, want) {
			t.Errorf("sections %v lack %q", titles, want)
		}
	}
}

// TestEveryFieldIsDocumented: every field name of the document, at any
// depth, appears in docs/investigation-json.md.
func TestEveryFieldIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "investigation-json.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen, checked := map[reflect.Type]bool{}, 0
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() == "time" {
			return
		}
		seen[typ] = true
		for f := range typ.Fields() {
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				walk(f.Type, path)
				continue
			}
			if name == "-" {
				continue
			}
			checked++
			if name != "" && !bytes.Contains(doc, []byte("`"+name+"`")) {
				t.Errorf("%s.%s (%q) is not in docs/investigation-json.md", path, f.Name, name)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeFor[awsops.Investigation](), "Investigation")
	if checked < 150 {
		t.Errorf("only %d fields checked: the walk misses the document's structure", checked)
	}
	t.Logf("%d fields checked", checked)
}
