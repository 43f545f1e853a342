package awsops

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// policyDocument is the part of an IAM policy keyleak weighs.
type policyDocument struct {
	Statement policyStatements `json:"Statement"`
}

type policyStatement struct {
	Effect    string          `json:"Effect"`
	Action    statementValues `json:"Action"`
	NotAction statementValues `json:"NotAction"`
	Resource  statementValues `json:"Resource"`
	Condition json.RawMessage `json:"Condition"`
}

// covers reports whether the statement applies to action: its Action
// names it, or it has a NotAction that does not (wildcards allowed,
// without regard to case). Effect, resources and conditions are the
// caller's to weigh.
func (st policyStatement) covers(action string) bool {
	action = strings.ToLower(action)
	match := func(p string) bool { return wildcardMatch(strings.ToLower(p), action) }
	return slices.ContainsFunc(st.Action, match) || len(st.NotAction) > 0 && !slices.ContainsFunc(st.NotAction, match)
}

type policyStatements []policyStatement

func (s *policyStatements) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var one policyStatement
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = policyStatements{one}
		return nil
	}
	return json.Unmarshal(b, (*[]policyStatement)(s))
}

type statementValues []string

func (l *statementValues) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = statementValues{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

// decodePolicyDocument undoes the URL encoding IAM applies to documents.
func decodePolicyDocument(doc string) string {
	if strings.HasPrefix(strings.TrimSpace(doc), "%") || strings.Contains(doc, "%22") {
		if d, err := url.QueryUnescape(doc); err == nil {
			return d
		}
	}
	return doc
}

// analyzePolicy reports whether a document is admin-equivalent (Allow *
// on *) and whether it allows writing IAM.
func analyzePolicy(doc string) (admin, iamWrite bool) {
	var d policyDocument
	if json.Unmarshal([]byte(doc), &d) != nil {
		return false, false
	}
	for _, st := range d.Statement {
		if st.Effect == "Allow" && len(st.NotAction) == 0 && slices.ContainsFunc(st.Action, func(a string) bool { return a == "*" || a == "*:*" }) &&
			slices.Contains(st.Resource, "*") {
			admin = true
		}
	}
	iamWrite = slices.ContainsFunc(iamWriteActions, func(a string) bool { return policyAllows(doc, a) })
	return admin, iamWrite
}

// PolicyAllows reports whether some Allow statement of an IAM policy
// document (JSON, or URL-encoded as IAM returns it) names action,
// wildcards and NotAction included. Resources and conditions are not
// weighed, nor are Deny statements subtracted: it answers "could this
// policy grant it", which is what an incident's severity needs.
func PolicyAllows(doc, action string) bool { return policyAllows(decodePolicyDocument(doc), action) }

// policyAllows reports whether some Allow statement of doc names action
// (wildcards and NotAction included; resources and conditions are not
// weighed).
func policyAllows(doc, action string) bool {
	var d policyDocument
	if json.Unmarshal([]byte(doc), &d) != nil {
		return false
	}
	for _, st := range d.Statement {
		if st.Effect == "Allow" && st.covers(action) {
			return true
		}
	}
	return false
}

// duplicateMember returns a member name that one object of the JSON text
// doc holds twice, compared without regard to case (Unicode's simple
// folding, as Go's decoder matches names to fields: "ſtatement" is
// "Statement"), and whether there is one. A policy with one is read
// differently by different parsers: Go keeps the last ("Principal": "*",
// then "Principal": {"AWS": "<own account>"} reads as the account alone),
// another may keep the first, and AWS's element and condition key names
// are not case-sensitive. Text that is not JSON has none.
func duplicateMember(doc string) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(doc))
	type frame struct {
		object  bool
		names   map[string]bool
		nameNow bool // the next string token of an object is a member name
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		top := len(stack) - 1
		isName := top >= 0 && stack[top].object && stack[top].nameNow
		if top >= 0 && stack[top].object {
			stack[top].nameNow = !stack[top].nameNow // names and values alternate
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{object: true, names: map[string]bool{}, nameNow: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				if n := len(stack) - 1; n >= 0 && stack[n].object {
					stack[n].nameNow = true // the value just closed; a name follows
				}
			}
		case string:
			if isName {
				k := foldName(t)
				if stack[top].names[k] {
					return t, true
				}
				stack[top].names[k] = true
			}
		}
	}
}

// foldName maps each letter of s to the least of the letters that fold to
// it (unicode.SimpleFold's orbit): two names are equal under
// strings.EqualFold exactly when their foldName are.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
