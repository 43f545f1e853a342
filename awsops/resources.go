package awsops

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Resource is something the key or its sessions created, or opened to
// others: a user, key or instance; a share, resource policy, ingress
// rule or grant.
type Resource struct {
	Type string `json:"type"` // e.g. AWS::EC2::Instance, AWS::Lambda::Permission
	// ID names it: instance ID, user name, key ID, function name,
	// statement ID, snapshot ID, rule ID, grant ID…
	ID string `json:"id"`
	// On is what an opening is attached to: the function of a
	// permission, the key of a grant, the group of a rule, the cluster of
	// an access entry.
	On string `json:"on,omitempty"`
	// Opening says whom it admits, for what opens the account to others:
	// "*", accounts outside the organisation, 0.0.0.0/0 on a port.
	Opening string `json:"opening,omitempty"`
	// Owner is the user an access key or service credential belongs to.
	Owner string `json:"owner,omitempty"`
	// Ref is every parameter that names it when its ID alone does not:
	// an Identity Center assignment's instance, permission set, principal
	// and target.
	Ref         map[string]string `json:"ref,omitempty"`
	Account     string            `json:"account"`
	Region      string            `json:"region"`
	CreatedBy   string            `json:"created_by"` // event name
	CreatedAt   time.Time         `json:"created_at"`
	AccessKeyID string            `json:"access_key_id"`
	EventID     string            `json:"event_id"`
	// UniqueID is the ID the creating event gave a user or role (AIDA…,
	// AROA…), which a later user or role of the same name does not have.
	UniqueID string `json:"unique_id,omitempty"`
	// Exists is "yes", "no" or "unknown" (see ExistsDetail): for an
	// opening, whether it still admits whom it did.
	Exists       string `json:"exists"`
	ExistsDetail string `json:"exists_detail,omitempty"`
}

// resourceRule reads what one kind of successful event created or opened.
type resourceRule func(e *event, mk func(typ, id string) Resource) []Resource

// one is a rule for a single resource named by fn; none when it names
// nothing.
func one(typ string, fn func(e *event) (id string, fill func(*Resource))) resourceRule {
	return func(e *event, mk func(string, string) Resource) []Resource {
		id, fill := fn(e)
		if id == "" {
			return nil
		}
		r := mk(typ, id)
		if fill != nil {
			fill(&r)
		}
		return []Resource{r}
	}
}

// named is a rule for a resource named by a request parameter.
func named(typ string, path ...string) resourceRule {
	return one(typ, func(e *event) (string, func(*Resource)) { return e.paramString(path...), nil })
}

// resourceRules are keyed by service and event name (without version).
var resourceRules = map[string]resourceRule{
	"iam:CreateUser": one("AWS::IAM::User", func(e *event) (string, func(*Resource)) {
		return e.paramString("userName"), func(r *Resource) { r.UniqueID = e.responseString("user", "userId") }
	}),
	"iam:CreateAccessKey": one("AWS::IAM::AccessKey", func(e *event) (string, func(*Resource)) {
		return e.responseString("accessKey", "accessKeyId"), func(r *Resource) {
			r.Owner = cmp.Or(e.responseString("accessKey", "userName"), e.paramString("userName"), e.rec.UserIdentity.UserName)
		}
	}),
	"iam:CreateLoginProfile": named("AWS::IAM::LoginProfile", "userName"),
	"iam:UpdateLoginProfile": named("AWS::IAM::LoginProfile", "userName"),
	"iam:CreateRole": one("AWS::IAM::Role", func(e *event) (string, func(*Resource)) {
		return e.paramString("roleName"), func(r *Resource) { r.UniqueID = e.responseString("role", "roleId") }
	}),
	"iam:UpdateAssumeRolePolicy": one("AWS::IAM::RoleTrust", func(e *event) (string, func(*Resource)) {
		return e.paramString("roleName"), func(r *Resource) { r.Opening = e.outsidersIn(e.paramString("policyDocument")) }
	}),
	"iam:CreatePolicy": one("AWS::IAM::Policy", func(e *event) (string, func(*Resource)) {
		return cmp.Or(e.responseString("policy", "arn"), e.paramString("policyName")), nil
	}),
	"iam:CreateOpenIDConnectProvider": one("AWS::IAM::OIDCProvider", func(e *event) (string, func(*Resource)) {
		return e.responseString("openIDConnectProviderArn"), func(r *Resource) { r.Opening = e.paramString("url") }
	}),
	"iam:CreateSAMLProvider": one("AWS::IAM::SAMLProvider", func(e *event) (string, func(*Resource)) {
		return cmp.Or(e.responseString("sAMLProviderArn"), e.responseString("samlProviderArn")), nil
	}),
	"iam:CreateServiceSpecificCredential": one("AWS::IAM::ServiceSpecificCredential", func(e *event) (string, func(*Resource)) {
		return e.responseString("serviceSpecificCredential", "serviceSpecificCredentialId"), func(r *Resource) {
			r.Owner = cmp.Or(e.paramString("userName"), e.responseString("serviceSpecificCredential", "userName"))
			r.On = e.paramString("serviceName")
		}
	}),
	"ec2:RunInstances": func(e *event, mk func(string, string) Resource) []Resource {
		return itemIDs(e, mk, "AWS::EC2::Instance", "instancesSet", "instanceId")
	},
	"ec2:RequestSpotInstances": func(e *event, mk func(string, string) Resource) []Resource {
		return itemIDs(e, mk, "AWS::EC2::SpotInstanceRequest", "spotInstanceRequestSet", "spotInstanceRequestId")
	},
	"ec2:CreateKeyPair": named("AWS::EC2::KeyPair", "keyName"),
	"ec2:ImportKeyPair": named("AWS::EC2::KeyPair", "keyName"),
	"ec2:ModifySnapshotAttribute": openingOn("AWS::EC2::SnapshotShare", "snapshotId", func(e *event) string {
		return e.sharedWith("createVolumePermission")
	}),
	"ec2:ModifyImageAttribute": openingOn("AWS::EC2::ImageShare", "imageId", func(e *event) string {
		return e.sharedWith("launchPermission")
	}),
	"ec2:AuthorizeSecurityGroupIngress": func(e *event, mk func(string, string) Resource) []Resource {
		if !opensNetwork(e) {
			return nil
		}
		items, _ := e.response("securityGroupRuleSet", "items").([]any)
		var out []Resource
		for _, it := range items {
			m, _ := it.(map[string]any)
			cidr := cmp.Or(str(m, "cidrIpv4"), str(m, "cidrIpv6"))
			if id := str(m, "securityGroupRuleId"); id != "" && (cidr == "" || worldCIDR.MatchString(`"`+cidr+`"`)) {
				r := mk("AWS::EC2::SecurityGroupRule", id)
				r.On = str(m, "groupId")
				r.Opening = fmt.Sprintf("%s %s %s", cidr, str(m, "ipProtocol"), portRange(m["fromPort"], m["toPort"]))
				out = append(out, r)
			}
		}
		if len(out) == 0 { // the answer names no rule: the group is what to check
			r := mk("AWS::EC2::SecurityGroupRule", "")
			r.On = e.paramString("groupId")
			r.Opening = "open to the internet"
			out = append(out, r)
		}
		return out
	},
	"rds:ModifyDBSnapshotAttribute": openingOn("AWS::RDS::DBSnapshotShare", "dBSnapshotIdentifier", func(e *event) string {
		return e.admitted(anyStrings(e.param("valuesToAdd"))...)
	}),
	"rds:ModifyDBClusterSnapshotAttribute": openingOn("AWS::RDS::DBClusterSnapshotShare", "dBClusterSnapshotIdentifier", func(e *event) string {
		return e.admitted(anyStrings(e.param("valuesToAdd"))...)
	}),
	"lambda:CreateFunction": named("AWS::Lambda::Function", "functionName"),
	"lambda:AddPermission": func(e *event, mk func(string, string) Resource) []Resource {
		who := e.admitted(e.paramString("principal"))
		if who == "" || e.paramString("statementId") == "" {
			return nil
		}
		r := mk("AWS::Lambda::Permission", e.paramString("statementId"))
		r.On, r.Opening = qualifiedFunction(e.paramString("functionName"), e.paramString("qualifier")), who
		return []Resource{r}
	},
	"lambda:CreateFunctionUrlConfig": func(e *event, mk func(string, string) Resource) []Resource {
		if !opensToOutside(e) {
			return nil
		}
		r := mk("AWS::Lambda::Url", e.paramString("functionName"))
		r.Opening = "anyone (auth type NONE)"
		return []Resource{r}
	},
	"s3:PutBucketPolicy": openingOn("AWS::S3::BucketPolicy", "bucketName", func(e *event) string {
		for _, doc := range e.policyDocuments() {
			if who := e.outsidersIn(doc); who != "" {
				return who
			}
		}
		return ""
	}),
	"s3:PutBucketAcl": openingOn("AWS::S3::BucketAcl", "bucketName", func(e *event) string {
		if grantsPublic(e.params()) {
			return "everyone (a public ACL)"
		}
		return ""
	}),
	"kms:CreateGrant": func(e *event, mk func(string, string) Resource) []Resource {
		id := e.responseString("grantId")
		if id == "" {
			return nil
		}
		r := mk("AWS::KMS::Grant", id)
		r.On, r.Opening = e.paramString("keyId"), e.admitted(e.paramString("granteePrincipal"))
		return []Resource{r}
	},
	"kms:PutKeyPolicy": openingOn("AWS::KMS::KeyPolicy", "keyId", func(e *event) string { return e.outsidersIn(e.paramString("policy")) }),
	"secretsmanager:CreateSecret": one("AWS::SecretsManager::Secret", func(e *event) (string, func(*Resource)) {
		return cmp.Or(e.responseString("arn"), e.paramString("name")), nil
	}),
	"secretsmanager:PutResourcePolicy": openingOn("AWS::SecretsManager::ResourcePolicy", "secretId", func(e *event) string {
		return e.outsidersIn(e.paramString("resourcePolicy"))
	}),
	"ecr:SetRepositoryPolicy": openingOn("AWS::ECR::RepositoryPolicy", "repositoryName", func(e *event) string {
		return e.outsidersIn(e.paramString("policyText"))
	}),
	"sns:SetTopicAttributes": openingOn("AWS::SNS::TopicPolicy", "topicArn", func(e *event) string {
		if !strings.EqualFold(e.paramString("attributeName"), "Policy") {
			return ""
		}
		return e.outsidersIn(e.paramString("attributeValue"))
	}),
	"sqs:SetQueueAttributes": openingOn("AWS::SQS::QueuePolicy", "queueUrl", func(e *event) string {
		doc, _ := e.param("attributes", "Policy").(string)
		return e.outsidersIn(doc)
	}),
	// Replication sends every new object of the bucket to buckets the
	// request names: whoever owns them reads the data.
	"s3:PutBucketReplication": openingOn("AWS::S3::Replication", "bucketName", func(e *event) string {
		var out []string
		for _, d := range replicationDestinations(e.param("ReplicationConfiguration")) {
			if d.account == "" || e.admits(d.account) { // a bucket of the organisation's own is no door
				out = append(out, d.String())
			}
		}
		return strings.Join(out, ", ")
	}),
	// An Identity Center assignment lets a person of the directory into
	// an account with a permission set.
	"sso:CreateAccountAssignment": func(e *event, mk func(string, string) Resource) []Resource {
		ref := map[string]string{}
		for _, k := range []string{"instanceArn", "targetId", "targetType", "permissionSetArn", "principalType", "principalId"} {
			if ref[k] = e.paramString(k); ref[k] == "" {
				return nil
			}
		}
		r := mk("AWS::SSO::AccountAssignment", ref["principalId"])
		r.On, r.Ref = ref["permissionSetArn"], ref
		r.Opening = strings.ToLower(ref["principalType"]) + " " + ref["principalId"] + " into account " + ref["targetId"]
		return []Resource{r}
	},
	"eks:CreateAccessEntry": one("AWS::EKS::AccessEntry", func(e *event) (string, func(*Resource)) {
		return e.paramString("principalArn"), func(r *Resource) { r.On = e.paramString("name") }
	}),
	"rolesanywhere:CreateTrustAnchor": one("AWS::RolesAnywhere::TrustAnchor", func(e *event) (string, func(*Resource)) {
		return e.responseString("trustAnchor", "trustAnchorId"), func(r *Resource) { r.On = e.responseString("trustAnchor", "trustAnchorArn") }
	}),
	"rolesanywhere:CreateProfile": one("AWS::RolesAnywhere::Profile", func(e *event) (string, func(*Resource)) {
		return e.responseString("profile", "profileId"), func(r *Resource) { r.On = e.responseString("profile", "profileArn") }
	}),
	"organizations:CreateAccount": one("AWS::Organizations::Account", func(e *event) (string, func(*Resource)) {
		return e.responseString("createAccountStatus", "id"), func(r *Resource) { r.On = e.paramString("email") }
	}),
}

// openingOn is a rule for an opening of the resource named by param,
// when opening finds whom it admits.
func openingOn(typ, param string, opening func(e *event) string) resourceRule {
	return func(e *event, mk func(string, string) Resource) []Resource {
		who := opening(e)
		if who == "" || e.paramString(param) == "" {
			return nil
		}
		r := mk(typ, e.paramString(param))
		r.Opening = who
		return []Resource{r}
	}
}

// itemIDs lists the IDs an EC2 answer's item set holds, or one resource
// without an ID when it holds none (the event did not say).
func itemIDs(e *event, mk func(string, string) Resource, typ, set, field string) []Resource {
	var out []Resource
	for _, id := range e.responseItems(set, field) {
		out = append(out, mk(typ, id))
	}
	if len(out) == 0 {
		out = append(out, mk(typ, ""))
	}
	return out
}

func str(m map[string]any, k string) string {
	s, _ := lookupFold(m, k).(string)
	return s
}

// portRange is "port 22", "ports 0-65535" or "all ports".
func portRange(from, to any) string {
	f, okF := from.(float64)
	t, okT := to.(float64)
	switch {
	case !okF || !okT || f < 0 || t < 0:
		return "all ports"
	case f == t:
		return fmt.Sprintf("port %d", int(f))
	}
	return fmt.Sprintf("ports %d-%d", int(f), int(t))
}

// admitted lists, of principals, those who are anyone or outside the
// organisation; "" when none is.
func (e *event) admitted(principals ...string) string {
	var out []string
	for _, p := range principals {
		if e.admits(p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}

// outsidersIn lists whom a policy document allows from outside: "*" or
// principals of accounts outside the organisation.
func (e *event) outsidersIn(doc string) string {
	var who []string
	for _, st := range parsePolicyStatements(doc) {
		if !strings.EqualFold(st.Effect, "Allow") || st.pinnedInside(e) {
			continue
		}
		for _, p := range st.admitted() {
			if e.admits(p) && !slices.Contains(who, p) {
				who = append(who, p)
			}
		}
	}
	return strings.Join(who, ", ")
}

// sharedWith lists the accounts (or "all") an EC2 attribute change added
// from outside the organisation.
func (e *event) sharedWith(attribute string) string {
	var who []string
	items, _ := e.param(attribute, "add", "items").([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if g := str(m, "group"); strings.EqualFold(g, "all") {
			who = append(who, "all")
		}
		if u := str(m, "userId"); e.admits(u) {
			who = append(who, u)
		}
	}
	for _, k := range []string{"userId", "userIds", "groupNames"} {
		for _, v := range anyStrings(e.param(k)) {
			if e.admits(v) {
				who = append(who, v)
			}
		}
	}
	return strings.Join(slices.Compact(who), ", ")
}

// createdResources reads the resources a successful event created or
// opened (the event tells the organisation's accounts).
func createdResources(e *event) []Resource {
	rec := e.rec
	if rec.ErrorCode != "" {
		return nil
	}
	rule, ok := resourceRules[e.service+":"+e.name]
	if !ok {
		return nil
	}
	mk := func(typ, id string) Resource {
		return Resource{Type: typ, ID: id, Account: e.account(), Region: rec.AWSRegion,
			CreatedBy: rec.EventName, CreatedAt: rec.EventTime, AccessKeyID: rec.UserIdentity.AccessKeyID, EventID: rec.EventID}
	}
	return rule(e, mk)
}

// replicationDestination is where a replication rule sends objects.
type replicationDestination struct{ bucket, account string }

func (d replicationDestination) String() string {
	if d.account == "" {
		return d.bucket
	}
	return d.bucket + " (account " + d.account + ")"
}

// replicationDestinations are the destinations of a replication
// configuration as CloudTrail records it (Rule is one rule or a list),
// or as S3 answers it.
func replicationDestinations(conf any) []replicationDestination {
	m, _ := conf.(map[string]any)
	var rules []any
	switch v := lookupFold(m, "Rule").(type) {
	case []any:
		rules = v
	case map[string]any:
		rules = []any{v}
	}
	var out []replicationDestination
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		d, _ := lookupFold(rm, "Destination").(map[string]any)
		dest := replicationDestination{bucket: str(d, "Bucket"), account: str(d, "Account")}
		if dest.bucket != "" && !slices.Contains(out, dest) {
			out = append(out, dest)
		}
	}
	return out
}

// qualifiedFunction is a function's name (or ARN) with the version or
// alias a request named apart (Qualifier): a permission added on an alias
// is in the alias's policy, which the qualified name reads and changes.
func qualifiedFunction(name, qualifier string) string {
	if qualifier == "" {
		return name
	}
	// name, name:q, account:function:name[:q], arn:…:function:name[:q]
	parts := strings.Split(name, ":")
	qualified := len(parts) >= 2
	switch {
	case strings.HasPrefix(name, "arn:"):
		qualified = len(parts) >= 8
	case len(parts) >= 3 && parts[1] == "function":
		qualified = len(parts) >= 4
	}
	if qualified {
		return name
	}
	return name + ":" + qualifier
}
