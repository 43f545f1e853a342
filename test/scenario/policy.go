package scenario

import (
	"encoding/json"
	"fmt"
)

// stmt is one IAM policy statement.
type stmt struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Principal map[string]any `json:"Principal,omitempty"`
	Action    any            `json:"Action"`
	Resource  any            `json:"Resource,omitempty"`
}

// document renders statements as an IAM policy document.
func document(statements ...stmt) string {
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements}) // plain values always encode
	return string(b)
}

func allow(resource any, actions ...string) stmt {
	return stmt{Effect: "Allow", Action: actions, Resource: resource}
}

func deny(resource any, actions ...string) stmt {
	return stmt{Effect: "Deny", Action: actions, Resource: resource}
}

// trustPrincipals lets the given AWS principals (ARNs or account IDs) assume a role.
func trustPrincipals(arns ...string) string {
	return document(stmt{Effect: "Allow", Principal: map[string]any{"AWS": arns}, Action: "sts:AssumeRole"})
}

// trustServiceAnd lets an AWS service and the given AWS principals assume a role.
func trustServiceAnd(service string, arns ...string) string {
	return document(
		stmt{Effect: "Allow", Principal: map[string]any{"Service": service}, Action: "sts:AssumeRole"},
		stmt{Effect: "Allow", Principal: map[string]any{"AWS": arns}, Action: "sts:AssumeRole"},
	)
}

// withStatement adds st to a policy document.
func withStatement(doc string, st stmt) (string, error) {
	var d map[string]any
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return "", fmt.Errorf("policy %q: %w", doc, err)
	}
	list, _ := d["Statement"].([]any)
	d["Statement"] = append(list, st)
	b, err := json.Marshal(d)
	return string(b), err
}
