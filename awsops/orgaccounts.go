package awsops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

// The organisation's accounts. With Options.Organizations set, keyleak
// asks AWS Organizations, with its own credentials, for the accounts of
// the organisation (organizations:DescribeOrganization and ListAccounts,
// which the management account and a delegated administrator may call),
// so that a policy, share or trust that admits one of them is not taken
// for a door to the outside although Options.Accounts does not name it.
// An account that joined the organisation during the incident's window is
// not taken as inside: a leaked key of the management account can create
// one (its root is then the attacker's) or invite one of the attacker's.
// Where the list cannot be read, the accounts Options.Accounts names are
// the organisation's, and the investigation says so.

// orgAccounts is the organisation's accounts as last read.
type orgAccounts struct {
	mu sync.Mutex
	// joined is when each account joined the organisation (created in it,
	// or accepted its invitation).
	joined map[string]time.Time
	read   time.Time // when they were read, or the read failed
	err    error
	// reading is closed when the read under way ends; nil when none is.
	reading chan struct{}
}

const (
	// orgAccountsFresh is how long a list read is used: accounts join an
	// organisation seldom.
	orgAccountsFresh = time.Hour
	// orgAccountsRetry is how long a failed read is not tried again.
	orgAccountsRetry = 5 * time.Minute
	// maxOrgAccounts bounds the accounts read (ListAccounts gives 20 a
	// page): AWS's default quota is 10, raised to a few thousand at most.
	maxOrgAccounts = 20000
)

// organisationAccounts returns when each account of the organisation of
// keyleak's own credentials joined it, when that organisation is one of
// Options.Organizations; nil and no error when none is configured. One
// read runs at a time; a caller waits for it as long as its ctx lasts,
// and then gets the accounts read before, with ctx's error.
func (c *Client) organisationAccounts(ctx context.Context) (map[string]time.Time, error) {
	if len(c.opts.Organizations) == 0 {
		return nil, nil
	}
	o := &c.org
	for {
		o.mu.Lock()
		now := c.Now()
		switch {
		case o.reading != nil:
			wait := o.reading
			o.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				o.mu.Lock()
				defer o.mu.Unlock()
				return o.joined, ctx.Err()
			}
		case o.err == nil && !o.read.IsZero() && now.Sub(o.read) < orgAccountsFresh:
			defer o.mu.Unlock()
			return o.joined, nil
		case o.err != nil && now.Sub(o.read) < orgAccountsRetry:
			defer o.mu.Unlock()
			return o.joined, o.err
		}
		done := make(chan struct{})
		o.reading = done
		o.mu.Unlock()

		joined, err := c.listOrganisationAccounts(ctx)

		o.mu.Lock()
		defer o.mu.Unlock()
		o.reading = nil
		close(done)
		if err != nil && ctx.Err() != nil {
			return o.joined, err // not kept: this caller gave up, another may read
		}
		o.read, o.err = now, err
		if err == nil {
			o.joined = joined
		}
		return o.joined, err
	}
}

func (c *Client) listOrganisationAccounts(ctx context.Context) (map[string]time.Time, error) {
	client, err := cachedClient(ctx, c, "organizations", "", c.globalEventRegion(), func(cfg aws.Config) *organizations.Client { return organizations.NewFromConfig(cfg) })
	if err != nil {
		return nil, err
	}
	org, err := client.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return nil, fmt.Errorf("organizations:DescribeOrganization: %s", describeAWSError(err))
	}
	id := ""
	if org.Organization != nil {
		id = aws.ToString(org.Organization.Id)
	}
	if !slices.Contains(c.opts.Organizations, id) {
		return nil, fmt.Errorf("keyleak's credentials are of organisation %q, not of %s (aws.organizations)", id, strings.Join(c.opts.Organizations, ", "))
	}
	joined := map[string]time.Time{}
	pages := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("organizations:ListAccounts: %s", describeAWSError(err))
		}
		for _, a := range out.Accounts {
			if id := aws.ToString(a.Id); validAccount(id, false) {
				joined[id] = aws.ToTime(a.JoinedTimestamp) // zero when not given: taken as joined late
			}
		}
		if len(joined) > maxOrgAccounts {
			return nil, fmt.Errorf("organizations:ListAccounts: more than %d accounts", maxOrgAccounts)
		}
	}
	return joined, nil
}

// ownIn reports whether an account, or an organisation ID, is of the
// organisation of account: account itself, Options.Accounts,
// Options.Organizations and the accounts AWS Organizations lists that
// joined it before since (for a zero since, every one it says when
// joined). err says why that list could not be read; own then knows the
// others.
func (c *Client) ownIn(ctx context.Context, account string, since time.Time) (own func(string) bool, err error) {
	listed, err := c.organisationAccounts(ctx)
	return func(a string) bool {
		if a == account || slices.Contains(c.opts.Accounts, a) || slices.Contains(c.opts.Organizations, a) {
			return true
		}
		joined, ok := listed[a]
		return ok && !joined.IsZero() && (since.IsZero() || joined.Before(since))
	}, err
}
