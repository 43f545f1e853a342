package awsops

import (
	"testing"
	"time"
)

func TestSensitiveObject(t *testing.T) {
	tests := []struct {
		name, bucket, key string
		want              bool
	}{
		{"terraform state", "config-bucket", "prod.tfstate", true},
		{"terraform state backup", "config-bucket", "env/prod/terraform.tfstate.backup", true},
		{"terraform variables", "config-bucket", "terraform.tfvars", true},
		{"sql dump", "backups-bucket", "db-backup-2026-11-21.sql.gz.enc", true},
		{"bak", "b", "site.bak", true},
		{"backup folder", "ops", "backups/2026/app.tar.gz", true},
		{"pem", "b", "certs/server.pem", true},
		{"secret in name", "b", "app/db-secret.json", true},
		{"dotenv", "b", "service/.env", true},
		{"dotenv variant", "b", "service/.env.production", true},
		{"aws credentials", "b", "home/.aws/credentials", true},
		{"customer export", "partner-exports", "2026-11/customers.csv", true},
		{"image", "assets", "img/logo.png", false},
		{"report", "reports", "daily/latest.csv", false},
		{"keynote is not a key", "b", "talks/keynote.pdf", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SensitiveObject(tt.bucket, tt.key); (got != "") != tt.want {
				t.Errorf("SensitiveObject(%s/%s) = %q, want sensitive %v", tt.bucket, tt.key, got, tt.want)
			}
		})
	}
}

func TestTrailFileTime(t *testing.T) {
	got, ok := trailFileTime("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/22/123456789012_CloudTrail_us-east-1_20261122T1045Z_abcd.json.gz")
	if want := time.Date(2026, 11, 22, 10, 45, 0, 0, time.UTC); !ok || !got.Equal(want) {
		t.Errorf("trailFileTime = %v, %v; want %v", got, ok, want)
	}
	if _, ok := trailFileTime("AWSLogs/123/CloudTrail/us-east-1/2026/11/22/notes.txt"); ok {
		t.Error("a name without a stamp has a time")
	}
}

func FuzzTrailFileTime(f *testing.F) {
	f.Add("123456789012_CloudTrail_us-east-1_20261122T1045Z_abcd.json.gz")
	f.Add("a_b_c_d_e")
	f.Fuzz(func(t *testing.T, name string) {
		if got, ok := trailFileTime(name); ok && got.Second() != 0 {
			t.Errorf("trailFileTime(%q) = %v with seconds", name, got)
		}
	})
}

func FuzzSensitiveObject(f *testing.F) {
	f.Add("config-bucket", "prod.tfstate")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, bucket, key string) {
		_ = SensitiveObject(bucket, key) // must not panic on any name
	})
}
