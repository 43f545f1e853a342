package awsops_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// The attacker's bucket policy admits an account of the organisation that
// aws.accounts does not name, and that joined it before the incident's
// window. With the organisation configured, keyleak reads its accounts
// from AWS Organizations and finds no door; without it, or with another
// organisation configured, the account is outside (a door), and with the
// wrong one the investigation says why it could not tell. An account the
// leaked key itself created in the organisation (the management
// account's key: its root is the attacker's) joined during the window,
// and a door to it is one whatever is configured.
func TestOrganisationAccountsAreNotOutside(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	ctx := t.Context()
	adminCfg, orgID := newOrganisation(t, s)
	member := newMemberAccount(t, adminCfg)
	// The window begins after the member joined (CloudTrail's times are
	// to the second); the attacker acts in it.
	time.Sleep(1100 * time.Millisecond)
	since := time.Now().Truncate(time.Second)
	time.Sleep(1100 * time.Millisecond)
	theirs, err := organizations.NewFromConfig(s.w.Config("us-east-1", s.leaked)).CreateAccount(ctx,
		&organizations.CreateAccountInput{AccountName: aws.String("x"), Email: aws.String("attacker@evil.example")})
	if err != nil {
		t.Fatalf("organizations:CreateAccount with the leaked key: %v", err)
	}
	attackers := aws.ToString(theirs.CreateAccountStatus.AccountId)
	leaked := s3.NewFromConfig(s.w.Config("us-east-1", s.leaked), func(o *s3.Options) { o.UsePathStyle = true })
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"DataLake","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + member +
		`:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::config-bucket/*"},{"Sid":"Theirs","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` +
		attackers + `:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::config-bucket/*"}]}`
	if _, err := leaked.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("config-bucket"), Policy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	key, _ := awsops.ParseAccessKeyID(s.leaked.AccessKeyID)
	for _, tc := range []struct {
		name string
		orgs []string
		door bool
		gap  string
	}{
		{"the organisation configured", []string{orgID}, false, ""},
		{"none configured", nil, true, ""},
		{"another configured", []string{"o-zzzzzzzzzz"}, true, "not of o-zzzzzzzzzz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := awsops.NewFromConfig(adminCfg, awsops.Options{Regions: []string{"us-east-1"}, Organizations: tc.orgs})
			inv, err := c.Investigate(ctx, key, awsops.InvestigateOptions{Path: awsops.PathLookup, Since: since})
			if err != nil {
				t.Fatal(err)
			}
			doorTo := func(account string) bool {
				return slices.ContainsFunc(inv.Resources, func(r awsops.Resource) bool {
					d, ok := awsops.DoorOf(r)
					return ok && d.Kind == awsops.DoorBucketPolicy && strings.Contains(d.Opening, account)
				})
			}
			if door := doorTo(member); door != tc.door {
				t.Errorf("a door to %s found: %v, want %v (resources %+v)", member, door, tc.door, inv.Resources)
			}
			if !doorTo(attackers) {
				t.Errorf("no door to %s, the account the leaked key created in the organisation (resources %+v)", attackers, inv.Resources)
			}
			// The check of the policy as it is now keeps it outside too,
			// though AWS Organizations lists it.
			for _, r := range inv.Resources {
				if d, ok := awsops.DoorOf(r); ok && d.Kind == awsops.DoorBucketPolicy && r.Exists != awsops.ExistsYes {
					t.Errorf("the bucket policy's check says %s (%s), want it still open", r.Exists, r.ExistsDetail)
				}
			}
			gap := slices.ContainsFunc(inv.Gaps, func(g awsops.Gap) bool {
				return strings.Contains(g.Reason, "organisation's accounts could not be listed") && strings.Contains(g.Reason, tc.gap)
			})
			if gap != (tc.gap != "") {
				t.Errorf("the gap saying the organisation's accounts are not known: %v, want %v (gaps %+v)", gap, tc.gap != "", inv.Gaps)
			}
		})
	}
}

// The organisation's accounts are read once an hour: a second
// investigation within the hour asks AWS Organizations nothing, one after
// it reads them again. A failed read is tried again after five minutes.
func TestOrganisationAccountsAreReadHourly(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	ctx := t.Context()
	adminCfg, orgID := newOrganisation(t, s)
	start := time.Now()
	var passed atomic.Int64 // how far the clock moved from start
	now := func() time.Time { return start.Add(time.Duration(passed.Load())) }
	reads := func() (n int) {
		for _, e := range s.w.Gateway.Events() {
			if e.EventName == "ListAccounts" {
				n++
			}
		}
		return n
	}
	key, _ := awsops.ParseAccessKeyID(s.leaked.AccessKeyID)
	investigate := func(c *awsops.Client) *awsops.Investigation {
		t.Helper()
		inv, err := c.Investigate(ctx, key, awsops.InvestigateOptions{Path: awsops.PathLookup, Since: start.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	c := awsops.NewFromConfig(adminCfg, awsops.Options{Regions: []string{"us-east-1"}, Organizations: []string{orgID}, Now: now})
	for _, step := range []struct {
		after time.Duration
		reads int
	}{{0, 1}, {30 * time.Minute, 1}, {61 * time.Minute, 2}} {
		passed.Store(int64(step.after))
		investigate(c)
		if got := reads(); got != step.reads {
			t.Errorf("%s on: organizations:ListAccounts called %d times, want %d", step.after, got, step.reads)
		}
	}

	// A read that fails (ListAccounts refused) is not tried again for
	// five minutes, and each investigation meanwhile says so.
	s.w.Gateway.SetFault("organizations", world.Fault{ErrorRate: 1})
	failing := awsops.NewFromConfig(adminCfg, awsops.Options{Regions: []string{"us-east-1"}, Organizations: []string{orgID}, Now: now})
	calls := func() (n int) {
		for _, e := range s.w.Gateway.Events() {
			if strings.HasPrefix(e.EventSource, "organizations.") {
				n++
			}
		}
		return n
	}
	passed.Store(0)
	for i, after := range []time.Duration{0, 4 * time.Minute, 6 * time.Minute} {
		before := calls()
		passed.Store(int64(after))
		inv := investigate(failing)
		if !slices.ContainsFunc(inv.Gaps, func(g awsops.Gap) bool {
			return strings.Contains(g.Reason, "organisation's accounts could not be listed")
		}) {
			t.Errorf("%s on: the investigation does not say the organisation's accounts are not known: %+v", after, inv.Gaps)
		}
		if asked := calls() > before; asked != (i != 1) {
			t.Errorf("%s on: AWS Organizations asked: %v, want %v", after, asked, i != 1)
		}
	}
}

// keyleak doctor reads the organisation's accounts as investigations do,
// and names those aws.accounts leaves out (the responder role is not
// checked there); it says how to let keyleak read them when it cannot.
func TestPreflightReadsTheOrganisation(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	ctx := t.Context()
	adminCfg, orgID := newOrganisation(t, s)
	member := newMemberAccount(t, adminCfg)
	check := func(orgID string) awsops.Check {
		t.Helper()
		c := awsops.NewFromConfig(adminCfg, awsops.Options{Organizations: []string{orgID}})
		for _, ch := range c.Preflight(ctx, awsops.PreflightOptions{}) {
			if ch.Name == "aws organisation" {
				return ch
			}
		}
		t.Fatalf("keyleak doctor has no organisation check with aws.organizations %s", orgID)
		return awsops.Check{}
	}
	ok := check(orgID)
	if ok.Err != nil || !strings.Contains(ok.Detail, "2 accounts of "+orgID) || !strings.Contains(ok.Detail, "not checked there: "+member) {
		t.Errorf("the organisation check: %q (%v), want 2 accounts read and %s named as not checked", ok.Detail, ok.Err, member)
	}
	bad := check("o-zzzzzzzzzz")
	if bad.Err == nil || !strings.Contains(bad.Fix, "delegated administrator") {
		t.Errorf("with another organisation configured the check says %q (%v), fix %q", bad.Detail, bad.Err, bad.Fix)
	}
}

// One read of the organisation's accounts runs at a time, and a caller
// waiting for another's read waits only as long as its own context lasts:
// it gets its context's error, not a read it could not wait for.
func TestOrganisationReadWaitsWithTheCallersContext(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	ctx := t.Context()
	adminCfg, orgID := newOrganisation(t, s)
	start := time.Now()
	var passed atomic.Int64
	c := awsops.NewFromConfig(adminCfg, awsops.Options{Organizations: []string{orgID},
		Now: func() time.Time { return start.Add(time.Duration(passed.Load())) }})
	organisation := func(ctx context.Context) awsops.Check {
		for _, ch := range c.Preflight(ctx, awsops.PreflightOptions{}) {
			if ch.Name == "aws organisation" {
				return ch
			}
		}
		return awsops.Check{Err: errors.New("keyleak doctor has no organisation check")}
	}
	if ch := organisation(ctx); ch.Err != nil { // (keyleak's identity is known from now on)
		t.Fatalf("the organisation check: %v", ch.Err)
	}
	// An hour on, the list is read again, and AWS Organizations is slow.
	passed.Store(int64(61 * time.Minute))
	s.w.Gateway.SetFault("organizations", world.Fault{Delay: 3 * time.Second})
	first := make(chan awsops.Check, 1)
	go func() { first <- organisation(ctx) }()
	time.Sleep(500 * time.Millisecond) // (had the read not begun, the next call begins it and fails alike)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if ch := organisation(short); !errors.Is(ch.Err, context.DeadlineExceeded) {
		t.Errorf("a caller whose context ended while another read the organisation got %q (%v), want its context's error", ch.Detail, ch.Err)
	}
	if ch := <-first; ch.Err != nil {
		t.Errorf("the slow read: %v", ch.Err)
	}
}

// newOrganisation makes the world's default account the management account
// of a new organisation, and returns its configuration and the
// organisation's ID.
func newOrganisation(t *testing.T, s *ctSeed) (aws.Config, string) {
	t.Helper()
	cfg := s.w.Config("us-east-1", s.w.Admin(world.DefaultAccount))
	org, err := organizations.NewFromConfig(cfg).CreateOrganization(t.Context(), &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll})
	if err != nil {
		t.Fatalf("organizations:CreateOrganization in the local world: %v", err)
	}
	return cfg, aws.ToString(org.Organization.Id)
}

// newMemberAccount creates an account in the organisation and returns its
// ID.
func newMemberAccount(t *testing.T, management aws.Config) string {
	t.Helper()
	made, err := organizations.NewFromConfig(management).CreateAccount(t.Context(),
		&organizations.CreateAccountInput{AccountName: aws.String("data-lake"), Email: aws.String("data-lake@example.com")})
	if err != nil {
		t.Fatalf("organizations:CreateAccount: %v", err)
	}
	member := aws.ToString(made.CreateAccountStatus.AccountId)
	if len(member) != 12 || member == world.DefaultAccount {
		t.Fatalf("the new account's ID is %q", member)
	}
	return member
}
