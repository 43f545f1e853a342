package world

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// cloudTrailExpiration is how CloudTrail writes credentials.expiration.
const cloudTrailExpiration = "Jan 2, 2006, 3:04:05 PM"

// observe learns keys and invalidates cached policies from a successful call's answer, and
// returns the event's responseElements. It may rewrite resp.body (sessions minted or timed by
// the gateway).
func (g *Gateway) observe(ctx context.Context, c *call, resp *motoResponse) map[string]any {
	var elements map[string]any
	switch c.op.Service {
	case "iam":
		elements = g.observeIAM(c, resp.body)
	case "sts":
		elements = g.observeSTS(ctx, c, resp)
	case "ec2":
		elements = observeEC2(c, resp.body)
	case "lambda":
		elements = observeLambda(c, resp.body)
	}
	if elements == nil {
		elements = openingElements(c, resp.body)
	}
	return elements
}

func (g *Gateway) observeIAM(c *call, body []byte) map[string]any {
	if c.op.ReadOnly {
		return nil
	}
	g.principals.invalidate()
	param := func(k string) string { s, _ := c.op.Params[k].(string); return s }
	switch c.op.Name {
	case "CreateAccessKey":
		id := firstXML(body, "AccessKeyId")
		user := firstXML(body, "UserName")
		status := firstXML(body, "Status")
		g.keys.put(credential{
			Credentials: Credentials{AccessKeyID: id, SecretAccessKey: firstXML(body, "SecretAccessKey")},
			Account:     c.account, Kind: kindUser, UserName: user, Inactive: status == "Inactive", ForwardKey: id,
		})
		c.op.Resources = append(c.op.Resources, resource{"arn:aws:iam::" + c.account + ":accesskey/" + id, "AWS::IAM::AccessKey", id})
		return map[string]any{"accessKey": map[string]any{
			"accessKeyId": id, "status": status, "userName": user, "createDate": formatCloudTrailDate(c.at),
		}}
	case "UpdateAccessKey":
		g.keys.setInactive(param("accessKeyId"), param("status") == "Inactive")
	case "DeleteAccessKey":
		g.keys.delete(param("accessKeyId"))
	case "DeleteUser":
		g.keys.deleteUser(c.account, param("userName"))
	case "DeleteRole":
		g.keys.deleteRole(c.account, param("roleName"))
	case "CreateLoginProfile":
		return loginProfileElements(c, body)
	case "CreatePolicy":
		return policyElements(c, body)
	case "CreateUser":
		return map[string]any{"user": map[string]any{
			"path": firstXML(body, "Path"), "userName": firstXML(body, "UserName"), "arn": firstXML(body, "Arn"),
			"userId": firstXML(body, "UserId"), "createDate": formatCloudTrailDate(c.at),
		}}
	case "CreateRole":
		return map[string]any{"role": map[string]any{
			"path": firstXML(body, "Path"), "roleName": firstXML(body, "RoleName"), "arn": firstXML(body, "Arn"),
			"roleId": firstXML(body, "RoleId"), "createDate": formatCloudTrailDate(c.at),
		}}
	}
	return nil
}

func formatCloudTrailDate(t time.Time) string { return t.UTC().Format(cloudTrailExpiration) }

// observeSTS learns the session an STS call issued, times it at the call's event time, and
// for GetSessionToken/GetFederationToken mints the ASIA key that moto does not.
func (g *Gateway) observeSTS(ctx context.Context, c *call, resp *motoResponse) map[string]any {
	name := c.op.Name
	if name != "AssumeRole" && name != "GetSessionToken" && name != "GetFederationToken" {
		return nil
	}
	param := func(k string) string { s, _ := c.op.Params[k].(string); return s }
	duration := time.Hour
	if name != "AssumeRole" {
		duration = 12 * time.Hour
	}
	if s, err := strconv.Atoi(param("durationSeconds")); err == nil && s > 0 {
		duration = time.Duration(s) * time.Second
	}
	parent := c.cred
	sess := credential{
		ParentKey: parent.AccessKeyID, Issued: c.at, Expires: c.at.Add(duration),
		Account: c.account, UserName: parent.UserName,
	}
	elements := map[string]any{}
	switch name {
	case "AssumeRole":
		sess.Kind = kindRoleSession
		sess.AccessKeyID = firstXML(resp.body, "AccessKeyId")
		sess.SecretAccessKey = firstXML(resp.body, "SecretAccessKey")
		sess.SessionToken = firstXML(resp.body, "SessionToken")
		sess.ForwardKey = sess.AccessKeyID
		sess.RoleARN = param("roleArn")
		sess.SessionName = param("roleSessionName")
		sess.SourceIdentity = param("sourceIdentity")
		sess.UserName = ""
		if parts := strings.Split(sess.RoleARN, ":"); len(parts) == 6 {
			sess.Account = parts[4]
		}
		roleUserID, _, _ := strings.Cut(firstXML(resp.body, "AssumedRoleId"), ":")
		if p, err := g.principals.get(ctx, sess.Account, "role", sess.roleName()); err == nil {
			roleUserID = p.ID
		}
		sess.RoleID = roleUserID
		arn := "arn:aws:sts::" + sess.Account + ":assumed-role/" + sess.roleName() + "/" + sess.SessionName
		elements["assumedRoleUser"] = map[string]any{"assumedRoleId": roleUserID + ":" + sess.SessionName, "arn": arn}
		if sess.SourceIdentity != "" {
			elements["sourceIdentity"] = sess.SourceIdentity
		}
		c.op.Resources = append(c.op.Resources,
			resource{"arn:aws:iam::" + sess.Account + ":accesskey/" + sess.AccessKeyID, "AWS::IAM::AccessKey", sess.AccessKeyID},
			resource{arn, "AWS::STS::AssumedRole", sess.SessionName})
	default:
		sess.Kind = kindUserSession
		if name == "GetFederationToken" {
			sess.Kind = kindFederated
			sess.SessionName = param("name")
			elements["federatedUser"] = map[string]any{
				"federatedUserId": sess.Account + ":" + sess.SessionName,
				"arn":             "arn:aws:sts::" + sess.Account + ":federated-user/" + sess.SessionName,
			}
		}
		if parent.Kind == kindRoot {
			sess.Kind = kindRoot // root sessions act as root and cannot be restricted
		}
		sess.AccessKeyID = newAccessKeyID("ASIA", sess.Account)
		sess.SecretAccessKey = randomSecret(40)
		sess.SessionToken = "FwoGZXIvYXdzE" + randomSecret(200)
		sess.ForwardKey = parent.ForwardKey
		resp.body = replaceXML(resp.body, "AccessKeyId", sess.AccessKeyID)
		resp.body = replaceXML(resp.body, "SecretAccessKey", sess.SecretAccessKey)
		resp.body = replaceXML(resp.body, "SessionToken", sess.SessionToken)
		c.op.Resources = append(c.op.Resources,
			resource{"arn:aws:iam::" + sess.Account + ":accesskey/" + sess.AccessKeyID, "AWS::IAM::AccessKey", sess.AccessKeyID})
	}
	resp.body = replaceXML(resp.body, "Expiration", sess.Expires.UTC().Format(time.RFC3339))
	g.keys.put(sess)
	elements["credentials"] = map[string]any{
		"accessKeyId":  sess.AccessKeyID,
		"sessionToken": sess.SessionToken,
		"expiration":   formatCloudTrailDate(sess.Expires),
	}
	return elements
}

// replaceXML replaces the text of the first <name> element.
func replaceXML(body []byte, name, value string) []byte {
	s := string(body)
	open, end := "<"+name+">", "</"+name+">"
	i := strings.Index(s, open)
	if i < 0 {
		return body
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		return body
	}
	return []byte(s[:i+len(open)] + xmlText(value) + s[i+j:])
}
