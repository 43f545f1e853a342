package awsops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrProtected means an action would touch a principal keyleak must not.
var ErrProtected = errors.New("protected principal")

// Principal is an IAM principal reduced to what identifies it. IAM names
// are unique within an account whatever their path, and case-insensitive
// (IAM refuses a role "Admin" beside a role "admin"), so two spellings of
// one principal have the same Principal.
type Principal struct {
	Partition string // aws, aws-us-gov, aws-cn, …
	Account   string
	Kind      string // "user", "role" or "root"
	Name      string // lower case; empty for root
	Path      string // as written ("/" when none), kept for service-linked roles
}

// Principal kinds.
const (
	KindUser = "user"
	KindRole = "role"
	KindRoot = "root"
)

// ParsePrincipal reads an IAM user, role or root ARN, with or without a
// path, or an assumed-role session ARN (which stands for its role). The
// account and name may hold '*' when pattern is true.
func ParsePrincipal(arn string) (Principal, error) { return parsePrincipal(arn, false) }

func parsePrincipal(arn string, pattern bool) (Principal, error) {
	bad := func() (Principal, error) {
		return Principal{}, fmt.Errorf("%q is not an IAM user, role or root ARN (arn:aws:iam::<account>:role/<name>)", arn)
	}
	rest, ok := strings.CutPrefix(arn, "arn:")
	parts := strings.SplitN(rest, ":", 5)
	if !ok || len(parts) != 5 || parts[0] == "" || parts[2] != "" || !validAccount(parts[3], pattern) {
		return bad()
	}
	p := Principal{Partition: strings.ToLower(parts[0]), Account: parts[3], Path: "/"}
	switch service, resource := parts[1], parts[4]; {
	case service == "iam" && resource == "root":
		p.Kind = KindRoot
		return p, nil
	case service == "iam":
		kind, full, ok := strings.Cut(resource, "/")
		if !ok || (kind != KindUser && kind != KindRole) {
			return bad()
		}
		i := strings.LastIndexByte(full, '/')
		p.Kind, p.Name, p.Path = kind, strings.ToLower(full[i+1:]), "/"+full[:i+1]
	case service == "sts":
		kind, full, ok := strings.Cut(resource, "/")
		role, _, hasSession := strings.Cut(full, "/")
		if !ok || kind != "assumed-role" || !hasSession {
			return bad()
		}
		p.Kind, p.Name = KindRole, strings.ToLower(role)
	default:
		return bad()
	}
	if !validIAMName(p.Name, pattern) {
		return bad()
	}
	return p, nil
}

// validIAMName reports whether s is made of the characters IAM allows in
// user and role names (letters, digits and +=,.@_-), or '*' in a pattern.
// IAM compares names without case, and only ASCII letters have case here.
func validIAMName(s string, pattern bool) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.ContainsRune("+=,.@_-", c):
		case c == '*' && pattern:
		default:
			return false
		}
	}
	return true
}

func validAccount(s string, pattern bool) bool {
	if pattern && strings.Contains(s, "*") {
		return strings.Trim(s, "0123456789*") == ""
	}
	return len(s) == 12 && strings.Trim(s, "0123456789") == ""
}

// Same reports whether p and q are one principal.
func (p Principal) Same(q Principal) bool {
	return p.Partition == q.Partition && p.Account == q.Account && p.Kind == q.Kind && p.Name == q.Name
}

// ServiceLinked reports whether p is a service-linked role, which only its
// AWS service may change.
func (p Principal) ServiceLinked() bool {
	return p.Kind == KindRole && (strings.HasPrefix(strings.ToLower(p.Path), "/aws-service-role/") || strings.HasPrefix(p.Name, "awsservicerolefor"))
}

// matches reports whether p falls under the protected pattern q, whose
// partition, account and name may hold '*'. The path does not count.
func (p Principal) matches(q Principal) bool {
	return p.Kind == q.Kind && wildcardMatch(q.Partition, p.Partition) && wildcardMatch(q.Account, p.Account) && wildcardMatch(q.Name, p.Name)
}

// ValidateProtected checks configured protected principals: each must be
// an IAM user, role or root ARN, where partition, account and name may
// hold '*'. keyleak compares them on partition, account, kind and name,
// ignoring paths and the case of names.
func ValidateProtected(patterns []string) error {
	var errs []error
	for _, s := range patterns {
		if _, err := parsePrincipal(strings.ToLower(s), true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CheckNotProtected refuses principals keyleak must never act on, however
// their ARN is spelled (path, case of the name, partition, account): the
// configured protected principals, the responder role in any account,
// keyleak's own identity, and service-linked roles. An ARN it cannot read
// is refused too.
func (c *Client) CheckNotProtected(ctx context.Context, arn string) error {
	p, err := ParsePrincipal(arn)
	if err != nil {
		return fmt.Errorf("%w: %w", err, ErrProtected)
	}
	if p.ServiceLinked() {
		return fmt.Errorf("%s is a service-linked role, which only its AWS service may change: %w", arn, ErrProtected)
	}
	if p.Kind == KindRole && p.Name == strings.ToLower(c.opts.ResponderRole) {
		return fmt.Errorf("%s is keyleak's responder role: %w", arn, ErrProtected)
	}
	self, err := c.Self(ctx)
	if err != nil {
		return fmt.Errorf("keyleak cannot tell whether %s is its own identity (%v): %w", arn, err, ErrProtected)
	}
	if me, err := ParsePrincipal(self.ARN); err == nil && p.Same(me) {
		return fmt.Errorf("%s is keyleak's own identity: %w", arn, ErrProtected)
	}
	if slices.ContainsFunc(c.protected, p.matches) {
		return fmt.Errorf("%s is a protected principal (break-glass): %w", arn, ErrProtected)
	}
	return nil
}

// protectedPatterns parses the configured protected principals; those that
// do not parse (refused by ValidateProtected at start-up) protect nothing
// here, which ValidateProtected makes sure cannot happen in serve.
func protectedPatterns(patterns []string) []Principal {
	var out []Principal
	for _, s := range patterns {
		if p, err := parsePrincipal(strings.ToLower(s), true); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// wildcardMatch matches s against pattern, where '*' matches any run.
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// partitionOf is the partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}
