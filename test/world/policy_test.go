package world

import (
	"strings"
	"testing"
	"time"
)

func TestDeniedBy(t *testing.T) {
	issued := time.Date(2026, 11, 22, 10, 45, 0, 0, time.UTC)
	now := time.Date(2026, 11, 22, 12, 22, 0, 0, time.UTC)
	bucket := []resource{{ARN: "arn:aws:s3:::backups-bucket", Type: "AWS::S3::Bucket"}}
	tests := []struct {
		name   string
		policy string
		ctx    requestContext
		want   bool
	}{
		{"deny all", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now}, true},
		{"allow is not a deny", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now}, false},
		{"action wildcard, case-insensitive", `{"Statement":[{"Effect":"Deny","Action":["iam:create*"],"Resource":"*"}]}`,
			requestContext{Action: "iam:CreateAccessKey", CurrentTime: now}, true},
		{"action wildcard misses", `{"Statement":[{"Effect":"Deny","Action":"iam:Create*","Resource":"*"}]}`,
			requestContext{Action: "iam:GetUser", CurrentTime: now}, false},
		{"not action", `{"Statement":[{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}]}`,
			requestContext{Action: "ec2:RunInstances", CurrentTime: now}, true},
		{"not action spares", `{"Statement":[{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}]}`,
			requestContext{Action: "s3:GetObject", CurrentTime: now}, false},
		{"resource ARN", `{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::backups-*"}]}`,
			requestContext{Action: "s3:ListBucket", Resources: bucket, CurrentTime: now}, true},
		{"resource ARN misses", `{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::logs"}]}`,
			requestContext{Action: "s3:ListBucket", Resources: bucket, CurrentTime: now}, false},
		{"token issued before cutoff", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-22T12:22:00Z"}}}]}`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now, TokenIssueTime: issued}, true},
		{"token issued after cutoff", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-22T10:00:00Z"}}}]}`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now, TokenIssueTime: issued}, false},
		{"long-term key has no token issue time", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-22T12:22:00Z"}}}]}`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now}, false},
		{"current time after", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-11-22T12:00:00Z"}}}]}`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now}, true},
		{"current time before", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-11-23T00:00:00Z"}}}]}`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now}, false},
		{"null condition on absent key", `{"Statement":[{"Effect":"Deny","Action":"kms:CreateGrant","Resource":"*","Condition":{"Null":{"kms:ViaService":"true"}}}]}`,
			requestContext{Action: "kms:CreateGrant", CurrentTime: now}, true},
		{"unknown operator never applies", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"x"}}}]}`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now}, false},
		{"the topic default: the owner's account", `{"Statement":[{"Effect":"Deny","Action":"sns:Publish","Resource":"*","Condition":{"StringEquals":{"AWS:SourceOwner":"123456789012"}}}]}`,
			requestContext{Action: "sns:Publish", CurrentTime: now, PrincipalAccount: "123456789012"}, true},
		{"the topic default: another account", `{"Statement":[{"Effect":"Deny","Action":"sns:Publish","Resource":"*","Condition":{"StringEquals":{"AWS:SourceOwner":"123456789012"}}}]}`,
			requestContext{Action: "sns:Publish", CurrentTime: now, PrincipalAccount: "999988887777"}, false},
		{"not the organisation's account", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":["123456789012","210987654321"]}}}]}`,
			requestContext{Action: "s3:GetObject", CurrentTime: now, PrincipalAccount: "999988887777"}, true},
		{"principal ARN like", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::999988887777:*"}}}]}`,
			requestContext{Action: "s3:GetObject", CurrentTime: now, PrincipalAccount: "999988887777", PrincipalARN: "arn:aws:iam::999988887777:user/x"}, true},
		{"a direct call has no source account", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"999988887777"}}}]}`,
			requestContext{Action: "s3:GetObject", CurrentTime: now, PrincipalAccount: "999988887777"}, false},
		{"url-encoded document", `%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D`,
			requestContext{Action: "s3:ListBucket", CurrentTime: now}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parsePolicy(tt.policy)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if _, got := doc.deniedBy(tt.ctx); got != tt.want {
				t.Fatalf("denied = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "anything", true},
		{"s3:Get*", "s3:GetObject", true},
		{"s3:Get?bject", "s3:GetObject", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/k/x", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::c/k", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"|"+tt.s, func(t *testing.T) {
			if got := wildcardMatch(tt.pattern, tt.s, false); got != tt.want {
				t.Fatalf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func TestAccessKeyIDEncodesAccount(t *testing.T) {
	for _, account := range []string{DefaultAccount, SecondAccount, "000000000001", "999999999999"} {
		t.Run(account, func(t *testing.T) {
			id := newAccessKeyID("ASIA", account)
			got, ok := accountFromAccessKeyID(id)
			if !ok || got != account || len(id) != 20 {
				t.Fatalf("key %s decodes to %q (ok %v), want %s", id, got, ok, account)
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}]}`)
	f.Add(`{"Statement":{"Effect":"Deny","NotAction":["s3:*"],"NotResource":"arn:*"}}`)
	f.Add(`%7B%7D`)
	f.Fuzz(func(t *testing.T, text string) {
		doc, err := parsePolicy(text)
		if err != nil {
			return
		}
		doc.deniedBy(requestContext{Action: "s3:GetObject", CurrentTime: time.Unix(0, 0), TokenIssueTime: time.Unix(1, 0),
			Resources: []resource{{ARN: "arn:aws:s3:::b/k"}}})
	})
}

func FuzzWildcardMatch(f *testing.F) {
	f.Add("a*b?c", "aXbYc")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := wildcardMatch(pattern, s, false)
		if strings.IndexAny(pattern, "*?") < 0 && got != (pattern == s) {
			t.Fatalf("literal pattern %q vs %q: match = %v", pattern, s, got)
		}
		if !wildcardMatch("*"+pattern, "x"+s, false) && got {
			t.Fatalf("%q matches %q but *%q does not match x%q", pattern, s, pattern, s)
		}
	})
}
