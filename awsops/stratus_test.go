package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail"
)

// stratusLogs reads one file of real CloudTrail of a Stratus Red Team
// detonation (testdata/stratus; see its README), in time order.
func stratusLogs(tb testing.TB, technique string) []trail.Record {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stratus", technique+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		tb.Fatal(err)
	}
	var recs []trail.Record
	for _, r := range raw {
		var rec trail.Record
		if err := trail.Decode(r, &rec); err != nil {
			tb.Fatalf("%s: a record does not decode: %v", technique, err)
		}
		recs = append(recs, rec)
	}
	slices.SortStableFunc(recs, func(a, b trail.Record) int { return a.EventTime.Compare(b.EventTime) })
	return recs
}

// trackAll runs records through a tracker whose tree holds every
// credential that made them (the operator's key, the sessions it
// minted, a console user), as the sweep would once it has found each.
func trackAll(t *testing.T, recs []trail.Record) *tracker {
	t.Helper()
	id := func(r *trail.Record) string {
		if r.UserIdentity.AccessKeyID != "" {
			return r.UserIdentity.AccessKeyID
		}
		return "user:" + r.UserIdentity.UserName
	}
	tr := newTracker(Session{AccessKeyID: id(&recs[0])})
	tr.setOnDerived(func(context.Context, Session) {})
	for i := range recs {
		key := id(&recs[i])
		tr.mu.Lock()
		if _, ok := tr.nodes[key]; !ok {
			tr.nodes[key] = &treeNode{s: Session{AccessKeyID: key}, t: newTally()}
			tr.order = append(tr.order, key)
		}
		tr.mu.Unlock()
		tr.add(t.Context(), key, &recs[i])
	}
	return tr
}

// TestStratusTechniquesFlagged: in the real CloudTrail of every Stratus
// Red Team technique that ships logs, the technique's own calls are
// flagged, filed in a fitting category, and the technique is named.
func TestStratusTechniquesFlagged(t *testing.T) {
	tests := []struct {
		technique string
		signal    []string   // source:name of the calls that make the technique
		fitting   []Category // where they may be filed
	}{
		{"credential-access.ec2-get-password-data", []string{"ec2:GetPasswordData"}, []Category{CategoryCredentialAccess}},
		{"credential-access.ec2-steal-instance-credentials", []string{"ssm:SendCommand"}, []Category{CategoryExecution, CategoryCredentialAccess}},
		{"credential-access.secretsmanager-batch-retrieve-secrets", []string{"secretsmanager:BatchGetSecretValue"}, []Category{CategoryCredentialAccess}},
		{"credential-access.secretsmanager-retrieve-secrets", []string{"secretsmanager:GetSecretValue"}, []Category{CategoryCredentialAccess}},
		{"credential-access.ssm-retrieve-securestring-parameters", []string{"ssm:GetParameters"}, []Category{CategoryCredentialAccess}},
		{"defense-evasion.cloudtrail-delete", []string{"cloudtrail:DeleteTrail"}, []Category{CategoryDefenseEvasion}},
		{"defense-evasion.cloudtrail-event-selectors", []string{"cloudtrail:PutEventSelectors"}, []Category{CategoryDefenseEvasion}},
		{"defense-evasion.cloudtrail-stop", []string{"cloudtrail:StopLogging"}, []Category{CategoryDefenseEvasion}},
		{"defense-evasion.dns-delete-logs", []string{"route53resolver:DeleteResolverQueryLogConfig"}, []Category{CategoryDefenseEvasion}},
		{"defense-evasion.organizations-leave", []string{"organizations:LeaveOrganization"}, []Category{CategoryDefenseEvasion}},
		{"defense-evasion.vpc-remove-flow-logs", []string{"ec2:DeleteFlowLogs"}, []Category{CategoryDefenseEvasion}},
		{"discovery.ec2-download-user-data", []string{"ec2:DescribeInstanceAttribute"}, []Category{CategoryCredentialAccess, CategoryRecon}},
		{"execution.ec2-launch-unusual-instances", []string{"ec2:RunInstances"}, []Category{CategoryComputeAbuse}},
		{"execution.ec2-user-data", []string{"ec2:ModifyInstanceAttribute"}, []Category{CategoryExecution}},
		{"execution.ssm-send-command", []string{"ssm:SendCommand"}, []Category{CategoryExecution}},
		{"execution.ssm-start-session", []string{"ssm:StartSession"}, []Category{CategoryExecution}},
		{"exfiltration.ec2-security-group-open-port-22-ingress", []string{"ec2:AuthorizeSecurityGroupIngress"}, []Category{CategoryExfiltration, CategoryDefenseEvasion}},
		{"exfiltration.ec2-share-ami", []string{"ec2:ModifyImageAttribute"}, []Category{CategoryExfiltration}},
		{"exfiltration.ec2-share-ebs-snapshot", []string{"ec2:ModifySnapshotAttribute"}, []Category{CategoryExfiltration}},
		{"exfiltration.rds-share-snapshot", []string{"rds:ModifyDBSnapshotAttribute"}, []Category{CategoryExfiltration}},
		{"impact.bedrock-invoke-model", []string{"bedrock:PutUseCaseForModelAccess", "bedrock:CreateFoundationModelAgreement", "bedrock:PutFoundationModelEntitlement", "bedrock:InvokeModel"},
			[]Category{CategoryComputeAbuse, CategoryImpact}},
		{"initial-access.console-login-without-mfa", []string{"signin:ConsoleLogin"}, []Category{CategoryInitialAccess}},
		{"lateral-movement.ec2-instance-connect", []string{"ec2-instance-connect:SendSSHPublicKey"}, []Category{CategoryLateralMovement}},
		{"lateral-movement.ec2-serial-console-send-ssh-public-key", []string{"ec2:EnableSerialConsoleAccess", "ec2-instance-connect:SendSerialConsoleSSHPublicKey"}, []Category{CategoryLateralMovement}},
		{"persistence.iam-backdoor-role", []string{"iam:UpdateAssumeRolePolicy"}, []Category{CategoryIAMPersistence}},
		{"persistence.iam-backdoor-user", []string{"iam:CreateAccessKey"}, []Category{CategoryIAMPersistence}},
		{"persistence.iam-create-admin-user", []string{"iam:CreateUser", "iam:AttachUserPolicy", "iam:CreateAccessKey"}, []Category{CategoryIAMPersistence}},
		{"persistence.iam-create-backdoor-role", []string{"iam:CreateRole", "iam:AttachRolePolicy"}, []Category{CategoryIAMPersistence}},
		{"persistence.iam-create-user-login-profile", []string{"iam:CreateLoginProfile"}, []Category{CategoryIAMPersistence}},
		{"persistence.lambda-backdoor-function", []string{"lambda:AddPermission20150331v2"}, []Category{CategoryExfiltration, CategoryIAMPersistence}},
		{"persistence.lambda-layer-extension", []string{"lambda:UpdateFunctionConfiguration20150331v2"}, []Category{CategoryExecution}},
		{"persistence.lambda-overwrite-code", []string{"lambda:UpdateFunctionCode20150331v2"}, []Category{CategoryExecution}},
		{"persistence.rolesanywhere-create-trust-anchor", []string{"rolesanywhere:CreateTrustAnchor", "rolesanywhere:CreateProfile"}, []Category{CategoryIAMPersistence}},
		{"persistence.sts-federation-token", []string{"sts:GetFederationToken"}, []Category{CategoryCredentialMinting}},
		{"privilege-escalation.iam-update-user-login-profile", []string{"iam:UpdateLoginProfile"}, []Category{CategoryPrivilegeEscalation}},
	}
	logs, err := filepath.Glob(filepath.Join("testdata", "stratus", "aws.*.json"))
	if err != nil || len(logs) != len(tests) {
		t.Fatalf("%d log files for %d techniques (%v)", len(logs), len(tests), err)
	}
	for _, tt := range tests {
		t.Run(tt.technique, func(t *testing.T) {
			tr := trackAll(t, stratusLogs(t, "aws."+tt.technique))
			tr.mu.Lock()
			flagged, sources, _ := tr.finishSources()
			tr.mu.Unlock()
			named := false
			for _, want := range tt.signal {
				found := false
				for _, f := range flagged {
					if strings.TrimSuffix(f.EventSource, ".amazonaws.com")+":"+f.EventName != want {
						continue
					}
					found = true
					if !slices.Contains(tt.fitting, f.Category) {
						t.Errorf("%s filed under %s, want one of %v (techniques %v)", want, f.Category, tt.fitting, f.Techniques)
					}
					named = named || slices.Contains(f.Techniques, "aws."+tt.technique)
				}
				if !found {
					t.Errorf("%s is not flagged; flagged: %v", want, eventNames(flagged))
				}
			}
			if !named {
				t.Errorf("no flagged event names the technique aws.%s", tt.technique)
			}
			if len(sources) == 0 {
				t.Error("no source learnt")
			}
		})
	}
}

func eventNames(evs []FlaggedEvent) []string {
	var out []string
	for _, f := range evs {
		out = append(out, fmt.Sprintf("%s:%s(%s)", strings.TrimSuffix(f.EventSource, ".amazonaws.com"), f.EventName, f.Category))
	}
	return out
}
