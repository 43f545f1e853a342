package awsops

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/awsops/trail"
)

// event is one CloudTrail record as the catalogue reads it: its service
// and its name without an API version suffix, and its request parameters
// parsed when a rule asks for them.
type event struct {
	rec     *trail.Record
	service string // "iam", "ec2-instance-connect"…
	name    string // "AddPermission", not "AddPermission20150331v2"
	// own reports whether an account belongs to the organisation (the
	// key's account and the accounts keyleak knows).
	own func(account string) bool

	req    map[string]any
	parsed bool
	resp   any // the response elements, decoded once
	rParse bool
}

func newEvent(rec *trail.Record, own func(string) bool) *event {
	return &event{rec: rec, service: strings.TrimSuffix(rec.EventSource, ".amazonaws.com"), name: normalName(rec.EventName), own: own}
}

// apiVersionSuffix is the date (and version) some services append to
// event names: Lambda's CreateFunction20150331, AddPermission20150331v2.
var apiVersionSuffix = regexp.MustCompile(`^([A-Za-z]+?)(20\d{6}(v\d+)?)$`)

// normalName is an event name without its API version suffix.
func normalName(name string) string {
	if name == "" || name[len(name)-1] < '0' || name[len(name)-1] > '9' {
		return name // no suffix ends but in a digit
	}
	if m := apiVersionSuffix.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return name
}

// params returns the request parameters as a map (empty when there are
// none or they are not an object).
func (e *event) params() map[string]any {
	if !e.parsed {
		e.parsed = true
		if len(e.rec.RequestParameters) > 0 && e.rec.RequestParameters[0] == '{' {
			v, _ := trail.Value(e.rec.RequestParameters) // as json.Unmarshal, faster
			e.req, _ = v.(map[string]any)
		}
	}
	return e.req
}

// param is the request parameter at path (keys compared without case),
// or nil.
func (e *event) param(path ...string) any {
	var v any = e.params()
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = lookupFold(m, k)
	}
	return v
}

func lookupFold(m map[string]any, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	for key, v := range m {
		if strings.EqualFold(key, k) {
			return v
		}
	}
	return nil
}

// paramString is the request parameter at path as text.
func (e *event) paramString(path ...string) string {
	switch v := e.param(path...).(type) {
	case string:
		return v
	case bool, float64:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return ""
}

// is reports whether the event is one of names of service.
func (e *event) is(service string, names ...string) bool {
	if e.service != service {
		return false
	}
	for _, n := range names {
		if e.name == n {
			return true
		}
	}
	return false
}

// readOnly reports whether the call only reads, by CloudTrail's flag or,
// where records lack it, by the name's verb.
func (e *event) readOnly() bool {
	return e.rec.ReadOnly || isReadName(e.name)
}

// outside reports whether an account is outside the organisation.
func (e *event) outside(account string) bool {
	return account != "" && !e.own(account) && account != e.rec.RecipientAccountID && account != e.rec.UserIdentity.AccountID
}

// Rules: principles that find a technique whatever the API's name, where a
// principle is sound. Each is a func(*event) bool.

// opensToOutside: a resource policy, ACL or share that admits anyone, or
// an account outside the organisation: a Lambda permission or function
// URL, a bucket policy or ACL, a snapshot, image or database snapshot
// shared, a KMS key policy or grant, a Secrets Manager, ECR, SNS, SQS,
// EFS, backup vault or Glacier policy, S3 replication.
func opensToOutside(e *event) bool {
	switch {
	case e.is("lambda", "AddPermission", "AddLayerVersionPermission"):
		return e.admits(e.paramString("principal"))
	case e.is("lambda", "CreateFunctionUrlConfig", "UpdateFunctionUrlConfig"):
		return strings.EqualFold(e.paramString("authType"), "NONE")
	case e.is("ec2", "ModifySnapshotAttribute"):
		return e.sharesAdded("createVolumePermission")
	case e.is("ec2", "ModifyImageAttribute"):
		return e.sharesAdded("launchPermission")
	case e.is("rds", "ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"):
		if !strings.EqualFold(e.paramString("attributeName"), "restore") {
			return false
		}
		for _, v := range anyStrings(e.param("valuesToAdd")) {
			if e.admits(v) {
				return true
			}
		}
		return false
	case e.is("s3", "PutBucketAcl", "PutObjectAcl"):
		return grantsPublic(e.params())
	case e.is("s3", "DeleteBucketPublicAccessBlock", "DeleteAccountPublicAccessBlock"):
		return true
	case e.is("s3", "PutBucketReplication"):
		return true // objects copied on to another bucket: its owner is not in the event
	case e.is("kms", "CreateGrant"):
		return e.admits(e.paramString("granteePrincipal"))
	case e.is("sns", "AddPermission"), e.is("sqs", "AddPermission"):
		for _, k := range []string{"aWSAccountId", "aWSAccountIds"} {
			for _, a := range anyStrings(e.param(k)) {
				if e.admits(a) {
					return true
				}
			}
		}
		return false
	}
	for _, doc := range e.policyDocuments() {
		if e.policyAdmitsOutside(doc) {
			return true
		}
	}
	return false
}

// policyParams are the request parameters that hold a resource policy;
// each holds "olicy" (policyDocuments relies on it).
var policyParams = []string{"policy", "bucketPolicy", "policyText", "resourcePolicy", "policyDocument", "accessPolicy"}

// policyDocuments are the resource policies a call sets: its policy
// parameters, and SNS or SQS policy attributes. Identity policies (IAM's
// own Put*Policy) are not resource policies and are left out.
func (e *event) policyDocuments() []string {
	if e.service == "iam" || e.service == "sts" || e.service == "organizations" {
		return nil
	}
	if raw := e.rec.RequestParameters; !bytes.Contains(raw, []byte("olicy")) && !bytes.Contains(raw, []byte(`\u`)) {
		return nil // every name above, and "Policy", hold it; a name escaped is parsed
	}
	var out []string
	for _, k := range policyParams {
		switch v := e.param(k).(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			if e.ambiguousParams() {
				// CloudTrail recorded the document as an object, and the
				// request named a member twice: decoded, the object kept
				// one of the two, and which AWS applied is not known.
				out = append(out, openDocument)
				continue
			}
			b, _ := json.Marshal(v)
			out = append(out, string(b))
		}
	}
	if strings.EqualFold(e.paramString("attributeName"), "Policy") {
		out = append(out, e.paramString("attributeValue"))
	}
	if v := e.param("attributes", "Policy"); v != nil {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// openDocument stands for a document that cannot be read for sure: it
// allows anyone.
const openDocument = `{"Statement":[{"Effect":"Allow","Principal":"*"}]}`

// ambiguousParams reports whether the request parameters, as CloudTrail
// recorded them, name a member twice in one object (see duplicateMember).
func (e *event) ambiguousParams() bool {
	_, dup := duplicateMember(string(e.rec.RequestParameters))
	return dup
}

// policyAdmitsOutside reports whether a policy document allows anyone
// ("*") or a principal of an account outside the organisation.
func (e *event) policyAdmitsOutside(doc string) bool { return e.outsidersIn(doc) != "" }

// parsePolicyStatements reads a policy document's statements, URL-encoded
// or not; none when it is not a policy. A document that names a member
// twice in one object reads as one statement that allows anyone: which
// of the two AWS applies is not known (see duplicateMember).
func parsePolicyStatements(doc string) policyStatementList {
	if u, err := url.QueryUnescape(doc); err == nil && strings.HasPrefix(strings.TrimSpace(u), "{") {
		doc = u
	}
	if _, dup := duplicateMember(doc); dup {
		doc = openDocument
	}
	var d struct {
		Statement policyStatementList `json:"Statement"`
	}
	if json.Unmarshal([]byte(doc), &d) != nil {
		return nil
	}
	return d.Statement
}

type policyStatementList []resourceStatement

// resourceStatement is a statement of a resource policy, as far as whom
// it admits.
type resourceStatement struct {
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal"`
	// NotPrincipal, in an Allow, admits everyone but whom it names.
	NotPrincipal json.RawMessage `json:"NotPrincipal"`
	Condition    json.RawMessage `json:"Condition"`
}

// admitted is whom the statement's principal names: "*" for an Allow
// with NotPrincipal.
func (st resourceStatement) admitted() []string {
	if len(st.NotPrincipal) > 0 && string(st.NotPrincipal) != "null" {
		return []string{"*"}
	}
	return principalsOf(st.Principal)
}

// accountConditionKeys name the caller's (or the calling service's
// source) account or ARN: a condition on them limits a statement to
// those accounts whatever its principal says.
var accountConditionKeys = []string{"aws:principalaccount", "aws:sourceowner", "aws:sourceaccount", "aws:principalarn", "aws:sourcearn"}

// orgConditionKeys name the caller's organisation (its ID, or a path in
// it): a condition on one of the organisation's own (Options.Organizations)
// limits a statement to its accounts.
var orgConditionKeys = []string{"aws:principalorgid", "aws:principalorgpaths"}

// pinnedInside reports whether the statement's conditions admit only
// callers of the account and the organisation (a topic's default policy:
// anyone, if AWS:SourceOwner is the owner).
func (st resourceStatement) pinnedInside(e *event) bool {
	var cond map[string]map[string]any
	if len(st.Condition) == 0 || json.Unmarshal(st.Condition, &cond) != nil {
		return false // read as open: a condition keyleak cannot read pins nothing
	}
	for op, kv := range cond {
		o := strings.ToLower(op)
		if strings.HasSuffix(o, "ifexists") || strings.HasPrefix(o, "forallvalues:") {
			continue // true for a caller whose request lacks the key (one of no organisation, say): it pins nothing
		}
		o = strings.TrimPrefix(o, "foranyvalue:")
		if !strings.HasPrefix(o, "stringequals") && !strings.HasPrefix(o, "stringlike") && !strings.HasPrefix(o, "arnequals") && !strings.HasPrefix(o, "arnlike") {
			continue
		}
		for k, v := range kv {
			key := strings.ToLower(k)
			org := slices.Contains(orgConditionKeys, key)
			if !org && !slices.Contains(accountConditionKeys, key) {
				continue
			}
			values := anyStrings(v)
			open := func(x string) bool { // a value naming no account for sure, or one outside
				if org {
					// o-…, or an organisation path o-…/r-…/ou-…/
					id, _, _ := strings.Cut(x, "/")
					return id == "" || strings.ContainsAny(id, "*?") || !e.own(id)
				}
				acct := accountOfPrincipal(x)
				return acct == "" || strings.ContainsAny(acct, "*?") || e.admits(x)
			}
			if len(values) > 0 && !slices.ContainsFunc(values, open) {
				return true
			}
		}
	}
	return false
}

func (l *policyStatementList) UnmarshalJSON(b []byte) error {
	type list policyStatementList
	if len(b) > 0 && b[0] == '{' {
		var one [1]resourceStatement
		if err := json.Unmarshal(b, &one[0]); err != nil {
			return err
		}
		*l = one[:]
		return nil
	}
	return json.Unmarshal(b, (*list)(l))
}

// principalsOf lists a policy Principal: "*", or the AWS (and other)
// principals of an object.
func principalsOf(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	for kind, v := range m {
		if !strings.EqualFold(kind, "AWS") && !strings.EqualFold(kind, "CanonicalUser") {
			continue // services and federated providers are not accounts
		}
		var one string
		if json.Unmarshal(v, &one) == nil {
			out = append(out, one)
			continue
		}
		var many []string
		_ = json.Unmarshal(v, &many)
		out = append(out, many...)
	}
	return out
}

// admits reports whether a principal (an account ID, an ARN or "*") is
// anyone or outside the organisation.
// accountOfPrincipal is the account field of a principal's ARN, else the
// principal itself (an account ID), for a principal named in any part
// (principalAccount takes only one naming the account as a whole).
func accountOfPrincipal(p string) string {
	if parts := strings.SplitN(p, ":", 6); len(parts) >= 5 && parts[0] == "arn" {
		return parts[4]
	}
	return p
}

func (e *event) admits(principal string) bool {
	p := strings.TrimSpace(principal)
	switch {
	case p == "":
		return false
	case p == "*" || strings.EqualFold(p, "all"):
		return true
	case strings.HasPrefix(p, "arn:"):
		parts := strings.SplitN(p, ":", 6)
		return len(parts) >= 5 && e.outside(parts[4])
	case len(p) == 12 && strings.Trim(p, "0123456789") == "":
		return e.outside(p)
	}
	return false // a service principal, a canonical user ID
}

// sharesAdded reports whether an EC2 attribute change adds a share to
// "all" or to an account outside the organisation.
func (e *event) sharesAdded(attribute string) bool {
	items, _ := e.param(attribute, "add", "items").([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if g, _ := lookupFold(m, "group").(string); strings.EqualFold(g, "all") {
			return true
		}
		if u, _ := lookupFold(m, "userId").(string); e.admits(u) {
			return true
		}
	}
	for _, k := range []string{"userId", "userIds", "groupNames"} {
		for _, v := range anyStrings(e.param(k)) {
			if e.admits(v) {
				return true
			}
		}
	}
	return false
}

// grantsPublic reports whether S3 ACL parameters grant to everyone or to
// every AWS user (a canned ACL, a grant header or a grant list).
func grantsPublic(params map[string]any) bool {
	b, _ := json.Marshal(params)
	s := strings.ToLower(string(b))
	return strings.Contains(s, "acs.amazonaws.com/groups/global/allusers") ||
		strings.Contains(s, "acs.amazonaws.com/groups/global/authenticatedusers") ||
		strings.Contains(s, `"public-read`) || strings.Contains(s, `"authenticated-read"`)
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, i := range x {
			if s, ok := i.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// revealsSecret: a call whose answer is a secret: a Secrets Manager
// value, a decrypted parameter, an instance's Windows password, a
// database master password set to one the caller knows, cluster or
// registry credentials, a private key.
func revealsSecret(e *event) bool {
	switch {
	case e.is("secretsmanager", "GetSecretValue", "BatchGetSecretValue"):
		return true
	case e.is("ssm", "GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory"):
		return e.paramString("withDecryption") == "true"
	case e.is("ec2", "GetPasswordData"):
		return true
	case e.is("rds", "ModifyDBInstance", "ModifyDBCluster"):
		return e.param("masterUserPassword") != nil
	case e.is("redshift", "GetClusterCredentials", "GetClusterCredentialsWithIAM"),
		e.is("redshift-serverless", "GetCredentials"),
		e.is("acm", "ExportCertificate"),
		e.is("iam", "CreateServiceSpecificCredential", "ResetServiceSpecificCredential"),
		e.is("codeartifact", "GetAuthorizationToken"):
		return true
	}
	return false
}

// runsCode: a call that runs the caller's code or commands on a machine:
// Systems Manager commands and sessions, EC2 Instance Connect and serial
// console keys, user data, Lambda code, layers and configuration, ECS
// exec, SageMaker lifecycle scripts, Glue development endpoints.
func runsCode(e *event) bool {
	switch {
	case e.is("ssm", "SendCommand", "StartSession", "StartAutomationExecution", "CreateAssociation", "ResumeSession"),
		e.is("ec2-instance-connect", "SendSSHPublicKey", "SendSerialConsoleSSHPublicKey"),
		e.is("lambda", "UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishLayerVersion"),
		e.is("ecs", "ExecuteCommand"),
		e.is("sagemaker", "CreateNotebookInstanceLifecycleConfig", "UpdateNotebookInstanceLifecycleConfig", "CreatePresignedNotebookInstanceUrl"),
		e.is("glue", "CreateDevEndpoint", "UpdateDevEndpoint"),
		e.is("cloudshell", "PutCredentials", "CreateSession"):
		return true
	case e.is("ec2", "ModifyInstanceAttribute"):
		return e.param("userData") != nil || strings.EqualFold(e.paramString("attribute"), "userData")
	case e.is("sagemaker", "UpdateNotebookInstance"):
		return e.param("lifecycleConfigName") != nil
	}
	return false
}

// newWayIn: anything that gives someone a way into the account that does
// not go through the leaked key: users, keys, passwords, service
// credentials, SSH keys, roles and their trust, policies granted,
// identity providers, Identity Center assignments, Roles Anywhere, EKS
// access, new accounts.
func newWayIn(e *event) bool {
	switch {
	case e.is("iam", "CreateUser", "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "CreateServiceSpecificCredential",
		"UploadSSHPublicKey", "UploadSigningCertificate", "CreateRole", "UpdateAssumeRolePolicy",
		"AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy",
		"AddUserToGroup", "CreatePolicyVersion", "SetDefaultPolicyVersion", "CreateOpenIDConnectProvider", "CreateSAMLProvider",
		"UpdateSAMLProvider", "AddClientIDToOpenIDConnectProvider", "UpdateOpenIDConnectProviderThumbprint",
		"CreateVirtualMFADevice", "EnableMFADevice", "DeleteUserPermissionsBoundary", "DeleteRolePermissionsBoundary",
		"AddRoleToInstanceProfile", "UpdateRole"),
		e.is("sso", "CreateAccountAssignment", "CreatePermissionSet", "AttachManagedPolicyToPermissionSet", "PutInlinePolicyToPermissionSet"),
		e.is("identitystore", "CreateUser", "CreateGroupMembership"),
		e.is("rolesanywhere", "CreateTrustAnchor", "CreateProfile", "UpdateTrustAnchor", "UpdateProfile", "EnableTrustAnchor", "EnableProfile"),
		e.is("eks", "CreateAccessEntry", "AssociateAccessPolicy", "UpdateAccessEntry"),
		e.is("organizations", "CreateAccount", "InviteAccountToOrganization"),
		e.is("ec2", "CreateKeyPair", "ImportKeyPair"),
		e.is("cognito-idp", "AdminCreateUser", "AdminSetUserPassword"):
		return true
	}
	return false
}

// detectionServices are services whose every change weakens logging,
// detection or alerting when an attacker makes it.
var detectionServices = map[string]bool{
	"cloudtrail": true, "config": true, "guardduty": true, "securityhub": true, "access-analyzer": true, "macie2": true,
	"macie": true, "detective": true, "inspector2": true, "inspector": true, "fms": true, "auditmanager": true,
}

// changesDetection: a change to logging, detection or alerting: any write
// to CloudTrail, Config, GuardDuty, Security Hub and their like, log
// groups deleted or their retention cut, EventBridge rules disabled,
// alarms removed, flow logs and DNS query logs deleted, bucket logging
// changed, MFA removed, leaving the organisation (and its SCPs).
func changesDetection(e *event) bool {
	switch {
	case detectionServices[e.service]:
		return !e.readOnly()
	case e.is("logs", "DeleteLogGroup", "DeleteLogStream", "PutRetentionPolicy", "DeleteSubscriptionFilter", "DisassociateKmsKey", "DeleteRetentionPolicy"),
		e.is("events", "DisableRule", "DeleteRule", "RemoveTargets"),
		e.is("monitoring", "DeleteAlarms", "DisableAlarmActions"),
		e.is("ec2", "DeleteFlowLogs"),
		e.is("route53resolver", "DeleteResolverQueryLogConfig", "DisassociateResolverQueryLogConfig"),
		e.is("s3", "PutBucketLogging", "DeleteBucketLogging"),
		e.is("wafv2", "DeleteLoggingConfiguration"),
		e.is("iam", "DeactivateMFADevice", "DeleteVirtualMFADevice"),
		e.is("organizations", "LeaveOrganization", "DisableAWSServiceAccess", "DeregisterDelegatedAdministrator", "DetachPolicy", "DisablePolicyType"):
		return true
	case e.is("s3", "PutBucketLifecycle", "PutBucketLifecycleConfiguration"):
		return expires(e.params())
	}
	return false
}

// expires reports whether lifecycle parameters delete objects.
func expires(params map[string]any) bool {
	b, _ := json.Marshal(params)
	return strings.Contains(strings.ToLower(string(b)), "expiration")
}

// destroysData: a call that deletes or locks away data: buckets, object
// versions kept off, databases, snapshots, volumes, images, tables,
// backups, KMS keys scheduled for deletion, objects re-encrypted with a
// key the owner does not have.
func destroysData(e *event) bool {
	switch {
	case e.is("s3", "DeleteBucket", "DeleteObjects"),
		e.is("rds", "DeleteDBInstance", "DeleteDBCluster", "DeleteDBSnapshot", "DeleteDBClusterSnapshot", "DeleteGlobalCluster"),
		e.is("ec2", "DeleteSnapshot", "DeleteVolume", "DeregisterImage"),
		e.is("dynamodb", "DeleteTable", "DeleteBackup"),
		e.is("backup", "DeleteRecoveryPoint", "DeleteBackupVault", "DeleteBackupPlan"),
		e.is("kms", "ScheduleKeyDeletion", "DisableKey", "DeleteImportedKeyMaterial"),
		e.is("elasticfilesystem", "DeleteFileSystem"),
		e.is("secretsmanager", "DeleteSecret"):
		return true
	case e.is("s3", "PutBucketVersioning"):
		return strings.Contains(strings.ToLower(e.paramString("VersioningConfiguration", "Status")), "suspend")
	case e.is("s3", "CopyObject", "PutObject"):
		return e.param("x-amz-server-side-encryption-customer-algorithm") != nil || e.param("SSECustomerAlgorithm") != nil
	}
	return false
}

// hijacksResources: compute or services started for the attacker's own
// ends: instances, spot capacity, containers, batch jobs, notebooks and
// training, functions, model invocations, email sending.
func hijacksResources(e *event) bool {
	switch {
	case e.is("ec2", "RunInstances", "RequestSpotInstances", "RequestSpotFleet", "CreateFleet", "CreateLaunchTemplate", "CreateLaunchTemplateVersion", "StartInstances"),
		e.is("lightsail", "CreateInstances", "CreateContainerService"),
		e.is("ecs", "RunTask", "CreateService", "RegisterTaskDefinition", "CreateCluster"),
		e.is("batch", "SubmitJob", "CreateComputeEnvironment", "CreateJobQueue"),
		e.is("sagemaker", "CreateNotebookInstance", "CreateTrainingJob", "CreateEndpoint", "CreateProcessingJob"),
		e.is("eks", "CreateNodegroup", "CreateCluster"),
		e.is("autoscaling", "CreateAutoScalingGroup", "UpdateAutoScalingGroup", "CreateLaunchConfiguration"),
		e.is("lambda", "CreateFunction"),
		e.is("glue", "CreateJob", "StartJobRun"),
		e.is("elasticmapreduce", "RunJobFlow"),
		e.is("apprunner", "CreateService"),
		e.is("servicequotas", "RequestServiceQuotaIncrease"),
		e.is("bedrock", "InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream", "PutUseCaseForModelAccess",
			"CreateFoundationModelAgreement", "PutFoundationModelEntitlement", "CreateModelInvocationJob"),
		e.is("ses", "UpdateAccountSendingEnabled", "PutAccountSendingAttributes", "PutAccountDetails", "CreateEmailIdentity",
			"VerifyEmailIdentity", "VerifyDomainIdentity", "VerifyEmailAddress"):
		return true
	}
	return false
}

// mintsCredentials: a call that returns new credentials.
func mintsCredentials(e *event) bool {
	switch {
	case e.is("sts", "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken", "GetFederationToken", "AssumeRoot"),
		e.is("sso", "GetRoleCredentials"),
		e.is("signin", "GetSigninToken"),
		e.is("rolesanywhere", "CreateSession"),
		e.is("cognito-identity", "GetCredentialsForIdentity"):
		return true
	}
	return false
}

// crossAccount: an assumption of a role in another account.
func crossAccount(e *event) bool {
	if !e.is("sts", "AssumeRole") {
		return false
	}
	parts := strings.SplitN(e.paramString("roleArn"), ":", 6)
	return len(parts) >= 5 && parts[4] != "" && parts[4] != e.rec.UserIdentity.AccountID
}

// opensNetwork: a security group or instance port opened to the whole
// internet (any address with a prefix of length 0, however written).
func opensNetwork(e *event) bool {
	switch {
	case e.is("ec2", "AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"):
		b, _ := json.Marshal(e.params())
		return worldCIDR.Match(b)
	case e.is("lightsail", "OpenInstancePublicPorts", "PutInstancePublicPorts"):
		return true
	}
	return false
}

// worldCIDR finds a CIDR with a prefix of length 0 (0.0.0.0/0, ::/0, or
// any address written before /0).
var worldCIDR = regexp.MustCompile(`"[0-9a-fA-F:.]+/0"`)

// withoutMFA: a console sign-in that CloudTrail does not say used MFA
// (additionalEventData.MFAUsed "Yes").
func withoutMFA(e *event) bool {
	if len(e.rec.AdditionalEventData) == 0 || e.rec.AdditionalEventData[0] != '{' {
		return true
	}
	v, _ := trail.Value(e.rec.AdditionalEventData)
	m, _ := v.(map[string]any)
	used, _ := lookupFold(m, "MFAUsed").(string)
	return !strings.EqualFold(used, "Yes")
}
