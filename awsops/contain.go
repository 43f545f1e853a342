package awsops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Target is what containment acts on: a leaked key, its owner, and the
// roles the key's sessions used (found by the investigation).
type Target struct {
	Account     string
	UserName    string // empty for a root key
	UserARN     string
	AccessKeyID string
	Root        bool
	Temporary   bool     // an ASIA key: it has no IAM user and expires by itself
	Roles       []string // role ARNs, possibly in other accounts
	// TypedRoles says a responder typed Roles: a role IAM knows under
	// another ARN, or a protected one, is refused rather than skipped.
	TypedRoles bool
	Incident   string // names keyleak's policies: keyleak-revoke-<Incident>
	// Tree are the access key IDs of the incident's credential tree
	// beside the key (its sessions, the keys it made for users): what
	// they wrote is the attacker's. Close reads them.
	Tree []string
}

// ActionPlan is what a containment action will do, computed without
// changing anything.
type ActionPlan struct {
	// Calls are the API calls that change AWS, in order, exactly as the
	// execution will make them when nothing changes in between.
	Calls []string
	// Impact says what else the action affects and what it leaves alone.
	Impact []string
	// Params are fixed now and must be handed back to the execution
	// (the revocation cutoff, the roles, digests of policies to remove).
	Params map[string]string
	// Noop, when set, says why the action would change nothing.
	Noop string
}

// Result is what an execution did. With an error, Done says what was
// done and the error what was not.
type Result struct {
	Done       []string // what changed or was already so, in words
	Calls      []string // the calls that succeeded in changing AWS, in the plan's format
	RequestIDs []string // "service:Operation request-id" for every call made, reads included
}

// Refusal is an action keyleak will not take, with a reason fit to show
// the responder. It wraps one of the Err… sentinels below.
type Refusal struct {
	Reason string
	Err    error
}

func (r *Refusal) Error() string { return r.Reason }
func (r *Refusal) Unwrap() error { return r.Err }

// Why an action is refused (a Refusal wraps one, or ErrProtected) or left
// partly undone (ErrPolicyChanged).
var (
	ErrRootKey          = errors.New("root access key")
	ErrTemporaryKey     = errors.New("temporary access key")
	ErrKeyStillActive   = errors.New("access key still active")
	ErrNoEvidence       = errors.New("resource without evidence")
	ErrPolicyChanged    = errors.New("policy changed since keyleak wrote it")
	ErrTargetIncomplete = errors.New("target incomplete")
	ErrUnknownResource  = errors.New("unknown resource type")
	ErrRoleMismatch     = errors.New("role ARN is not the one IAM gives")
	ErrRecreated        = errors.New("resource re-created since the event")
	// ErrAmbiguousPolicy: the document names a member twice in one
	// object, and AWS may read it otherwise than keyleak would.
	ErrAmbiguousPolicy = errors.New("policy names a member twice")
	// ErrPassRole: the change names a role for a service to use, which
	// takes iam:PassRole; keyleak never holds it, since it grants
	// privileges.
	ErrPassRole = errors.New("needs iam:PassRole, which keyleak never holds")
)

func refusal(sentinel error, format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// partFailures are the parts of an action that failed, joined with "; " and
// each still matched by errors.Is.
type partFailures []error

func (f partFailures) Error() string {
	s := make([]string, len(f))
	for i, err := range f {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (f partFailures) Unwrap() []error { return f }

// containRun is one plan or execution: SDK clients for the target's
// account that record the request ID of every call, and the log of the
// calls that change AWS.
type containRun struct {
	c   *Client
	cfg aws.Config
	iam *iam.Client
	t   Target

	mu    sync.Mutex
	ids   []string
	calls []string
	done  []string

	// events are the doors' events read from CloudTrail, by event ID.
	events map[string]cttypes.Event
	// attackers are the access keys that opened the doors being closed,
	// the leaked key and the keys of its tree: an earlier write made with
	// one of them is the attacker's, not the state before.
	attackers map[string]bool
	// replaced are the doors a later write of the same ACL replaced, by
	// the resource (DoorItem.resourceKey).
	replaced map[string][]DoorItem
}

func (c *Client) newContainRun(ctx context.Context, t Target) (*containRun, error) {
	if t.Account == "" {
		return nil, refusal(ErrTargetIncomplete, "the key's account is not known yet; run whois first")
	}
	r := &containRun{c: c, t: t}
	cfg, err := r.config(ctx, t.Account)
	if err != nil {
		return nil, err
	}
	r.cfg = cfg
	r.iam = iam.NewFromConfig(cfg)
	return r, nil
}

// config is account's configuration with the request recorder added.
func (r *containRun) config(ctx context.Context, account string) (aws.Config, error) {
	cfg, err := r.c.account(ctx, account)
	if err != nil {
		return aws.Config{}, err
	}
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, r.recordRequests)
	return cfg, nil
}

// iamIn is an IAM client in account (the target's unless a role lives
// elsewhere).
func (r *containRun) iamIn(ctx context.Context, account string) (*iam.Client, error) {
	if account == "" || account == r.t.Account {
		return r.iam, nil
	}
	cfg, err := r.config(ctx, account)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

// recordRequests adds a middleware that notes every operation's request
// ID once, after its retries.
func (r *containRun) recordRequests(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("keyleakRequestIDs",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			id, _ := awsmiddleware.GetRequestIDMetadata(md)
			var re *awshttp.ResponseError
			if id == "" && errors.As(err, &re) {
				id = re.ServiceRequestID()
			}
			if id == "" {
				id = "(none)"
			}
			op := strings.ToLower(awsmiddleware.GetServiceID(ctx)) + ":" + awsmiddleware.GetOperationName(ctx)
			r.mu.Lock()
			r.ids = append(r.ids, op+" "+id)
			r.mu.Unlock()
			return out, md, err
		}), middleware.After)
}

// write makes one call that changes AWS and, once it succeeded, logs it
// in the plan's format.
func (r *containRun) write(call string, fn func() error) error {
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	return nil
}

func (r *containRun) did(format string, args ...any) {
	r.mu.Lock()
	r.done = append(r.done, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *containRun) result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Result{Done: append([]string(nil), r.done...), Calls: append([]string(nil), r.calls...), RequestIDs: append([]string(nil), r.ids...)}
}

// finish returns the result with err, which names what was not done.
func (r *containRun) finish(err error) (Result, error) { return r.result(), err }

// checkUser refuses a root key and protected users.
func (r *containRun) checkUser(ctx context.Context, what string) error {
	t := r.t
	if t.Temporary {
		return refusal(ErrTemporaryKey, "%s is a temporary (ASIA) key: IAM cannot %s it, and it expires by itself within 36 hours. "+
			"Run revoke-sessions with the role or user it was issued to (see the credential tree), and contain the key that minted it.", t.AccessKeyID, what)
	}
	if t.Root {
		return refusal(ErrRootKey, "%s is a root access key of account %s: IAM cannot %s it. Sign in to the console as root "+
			"(Security credentials) to deactivate or delete it, and deny the account's root with an SCP from the organization's management account meanwhile.",
			t.AccessKeyID, t.Account, what)
	}
	if t.UserName == "" || t.UserARN == "" {
		return refusal(ErrTargetIncomplete, "the owner of %s is not known yet; run whois first", t.AccessKeyID)
	}
	return r.c.CheckNotProtected(ctx, t.UserARN)
}

// errCodeOf is the AWS error code of err, or "".
func errCodeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// goneAlready reports whether err says the thing does not exist.
func goneAlready(err error) bool {
	switch errCodeOf(err) {
	case "NoSuchEntity", "ResourceNotFoundException", "InvalidInstanceID.NotFound", "InvalidSpotInstanceRequestID.NotFound":
		return true
	}
	return false
}
