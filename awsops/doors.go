package awsops

import (
	"cmp"
	"encoding/json"
	"strings"
	"time"

	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/keyleak/keyleak/awsops/trail"
)

// Via says how a credential joined the credential tree.
type Via string

// How credentials join the tree: minted by a tracked credential, or
// through a door one of them opened. Every door is a branch "created by
// the attacker", swept like a minted credential.
const (
	// ViaMinted: an STS call of a tracked credential issued it.
	ViaMinted Via = "minted"
	// ViaCreatedKey: a tracked credential created this access key
	// (iam:CreateAccessKey): every call made with it.
	ViaCreatedKey Via = "created-key"
	// ViaCreatedUser: a tracked credential created this user: everything
	// done as it, console sign-ins included.
	ViaCreatedUser Via = "created-user"
	// ViaLoginProfile: a tracked credential set this existing user's
	// console password: the console sign-ins that followed.
	ViaLoginProfile Via = "login-profile"
	// ViaTrust: assumed through a role whose trust policy a tracked
	// credential wrote (or a role it created), by a caller outside the
	// tree and outside the organisation.
	ViaTrust Via = "backdoored-trust"
	// ViaRolesAnywhere: a session of an IAM Roles Anywhere trust anchor
	// a tracked credential created.
	ViaRolesAnywhere Via = "roles-anywhere"
	// ViaIdentityProvider: a session through an OIDC or SAML identity
	// provider a tracked credential created.
	ViaIdentityProvider Via = "identity-provider"
)

// door is something a tracked credential opened through which others can
// get in, and how to find who did.
type door struct {
	via     Via
	parent  string // node that opened it
	node    string // the branch's own node, for doors that are one (users)
	account string
	region  string // for regional doors (trust anchors); empty means every region
	subject string // the user name, role, trust anchor or provider ARN
	from    string // the source address of the call that opened it
	url     string // an OIDC provider's URL, as identityProvider shows it
	created bool   // the role behind a trust door was created by the attacker
	opened  time.Time
	eventID string
	// lookup is how the door's use is found.
	attr  cttypes.LookupAttributeKey
	value string
}

func (d *door) key() string { return string(d.via) + "|" + d.account + "|" + d.subject }

// memberKey names the door among the tree's members, beside the
// credentials' IDs.
func (d *door) memberKey() string { return "door:" + d.key() }

// userNode is the tree node of a user's branch.
func userNode(account, name string) string { return "user:" + account + ":" + name }

// response is the response element at path (keys compared without case),
// or nil.
func (e *event) response(path ...string) any {
	if !e.rParse {
		e.rParse = true
		if len(e.rec.ResponseElements) > 0 && e.rec.ResponseElements[0] == '{' {
			// As params: a number out of range anywhere (json.Unmarshal's
			// only error that still decodes the rest) spoils only itself.
			if v, _ := trail.Value(e.rec.ResponseElements); v != nil {
				e.resp = v // an object: a map[string]any
			}
		}
	}
	v := e.resp
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = lookupFold(m, k)
	}
	return v
}

// responseItems is the string field of every item of the response's set
// (set.items[].field; names compared without case), nonempty ones. Unless
// the response was read already, only those are read from it: a
// RunInstances response of a hundred instances is large.
func (e *event) responseItems(set, field string) []string {
	var out []string
	if e.rParse {
		items, _ := e.response(set, "items").([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok && str(m, field) != "" {
				out = append(out, str(m, field))
			}
		}
		return out
	}
	return trail.ItemStrings(e.rec.ResponseElements, set, field)
}

func (e *event) responseString(path ...string) string {
	s, _ := e.response(path...).(string)
	return s
}

// account is the account an event happened in.
func (e *event) account() string {
	return cmp.Or(e.rec.RecipientAccountID, e.rec.UserIdentity.AccountID)
}

// doorsOpened are the doors a successful event of a tracked credential
// opened, and the access key it created, if any (which joins the tree at
// once, like a minted credential).
func doorsOpened(e *event, parent *Session) (doors []*door, createdKey *Session) {
	rec, account := e.rec, e.account()
	partition := cmp.Or(partitionOfARN(rec.UserIdentity.ARN), "aws")
	d := func(via Via, subject string) *door {
		return &door{via: via, parent: parent.ID, account: account, subject: subject, opened: rec.EventTime, eventID: rec.EventID, from: rec.SourceIPAddress}
	}
	switch {
	case e.is("iam", "CreateAccessKey"):
		id := e.responseString("accessKey", "accessKeyId")
		if id == "" {
			return nil, nil
		}
		user := cmp.Or(e.responseString("accessKey", "userName"), e.paramString("userName"), rec.UserIdentity.UserName)
		return nil, &Session{ID: id, AccessKeyID: id, ParentID: parent.ID, ParentAccessKeyID: parent.AccessKeyID, Depth: parent.Depth + 1,
			Account: account, Via: ViaCreatedKey, CreatedByAttacker: true, OpenedFrom: rec.SourceIPAddress, MintedBy: rec.EventName, MintEventID: rec.EventID,
			Principal: "arn:" + partition + ":iam::" + account + ":user/" + user, UserName: user,
			Issued: rec.EventTime, SourceIP: rec.SourceIPAddress, UserAgent: rec.UserAgent}
	case e.is("iam", "CreateUser"):
		if name := e.paramString("userName"); name != "" {
			x := d(ViaCreatedUser, name)
			x.node, x.attr, x.value = userNode(account, name), cttypes.LookupAttributeKeyUsername, name
			return []*door{x}, nil
		}
	case e.is("iam", "CreateLoginProfile", "UpdateLoginProfile"):
		if name := e.paramString("userName"); name != "" {
			x := d(ViaLoginProfile, name)
			x.node, x.attr, x.value = userNode(account, name), cttypes.LookupAttributeKeyUsername, name
			return []*door{x}, nil
		}
	case e.is("iam", "CreateRole", "UpdateAssumeRolePolicy"):
		name := e.paramString("roleName")
		arn := cmp.Or(e.responseString("role", "arn"), "arn:"+partition+":iam::"+account+":role/"+name)
		if name != "" {
			x := d(ViaTrust, arn)
			x.created = e.name == "CreateRole"
			x.attr, x.value = cttypes.LookupAttributeKeyResourceName, arn
			return []*door{x}, nil
		}
	case e.is("rolesanywhere", "CreateTrustAnchor"):
		if arn := e.responseString("trustAnchor", "trustAnchorArn"); arn != "" {
			x := d(ViaRolesAnywhere, arn)
			x.region, x.attr, x.value = cmp.Or(regionOfARN(arn), rec.AWSRegion), cttypes.LookupAttributeKeyEventName, "CreateSession"
			return []*door{x}, nil
		}
	case e.is("iam", "CreateOpenIDConnectProvider"):
		url := strings.TrimPrefix(strings.TrimPrefix(e.paramString("url"), "https://"), "http://")
		arn := cmp.Or(e.responseString("openIDConnectProviderArn"), "arn:"+partition+":iam::"+account+":oidc-provider/"+url)
		if url == "" {
			url = arn[strings.Index(arn, ":oidc-provider/")+len(":oidc-provider/"):]
		}
		x := d(ViaIdentityProvider, arn)
		x.url, x.attr, x.value = url, cttypes.LookupAttributeKeyEventName, "AssumeRoleWithWebIdentity"
		return []*door{x}, nil
	case e.is("iam", "CreateSAMLProvider"):
		arn := cmp.Or(e.responseString("sAMLProviderArn"), e.responseString("samlProviderArn"))
		if arn == "" && e.paramString("name") != "" {
			arn = "arn:" + partition + ":iam::" + account + ":saml-provider/" + e.paramString("name")
		}
		if arn != "" {
			x := d(ViaIdentityProvider, arn)
			x.attr, x.value = cttypes.LookupAttributeKeyEventName, "AssumeRoleWithSAML"
			return []*door{x}, nil
		}
	}
	return nil, nil
}

// through reports whether rec is a use of the door: a console sign-in of
// the user, or a session issued through the role, anchor or provider.
// isTracked reports whether a credential is already in the tree.
func (d *door) through(rec *trail.Record, own func(string) bool, isTracked func(string) bool) bool {
	if rec.EventTime.Before(d.opened) || rec.EventID == d.eventID {
		return false
	}
	switch d.via {
	case ViaCreatedUser, ViaLoginProfile:
		// The user itself: LookupEvents' Username also finds role sessions
		// named like it (an Identity Center user of the same name), which
		// are not it.
		if !d.isUser(rec.UserIdentity) {
			return false
		}
	}
	switch d.via {
	case ViaCreatedUser:
		return true // everything the user did
	case ViaLoginProfile:
		// The sign-ins, and the console sessions they gave: a console
		// session created after the attacker set the password was
		// signed in to with it.
		return rec.EventName == "ConsoleLogin" || consoleSessionSince(rec, d.opened)
	}
	if rec.ErrorCode != "" {
		return false
	}
	caller := rec.UserIdentity
	switch d.via {
	case ViaTrust:
		if !strings.HasPrefix(rec.EventName, "AssumeRole") || isTracked(caller.AccessKeyID) || isTracked(rec.CredentialsAccessKeyID()) {
			return false
		}
		// A role the attacker made is theirs whoever assumes it; a role
		// whose trust they rewrote, only for callers from outside.
		return d.created || (caller.AccountID != "" && !own(caller.AccountID))
	case ViaRolesAnywhere:
		var req struct {
			TrustAnchorARN string `json:"trustAnchorArn"`
		}
		_ = json.Unmarshal(rec.RequestParameters, &req)
		return rec.EventSource == "rolesanywhere.amazonaws.com" && req.TrustAnchorARN == d.subject
	case ViaIdentityProvider:
		var req struct {
			PrincipalARN string `json:"principalArn"`
		}
		_ = json.Unmarshal(rec.RequestParameters, &req)
		p := caller.IdentityProvider
		return req.PrincipalARN == d.subject || p == d.subject || (d.url != "" && strings.TrimPrefix(p, "https://") == d.url)
	}
	return false
}

// isUser reports whether a caller is the door's IAM user.
func (d *door) isUser(u trail.Identity) bool {
	if !strings.EqualFold(u.Type, "IAMUser") || u.UserName != d.subject {
		return false
	}
	return d.account == "" || u.AccountID == "" || u.AccountID == d.account
}

// consoleSessionSince reports whether rec is a call of a console session
// created at or after t.
func consoleSessionSince(rec *trail.Record, t time.Time) bool {
	if rec.SessionCredentialFromConsole != "true" || rec.UserIdentity.AccessKeyID == "" {
		return false
	}
	created, err := time.Parse(time.RFC3339, rec.UserIdentity.SessionContext.Attributes.CreationDate)
	return err == nil && !created.Before(t.Truncate(time.Second))
}

// consoleSessionLifetime is the longest an AWS Management Console session
// of an IAM user lasts.
const consoleSessionLifetime = 12 * time.Hour

// sessionKeyOf is the temporary key a session-issuing record handed out:
// STS's credentials, or the first of Roles Anywhere's credentialSet.
func sessionKeyOf(rec *trail.Record) string {
	if id := rec.CredentialsAccessKeyID(); id != "" {
		return id
	}
	var resp struct {
		CredentialSet []struct {
			Credentials struct {
				AccessKeyID string `json:"accessKeyId"`
				Expiration  string `json:"expiration"`
			} `json:"credentials"`
			AssumedRoleUser struct {
				ARN string `json:"arn"`
			} `json:"assumedRoleUser"`
			RoleARN string `json:"roleArn"`
		} `json:"credentialSet"`
	}
	if json.Unmarshal(rec.ResponseElements, &resp) == nil && len(resp.CredentialSet) > 0 {
		return resp.CredentialSet[0].Credentials.AccessKeyID
	}
	return ""
}

// partitionOfARN is the partition of an ARN, or "".
func partitionOfARN(arn string) string {
	if parts := strings.SplitN(arn, ":", 3); len(parts) == 3 && parts[0] == "arn" {
		return parts[1]
	}
	return ""
}

// regionOfARN is the region of an ARN, or "".
func regionOfARN(arn string) string {
	if parts := strings.SplitN(arn, ":", 5); len(parts) == 5 && parts[0] == "arn" {
		return parts[3]
	}
	return ""
}
