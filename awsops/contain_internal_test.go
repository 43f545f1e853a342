package awsops

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSessionCutoff(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		want string
	}{
		{"whole second stays", time.Date(2026, 11, 22, 10, 45, 0, 0, time.UTC), "2026-11-22T10:45:00Z"},
		{"fraction rounds up, covering sessions issued this second", time.Date(2026, 11, 22, 10, 45, 0, 1, time.UTC), "2026-11-22T10:45:01Z"},
		{"other zones become UTC", time.Date(2026, 11, 22, 11, 45, 0, 0, time.FixedZone("CET", 3600)), "2026-11-22T10:45:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sessionCutoff(tt.now); got != tt.want {
				t.Errorf("sessionCutoff(%v) = %s, want %s", tt.now, got, tt.want)
			}
		})
	}
}

func TestKeyleakPolicyName(t *testing.T) {
	tests := []struct {
		name, kind, incident, want string
	}{
		{"incident ID", "revoke", "KL-2026-0007", "keyleak-revoke-KL-2026-0007"},
		{"characters IAM refuses are replaced", "deny-all", "KL 2026/7", "keyleak-deny-all-KL-2026-7"},
		{"at most 128 characters", "revoke", strings.Repeat("x", 200), "keyleak-revoke-" + strings.Repeat("x", 113)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyleakPolicyName(tt.kind, tt.incident); got != tt.want {
				t.Errorf("keyleakPolicyName(%q, %q) = %q, want %q", tt.kind, tt.incident, got, tt.want)
			}
		})
	}
}

func TestQuarantineGaps(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"listed actions are denied, others open",
			`{"Statement":[{"Effect":"Deny","Action":["iam:CreateUser","s3:GetObject"],"Resource":"*"}]}`,
			[]string{"sts:AssumeRole", "ec2:RunInstances"}},
		{"wildcards, any case",
			`{"Statement":[{"Effect":"Deny","Action":"EC2:Run*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`,
			[]string{"sts:AssumeRole", "s3:GetObject"}},
		{"NotAction denies everything else",
			`{"Statement":[{"Effect":"Deny","NotAction":"sts:AssumeRole","Resource":"*"}]}`,
			[]string{"sts:AssumeRole"}},
		{"conditional denies and allows do not count",
			`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"kms:ViaService":"true"}}},{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
			[]string{"iam:CreateUser", "s3:GetObject", "sts:AssumeRole", "ec2:RunInstances"}},
	}
	actions := []string{"iam:CreateUser", "s3:GetObject", "sts:AssumeRole", "ec2:RunInstances"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := normalPolicy(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			got := quarantineGaps(doc, actions)
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("gaps = %v, want %v", got, want)
			}
		})
	}
}

func TestRevokeDocumentRoundTrip(t *testing.T) {
	cutoff := "2026-11-22T10:45:01Z"
	tests := []struct {
		name   string
		doc    string
		ours   bool
		cutoff string
	}{
		{"as written", revokeDocument(cutoff), true, cutoff},
		{"URL-encoded, as IAM returns it", url.QueryEscape(revokeDocument(cutoff)), true, cutoff},
		{"edited action", strings.Replace(revokeDocument(cutoff), `"Action":"*"`, `"Action":"s3:*"`, 1), false, ""},
		{"extra statement", strings.Replace(revokeDocument(cutoff), `}]}`, `},{"Effect":"Allow","Action":"*","Resource":"*"}]}`, 1), false, ""},
		{"deny-all is not a revocation", denyAllDocument, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			normal, err := normalPolicy(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := revokeCutoffOf(normal)
			if ok != tt.ours || (ok && got != tt.cutoff) {
				t.Errorf("revokeCutoffOf = %q, %v; want %q, %v", got, ok, tt.cutoff, tt.ours)
			}
		})
	}
}

func FuzzParsePrincipalARN(f *testing.F) {
	for _, s := range []string{"arn:aws:iam::123456789012:role/eks-node-role", "arn:aws:iam::123456789012:user/path/to/ci",
		"arn:aws:sts::123456789012:assumed-role/r/s", "arn:aws:iam::123456789012:role/", "role/x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePrincipalARN(s)
		if err != nil {
			return
		}
		if p.ARN != s || p.Name == "" || strings.Contains(p.Name, "/") || len(p.Account) != 12 || !strings.HasSuffix(s, "/"+p.Name) {
			t.Errorf("parsePrincipalARN(%q) = %+v", s, p)
		}
	})
}

func FuzzPolicyDocument(f *testing.F) {
	for _, s := range []string{revokeDocument("2026-11-22T10:45:01Z"), denyAllDocument, url.QueryEscape(denyAllDocument), "%7B", "{}", "[]", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		normal, err := normalPolicy(doc)
		if err != nil {
			return
		}
		again, err := normalPolicy(normal)
		if err != nil || again != normal {
			t.Errorf("normalPolicy is not stable: %q → %q (%v)", normal, again, err)
		}
		if cutoff, ok := revokeCutoffOf(normal); ok {
			if want, _ := normalPolicy(revokeDocument(cutoff)); want != normal {
				t.Errorf("revokeCutoffOf accepted %q, which is not keyleak's document for %q", normal, cutoff)
			}
		}
		_ = quarantineGaps(normal, highRiskActions)
	})
}

// TestFrozenRolesKeepCommas: role names may hold commas, so the frozen
// list is JSON; lists frozen comma-separated before are still read.
func TestFrozenRolesKeepCommas(t *testing.T) {
	roles := []string{"arn:aws:iam::123456789012:role/a,b", "arn:aws:iam::123456789012:role/c"}
	if got := FrozenRoles(map[string]string{ParamRoles: EncodeRoles(roles)}); !slices.Equal(got, roles) {
		t.Errorf("round trip = %q, want %q", got, roles)
	}
	if got := FrozenRoles(map[string]string{ParamRoles: "arn:aws:iam::1:role/x,arn:aws:iam::1:role/y"}); len(got) != 2 {
		t.Errorf("legacy list = %q, want two roles", got)
	}
	if got := FrozenRoles(map[string]string{ParamRoles: EncodeRoles(nil)}); len(got) != 0 {
		t.Errorf("empty list = %q", got)
	}
}
