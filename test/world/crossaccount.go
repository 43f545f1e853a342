package world

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Calls on another account's resources, decided as AWS decides them: only
// what the owner's resource policy, ACL, grant, trust or share admits, and
// then on the owner's resource. moto checks none of this (it lets any
// account read any bucket, and finds no other account's function, secret,
// key or snapshot), so the gateway does, reading the owner's documents
// straight from moto as the owner's admin.

// crossAccount decides c when it acts on a resource of another account.
// It returns the owner to forward the call as ("" for the caller's own
// account), or the error AWS answers.
func (g *Gateway) crossAccount(ctx context.Context, c *call) (string, *apiError) {
	str := func(k string) string { s, _ := c.op.Params[k].(string); return s }
	switch c.op.Service + ":" + c.op.Name {
	case "sts:AssumeRole":
		role := str("roleArn")
		owner := arnAccount(role)
		if owner == "" || owner == c.account {
			return "", nil
		}
		doc, err := g.roleTrust(ctx, owner, role[strings.LastIndexByte(role, '/')+1:])
		if err != nil || !g.admits(ctx, c, doc, "sts:AssumeRole", role) {
			e := errorFor(c.op.Family, failAccessDenied)
			e.Message = "User: " + g.identity(ctx, c).ARN + " is not authorized to perform: sts:AssumeRole on resource: " + role
			return "", &e
		}
		return "", nil // moto mints the session; the role's account is in the ARN
	}
	switch c.op.Service {
	case "s3":
		return g.crossAccountS3(ctx, c)
	case "lambda":
		fn := str("functionName")
		owner := arnAccount(fn)
		if owner == "" || owner == c.account {
			return "", nil
		}
		doc, _ := g.ownerJSON(ctx, owner, c.region, "lambda", http.MethodGet, "/2015-03-31/functions/"+url.PathEscape(fn)+"/policy", "", nil)
		policy, _ := doc["Policy"].(string)
		if !g.admits(ctx, c, policy, c.op.Action, fn) {
			return "", &apiError{403, "AccessDeniedException", "User: " + g.identity(ctx, c).ARN + " is not authorized to perform: " + c.op.Action + " on resource: " + fn + " because no resource-based policy allows the " + c.op.Action + " action"}
		}
		return owner, nil
	case "secretsmanager":
		id := str("secretId")
		owner := arnAccount(id)
		if owner == "" || owner == c.account {
			return "", nil
		}
		doc, _ := g.ownerJSON(ctx, owner, c.region, "secretsmanager", http.MethodPost, "/", "secretsmanager.GetResourcePolicy", map[string]any{"SecretId": id})
		policy, _ := doc["ResourcePolicy"].(string)
		if !g.admits(ctx, c, policy, c.op.Action, id) {
			return "", &apiError{400, "AccessDeniedException", "User: " + g.identity(ctx, c).ARN + " is not authorized to perform: " + c.op.Action + " on resource: " + id + " because no resource-based policy allows the " + c.op.Action + " action"}
		}
		return owner, nil
	case "kms":
		key := str("keyId")
		owner := arnAccount(key)
		if owner == "" || owner == c.account {
			return "", nil
		}
		if !g.kmsAdmits(ctx, c, owner, key) {
			return "", &apiError{400, "AccessDeniedException", "User: " + g.identity(ctx, c).ARN + " is not authorized to perform: " + c.op.Action + " on resource: " + key + " because no resource-based policy allows the " + c.op.Action + " action"}
		}
		return owner, nil
	case "ecr":
		owner := str("registryId")
		if owner == "" || owner == c.account || str("repositoryName") == "" {
			return "", nil
		}
		repo := "arn:aws:ecr:" + c.region + ":" + owner + ":repository/" + str("repositoryName")
		doc, _ := g.ownerJSON(ctx, owner, c.region, "ecr", http.MethodPost, "/", "AmazonEC2ContainerRegistry_V20150921.GetRepositoryPolicy",
			map[string]any{"repositoryName": str("repositoryName")})
		policy, _ := doc["policyText"].(string)
		if !g.admits(ctx, c, policy, c.op.Action, repo) {
			return "", &apiError{400, "AccessDeniedException", "User: " + g.identity(ctx, c).ARN + " is not authorized to perform: " + c.op.Action + " on resource: " + repo + " because no resource-based policy allows the " + c.op.Action + " action"}
		}
		return owner, nil
	case "sns":
		topic := str("topicArn")
		owner := arnAccount(topic)
		if owner == "" || owner == c.account {
			return "", nil
		}
		body, err := g.ownerQuery(ctx, owner, c.region, "sns", url.Values{"Action": {"GetTopicAttributes"}, "Version": {"2010-03-31"}, "TopicArn": {topic}})
		if err != nil || !g.admits(ctx, c, xmlEntry(body, "Policy"), c.op.Action, topic) {
			return "", &apiError{403, "AuthorizationError", "User: " + g.identity(ctx, c).ARN + " is not authorized to perform: " + c.op.Action + " on resource: " + topic + " because no resource-based policy allows the " + c.op.Action + " action"}
		}
		return owner, nil
	case "sqs":
		queue := str("queueUrl")
		u, err := url.Parse(queue)
		if err != nil {
			return "", nil
		}
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) != 2 || parts[0] == c.account {
			return "", nil
		}
		owner, arn := parts[0], "arn:aws:sqs:"+c.region+":"+parts[0]+":"+parts[1]
		doc, _ := g.ownerJSON(ctx, owner, c.region, "sqs", http.MethodPost, "/", "AmazonSQS.GetQueueAttributes",
			map[string]any{"QueueUrl": queue, "AttributeNames": []string{"Policy"}})
		attrs, _ := doc["Attributes"].(map[string]any)
		policy, _ := attrs["Policy"].(string)
		if !g.admits(ctx, c, policy, c.op.Action, arn) {
			return "", &apiError{400, "AccessDenied", "Access to the resource " + queue + " is denied."}
		}
		return owner, nil
	case "ec2":
		return g.crossAccountEC2(ctx, c)
	case "rds":
		// A DB snapshot, or a cluster snapshot, named by ARN: found only
		// when its restore attribute lists the caller's account or all.
		kind := map[string]string{"DescribeDBSnapshots": "DBSnapshot", "DescribeDBClusterSnapshots": "DBClusterSnapshot"}[c.op.Name]
		id := str(lowerFirst(kind + "Identifier"))
		owner := arnAccount(id)
		if kind == "" || owner == "" || owner == c.account {
			return "", nil
		}
		name := id[strings.LastIndexByte(id, ':')+1:]
		body, err := g.ownerQuery(ctx, owner, c.region, "rds", url.Values{"Action": {"Describe" + kind + "Attributes"}, "Version": {"2014-10-31"}, kind + "Identifier": {name}})
		if err != nil || !sharedWith(xmlValues(body, "AttributeValue"), c.account) {
			code := map[string]string{"DBSnapshot": "DBSnapshotNotFound", "DBClusterSnapshot": "DBClusterSnapshotNotFoundFault"}[kind]
			return "", &apiError{404, code, kind + " " + id + " not found."}
		}
		return owner, nil
	}
	return "", nil
}

// crossAccountS3 decides a call on another account's bucket: its bucket
// policy, or for listing a public ACL, must admit the caller.
func (g *Gateway) crossAccountS3(ctx context.Context, c *call) (string, *apiError) {
	bucket, _ := c.op.Params["bucketName"].(string)
	if bucket == "" {
		return "", nil
	}
	owner := g.bucketOwner(ctx, bucket)
	if owner == "" || owner == c.account {
		return "", nil
	}
	resource := "arn:aws:s3:::" + bucket
	if key, _ := c.op.Params["key"].(string); key != "" {
		resource += "/" + key
	}
	policy, _ := g.ownerRaw(ctx, owner, "us-east-1", "s3", http.MethodGet, "/"+bucket+"?policy", "", nil)
	if g.admits(ctx, c, string(policy), c.op.Action, resource) {
		return owner, nil
	}
	if c.op.Action == "s3:ListBucket" {
		acl, _ := g.ownerRaw(ctx, owner, "us-east-1", "s3", http.MethodGet, "/"+bucket+"?acl", "", nil)
		for _, uri := range xmlValues(acl, "URI") {
			if strings.HasSuffix(uri, "/global/AllUsers") || strings.HasSuffix(uri, "/global/AuthenticatedUsers") {
				return owner, nil
			}
		}
	}
	return "", &apiError{403, "AccessDenied", "Access Denied"}
}

// crossAccountEC2 decides reading another account's snapshot or image by
// ID: only one shared with the caller (or with all) is found.
func (g *Gateway) crossAccountEC2(ctx context.Context, c *call) (string, *apiError) {
	var kind, attr, notFound string
	switch c.op.Name {
	case "DescribeSnapshots":
		kind, attr, notFound = "snapshot", "createVolumePermission", "InvalidSnapshot.NotFound"
	case "DescribeImages":
		kind, attr, notFound = "image", "launchPermission", "InvalidAMIID.NotFound"
	default:
		return "", nil
	}
	param := map[string]string{"snapshot": "snapshotId.1", "image": "imageId.1"}[kind]
	id, _ := c.op.Params[param].(string)
	if id == "" {
		return "", nil
	}
	owner := g.ec2Owner(ctx, c.region, kind, id)
	if owner == "" || owner == c.account {
		return "", nil
	}
	action := map[string]string{"snapshot": "DescribeSnapshotAttribute", "image": "DescribeImageAttribute"}[kind]
	idParam := map[string]string{"snapshot": "SnapshotId", "image": "ImageId"}[kind]
	body, err := g.ownerQuery(ctx, owner, c.region, "ec2", url.Values{"Action": {action}, "Version": {"2016-11-15"}, idParam: {id}, "Attribute": {attr}})
	if err != nil || !sharedWith(append(xmlValues(body, "userId"), xmlValues(body, "group")...), c.account) {
		return "", &apiError{400, notFound, fmt.Sprintf("The %s '%s' does not exist.", kind, id)}
	}
	return owner, nil
}

func sharedWith(values []string, account string) bool {
	return slices.Contains(values, account) || slices.Contains(values, "all")
}

// admits reports whether a resource policy allows the caller action on
// resource: an Allow statement whose principal is anyone, the caller's
// account, or the caller (its user, or its session's role), and no Deny.
func (g *Gateway) admits(ctx context.Context, c *call, policy, action, target string) bool {
	if policy == "" {
		return false
	}
	doc, err := parsePolicy(policy)
	if err != nil {
		return false
	}
	who := g.callerPrincipals(ctx, c)
	rc := requestContext{Action: action, Resources: []resource{{ARN: target}}, CurrentTime: c.at, TokenIssueTime: c.cred.Issued,
		PrincipalAccount: c.account, PrincipalARN: who[0]}
	if !c.cred.temporary() {
		rc.TokenIssueTime = time.Time{}
	}
	allowed := false
	for _, st := range doc.Statement {
		if !st.matchesAction(action) || !st.matchesResource(rc.Resources) && len(st.Resource) > 0 || !st.conditionsHold(rc) {
			continue
		}
		if !slices.ContainsFunc(st.Principal.AWS, func(p string) bool { return p == "*" || slices.Contains(who, p) }) {
			continue
		}
		if strings.EqualFold(st.Effect, "Deny") {
			return false
		}
		allowed = allowed || strings.EqualFold(st.Effect, "Allow")
	}
	return allowed
}

// callerPrincipals are the ways a policy may name the caller.
func (g *Gateway) callerPrincipals(ctx context.Context, c *call) []string {
	id := g.identity(ctx, c)
	out := []string{id.ARN, c.account, "arn:aws:iam::" + c.account + ":root"}
	switch c.cred.Kind {
	case kindRoleSession:
		out = append(out, c.cred.RoleARN)
	case kindUserSession, kindFederated:
		_, arn := g.userIDs(ctx, c.account, c.cred.UserName)
		out = append(out, arn)
	}
	return out
}

// kmsAdmits reports whether a grant on the owner's key, or its key policy,
// allows the caller the call.
func (g *Gateway) kmsAdmits(ctx context.Context, c *call, owner, key string) bool {
	grants, _ := g.ownerJSON(ctx, owner, c.region, "kms", http.MethodPost, "/", "TrentService.ListGrants", map[string]any{"KeyId": key})
	list, _ := grants["Grants"].([]any)
	who := g.callerPrincipals(ctx, c)
	for _, gr := range list {
		m, _ := gr.(map[string]any)
		grantee, _ := m["GranteePrincipal"].(string)
		ops, _ := m["Operations"].([]any)
		if slices.Contains(who, grantee) && slices.ContainsFunc(ops, func(o any) bool { return "kms:"+fmt.Sprint(o) == c.op.Action }) {
			return true
		}
	}
	kp, _ := g.ownerJSON(ctx, owner, c.region, "kms", http.MethodPost, "/", "TrentService.GetKeyPolicy", map[string]any{"KeyId": key, "PolicyName": "default"})
	policy, _ := kp["Policy"].(string)
	return g.admits(ctx, c, policy, c.op.Action, key)
}

// roleTrust reads a role's trust policy.
func (g *Gateway) roleTrust(ctx context.Context, account, role string) (string, error) {
	body, err := g.principals.call(ctx, account, url.Values{"Action": {"GetRole"}, "RoleName": {role}})
	if err != nil {
		return "", err
	}
	doc := firstXML(body, "AssumeRolePolicyDocument")
	if u, err := url.QueryUnescape(doc); err == nil {
		doc = u
	}
	return doc, nil
}

// bucketOwner is the world account that has the bucket, or "".
func (g *Gateway) bucketOwner(ctx context.Context, bucket string) string {
	for _, a := range g.cfg.Accounts {
		body, err := g.ownerRaw(ctx, a, "us-east-1", "s3", http.MethodGet, "/", "", nil)
		if err == nil && slices.Contains(xmlValues(body, "Name"), bucket) {
			return a
		}
	}
	return ""
}

// ec2Owner is the world account that owns a snapshot or image, or "".
func (g *Gateway) ec2Owner(ctx context.Context, region, kind, id string) string {
	for _, a := range g.cfg.Accounts {
		v := url.Values{"Version": {"2016-11-15"}, "Owner.1": {"self"}}
		if kind == "snapshot" {
			v.Set("Action", "DescribeSnapshots")
			v.Set("SnapshotId.1", id)
		} else {
			v.Set("Action", "DescribeImages")
			v.Set("ImageId.1", id)
		}
		body, err := g.ownerQuery(ctx, a, region, "ec2", v)
		if err == nil && (slices.Contains(xmlValues(body, "ownerId"), a) || slices.Contains(xmlValues(body, "imageOwnerId"), a)) {
			return a
		}
	}
	return ""
}

// ownerQuery calls a query-protocol service in moto as account's admin.
func (g *Gateway) ownerQuery(ctx context.Context, account, region, service string, v url.Values) ([]byte, error) {
	return g.ownerRaw(ctx, account, region, service, http.MethodPost, "/", "application/x-www-form-urlencoded", []byte(v.Encode()))
}

// ownerJSON calls a JSON service in moto as account's admin (with target
// for JSON 1.1 services) and decodes the answer.
func (g *Gateway) ownerJSON(ctx context.Context, account, region, service, method, path, target string, in map[string]any) (map[string]any, error) {
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	raw, err := g.ownerRequest(ctx, account, region, service, method, path, target, body)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode %s answer: %w", service, err)
	}
	return out, nil
}

func (g *Gateway) ownerRaw(ctx context.Context, account, region, service, method, path, contentType string, body []byte) ([]byte, error) {
	return g.ownerRequest(ctx, account, region, service, method, path, "", body, contentType)
}

// ownerRequest sends one request to moto as account's admin in region.
func (g *Gateway) ownerRequest(ctx context.Context, account, region, service, method, path, target string, body []byte, contentType ...string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, g.cfg.MotoURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", sigV4Algorithm+" Credential="+g.Admin(account).AccessKeyID+"/20200101/"+region+"/"+service+
		"/aws4_request, SignedHeaders=host, Signature=0")
	req.Header.Set("X-Moto-Account-Id", account)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	}
	if len(contentType) > 0 && contentType[0] != "" {
		req.Header.Set("Content-Type", contentType[0])
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: status %d", service, path, resp.StatusCode)
	}
	return b, nil
}

// arnAccount is the account of an ARN, or "".
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// serveInvoke answers lambda:Invoke for a function that exists: the world
// runs no function code (moto would need Docker), so an invocation answers
// as a function that returns null does.
func (g *Gateway) serveInvoke(w http.ResponseWriter, r *http.Request, c *call) {
	fn, _ := c.op.Params["functionName"].(string)
	owner := cmp.Or(c.owner, c.account)
	if _, err := g.ownerRaw(r.Context(), owner, c.region, "lambda", http.MethodGet, "/2015-03-31/functions/"+url.PathEscape(fn), "", nil); err != nil {
		g.fail(w, r, c, apiError{404, "ResourceNotFoundException", "Function not found: " + fn})
		return
	}
	g.record(c, "", "", nil)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("null"))
}

// xmlEntry is the value of the <entry> whose <key> is key in a query
// protocol's attribute map (SNS's GetTopicAttributes), or "".
func xmlEntry(body []byte, key string) string {
	keys, values := xmlValues(body, "key"), xmlValues(body, "value")
	for i, k := range keys {
		if k == key && i < len(values) {
			return values[i]
		}
	}
	return ""
}
