package awsops

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ConfigIn exposes, to the external tests, the configuration the client
// acts with in account.
func (c *Client) ConfigIn(ctx context.Context, account string) (aws.Config, error) {
	return c.account(ctx, account)
}

// NewSES exposes newSES to the external tests.
func NewSES(cfg aws.Config) *SES { return newSES(cfg) }

// TrailPassOver runs the trail-first pass from root over bucket (log files
// under AWSLogs/) in w, and returns the credentials it tracked and the
// calls of theirs it counted.
func (c *Client) TrailPassOver(ctx context.Context, client *s3.Client, bucket string, root Session, w Window) (keys []string, calls int) {
	tr := newTracker(root)
	layout := trailLayout{bucket: bucket, root: "AWSLogs/"}
	p := newTrailPass(c, tr, client, layout, w, w.End)
	listing := listTrail(ctx, client, layout, root.Account, w.Start, w.End, w.End)
	p.accounts[root.Account] = listing
	p.pending++
	p.enqueue(listing)
	p.follow(ctx)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.order), tr.total.events
}

// SeeIPsElsewhere asks where else the attacker's addresses of inv were
// seen, as an investigation does at its end.
func (c *Client) SeeIPsElsewhere(ctx context.Context, inv *Investigation, o AthenaOptions) {
	c.seeIPsElsewhere(ctx, inv, o)
}

// PermissionInputOf is the AddPermission that reopen makes of a closed
// function permission.
func PermissionInputOf(it DoorItem) (*lambda.AddPermissionInput, error) { return permissionInput(it) }
