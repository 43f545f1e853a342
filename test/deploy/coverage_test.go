package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sdkCalls lists the AWS API operations keyleak's awsops package calls,
// found in its source: every <service>.<Operation>Input composite literal
// and every <service>.New<Operation>Paginator call, as IAM actions.
func sdkCalls(tb testing.TB) map[string][]string {
	tb.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, repoPath(tb, "awsops"), func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		tb.Fatalf("parse awsops: %v", err)
	}
	calls := map[string][]string{} // action → positions
	for _, p := range pkgs {
		for _, f := range p.Files {
			services := map[string]string{} // local package name → service
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(ip, "github.com/aws/aws-sdk-go-v2/service/") {
					continue
				}
				name := path.Base(ip)
				if imp.Name != nil {
					name = imp.Name.Name
				}
				services[name] = path.Base(ip)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				var sel *ast.SelectorExpr
				var op string
				switch n := n.(type) {
				case *ast.CompositeLit:
					sel, _ = n.Type.(*ast.SelectorExpr)
					if sel != nil && strings.HasSuffix(sel.Sel.Name, "Input") {
						op = strings.TrimSuffix(sel.Sel.Name, "Input")
					}
				case *ast.CallExpr:
					sel, _ = n.Fun.(*ast.SelectorExpr)
					if sel != nil && strings.HasPrefix(sel.Sel.Name, "New") && strings.HasSuffix(sel.Sel.Name, "Paginator") {
						op = strings.TrimSuffix(strings.TrimPrefix(sel.Sel.Name, "New"), "Paginator")
					}
				}
				if op == "" {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				if svc, ok := services[id.Name]; ok {
					if action := iamAction(svc, op); action != "" {
						calls[action] = append(calls[action], fset.Position(n.Pos()).String())
					}
				}
				return true
			})
		}
	}
	return calls
}

// iamAction names the IAM action that authorises an SDK operation, or ""
// for operations that need no permission.
func iamAction(service, op string) string {
	switch service + "." + op {
	case "sts.GetCallerIdentity":
		return "" // always allowed
	case "s3.ListObjectsV2", "s3.ListObjects":
		return "s3:ListBucket"
	case "s3.GetBucketReplication":
		return "s3:GetReplicationConfiguration"
	case "s3.PutBucketReplication", "s3.DeleteBucketReplication":
		return "s3:PutReplicationConfiguration"
	}
	prefix := map[string]string{"costexplorer": "ce", "sesv2": "ses", "ssoadmin": "sso"}[service]
	if prefix == "" {
		prefix = service
	}
	return prefix + ":" + op
}

func TestIAMAction(t *testing.T) {
	tests := []struct{ service, op, want string }{
		{"iam", "PutUserPolicy", "iam:PutUserPolicy"},
		{"costexplorer", "GetCostAndUsage", "ce:GetCostAndUsage"},
		{"sesv2", "SendEmail", "ses:SendEmail"},
		{"s3", "ListObjectsV2", "s3:ListBucket"},
		{"s3", "DeleteBucketReplication", "s3:PutReplicationConfiguration"},
		{"ssoadmin", "DeleteAccountAssignment", "sso:DeleteAccountAssignment"},
		{"sts", "GetCallerIdentity", ""},
	}
	for _, tt := range tests {
		if got := iamAction(tt.service, tt.op); got != tt.want {
			t.Errorf("iamAction(%s, %s) = %q, want %q", tt.service, tt.op, got, tt.want)
		}
	}
}

// TestPoliciesCoverAWSCalls checks that every AWS operation keyleak's code
// calls is allowed by the bot's policy, the responder role or (for Athena)
// athena.yaml's policy, so the shipped policies keep up with the code.
func TestPoliciesCoverAWSCalls(t *testing.T) {
	calls := sdkCalls(t)
	if len(calls) < 10 {
		t.Fatalf("found only %d AWS operations in awsops; the scan is broken", len(calls))
	}
	bot, err := decodePolicy(readRepoFile(t, "deploy/aws/keyleak-bot-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	responder := parseResponder(t, responderCases[0].params).inline
	granted := append(allowed(bot), allowed(responder)...)
	granted = append(granted, athenaActions(t)...)
	for _, action := range slices.Sorted(maps.Keys(calls)) {
		if !slices.ContainsFunc(granted, func(g string) bool { return actionMatches(g, action) }) {
			t.Errorf("awsops calls %s (%s), which neither policy allows", action, calls[action][0])
		}
	}
}
