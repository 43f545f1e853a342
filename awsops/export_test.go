package awsops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ConfigIn exposes, to the external tests, the configuration the client
// acts with in account.
func (c *Client) ConfigIn(ctx context.Context, account string) (aws.Config, error) {
	return c.account(ctx, account)
}

// NewSES exposes newSES to the external tests.
func NewSES(cfg aws.Config) *SES { return newSES(cfg) }
