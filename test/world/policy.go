package world

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// policyDocument is an IAM policy, as far as the gateway evaluates it.
type policyDocument struct {
	Statement statementList `json:"Statement"`
}

type statement struct {
	Effect      string                           `json:"Effect"`
	Action      stringList                       `json:"Action"`
	NotAction   stringList                       `json:"NotAction"`
	Resource    stringList                       `json:"Resource"`
	NotResource stringList                       `json:"NotResource"`
	Condition   map[string]map[string]stringList `json:"Condition"`
	// Principal is a resource policy's: "*", or {"AWS": …, "Service": …}.
	Principal policyPrincipal `json:"Principal"`
}

// policyPrincipal holds the AWS principals a resource policy statement names:
// "*" stands for anyone.
type policyPrincipal struct{ AWS stringList }

func (p *policyPrincipal) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		p.AWS = stringList{s}
		return nil
	}
	var m map[string]stringList
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	p.AWS = m["AWS"]
	return nil
}

// statementList accepts one statement or a list.
type statementList []statement

func (l *statementList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var s statement
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = statementList{s}
		return nil
	}
	return json.Unmarshal(b, (*[]statement)(l))
}

// stringList accepts a string or a list of strings (and numbers or booleans, as text).
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	switch v := raw.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		*l = out
	case nil:
		*l = nil
	default:
		*l = stringList{fmt.Sprint(v)}
	}
	return nil
}

// parsePolicy decodes a policy document, URL-encoded (as IAM returns it) or not.
func parsePolicy(text string) (policyDocument, error) {
	var doc policyDocument
	s := strings.TrimSpace(text)
	if !strings.HasPrefix(s, "{") {
		if u, err := url.QueryUnescape(s); err == nil {
			s = u
		}
	}
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return doc, fmt.Errorf("decode policy document: %w", err)
	}
	return doc, nil
}

// requestContext is what deny evaluation knows of one call.
type requestContext struct {
	Action         string     // e.g. iam:CreateUser
	Resources      []resource // empty when unknown
	CurrentTime    time.Time
	TokenIssueTime time.Time // zero for long-term keys
	// PrincipalAccount and PrincipalARN are the caller's (aws:PrincipalAccount,
	// aws:PrincipalArn); a direct call's aws:SourceOwner is its account too,
	// which is how a topic's default policy admits its owner alone.
	PrincipalAccount string
	PrincipalARN     string
}

// deniedBy returns the first Deny statement of doc that applies to c.
func (doc policyDocument) deniedBy(c requestContext) (statement, bool) {
	for _, st := range doc.Statement {
		if st.Effect == "Deny" && st.matchesAction(c.Action) && st.matchesResource(c.Resources) && st.conditionsHold(c) {
			return st, true
		}
	}
	return statement{}, false
}

func (st statement) matchesAction(action string) bool {
	if len(st.NotAction) > 0 {
		return !anyMatch(st.NotAction, action, true)
	}
	return anyMatch(st.Action, action, true)
}

func (st statement) matchesResource(resources []resource) bool {
	if len(st.NotResource) > 0 {
		if len(resources) == 0 {
			return false // cannot tell: a deny applies only when it surely matches
		}
		for _, r := range resources {
			if r.ARN != "" && !anyMatch(st.NotResource, r.ARN, false) {
				return true
			}
		}
		return false
	}
	for _, p := range st.Resource {
		if p == "*" {
			return true
		}
		for _, r := range resources {
			if r.ARN != "" && wildcardMatch(p, r.ARN, false) {
				return true
			}
		}
	}
	return false
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if wildcardMatch(p, s, fold) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against an IAM pattern with * and ?.
func wildcardMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// conditionsHold evaluates the statement's conditions. Operators it does not know make the
// statement not apply.
func (st statement) conditionsHold(c requestContext) bool {
	for op, keys := range st.Condition {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		for key, values := range keys {
			if text, ok := c.text(strings.ToLower(key)); ok || strings.HasPrefix(base, "String") || strings.HasPrefix(base, "Arn") {
				negated := strings.Contains(base, "Not")
				switch {
				case base == "Null":
					if want := len(values) > 0 && strings.EqualFold(values[0], "true"); want == (text == "") {
						return false
					}
				case text == "" && (ifExists || negated):
				case text == "" || !textCondition(base, text, values):
					return false
				}
				continue
			}
			value, present := c.value(strings.ToLower(key))
			if base == "Null" {
				want := len(values) > 0 && strings.EqualFold(values[0], "true")
				if want == present {
					return false
				}
				continue
			}
			if !present {
				if ifExists {
					continue
				}
				return false
			}
			if !dateCondition(base, value, values) {
				return false
			}
		}
	}
	return true
}

func (c requestContext) value(key string) (time.Time, bool) {
	switch key {
	case "aws:currenttime", "aws:epochtime":
		return c.CurrentTime, true
	case "aws:tokenissuetime":
		return c.TokenIssueTime, !c.TokenIssueTime.IsZero()
	}
	return time.Time{}, false
}

// text is a string condition key's value; "" when the call has none.
// ok says the key is one the world knows.
func (c requestContext) text(key string) (string, bool) {
	switch key {
	case "aws:principalaccount", "aws:sourceowner":
		return c.PrincipalAccount, true
	case "aws:principalarn":
		return c.PrincipalARN, true
	case "aws:sourceaccount", "aws:sourcearn":
		return "", true // present only when a service calls for a resource
	}
	return "", false
}

// textCondition applies a String* or Arn* operator: for the positive
// ones, true when any value matches; for the negated ones, when none does.
func textCondition(op string, got string, values []string) bool {
	negated := strings.Contains(op, "Not")
	base := strings.Replace(op, "Not", "", 1)
	match := func(v string) bool {
		switch base {
		case "StringEquals":
			return got == v
		case "StringEqualsIgnoreCase":
			return strings.EqualFold(got, v)
		case "StringLike", "ArnLike", "ArnEquals":
			return wildcardMatch(v, got, false)
		}
		return false
	}
	if !slices.Contains([]string{"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnLike", "ArnEquals"}, base) {
		return false // an operator the world does not know: the statement does not apply
	}
	return slices.ContainsFunc(values, match) != negated
}

// dateCondition applies a Date* operator: true when any value satisfies it.
func dateCondition(op string, got time.Time, values []string) bool {
	for _, v := range values {
		want, err := parsePolicyTime(v)
		if err != nil {
			continue
		}
		var ok bool
		switch op {
		case "DateLessThan":
			ok = got.Before(want)
		case "DateLessThanEquals":
			ok = !got.After(want)
		case "DateGreaterThan":
			ok = got.After(want)
		case "DateGreaterThanEquals":
			ok = !got.Before(want)
		case "DateEquals":
			ok = got.Equal(want)
		case "DateNotEquals":
			ok = !got.Equal(want)
		default:
			return false
		}
		if ok {
			return true
		}
	}
	return false
}

// parsePolicyTime reads an ISO-8601 date or date-time, or epoch seconds.
func parsePolicyTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("parse policy time %q: not ISO-8601 or epoch seconds", s)
}
