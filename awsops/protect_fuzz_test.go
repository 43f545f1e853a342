package awsops

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail"
)

// FuzzParsePrincipal: whatever ARN is typed, parsing does not panic; a
// principal parses back to itself from its path-less form in any case of
// its name, and a configured pattern that names it exactly protects it.
func FuzzParsePrincipal(f *testing.F) {
	for _, s := range []string{
		"arn:aws:iam::123456789012:role/KeyleakResponder", "arn:aws:iam::123456789012:role/x/y/Admin",
		"arn:aws-us-gov:iam::123456789012:user/ops/break-glass", "arn:aws:sts::123456789012:assumed-role/eks-node-role/i-0abc",
		"arn:aws:iam::123456789012:root", "arn:aws:iam::*:role/BreakGlass*", "arn:aws:iam::123456789012:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
		"arn:aws:iam::12345678901:role/x", "arn::iam::123456789012:role/x", "arn:aws:iam::123456789012:group/x", "role/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arn string) {
		p, err := ParsePrincipal(arn)
		_ = ValidateProtected([]string{arn})
		if err != nil {
			return
		}
		if p.Name != strings.ToLower(p.Name) {
			t.Fatalf("ParsePrincipal(%q).Name = %q, not lower case", arn, p.Name)
		}
		if p.Kind == KindRoot {
			return
		}
		again, err := ParsePrincipal("arn:" + p.Partition + ":iam::" + p.Account + ":" + p.Kind + "/" + strings.ToUpper(p.Name))
		if err != nil || !again.Same(p) {
			t.Fatalf("%q parsed as %+v, its plain form as %+v (%v)", arn, p, again, err)
		}
		pattern := protectedPatterns([]string{"arn:" + p.Partition + ":iam::" + p.Account + ":" + p.Kind + "/" + p.Name})
		if !strings.Contains(p.Partition+p.Account+p.Name, "*") && (len(pattern) != 1 || !p.matches(pattern[0])) {
			t.Fatalf("%q is not protected by the pattern that names it: %+v", arn, pattern)
		}
	})
}

// FuzzWildcardMatch: a pattern without '*' matches only itself, "*"
// matches anything, and a pattern matches the text it was cut from.
func FuzzWildcardMatch(f *testing.F) {
	f.Add("arn:aws:iam::*:role/break-glass-*", "arn:aws:iam::123456789012:role/break-glass-admin")
	f.Add("a*b*c", "abc")
	f.Add("**", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := wildcardMatch(pattern, s)
		if !strings.Contains(pattern, "*") && got != (pattern == s) {
			t.Fatalf("wildcardMatch(%q, %q) = %v without a wildcard", pattern, s, got)
		}
		if !wildcardMatch("*", s) {
			t.Fatalf(`"*" does not match %q`, s)
		}
		if !strings.Contains(s, "*") && !wildcardMatch(s, s) {
			t.Fatalf("%q does not match itself", s)
		}
		if len(s) > 2 && !strings.Contains(s, "*") && !wildcardMatch(s[:1]+"*"+s[len(s)-1:], s) {
			t.Fatalf("%q does not match its ends", s)
		}
	})
}

// FuzzCreatedResources reads arbitrary request parameters and response
// elements of the events that create resources: nothing panics, and
// every resource has a type and the event's evidence.
func FuzzCreatedResources(f *testing.F) {
	for _, s := range []struct{ source, name, req, resp string }{
		{"iam.amazonaws.com", "CreateUser", `{"userName":"backdoor"}`, `{"user":{"userId":"AIDAX","userName":"backdoor"}}`},
		{"iam.amazonaws.com", "CreateAccessKey", `{"userName":"backdoor"}`, `{"accessKey":{"accessKeyId":"AKIAX","userName":"backdoor"}}`},
		{"ec2.amazonaws.com", "RunInstances", `{}`, `{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}}`},
		{"ec2.amazonaws.com", "RequestSpotInstances", `{}`, `{"spotInstanceRequestSet":{"items":null}}`},
		{"lambda.amazonaws.com", "CreateFunction20150331", `{"functionName":"x"}`, `null`},
		{"iam.amazonaws.com", "CreateRole", `[]`, `"x"`},
	} {
		f.Add(s.source, s.name, s.req, s.resp)
	}
	f.Fuzz(func(t *testing.T, source, name, req, resp string) {
		rec := &trail.Record{EventSource: source, EventName: name, EventID: "e1", RequestParameters: json.RawMessage(req), ResponseElements: json.RawMessage(resp)}
		for _, r := range createdResources(newEvent(rec, noAccounts)) {
			if r.Type == "" || r.EventID != "e1" || r.CreatedBy != name {
				t.Fatalf("resource %+v from %s:%s", r, source, name)
			}
		}
	})
}
