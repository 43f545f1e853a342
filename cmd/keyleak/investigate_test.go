package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

func TestInvestigateBadInput(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
		notInErr string
	}{
		{name: "no key", args: []string{"investigate"}, wantCode: 2, wantErr: "exactly one access key ID"},
		{name: "two keys", args: []string{"investigate", "AKIAYVP4CIPPERUVIFXG", "AKIAYVP4CIPPERUVIFXH"}, wantCode: 2, wantErr: "got 2 arguments"},
		{name: "too short", args: []string{"investigate", "AKIA123"}, wantCode: 2, wantErr: "too short: 7 characters"},
		{name: "user ID", args: []string{"investigate", "AIDAYVP4CIPPERUVIFXG"}, wantCode: 2, wantErr: "that is a user ID"},
		{name: "lower case", args: []string{"investigate", "akiayvp4cipperuvifxg"}, wantCode: 2, wantErr: "did you mean AKIAYVP4CIPPERUVIFXG"},
		{name: "secret key pasted", args: []string{"investigate", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, wantCode: 2,
			wantErr: "treat it as exposed", notInErr: "wJalrXUtnFEMI"},
		{name: "bad format", args: []string{"investigate", "AKIAYVP4CIPPERUVIFXG", "--format", "yaml"}, wantCode: 2, wantErr: `--format "yaml"`},
		{name: "bad since", args: []string{"investigate", "--since", "last week", "AKIAYVP4CIPPERUVIFXG"}, wantCode: 2, wantErr: "neither a duration"},
		{name: "since too far", args: []string{"investigate", "AKIAYVP4CIPPERUVIFXG", "--since", "120d"}, wantCode: 2, wantErr: "from 1 to 90"},
		{name: "unknown flag", args: []string{"investigate", "--bogus", "AKIAYVP4CIPPERUVIFXG"}, wantCode: 2, wantErr: "bogus"},
		{name: "bad path", args: []string{"investigate", "--path", "athena", "AKIAYVP4CIPPERUVIFXG"}, wantCode: 2, wantErr: `--path "athena": use trail or lookup`},
		{name: "trail path without a bucket", args: []string{"investigate", "--path", "trail", "AKIAYVP4CIPPERUVIFXG"}, wantCode: 2, wantErr: "needs --trail-bucket"},
		{name: "athena without a bucket", args: []string{"investigate", "--athena-budget-bytes", "1000", "AKIAYVP4CIPPERUVIFXG"}, wantCode: 2, wantErr: "set aws.trail_bucket too"},
		{name: "trail source without a bucket", args: []string{"investigate", "--trail-source-bucket", "org-trail", "AKIAYVP4CIPPERUVIFXG"}, wantCode: 2,
			wantErr: "set aws.trail_bucket too"},
		{name: "trail source not a bucket name", args: []string{"investigate", "--trail-bucket", "copy", "--trail-source-bucket", "s3://org-trail", "AKIAYVP4CIPPERUVIFXG"}, wantCode: 2,
			wantErr: `"s3://org-trail" is not an S3 bucket name`},
		{name: "athena bad table", args: []string{"investigate", "--trail-bucket", "org-trail", "AKIAYVP4CIPPERUVIFXG"}, env: map[string]string{"KEYLEAK_AWS_ATHENA_TABLE": "Trail"},
			wantCode: 2, wantErr: "aws.athena.table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(t.Context(), tt.args, &stdout, &stderr, envFrom(tt.env))
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
			if tt.notInErr != "" && strings.Contains(stderr.String()+stdout.String(), tt.notInErr) {
				t.Errorf("output repeats the secret")
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout = %q, want nothing for bad input", stdout.String())
			}
		})
	}
}

func TestParseInvestigateSince(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"36h", now.Add(-36 * time.Hour)},
		{"14d", now.AddDate(0, 0, -14)},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-21T10:45:00Z", time.Date(2026, 11, 21, 10, 45, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseInvestigateSince(tt.in, now)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("parseInvestigateSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "-3h", "0d", "2027-01-01", "yesterday"} {
		if _, err := parseInvestigateSince(bad, now); err == nil {
			t.Errorf("parseInvestigateSince(%q) accepted", bad)
		}
	}
}

func FuzzParseInvestigateSince(f *testing.F) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"36h", "14d", "2026-11-01", "2026-11-21T10:45:00Z", "9999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := parseInvestigateSince(s, now); err == nil && got.After(now) {
			t.Errorf("parseInvestigateSince(%q) = %v, after now", s, got)
		}
	})
}

// TestInvestigateAgainstTheWorld runs the command as an operator would:
// the standard AWS environment pointed at the local world.
func TestInvestigateAgainstTheWorld(t *testing.T) {
	w := world.Start(t)
	ctx := t.Context()
	admin := w.Config("us-east-1", w.Admin(world.DefaultAccount))
	ic := iam.NewFromConfig(admin)
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci-deploy-user")}); err != nil {
		t.Fatal(err)
	}
	k, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci-deploy-user")})
	if err != nil {
		t.Fatal(err)
	}
	leaked := world.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
	attacker := w.Config("us-east-1", leaked, world.WithSourceIP("203.0.113.66"))
	if _, err := sts.NewFromConfig(attacker).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := iam.NewFromConfig(attacker).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backup-admin")}); err != nil {
		t.Fatal(err)
	}
	creds := w.Admin(world.DefaultAccount)
	t.Setenv("AWS_ENDPOINT_URL", w.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", creds.SessionToken)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	var stdout, stderr bytes.Buffer
	code := Main(ctx, []string{"investigate", leaked.AccessKeyID, "--regions", "us-east-1,eu-west-1", "--format", "json", "--no-cost"}, &stdout, &stderr, envFrom(nil))
	var inv awsops.Investigation
	if err := json.Unmarshal(stdout.Bytes(), &inv); err != nil {
		t.Fatalf("stdout is not the JSON report (exit %d, stderr %s): %v", code, stderr.String(), err)
	}
	// moto has no iam:SimulatePrincipalPolicy: the report is partial and says so.
	if code != 1 || !strings.Contains(stderr.String(), "incomplete") || inv.Complete() {
		t.Errorf("exit %d, stderr %q: want 1 and the incompleteness named", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sweep done") {
		t.Errorf("stderr lacks progress: %q", stderr.String())
	}
	if inv.Identity.UserName != "ci-deploy-user" || inv.Activity.Events != 2 || len(inv.Resources) != 1 || inv.Resources[0].ID != "backup-admin" || inv.Resources[0].Exists != "yes" {
		t.Errorf("report = identity %+v, %d events, resources %+v; want ci-deploy-user, 2 events and backup-admin existing",
			inv.Identity, inv.Activity.Events, inv.Resources)
	}
	if strings.Contains(stdout.String()+stderr.String(), leaked.SecretAccessKey) || strings.Contains(stdout.String()+stderr.String(), creds.SecretAccessKey) {
		t.Error("a secret access key appears in the output")
	}
}
