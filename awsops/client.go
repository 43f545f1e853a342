// Package awsops is everything keyleak does in AWS: identify a leaked
// key, investigate what it did, check cost, and contain it. It is the only
// package that uses the AWS SDK; its exported methods take and return
// keyleak's own types.
//
// The bot's own credentials come from the standard chain (environment,
// shared config, web identity, instance role). In every other account
// keyleak acts through a responder role it assumes there (least
// privilege, see deploy/aws); in its own account it acts directly.
package awsops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// DefaultResponderRole is the role keyleak assumes in each account.
const DefaultResponderRole = "KeyleakResponder"

// Options configure a Client.
type Options struct {
	// Region is the home region for global services (IAM, STS, Cost
	// Explorer); us-east-1 when empty.
	Region string
	// ResponderRole is the name of the role assumed in each account.
	ResponderRole string
	// ExternalID is passed when assuming the responder role, if set.
	ExternalID string
	// ResponderInOwnAccount makes keyleak assume the responder role in
	// its own account too, instead of acting with its own credentials
	// there, so that its own role needs no IAM permissions.
	ResponderInOwnAccount bool
	// Regions overrides the regions swept; empty means every region
	// enabled in the account (ec2:DescribeRegions).
	Regions []string
	// Protected are principal ARNs keyleak must never act on (break-glass
	// roles and users), compared on partition, account, kind and name,
	// whatever the path and the case of the name. '*' is allowed in the
	// partition, account and name (ValidateProtected checks them). The
	// responder role and keyleak's own identity are always protected.
	Protected []string
	// Accounts are the organisation's accounts. A resource policy, share
	// or trust that admits one of them is not flagged as opening to the
	// outside; empty means only the account of the key (and of the
	// event) is the organisation's, beside those Organizations lists.
	Accounts []string
	// Organizations are the organisation's IDs (o-…): a resource policy
	// that admits anyone on condition that aws:PrincipalOrgID (or
	// aws:PrincipalOrgPaths) names one of them admits no one outside. The
	// accounts of the one keyleak's credentials are in are read from AWS
	// Organizations and count as Accounts (orgaccounts.go).
	Organizations []string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives progress and warnings; discarded when nil.
	Log *slog.Logger
}

// Client acts in AWS for keyleak.
type Client struct {
	base aws.Config
	opts Options

	mu       sync.Mutex
	self     *Caller
	accounts map[string]aws.Config
	clients  map[clientKey]any // SDK clients, built once (clients.go)

	protected []Principal // opts.Protected, parsed
	lookups   *lookupBudget
	org       orgAccounts // the organisation's accounts, as last read
}

// Caller is keyleak's own identity.
type Caller struct {
	Account string
	ARN     string
}

// New loads the bot's credentials and endpoint settings the standard way
// (including AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
func New(ctx context.Context, opts Options) (*Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region(opts)))
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return NewFromConfig(cfg, opts), nil
}

// NewFromConfig uses cfg as the bot's own configuration.
func NewFromConfig(cfg aws.Config, opts Options) *Client {
	if opts.ResponderRole == "" {
		opts.ResponderRole = DefaultResponderRole
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Region == "" {
		cfg.Region = region(opts)
	}
	cfg.Retryer = func() aws.Retryer { return newRetryer() }
	return &Client{base: cfg, opts: opts, accounts: map[string]aws.Config{}, clients: map[clientKey]any{}, protected: protectedPatterns(opts.Protected),
		lookups: newLookupBudget()}
}

// newRetryer retries throttling and 5xx with backoff, a little more
// patiently than the SDK's default of three attempts; more adjusts it.
func newRetryer(more ...func(*retry.StandardOptions)) aws.Retryer {
	return retry.NewStandard(append([]func(*retry.StandardOptions){func(o *retry.StandardOptions) {
		o.MaxAttempts = 6
		o.MaxBackoff = 10 * time.Second
	}}, more...)...)
}

func region(o Options) string {
	if o.Region == "" {
		return "us-east-1"
	}
	return o.Region
}

// Self returns keyleak's own identity (sts:GetCallerIdentity), cached.
func (c *Client) Self(ctx context.Context) (Caller, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.self != nil {
		return *c.self, nil
	}
	out, err := sts.NewFromConfig(c.base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}) // under c.mu: not the cached client
	if err != nil {
		return Caller{}, fmt.Errorf("who is keyleak (sts:GetCallerIdentity): %w", err)
	}
	c.self = &Caller{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}
	return *c.self, nil
}

// ErrNoResponderRole means keyleak could not act in an account.
var ErrNoResponderRole = errors.New("cannot assume the responder role")

// account returns a configuration that acts in account: keyleak's own
// configuration in its own account, otherwise the responder role's
// (credentials cached and refreshed before they expire).
func (c *Client) account(ctx context.Context, account string) (aws.Config, error) {
	self, err := c.Self(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	if account == "" || (account == self.Account && !c.opts.ResponderInOwnAccount) {
		return c.base, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.accounts[account]; ok {
		return cfg, nil
	}
	arn := c.ResponderRoleARN(account)
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(c.base), arn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "keyleak"
		if c.opts.ExternalID != "" {
			o.ExternalID = aws.String(c.opts.ExternalID)
		}
	})
	cfg := c.base.Copy()
	cfg.Credentials = aws.NewCredentialsCache(provider)
	// Fail now, with the account named, rather than at the first call.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("%w %s in account %s: %v", ErrNoResponderRole, arn, account, err)
	}
	c.accounts[account] = cfg
	return cfg, nil
}

// ResponderRoleARN is the responder role's ARN in account.
func (c *Client) ResponderRoleARN(account string) string {
	return "arn:" + partitionOf(c.base.Region) + ":iam::" + account + ":role/" + c.opts.ResponderRole
}

// Now is the client's clock.
func (c *Client) Now() time.Time { return c.opts.Now() }

// SES is an Amazon SES v2 sender acting as keyleak itself.
func (c *Client) SES() *SES { return newSES(c.base) }
