package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// policy is an IAM policy document. Decoding is strict: an unknown
// element (or NotAction, NotResource, NotPrincipal, which keyleak's
// policies do not use) is an error.
type policy struct {
	Version   string
	ID        string `json:"Id,omitempty"`
	Statement []statement
}

type statement struct {
	Sid       string                           `json:",omitempty"`
	Effect    string                           `json:",omitempty"`
	Principal map[string]stringList            `json:",omitempty"`
	Action    stringList                       `json:",omitempty"`
	Resource  stringList                       `json:",omitempty"`
	Condition map[string]map[string]stringList `json:",omitempty"`
}

// stringList is a policy value that is one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings, got %s", b)
	}
	*l = many
	return nil
}

func decodePolicy(data []byte) (policy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p policy
	if err := dec.Decode(&p); err != nil {
		return policy{}, fmt.Errorf("decode policy: %w", err)
	}
	if dec.More() {
		return policy{}, errors.New("decode policy: data after the document")
	}
	return p, nil
}

var actionForm = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9*?]+$`)

// policyKind tells identity policies (actions on resources) from trust
// policies (who may assume a role).
type policyKind int

const (
	identityPolicy policyKind = iota
	trustPolicy
)

// validatePolicy reports every way p is not a valid policy of its kind.
func validatePolicy(p policy, kind policyKind) error {
	var errs []error
	if p.Version != "2012-10-17" {
		errs = append(errs, fmt.Errorf("version %q, want 2012-10-17", p.Version))
	}
	if len(p.Statement) == 0 {
		errs = append(errs, errors.New("no statements"))
	}
	sids := map[string]bool{}
	for i, s := range p.Statement {
		where := fmt.Sprintf("statement %d (%s)", i, s.Sid)
		if s.Sid != "" {
			if sids[s.Sid] {
				errs = append(errs, fmt.Errorf("%s: duplicate Sid", where))
			}
			sids[s.Sid] = true
		}
		if s.Effect != "Allow" && s.Effect != "Deny" {
			errs = append(errs, fmt.Errorf("%s: effect %q", where, s.Effect))
		}
		if len(s.Action) == 0 {
			errs = append(errs, fmt.Errorf("%s: no Action", where))
		}
		switch {
		case kind == identityPolicy && len(s.Resource) == 0:
			errs = append(errs, fmt.Errorf("%s: no Resource", where))
		case kind == identityPolicy && s.Principal != nil:
			errs = append(errs, fmt.Errorf("%s: a Principal in an identity policy", where))
		case kind == trustPolicy && len(s.Principal) == 0:
			errs = append(errs, fmt.Errorf("%s: no Principal", where))
		case kind == trustPolicy && len(s.Resource) > 0:
			errs = append(errs, fmt.Errorf("%s: a Resource in a trust policy", where))
		}
		for _, a := range s.Action {
			if !actionForm.MatchString(a) {
				errs = append(errs, fmt.Errorf("%s: action %q is not service:Action", where, a))
			}
		}
		for _, r := range s.Resource {
			if r != "*" && !strings.HasPrefix(r, "arn:") {
				errs = append(errs, fmt.Errorf("%s: resource %q is not an ARN", where, r))
			}
		}
	}
	return errors.Join(errs...)
}

func TestValidatePolicyRejects(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"old version", `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`, "version"},
		{"no statements", `{"Version":"2012-10-17","Statement":[]}`, "no statements"},
		{"no resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}`, "no Resource"},
		{"no action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`, "no Action"},
		{"bad effect", `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}]}`, "effect"},
		{"star action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "not service:Action"},
		{"no service", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`, "not service:Action"},
		{"resource not an ARN", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"bucket"}]}`, "not an ARN"},
		{"duplicate sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`, "duplicate Sid"},
		{"principal in identity policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"*"}]}`, "a Principal"},
		{"NotAction", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"}]}`, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodePolicy([]byte(tt.doc))
			if err == nil {
				err = validatePolicy(p, identityPolicy)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// actionMatches reports whether an IAM action pattern (with * and ?)
// covers action; IAM compares actions without regard to case.
func actionMatches(pattern, action string) bool {
	ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(action))
	return err == nil && ok
}

// readOnlyIAM reports whether an iam action only reads.
func readOnlyIAM(action string) bool {
	_, verb, _ := strings.Cut(action, ":")
	for _, p := range []string{"Get", "List", "Simulate", "Generate"} {
		if strings.HasPrefix(verb, p) {
			return true
		}
	}
	return false
}

func allowed(p policy) []string {
	var out []string
	for _, s := range p.Statement {
		if s.Effect == "Allow" {
			out = append(out, s.Action...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// wantBotActions is everything keyleak's own role may do: assume the
// responder roles, find a key's account, read CloudTrail (and which
// trails deliver to the bucket, and what they deliver), regions, cost
// and the trail bucket, send email, and read the intake queue (sending
// only to its dead-letter queue). Nothing more.
var wantBotActions = []string{
	"ce:GetCostAndUsage",
	"cloudtrail:DescribeTrails",
	"cloudtrail:GetEventSelectors",
	"cloudtrail:GetTrailStatus",
	"cloudtrail:LookupEvents",
	"ec2:DescribeRegions",
	"organizations:DescribeOrganization",
	"organizations:ListAccounts",
	"s3:GetObject",
	"s3:ListBucket",
	"ses:SendEmail",
	"ses:SendRawEmail",
	"sqs:ChangeMessageVisibility",
	"sqs:DeleteMessage",
	"sqs:GetQueueAttributes",
	"sqs:GetQueueUrl",
	"sqs:ReceiveMessage",
	"sqs:SendMessage",
	"sts:AssumeRole",
	"sts:GetAccessKeyInfo",
}

func TestBotPolicy(t *testing.T) {
	p, err := decodePolicy(readRepoFile(t, "deploy/aws/keyleak-bot-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validatePolicy(p, identityPolicy); err != nil {
		t.Fatal(err)
	}
	if got := allowed(p); !slices.Equal(got, wantBotActions) {
		t.Errorf("allowed actions = %q, want exactly %q", got, wantBotActions)
	}
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			if strings.ContainsAny(a, "*?") {
				t.Errorf("%s: wildcard action %q", s.Sid, a)
			}
			if strings.HasPrefix(strings.ToLower(a), "iam:") && !readOnlyIAM(a) {
				t.Errorf("%s: IAM write action %q in the bot's own policy", s.Sid, a)
			}
		}
		switch {
		case slices.Contains(s.Action, "sts:AssumeRole"):
			if !slices.Equal(s.Resource, stringList{"arn:aws:iam::*:role/KeyleakResponder"}) {
				t.Errorf("sts:AssumeRole on %q, want only the responder role", s.Resource)
			}
		case slices.Contains(s.Action, "s3:GetObject"), slices.Contains(s.Action, "s3:ListBucket"):
			for _, r := range s.Resource {
				if !strings.HasPrefix(r, "arn:aws:s3:::") || r == "arn:aws:s3:::*" {
					t.Errorf("%s: S3 access to %q, want the trail bucket only", s.Sid, r)
				}
			}
		case slices.Contains(s.Action, "ses:SendEmail"):
			for _, r := range s.Resource {
				if !strings.Contains(r, ":identity/") {
					t.Errorf("%s: SES sending from %q, want one identity", s.Sid, r)
				}
			}
		}
	}
}

// TestSettingsMatchAWS keeps keyleak's AWS settings in the ConfigMap in
// step with the policies: the role it assumes is the one the bot may
// assume, the trail bucket is the one it may read, and every principal
// keyleak protects is also protected by the responder role's default.
func TestSettingsMatchAWS(t *testing.T) {
	objs := loadManifests(t)
	cfg := keyleakSettings(t, find[*corev1.ConfigMap](t, objs, "keyleak").Data["keyleak.yaml"])
	awsCfg, ok := cfg["aws"].(map[string]any)
	if !ok {
		t.Fatal("keyleak.yaml has no aws section")
	}
	bot, err := decodePolicy(readRepoFile(t, "deploy/aws/keyleak-bot-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var assume, buckets []string
	for _, s := range bot.Statement {
		switch {
		case slices.Contains(s.Action, "sts:AssumeRole"):
			assume = append(assume, s.Resource...)
		case slices.Contains(s.Action, "s3:ListBucket"):
			buckets = append(buckets, s.Resource...)
		}
	}
	if role := str(awsCfg["responder_role"]); !slices.Contains(assume, "arn:aws:iam::*:role/"+role) {
		t.Errorf("aws.responder_role %q is not a role the bot may assume (%q)", role, assume)
	}
	if b := str(awsCfg["trail_bucket"]); !slices.Contains(buckets, "arn:aws:s3:::"+b) {
		t.Errorf("aws.trail_bucket %q is not the bucket the bot may list (%q)", b, buckets)
	}
	var tpl struct {
		Parameters map[string]struct {
			Default string `json:"Default"`
		} `json:"Parameters"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/aws/responder-role.yaml"), &tpl); err != nil {
		t.Fatalf("responder-role.yaml: %v", err)
	}
	defaults := strings.Split(tpl.Parameters["ProtectedPrincipalARNs"].Default, ",")
	protected, _ := awsCfg["protected_principals"].([]any)
	if len(protected) == 0 {
		t.Error("keyleak.yaml protects no principals")
	}
	for _, p := range protected {
		if !slices.Contains(defaults, str(p)) {
			t.Errorf("keyleak protects %v, which the responder role's ProtectedPrincipalARNs default (%q) does not", p, defaults)
		}
	}
}
