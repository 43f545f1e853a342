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
// Where the list cannot be read, the accounts Options.Accounts names are
// the organisation's, and the investigation says so.

// orgAccounts is the organisation's accounts as last read.
type orgAccounts struct {
	mu       sync.Mutex // held while they are read: one read at a time
	accounts map[string]bool
	read     time.Time // when they were read, or the read failed
	err      error
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

// organisationAccounts returns the accounts of the organisation of
// keyleak's own credentials, when it is one of Options.Organizations; nil
// and no error when no organisation is configured.
func (c *Client) organisationAccounts(ctx context.Context) (map[string]bool, error) {
	if len(c.opts.Organizations) == 0 {
		return nil, nil
	}
	o := &c.org
	o.mu.Lock()
	defer o.mu.Unlock()
	now := c.Now()
	switch {
	case o.err == nil && !o.read.IsZero() && now.Sub(o.read) < orgAccountsFresh:
		return o.accounts, nil
	case o.err != nil && now.Sub(o.read) < orgAccountsRetry:
		return o.accounts, o.err
	}
	accounts, err := c.listOrganisationAccounts(ctx)
	if err != nil && ctx.Err() != nil {
		return o.accounts, err // not kept: the caller gave up
	}
	o.read, o.err = now, err
	if err == nil {
		o.accounts = accounts
	}
	return o.accounts, err
}

func (c *Client) listOrganisationAccounts(ctx context.Context) (map[string]bool, error) {
	client, err := cachedClient(ctx, c, "organizations", "", "us-east-1", func(cfg aws.Config) *organizations.Client { return organizations.NewFromConfig(cfg) })
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
	accounts := map[string]bool{}
	pages := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("organizations:ListAccounts: %s", describeAWSError(err))
		}
		for _, a := range out.Accounts {
			if id := aws.ToString(a.Id); validAccount(id, false) {
				accounts[id] = true
			}
		}
		if len(accounts) > maxOrgAccounts {
			return nil, fmt.Errorf("organizations:ListAccounts: more than %d accounts", maxOrgAccounts)
		}
	}
	return accounts, nil
}

// ownIn reports whether an account, or an organisation ID, is of the
// organisation of account: account itself, Options.Accounts,
// Options.Organizations and the organisation's accounts as AWS
// Organizations lists them. err says why that list could not be read;
// own then knows the others.
func (c *Client) ownIn(ctx context.Context, account string) (own func(string) bool, err error) {
	listed, err := c.organisationAccounts(ctx)
	return func(a string) bool {
		return a == account || slices.Contains(c.opts.Accounts, a) || slices.Contains(c.opts.Organizations, a) || listed[a]
	}, err
}
