package world

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// principal is an IAM user or role with its identity and every policy that applies to it.
type principal struct {
	ID         string // AIDA… or AROA…
	ARN        string
	Policies   []policyDocument
	MaxSession time.Duration // roles: MaxSessionDuration
}

// principalCache loads principals from moto's IAM and keeps them until the next IAM write.
type principalCache struct {
	motoURL string
	client  *http.Client
	admin   func(account string) Credentials

	mu         sync.Mutex
	generation uint64
	principals map[string]principal      // "account/user/name" or "account/role/name"
	managed    map[string]policyDocument // customer managed, by ARN
	awsManaged map[string]policyDocument // arn:aws:iam::aws:policy/…, never invalidated
}

func newPrincipalCache(motoURL string, client *http.Client, admin func(string) Credentials) *principalCache {
	return &principalCache{
		motoURL: motoURL, client: client, admin: admin,
		principals: map[string]principal{}, managed: map[string]policyDocument{}, awsManaged: map[string]policyDocument{},
	}
}

// invalidate forgets every principal and customer managed policy.
func (c *principalCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	clear(c.principals)
	clear(c.managed)
}

// get returns the user ("user") or role ("role") name in account.
func (c *principalCache) get(ctx context.Context, account, kind, name string) (principal, error) {
	key := account + "/" + kind + "/" + name
	c.mu.Lock()
	p, ok := c.principals[key]
	gen := c.generation
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := c.load(ctx, account, kind, name)
	if err != nil {
		return principal{}, err
	}
	c.mu.Lock()
	if c.generation == gen {
		c.principals[key] = p
	}
	c.mu.Unlock()
	return p, nil
}

func (c *principalCache) load(ctx context.Context, account, kind, name string) (principal, error) {
	var p principal
	switch kind {
	case "user":
		body, err := c.call(ctx, account, url.Values{"Action": {"GetUser"}, "UserName": {name}})
		if err != nil {
			return p, err
		}
		p.ID, p.ARN = firstXML(body, "UserId"), firstXML(body, "Arn")
		if err := c.loadPolicies(ctx, account, "User", "UserName", name, &p); err != nil {
			return p, err
		}
		body, err = c.call(ctx, account, url.Values{"Action": {"ListGroupsForUser"}, "UserName": {name}})
		if err != nil {
			return p, err
		}
		for _, g := range xmlValues(body, "GroupName") {
			if err := c.loadPolicies(ctx, account, "Group", "GroupName", g, &p); err != nil {
				return p, err
			}
		}
	case "role":
		body, err := c.call(ctx, account, url.Values{"Action": {"GetRole"}, "RoleName": {name}})
		if err != nil {
			return p, err
		}
		p.ID, p.ARN = firstXML(body, "RoleId"), firstXML(body, "Arn")
		p.MaxSession = time.Hour
		if s, err := strconv.Atoi(firstXML(body, "MaxSessionDuration")); err == nil && s > 0 {
			p.MaxSession = time.Duration(s) * time.Second
		}
		if err := c.loadPolicies(ctx, account, "Role", "RoleName", name, &p); err != nil {
			return p, err
		}
	default:
		return p, fmt.Errorf("load principal %s: unknown kind %q", name, kind)
	}
	return p, nil
}

// loadPolicies appends the inline and attached policies of an IAM user, group or role.
func (c *principalCache) loadPolicies(ctx context.Context, account, entity, param, name string, p *principal) error {
	body, err := c.call(ctx, account, url.Values{"Action": {"List" + entity + "Policies"}, param: {name}})
	if err != nil {
		return err
	}
	for _, pn := range xmlValues(body, "member") {
		body, err := c.call(ctx, account, url.Values{"Action": {"Get" + entity + "Policy"}, param: {name}, "PolicyName": {pn}})
		if err != nil {
			return err
		}
		d, err := parsePolicy(firstXML(body, "PolicyDocument"))
		if err != nil {
			return fmt.Errorf("inline policy %s of %s %s: %w", pn, entity, name, err)
		}
		p.Policies = append(p.Policies, d)
	}
	body, err = c.call(ctx, account, url.Values{"Action": {"ListAttached" + entity + "Policies"}, param: {name}})
	if err != nil {
		return err
	}
	for _, arn := range xmlValues(body, "PolicyArn") {
		d, err := c.managedPolicy(ctx, account, arn)
		if err != nil {
			return err
		}
		p.Policies = append(p.Policies, d)
	}
	return nil
}

func (c *principalCache) managedPolicy(ctx context.Context, account, arn string) (policyDocument, error) {
	awsManaged := strings.HasPrefix(arn, "arn:aws:iam::aws:policy/")
	c.mu.Lock()
	d, ok := c.managed[arn]
	if awsManaged {
		d, ok = c.awsManaged[arn]
	}
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	body, err := c.call(ctx, account, url.Values{"Action": {"GetPolicy"}, "PolicyArn": {arn}})
	if err != nil {
		return d, err
	}
	version := firstXML(body, "DefaultVersionId")
	body, err = c.call(ctx, account, url.Values{"Action": {"GetPolicyVersion"}, "PolicyArn": {arn}, "VersionId": {version}})
	if err != nil {
		return d, err
	}
	d, err = parsePolicy(firstXML(body, "Document"))
	if err != nil {
		return d, fmt.Errorf("managed policy %s: %w", arn, err)
	}
	c.mu.Lock()
	if awsManaged {
		c.awsManaged[arn] = d
	} else {
		c.managed[arn] = d
	}
	c.mu.Unlock()
	return d, nil
}

// call sends an IAM query API call to moto as account's admin and returns the XML answer.
func (c *principalCache) call(ctx context.Context, account string, params url.Values) ([]byte, error) {
	params.Set("Version", "2010-05-08")
	if strings.HasPrefix(params.Get("Action"), "List") {
		params.Set("MaxItems", "1000")
	}
	// Every call here reads: one whose connection broke (moto closes
	// connections, and on a busy machine one may break under an answer)
	// is made again.
	var (
		body []byte
		err  error
	)
	for attempt := range 3 {
		c.mu.Lock()
		motoURL := c.motoURL // (a test points it elsewhere)
		c.mu.Unlock()
		body, err = motoCall(ctx, c.client, motoURL, http.MethodPost, "/", "iam", account, c.admin(account).AccessKeyID,
			strings.NewReader(params.Encode()), "application/x-www-form-urlencoded")
		var refused *motoError
		if err == nil || errors.As(err, &refused) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("iam %s: %w", params.Get("Action"), err)
	}
	return body, nil
}

// xmlValues returns the text of every element with the local name.
func xmlValues(body []byte, name string) []string {
	var out []string
	dec := xml.NewDecoder(bytes.NewReader(body))
	depth, capture := 0, -1
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if t.Name.Local == name && capture < 0 {
				capture = depth
				text.Reset()
			}
		case xml.CharData:
			if capture >= 0 {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == capture {
				out = append(out, strings.TrimSpace(text.String()))
				capture = -1
			}
			depth--
		}
	}
}

func firstXML(body []byte, name string) string {
	if v := xmlValues(body, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// motoCall sends one request straight to moto as the admin of account, bypassing the gateway.
func motoCall(ctx context.Context, client *http.Client, motoURL, method, path, service, account, accessKeyID string,
	body io.Reader, contentType string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, motoURL+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", sigV4Algorithm+" Credential="+accessKeyID+"/20200101/us-east-1/"+service+
		"/aws4_request, SignedHeaders=host, Signature=0")
	req.Header.Set("X-Moto-Account-Id", account)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		code, msg := responseError(resp.StatusCode, resp.Header, b)
		return nil, &motoError{Status: resp.StatusCode, Code: code, Message: msg}
	}
	return b, nil
}

// motoError is moto's answer to a call that it refused: the entity is
// not there, say. Other errors of motoCall are the connection's.
type motoError struct {
	Status        int
	Code, Message string
}

func (e *motoError) Error() string {
	return fmt.Sprintf("status %d %s: %s", e.Status, e.Code, e.Message)
}
