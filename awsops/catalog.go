package awsops

import (
	"slices"
	"strings"

	"github.com/keyleak/keyleak/awsops/trail"
)

// Technique is one entry of keyleak's catalogue of attack techniques:
// what CloudTrail shows of it, how it is filed, and why a responder
// should care. The catalogue holds every AWS technique of Stratus Red
// Team v2.36 and the MITRE ATT&CK Cloud (IaaS) techniques a leaked key
// leads to; where a principle finds a technique whatever the API is
// called (a policy that admits an outside account, an API that reveals a
// secret), the entry is that principle.
type Technique struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Category Category `json:"category"`
	MITRE    []string `json:"mitre,omitempty"`
	Why      string   `json:"why"`
	Source   string   `json:"source"` // where the entry comes from
	// NewSourceOnly techniques are flagged only when their events come
	// from a source outside the key's baseline: on their own they are
	// everyday calls (recon, object deletes).
	NewSourceOnly bool `json:"new_source_only,omitempty"`

	match func(e *event) bool
}

const (
	stratusDocs = "https://stratus-red-team.cloud/attack-techniques/AWS/"
	attackDocs  = "https://attack.mitre.org/techniques/"
)

// calls matches the named calls of one service.
func calls(service string, names ...string) func(*event) bool {
	return func(e *event) bool { return e.is(service, names...) }
}

// both matches events that every test matches.
func both(tests ...func(*event) bool) func(*event) bool {
	return func(e *event) bool {
		for _, t := range tests {
			if !t(e) {
				return false
			}
		}
		return true
	}
}

func stratus(id, name string, cat Category, mitre []string, why string, match func(*event) bool) Technique {
	return Technique{ID: "aws." + id, Name: name, Category: cat, MITRE: mitre, Why: why, Source: stratusDocs + "aws." + id + "/", match: match}
}

func attack(id, name string, cat Category, why string, match func(*event) bool) Technique {
	return Technique{ID: id, Name: name, Category: cat, MITRE: []string{id}, Why: why,
		Source: attackDocs + strings.ReplaceAll(id, ".", "/") + "/", match: match}
}

// catalogue is every technique, the specific first: an event is filed
// under the first entry that matches it, and lists every entry that does.
var catalogue = []Technique{
	// Stratus Red Team v2.36, AWS. A command on an instance is filed
	// under execution, whatever it was meant to do.
	stratus("execution.ssm-send-command", "Usage of ssm:SendCommand on multiple instances", CategoryExecution, []string{"T1651"},
		"runs commands as root on instances", calls("ssm", "SendCommand")),
	stratus("credential-access.ec2-get-password-data", "Retrieve EC2 password data", CategoryCredentialAccess, []string{"T1552"},
		"returns an instance's Windows administrator password: RDP access to it", calls("ec2", "GetPasswordData")),
	stratus("credential-access.ec2-steal-instance-credentials", "Steal EC2 instance credentials", CategoryCredentialAccess, []string{"T1552.005"},
		"a command on an instance can read its role's credentials from the metadata service and use them elsewhere", calls("ssm", "SendCommand")),
	stratus("credential-access.secretsmanager-batch-retrieve-secrets", "Retrieve a high number of Secrets Manager secrets (batch)", CategoryCredentialAccess, []string{"T1555.006"},
		"reads many secrets in one call: rotate every one it returned", calls("secretsmanager", "BatchGetSecretValue")),
	stratus("credential-access.secretsmanager-retrieve-secrets", "Retrieve a high number of Secrets Manager secrets", CategoryCredentialAccess, []string{"T1555.006"},
		"reads the value of a secret: rotate it", calls("secretsmanager", "GetSecretValue")),
	stratus("credential-access.ssm-retrieve-securestring-parameters", "Retrieve and decrypt SSM parameters", CategoryCredentialAccess, []string{"T1552.007"},
		"reads SecureString parameters decrypted: rotate what they hold", both(calls("ssm", "GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory"), revealsSecret)),
	stratus("defense-evasion.cloudtrail-delete", "Delete CloudTrail trail", CategoryDefenseEvasion, []string{"T1562.008"},
		"removes the audit trail: what follows is not recorded there", calls("cloudtrail", "DeleteTrail")),
	stratus("defense-evasion.cloudtrail-event-selectors", "Disable CloudTrail logging through event selectors", CategoryDefenseEvasion, []string{"T1562.008"},
		"narrows what the trail records, so later calls leave no trace", calls("cloudtrail", "PutEventSelectors", "PutAdvancedEventSelectors", "PutInsightSelectors")),
	stratus("defense-evasion.cloudtrail-lifecycle-rule", "CloudTrail logs impairment through S3 lifecycle rule", CategoryDefenseEvasion, []string{"T1562.008", "T1485"},
		"an expiration rule deletes log files (or any object) after a short time", both(calls("s3", "PutBucketLifecycle", "PutBucketLifecycleConfiguration"), func(e *event) bool { return expires(e.params()) })),
	stratus("defense-evasion.cloudtrail-stop", "Stop CloudTrail trail", CategoryDefenseEvasion, []string{"T1562.008"},
		"stops the audit trail: what follows is not recorded", calls("cloudtrail", "StopLogging")),
	stratus("defense-evasion.dns-delete-logs", "Delete DNS query logs", CategoryDefenseEvasion, []string{"T1562.008"},
		"removes the record of DNS lookups, hiding exfiltration and command and control", calls("route53resolver", "DeleteResolverQueryLogConfig", "DisassociateResolverQueryLogConfig")),
	stratus("defense-evasion.organizations-leave", "Attempt to leave the AWS Organization", CategoryDefenseEvasion, []string{"T1666"},
		"an account out of the organisation escapes its SCPs and central logging", calls("organizations", "LeaveOrganization")),
	stratus("defense-evasion.vpc-remove-flow-logs", "Remove VPC flow logs", CategoryDefenseEvasion, []string{"T1562.008"},
		"removes the record of network traffic", calls("ec2", "DeleteFlowLogs")),
	stratus("discovery.ec2-download-user-data", "Download EC2 instance user data", CategoryCredentialAccess, []string{"T1552.005", "T1580"},
		"user data often holds passwords and keys", both(calls("ec2", "DescribeInstanceAttribute"), func(e *event) bool { return strings.EqualFold(e.paramString("attribute"), "userData") })),
	stratus("discovery.ec2-enumerate-from-instance", "Execute discovery commands on an EC2 instance", CategoryExecution, []string{"T1580", "T1651"},
		"runs enumeration from an instance, with its role", calls("ssm", "SendCommand")),
	stratus("discovery.ses-enumerate", "Enumerate SES", CategoryRecon, []string{"T1526"},
		"checks whether the account can send email: the first step of spam and phishing from it",
		calls("ses", "GetAccountSendingEnabled", "GetSendQuota", "ListIdentities", "GetIdentityVerificationAttributes", "GetAccount", "ListEmailIdentities")),
	stratus("execution.ec2-launch-unusual-instances", "Launch unusual EC2 instances", CategoryComputeAbuse, []string{"T1496"},
		"GPU and other large instances started for mining or model work on the account's bill", calls("ec2", "RunInstances")),
	stratus("execution.ec2-user-data", "Execute commands on EC2 instance via user data", CategoryExecution, []string{"T1059"},
		"new user data runs as root on the instance's next start", both(calls("ec2", "ModifyInstanceAttribute"), runsCode)),
	stratus("execution.sagemaker-update-lifecycle-config", "SageMaker notebook lifecycle configuration injection", CategoryExecution, []string{"T1546"},
		"a lifecycle script runs with the notebook's role at every start",
		calls("sagemaker", "CreateNotebookInstanceLifecycleConfig", "UpdateNotebookInstanceLifecycleConfig", "UpdateNotebookInstance")),
	stratus("execution.ssm-start-session", "Usage of ssm:StartSession on multiple instances", CategoryExecution, []string{"T1651"},
		"opens an interactive shell on an instance", calls("ssm", "StartSession", "ResumeSession")),
	stratus("exfiltration.ec2-security-group-open-port-22-ingress", "Open ingress port 22 on a security group", CategoryExfiltration, []string{"T1562.007"},
		"opens a port to the whole internet: a way in, and out", opensNetwork),
	stratus("exfiltration.ec2-share-ami", "Exfiltrate an AMI by sharing it", CategoryExfiltration, []string{"T1537"},
		"another account can launch copies of the image, and read its disks", both(calls("ec2", "ModifyImageAttribute"), opensToOutside)),
	stratus("exfiltration.ec2-share-ebs-snapshot", "Exfiltrate EBS snapshot by sharing it", CategoryExfiltration, []string{"T1537"},
		"another account can make a volume of the snapshot and read it", both(calls("ec2", "ModifySnapshotAttribute"), opensToOutside)),
	stratus("exfiltration.rds-share-snapshot", "Exfiltrate RDS snapshot by sharing", CategoryExfiltration, []string{"T1537"},
		"another account can restore the database from the snapshot", both(calls("rds", "ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"), opensToOutside)),
	stratus("exfiltration.s3-backdoor-bucket-policy", "Backdoor an S3 bucket via its bucket policy", CategoryExfiltration, []string{"T1537", "T1098"},
		"another account (or anyone) may read the bucket", both(calls("s3", "PutBucketPolicy"), opensToOutside)),
	stratus("impact.bedrock-invoke-model", "Invoke Bedrock model", CategoryComputeAbuse, []string{"T1496.004"},
		"models run on the account's bill (LLM jacking), often after enabling model access",
		calls("bedrock", "InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream", "PutUseCaseForModelAccess",
			"CreateFoundationModelAgreement", "PutFoundationModelEntitlement")),
	stratus("impact.ec2-deregister-ami", "Deregister AMIs", CategoryImpact, []string{"T1485"},
		"images the account launches from are gone", calls("ec2", "DeregisterImage")),
	stratus("impact.s3-ransomware-batch-deletion", "S3 ransomware through batch file deletion", CategoryImpact, []string{"T1485", "T1486"},
		"objects deleted in bulk, typically after they were copied out", calls("s3", "DeleteObjects")),
	stratus("impact.s3-ransomware-client-side-encryption", "S3 ransomware through client-side encryption", CategoryImpact, []string{"T1486"},
		"objects rewritten encrypted with a key only the attacker holds", both(calls("s3", "CopyObject", "PutObject"), destroysData)),
	{ID: "aws.impact.s3-ransomware-individual-deletion", Name: "S3 ransomware through individual file deletion", Category: CategoryImpact, MITRE: []string{"T1485"},
		Why: "objects deleted one by one from a source outside the key's baseline", Source: stratusDocs + "aws.impact.s3-ransomware-individual-deletion/",
		NewSourceOnly: true, match: calls("s3", "DeleteObject", "DeleteObjectVersion")},
	stratus("initial-access.console-login-without-mfa", "Console login without MFA", CategoryInitialAccess, []string{"T1078.004"},
		"someone signed in to the console as an IAM user without MFA", both(calls("signin", "ConsoleLogin"), withoutMFA)),
	stratus("lateral-movement.ec2-instance-connect", "Usage of EC2 Instance Connect on multiple instances", CategoryLateralMovement, []string{"T1021.004"},
		"pushes an SSH key that opens a shell on the instance", calls("ec2-instance-connect", "SendSSHPublicKey")),
	stratus("lateral-movement.ec2-serial-console-send-ssh-public-key", "Usage of EC2 Serial Console to push SSH public key", CategoryLateralMovement, []string{"T1021.004"},
		"a shell on the instance's serial console, past its network rules",
		func(e *event) bool {
			return e.is("ec2-instance-connect", "SendSerialConsoleSSHPublicKey") || e.is("ec2", "EnableSerialConsoleAccess")
		}),
	stratus("persistence.iam-backdoor-role", "Backdoor an IAM role", CategoryIAMPersistence, []string{"T1098"},
		"the role now trusts another account, which can assume it at will", calls("iam", "UpdateAssumeRolePolicy")),
	stratus("persistence.iam-backdoor-user", "Create an access key on an IAM user", CategoryIAMPersistence, []string{"T1098.001"},
		"a new key outlives the leaked one: delete it", calls("iam", "CreateAccessKey")),
	stratus("persistence.iam-create-admin-user", "Create an administrative IAM user", CategoryIAMPersistence, []string{"T1136.003"},
		"a user of the attacker's own, often given administrator access", calls("iam", "CreateUser", "AttachUserPolicy", "PutUserPolicy", "AddUserToGroup")),
	stratus("persistence.iam-create-backdoor-role", "Create a backdoored IAM role", CategoryIAMPersistence, []string{"T1136.003", "T1098.003"},
		"a role another account can assume", calls("iam", "CreateRole", "AttachRolePolicy", "PutRolePolicy")),
	stratus("persistence.iam-create-user-login-profile", "Create a login profile on an IAM user", CategoryIAMPersistence, []string{"T1098.001"},
		"a console password for the user: console access that no key change revokes", calls("iam", "CreateLoginProfile")),
	stratus("persistence.lambda-backdoor-function", "Backdoor Lambda function through resource-based policy", CategoryExfiltration, []string{"T1098", "T1546"},
		"anyone (or another account) may invoke the function", both(calls("lambda", "AddPermission", "CreateFunctionUrlConfig", "UpdateFunctionUrlConfig"), opensToOutside)),
	stratus("persistence.lambda-layer-extension", "Add a malicious Lambda extension", CategoryExecution, []string{"T1546"},
		"a layer runs the attacker's code inside the function at every call", both(calls("lambda", "UpdateFunctionConfiguration"), func(e *event) bool { return e.param("layers") != nil })),
	stratus("persistence.lambda-overwrite-code", "Overwrite Lambda function code", CategoryExecution, []string{"T1546", "T1525"},
		"the function now runs the attacker's code with its role", calls("lambda", "UpdateFunctionCode")),
	stratus("persistence.rolesanywhere-create-trust-anchor", "Create an IAM Roles Anywhere trust anchor", CategoryIAMPersistence, []string{"T1098"},
		"a certificate authority of the attacker's can mint sessions of the account's roles from anywhere",
		calls("rolesanywhere", "CreateTrustAnchor", "CreateProfile", "UpdateTrustAnchor", "EnableTrustAnchor")),
	stratus("persistence.sts-federation-token", "Generate temporary AWS credentials using GetFederationToken", CategoryCredentialMinting, []string{"T1550.001"},
		"federation tokens survive the key's deactivation and open the console", calls("sts", "GetFederationToken")),
	stratus("privilege-escalation.iam-update-user-login-profile", "Change IAM user password", CategoryPrivilegeEscalation, []string{"T1098"},
		"takes over another user's console access by setting its password", calls("iam", "UpdateLoginProfile")),

	// MITRE ATT&CK Cloud (IaaS) techniques a leaked key leads to, and the
	// principles that find them whatever the call.
	attack("T1562.008", "Impair defenses: disable or modify cloud logs", CategoryDefenseEvasion,
		"a change to logging, detection or alerting, so later calls go unseen", changesDetection),
	attack("T1537", "Transfer data to cloud account", CategoryExfiltration,
		"a resource policy, ACL or share now admits anyone or an account outside the organisation", opensToOutside),
	attack("T1552", "Unsecured credentials", CategoryCredentialAccess,
		"the call's answer is a secret: rotate it", revealsSecret),
	attack("T1651", "Cloud administration command", CategoryExecution,
		"runs the caller's code or commands on the account's machines", runsCode),
	attack("T1021.007", "Remote services: cloud services", CategoryLateralMovement,
		"a session in another account: the attacker's reach grows", crossAccount),
	attack("T1098", "Account manipulation", CategoryIAMPersistence,
		"a new way into the account that does not go through the leaked key", newWayIn),
	attack("T1485", "Data destruction", CategoryImpact,
		"data deleted or made unrecoverable", destroysData),
	attack("T1496", "Resource hijacking", CategoryComputeAbuse,
		"compute, models or email started for the attacker, on the account's bill", hijacksResources),
	attack("T1550.001", "Use alternate authentication material: application access token", CategoryCredentialMinting,
		"new temporary credentials, which outlive the leaked key's deactivation until they expire", mintsCredentials),
	attack("T1578", "Modify cloud compute infrastructure", CategoryDataAccess,
		"snapshots and images made of the account's disks can be copied out or restored",
		calls("ec2", "CreateSnapshot", "CreateSnapshots", "CreateImage", "CopySnapshot", "CopyImage", "CreateStoreImageTask", "CreateInstanceExportTask")),
	attack("T1530", "Data from cloud storage", CategoryDataAccess,
		"data read or exported in bulk", func(e *event) bool {
			return e.is("rds", "CreateDBSnapshot", "CreateDBClusterSnapshot", "StartExportTask") || e.is("dynamodb", "ExportTableToPointInTime") ||
				e.is("kms", "Decrypt", "GenerateDataKey", "ReEncrypt")
		}),
	{ID: "T1526", Name: "Cloud service discovery", Category: CategoryRecon, MITRE: []string{"T1526", "T1087.004", "T1580", "T1619"},
		Why: "the enumeration an attacker does first with a new key", Source: attackDocs + "T1526/", NewSourceOnly: true,
		match: func(e *event) bool {
			return e.is("sts", "GetCallerIdentity") || e.is("s3", "ListBuckets") ||
				e.is("iam", "GetAccountAuthorizationDetails", "ListUsers", "ListRoles", "GetAccountSummary", "ListAccessKeys", "ListAttachedUserPolicies", "ListUserPolicies") ||
				e.is("organizations", "DescribeOrganization", "ListAccounts") || e.is("secretsmanager", "ListSecrets") || e.is("ssm", "DescribeParameters")
		}},
}

// techniquesOf returns the catalogue entries an event matches, the entry
// it is filed under first.
func techniquesOf(e *event) []*Technique {
	var out []*Technique
	for i := range catalogue {
		if catalogue[i].match(e) {
			out = append(out, &catalogue[i])
		}
	}
	return out
}

// Catalogue returns the techniques keyleak recognises, for documentation
// and for the report's references.
func Catalogue() []Technique { return slices.Clone(catalogue) }

// TechniquesOf returns the catalogue's techniques a CloudTrail record
// shows, the one it is filed under first; own names the organisation's
// accounts (beside the record's own).
func TechniquesOf(rec *trail.Record, own ...string) []Technique {
	var out []Technique
	for _, t := range techniquesOf(newEvent(rec, func(a string) bool { return slices.Contains(own, a) })) {
		out = append(out, *t)
	}
	return out
}
