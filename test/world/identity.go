package world

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// principalOf names the IAM entity whose policies govern cred: ("user", name) or ("role", name).
func principalOf(cred credential) (kind, name string, ok bool) {
	switch cred.Kind {
	case kindUser, kindUserSession, kindFederated:
		return "user", cred.UserName, cred.UserName != ""
	case kindRoleSession:
		return "role", cred.roleName(), true
	}
	return "", "", false
}

// authorize evaluates the explicit Deny statements of the caller's policies. It returns the
// AccessDenied error when the call is denied, and an internal error when the policies could
// not be read (a caller whose user or role moto no longer holds is not denied by them).
func (g *Gateway) authorize(ctx context.Context, c *call) *apiError {
	if c.cred.Kind == kindRoot || c.op.Action == "sts:GetCallerIdentity" {
		return nil // root is never denied; GetCallerIdentity cannot be denied
	}
	kind, name, ok := principalOf(c.cred)
	if !ok {
		return nil
	}
	p, err := g.principals.get(ctx, c.account, kind, name)
	var gone *motoError
	switch {
	case errors.As(err, &gone):
		return nil
	case err != nil:
		// Never allow what a policy unread might deny.
		g.logger.Warn("load caller policies", "access_key_id", c.cred.AccessKeyID, "err", err)
		e := errorFor(c.op.Family, failInternal)
		return &e
	}
	rc := requestContext{Action: c.op.Action, Resources: c.op.Resources, CurrentTime: c.at, PrincipalAccount: c.account, PrincipalARN: p.ARN}
	if c.cred.temporary() {
		rc.TokenIssueTime = c.cred.Issued
	}
	for _, doc := range p.Policies {
		if _, denied := doc.deniedBy(rc); denied {
			e := errorFor(c.op.Family, failAccessDenied)
			e.Message = deniedMessage(g.identity(ctx, c).ARN, c.op)
			return &e
		}
	}
	return nil
}

func deniedMessage(arn string, op operation) string {
	target := "*"
	if len(op.Resources) > 0 && op.Resources[0].ARN != "" {
		target = op.Resources[0].ARN
	}
	return "User: " + arn + " is not authorized to perform: " + op.Action + " on resource: " + target +
		" with an explicit deny in an identity-based policy"
}

// checkAssumeRole refuses what AWS refuses and moto allows: a role that does not exist, a
// duration above the role's MaxSessionDuration, and more than an hour for role chaining.
func (g *Gateway) checkAssumeRole(ctx context.Context, c *call) (apiError, bool) {
	arn, _ := c.op.Params["roleArn"].(string)
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || !strings.HasPrefix(parts[5], "role/") {
		return apiError{}, true // moto answers the validation error
	}
	name := parts[5][strings.LastIndexByte(parts[5], '/')+1:]
	role, err := g.principals.get(ctx, parts[4], "role", name)
	var gone *motoError
	if err != nil && !errors.As(err, &gone) {
		return errorFor(c.op.Family, failInternal), false // not known: neither allowed nor refused
	}
	if err != nil {
		e := errorFor(c.op.Family, failAccessDenied)
		e.Message = "User: " + g.identity(ctx, c).ARN + " is not authorized to perform: sts:AssumeRole on resource: " + arn
		return e, false
	}
	duration := time.Hour
	if s, err := strconv.Atoi(str(c.op.Params["durationSeconds"])); err == nil {
		duration = time.Duration(s) * time.Second
	}
	switch {
	case c.cred.Kind == kindRoleSession && duration > time.Hour:
		return apiError{400, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."}, false
	case duration > role.MaxSession:
		return apiError{400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."}, false
	}
	return apiError{}, true
}

// str is v as a string, or "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// identity is the CloudTrail userIdentity of the call's caller.
func (g *Gateway) identity(ctx context.Context, c *call) UserIdentity {
	cred := c.cred
	id := UserIdentity{AccountID: c.account, AccessKeyID: c.sig.AccessKeyID}
	if !c.known {
		id.Type = "Unknown"
		return id
	}
	var attrs SessionAttributes
	if cred.temporary() {
		attrs = SessionAttributes{CreationDate: formatTime(cred.Issued), MFAAuthenticated: "false"}
	}
	switch cred.Kind {
	case kindRoot:
		id.Type, id.PrincipalID, id.ARN = "Root", c.account, "arn:aws:iam::"+c.account+":root"
	case kindUser, kindUserSession:
		id.Type, id.UserName = "IAMUser", cred.UserName
		id.PrincipalID, id.ARN = g.userIDs(ctx, c.account, cred.UserName)
		if cred.Kind == kindUserSession {
			id.SessionContext = &SessionContext{Attributes: attrs}
		}
	case kindFederated:
		userID, userARN := g.userIDs(ctx, c.account, cred.UserName)
		id.Type = "FederatedUser"
		id.PrincipalID = c.account + ":" + cred.SessionName
		id.ARN = "arn:aws:sts::" + c.account + ":federated-user/" + cred.SessionName
		id.SessionContext = &SessionContext{
			SessionIssuer: &SessionIssuer{Type: "IAMUser", PrincipalID: userID, ARN: userARN, AccountID: c.account, UserName: cred.UserName},
			Attributes:    attrs,
		}
	case kindRoleSession:
		role := cred.roleName()
		id.Type = "AssumedRole"
		id.PrincipalID = cred.RoleID + ":" + cred.SessionName
		id.ARN = "arn:aws:sts::" + c.account + ":assumed-role/" + role + "/" + cred.SessionName
		id.SessionContext = &SessionContext{
			SessionIssuer:  &SessionIssuer{Type: "Role", PrincipalID: cred.RoleID, ARN: cred.RoleARN, AccountID: c.account, UserName: role},
			Attributes:     attrs,
			SourceIdentity: cred.SourceIdentity,
		}
	}
	return id
}

// userIDs returns the user's ID and ARN, from moto when the user still exists.
func (g *Gateway) userIDs(ctx context.Context, account, user string) (string, string) {
	if p, err := g.principals.get(ctx, account, "user", user); err == nil {
		return p.ID, p.ARN
	}
	return "", "arn:aws:iam::" + account + ":user/" + user
}

// lookupUsername is the Username LookupEvents shows for the caller: the
// user, the name of a role or federated session, or root.
func lookupUsername(id UserIdentity, session string) string {
	switch id.Type {
	case "Root":
		return "root"
	case "IAMUser":
		return id.UserName
	case "AssumedRole", "FederatedUser":
		return session
	}
	return ""
}

// record appends the call's CloudTrail event.
func (g *Gateway) record(c *call, errorCode, errorMessage string, elements map[string]any) {
	ctx := context.Background() // identity lookups are cached and must outlive a cancelled client
	id := g.identity(ctx, c)
	category := "Management"
	if c.op.Data {
		category = "Data"
	}
	rec := Record{
		EventVersion:       "1.08",
		UserIdentity:       id,
		EventTime:          formatTime(c.at),
		EventSource:        c.op.Service + ".amazonaws.com",
		EventName:          c.op.Name,
		AWSRegion:          c.region,
		SourceIPAddress:    c.sourceIP,
		UserAgent:          c.userAgent,
		ErrorCode:          errorCode,
		ErrorMessage:       errorMessage,
		RequestParameters:  c.op.Params,
		ResponseElements:   elements,
		RequestID:          c.requestID,
		EventID:            c.eventID,
		ReadOnly:           c.op.ReadOnly,
		EventType:          "AwsApiCall",
		ManagementEvent:    !c.op.Data,
		RecipientAccountID: c.account,
		EventCategory:      category,
	}
	if len(rec.RequestParameters) == 0 {
		rec.RequestParameters = nil
	}
	if c.cred.Console {
		rec.SessionCredentialFromConsole = "true"
	}
	for _, r := range c.op.Resources {
		if r.ARN != "" {
			rec.Resources = append(rec.Resources, Resource{ARN: r.ARN, AccountID: c.account, Type: r.Type})
		}
	}
	if other := crossAccountTarget(c); other != "" && errorCode == "" {
		// AWS records a cross-account AssumeRole in both accounts: the
		// role's account sees the caller as an AWSAccount principal.
		rec.SharedEventID = newID()
		copied := rec
		copied.EventID, copied.RecipientAccountID = newID(), other
		copied.UserIdentity = UserIdentity{Type: "AWSAccount", PrincipalID: id.PrincipalID, AccountID: c.account}
		copied.Resources = nil
		for _, r := range c.op.Resources {
			if r.ARN != "" {
				copied.Resources = append(copied.Resources, Resource{ARN: r.ARN, AccountID: other, Type: r.Type})
			}
		}
		g.events.add(newStoredEvent(copied, c.at, "", c.op.Resources))
	}
	g.events.add(newStoredEvent(rec, c.at, lookupUsername(id, c.cred.SessionName), c.op.Resources))
}

// crossAccountTarget is the role's account of an AssumeRole into another
// account, or "".
func crossAccountTarget(c *call) string {
	if c.op.Service != "sts" || c.op.Name != "AssumeRole" {
		return ""
	}
	parts := strings.Split(str(c.op.Params["roleArn"]), ":")
	if len(parts) != 6 || parts[4] == c.account {
		return ""
	}
	return parts[4]
}
