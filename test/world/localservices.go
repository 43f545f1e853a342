package world

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Calls moto does not offer, answered by the gateway from its own small
// stores, in the request and response shapes of the AWS API references:
// IAM Roles Anywhere trust anchors and profiles, EKS access entries, IAM
// service-specific credentials and AWS Sign-In sessions. Each is
// authenticated, authorised and recorded like any other call.

// local holds what the local services store, per account and region.
type local struct {
	mu       sync.Mutex
	anchors  map[string]map[string]any // account/region → id → TrustAnchorDetail
	profiles map[string]map[string]any // account/region → id → ProfileDetail
	entries  map[string]map[string]any // account/region/cluster → principal ARN → AccessEntry
	creds    map[string][]serviceCredential
	sessions map[string]*signinSession // session ARN → session
	// noSessionAPI makes AWS Sign-In's session calls unknown, as in a
	// partition that does not offer them.
	noSessionAPI bool
}

// OfferSigninSessions sets whether AWS Sign-In's session API
// (ListSessions, BatchRevokeSessions) exists in the world; it does by
// default, as in the commercial partition since 2026.
func (g *Gateway) OfferSigninSessions(offered bool) {
	g.local.mu.Lock()
	defer g.local.mu.Unlock()
	g.local.noSessionAPI = !offered
}

type serviceCredential struct {
	ID, UserName, ServiceName, ServiceUserName, Status string
	Created                                            time.Time
}

type signinSession struct {
	ARN, Principal, Status string
	Issued, Expires        time.Time
	AccessKeyID            string // the console session's credentials
}

func newLocal() *local {
	return &local{anchors: map[string]map[string]any{}, profiles: map[string]map[string]any{}, entries: map[string]map[string]any{},
		creds: map[string][]serviceCredential{}, sessions: map[string]*signinSession{}}
}

func (l *local) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.anchors, l.profiles, l.entries = map[string]map[string]any{}, map[string]map[string]any{}, map[string]map[string]any{}
	l.creds, l.sessions = map[string][]serviceCredential{}, map[string]*signinSession{}
	l.noSessionAPI = false
}

// classifyLocal names the calls of the REST services the gateway answers
// itself, and reads their parameters as CloudTrail records them.
func classifyLocal(op *operation, r *http.Request, body []byte) bool {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	op.Family = familyRESTJSON
	op.Params = jsonParams(body)
	if op.Params == nil {
		op.Params = map[string]any{}
	}
	m := r.Method
	switch op.Service {
	case "rolesanywhere":
		switch {
		case len(parts) == 1 && parts[0] == "trustanchors":
			op.Name = map[string]string{http.MethodPost: "CreateTrustAnchor", http.MethodGet: "ListTrustAnchors"}[m]
		case len(parts) == 1 && parts[0] == "profiles":
			op.Name = map[string]string{http.MethodPost: "CreateProfile", http.MethodGet: "ListProfiles"}[m]
		case len(parts) >= 2 && (parts[0] == "trustanchor" || parts[0] == "profile"):
			kind := map[string]string{"trustanchor": "TrustAnchor", "profile": "Profile"}[parts[0]]
			op.Params[map[string]string{"trustanchor": "trustAnchorId", "profile": "profileId"}[parts[0]]] = parts[1]
			switch {
			case len(parts) == 2:
				op.Name = map[string]string{http.MethodGet: "Get", http.MethodDelete: "Delete", http.MethodPatch: "Update"}[m] + kind
			case len(parts) == 3 && (parts[2] == "enable" || parts[2] == "disable"):
				op.Name = upperFirst(parts[2]) + kind
			}
		}
	case "eks":
		if len(parts) < 3 || parts[0] != "clusters" || parts[2] != "access-entries" {
			return false // moto answers the rest of EKS
		}
		op.Params["clusterName"] = parts[1]
		if len(parts) == 4 {
			p, _ := url.PathUnescape(parts[3])
			op.Params["principalArn"] = p
			op.Name = map[string]string{http.MethodGet: "DescribeAccessEntry", http.MethodDelete: "DeleteAccessEntry", http.MethodPost: "UpdateAccessEntry"}[m]
		} else {
			op.Name = map[string]string{http.MethodPost: "CreateAccessEntry", http.MethodGet: "ListAccessEntries"}[m]
		}
	case "signin":
		op.Name = map[string]string{"list-sessions": "ListSessions", "get-session": "GetSession", "batch-revoke-sessions": "BatchRevokeSessions"}[strings.Join(parts, "/")]
	default:
		return false
	}
	if op.Name == "" {
		op.Name = upperFirst(strings.ToLower(m)) + upperFirst(parts[len(parts)-1])
	}
	op.Action = op.Service + ":" + op.Name
	return true
}

// localCall answers a call of the local services, or reports it is not one.
func (g *Gateway) serveLocal(ctx context.Context, w http.ResponseWriter, r *http.Request, c *call) bool {
	var out any
	var e *apiError
	switch c.op.Service {
	case "rolesanywhere":
		out, e = g.rolesAnywhere(c)
	case "eks":
		if !strings.Contains(c.op.Name, "AccessEntr") {
			return false
		}
		out, e = g.accessEntries(ctx, c)
	case "signin":
		out, e = g.signinSessions(c)
	case "iam":
		if !strings.Contains(c.op.Name, "ServiceSpecificCredential") {
			return false
		}
		g.serviceCredentials(w, r, c)
		return true
	default:
		return false
	}
	if e != nil {
		g.fail(w, r, c, *e)
		return true
	}
	body, _ := json.Marshal(out)
	var elements map[string]any
	_ = json.Unmarshal(body, &elements)
	if c.op.ReadOnly {
		elements = nil
	}
	g.record(c, "", "", elements)
	status := http.StatusOK
	if strings.HasPrefix(c.op.Name, "Create") && c.op.Service == "rolesanywhere" {
		status = http.StatusCreated
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return true
}

func notFound(what string) *apiError {
	return &apiError{404, "ResourceNotFoundException", what + " not found"}
}

// rolesAnywhere stores trust anchors and profiles.
func (g *Gateway) rolesAnywhere(c *call) (any, *apiError) {
	l := g.local
	l.mu.Lock()
	defer l.mu.Unlock()
	scope := c.account + "/" + c.region
	if l.anchors[scope] == nil {
		l.anchors[scope], l.profiles[scope] = map[string]any{}, map[string]any{}
	}
	now := c.at.UTC().Format(time.RFC3339Nano)
	p := c.op.Params
	str := func(k string) string { s, _ := p[k].(string); return s }
	enabled := func() bool { b, ok := p["enabled"].(bool); return !ok || b }
	switch c.op.Name {
	case "CreateTrustAnchor":
		id := newID()
		a := map[string]any{"trustAnchorId": id, "trustAnchorArn": "arn:aws:rolesanywhere:" + c.region + ":" + c.account + ":trust-anchor/" + id,
			"name": str("name"), "enabled": enabled(), "source": p["source"], "createdAt": now, "updatedAt": now}
		l.anchors[scope][id] = a
		return map[string]any{"trustAnchor": a}, nil
	case "CreateProfile":
		id := newID()
		a := map[string]any{"profileId": id, "profileArn": "arn:aws:rolesanywhere:" + c.region + ":" + c.account + ":profile/" + id,
			"name": str("name"), "enabled": enabled(), "roleArns": p["roleArns"], "durationSeconds": p["durationSeconds"], "createdAt": now, "updatedAt": now}
		l.profiles[scope][id] = a
		return map[string]any{"profile": a}, nil
	case "ListTrustAnchors":
		return map[string]any{"trustAnchors": sortedValues(l.anchors[scope])}, nil
	case "ListProfiles":
		return map[string]any{"profiles": sortedValues(l.profiles[scope])}, nil
	}
	store, key, field, what := l.anchors[scope], str("trustAnchorId"), "trustAnchor", "trust anchor"
	if strings.HasSuffix(c.op.Name, "Profile") {
		store, key, field, what = l.profiles[scope], str("profileId"), "profile", "profile"
	}
	item, ok := store[key].(map[string]any)
	if !ok {
		return nil, notFound(what + " " + key)
	}
	switch {
	case strings.HasPrefix(c.op.Name, "Delete"):
		delete(store, key)
	case strings.HasPrefix(c.op.Name, "Disable"):
		item["enabled"], item["updatedAt"] = false, now
	case strings.HasPrefix(c.op.Name, "Enable"):
		item["enabled"], item["updatedAt"] = true, now
	}
	return map[string]any{field: item}, nil
}

func sortedValues(m map[string]any) []any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

// accessEntries stores EKS access entries of clusters moto knows.
func (g *Gateway) accessEntries(ctx context.Context, c *call) (any, *apiError) {
	cluster, _ := c.op.Params["clusterName"].(string)
	if _, err := g.ownerRaw(ctx, c.account, c.region, "eks", http.MethodGet, "/clusters/"+url.PathEscape(cluster), "", nil); err != nil {
		return nil, notFound("cluster " + cluster)
	}
	l := g.local
	l.mu.Lock()
	defer l.mu.Unlock()
	scope := c.account + "/" + c.region + "/" + cluster
	if l.entries[scope] == nil {
		l.entries[scope] = map[string]any{}
	}
	principal, _ := c.op.Params["principalArn"].(string)
	switch c.op.Name {
	case "CreateAccessEntry":
		if _, dup := l.entries[scope][principal]; dup {
			return nil, &apiError{409, "ResourceInUseException", "The specified access entry resource is already in use on this cluster."}
		}
		now := float64(c.at.UnixMilli()) / 1000 // EKS answers epoch seconds
		typ, _ := c.op.Params["type"].(string)
		e := map[string]any{"clusterName": cluster, "principalArn": principal, "kubernetesGroups": c.op.Params["kubernetesGroups"],
			"accessEntryArn": "arn:aws:eks:" + c.region + ":" + c.account + ":access-entry/" + cluster + "/" + newID(),
			"createdAt":      now, "modifiedAt": now, "username": c.op.Params["username"], "type": cmpOr(typ, "STANDARD")}
		l.entries[scope][principal] = e
		return map[string]any{"accessEntry": e}, nil
	case "ListAccessEntries":
		keys := make([]string, 0, len(l.entries[scope]))
		for k := range l.entries[scope] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return map[string]any{"accessEntries": keys}, nil
	}
	e, ok := l.entries[scope][principal]
	if !ok {
		return nil, notFound("access entry " + principal)
	}
	if c.op.Name == "DeleteAccessEntry" {
		delete(l.entries[scope], principal)
		return map[string]any{}, nil
	}
	return map[string]any{"accessEntry": e}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// serviceCredentials answers IAM's service-specific credential calls
// (query protocol, XML answers).
func (g *Gateway) serviceCredentials(w http.ResponseWriter, r *http.Request, c *call) {
	p := c.op.Params
	str := func(k string) string { s, _ := p[k].(string); return s }
	user := str("userName")
	if user == "" {
		user = c.cred.UserName
	}
	if _, err := g.principals.get(r.Context(), c.account, "user", user); err != nil {
		g.fail(w, r, c, apiError{404, "NoSuchEntity", "The user with name " + user + " cannot be found."})
		return
	}
	l := g.local
	l.mu.Lock()
	key := c.account + "/" + user
	var result string
	var elements map[string]any
	item := func(sc serviceCredential, password string) string {
		s := "<ServiceName>" + xmlText(sc.ServiceName) + "</ServiceName><ServiceUserName>" + xmlText(sc.ServiceUserName) +
			"</ServiceUserName><ServiceSpecificCredentialId>" + sc.ID + "</ServiceSpecificCredentialId><UserName>" + xmlText(sc.UserName) +
			"</UserName><Status>" + sc.Status + "</Status><CreateDate>" + sc.Created.UTC().Format(time.RFC3339) + "</CreateDate>"
		if password != "" {
			s += "<ServicePassword>" + password + "</ServicePassword>"
		}
		return s
	}
	var e *apiError
	switch c.op.Name {
	case "CreateServiceSpecificCredential":
		sc := serviceCredential{ID: newAccessKeyID("ACCA", c.account), UserName: user, ServiceName: str("serviceName"),
			ServiceUserName: user + "-at-" + c.account, Status: "Active", Created: c.at}
		l.creds[key] = append(l.creds[key], sc)
		result = "<ServiceSpecificCredential>" + item(sc, randomSecret(32)) + "</ServiceSpecificCredential>"
		elements = map[string]any{"serviceSpecificCredential": map[string]any{"serviceName": sc.ServiceName, "serviceUserName": sc.ServiceUserName,
			"serviceSpecificCredentialId": sc.ID, "userName": user, "status": sc.Status, "createDate": formatCloudTrailDate(sc.Created)}}
	case "ListServiceSpecificCredentials":
		var items strings.Builder
		for _, sc := range l.creds[key] {
			if svc := str("serviceName"); svc == "" || svc == sc.ServiceName {
				items.WriteString("<member>" + item(sc, "") + "</member>")
			}
		}
		result = "<ServiceSpecificCredentials>" + items.String() + "</ServiceSpecificCredentials>"
	case "DeleteServiceSpecificCredential", "UpdateServiceSpecificCredential", "ResetServiceSpecificCredential":
		id := str("serviceSpecificCredentialId")
		i := slices.IndexFunc(l.creds[key], func(sc serviceCredential) bool { return sc.ID == id })
		switch {
		case i < 0:
			e = &apiError{404, "NoSuchEntity", "No such credential " + id + "."}
		case c.op.Name == "DeleteServiceSpecificCredential":
			l.creds[key] = slices.Delete(l.creds[key], i, i+1)
		case c.op.Name == "UpdateServiceSpecificCredential":
			l.creds[key][i].Status = str("status")
		default:
			result = "<ServiceSpecificCredential>" + item(l.creds[key][i], randomSecret(32)) + "</ServiceSpecificCredential>"
		}
	}
	l.mu.Unlock()
	if e != nil {
		g.fail(w, r, c, *e)
		return
	}
	g.record(c, "", "", elements)
	body := []byte(`<` + c.op.Name + `Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><` + c.op.Name + `Result>` + result +
		`</` + c.op.Name + `Result><ResponseMetadata><RequestId>` + c.requestID + `</RequestId></ResponseMetadata></` + c.op.Name + `Response>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// signinSessions lists and revokes the sign-in sessions of console
// sign-ins (SignIn). A revoked session can no longer be refreshed: its
// console credentials work until they expire, as AWS's do.
func (g *Gateway) signinSessions(c *call) (any, *apiError) {
	p := c.op.Params
	principal, _ := p["principalArn"].(string)
	if principal == "" {
		principal = g.identity(context.Background(), c).ARN
	}
	belongs := func(s *signinSession) bool {
		return s.Principal == principal || principal == "arn:aws:iam::"+c.account+":*" && arnAccount(s.Principal) == c.account
	}
	l := g.local
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.noSessionAPI {
		return nil, &apiError{400, "UnknownOperationException", "The operation " + c.op.Name + " is not supported in this region."}
	}
	view := func(s *signinSession) map[string]any {
		return map[string]any{"sessionArn": s.ARN, "principalArn": s.Principal, "issuedAt": s.Issued.Unix(), "expiresAt": s.Expires.Unix(), "status": s.Status}
	}
	switch c.op.Name {
	case "ListSessions":
		var out []any
		arns := make([]string, 0, len(l.sessions))
		for a := range l.sessions {
			arns = append(arns, a)
		}
		sort.Strings(arns)
		for _, a := range arns {
			s := l.sessions[a]
			if st, _ := p["status"].(string); belongs(s) && (st == "" || st == s.Status) {
				out = append(out, view(s))
			}
		}
		return map[string]any{"items": out}, nil
	case "GetSession":
		arn, _ := p["sessionArn"].(string)
		if s, ok := l.sessions[arn]; ok && belongs(s) {
			return view(s), nil
		}
		return nil, notFound("session")
	case "BatchRevokeSessions":
		revoked, errs := []any{}, []any{}
		list, _ := p["sessionArns"].([]any)
		if len(list) > 5 {
			return nil, &apiError{400, "ValidationException", "at most 5 sessions may be revoked at once"}
		}
		for _, v := range list {
			arn := fmt.Sprint(v)
			s, ok := l.sessions[arn]
			if !ok || !belongs(s) {
				errs = append(errs, map[string]any{"sessionArn": arn, "code": "ResourceNotFound", "message": "session not found"})
				continue
			}
			s.Status = "REVOKED"
			revoked = append(revoked, map[string]any{"sessionArn": arn})
		}
		return map[string]any{"revokedSessions": revoked, "errors": errs}, nil
	}
	return nil, &apiError{400, "ValidationException", "unknown operation"}
}
