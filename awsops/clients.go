package awsops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// clientKey names one SDK client: a service in an account and region
// ("" for keyleak's own account, or a global service's home region).
type clientKey struct{ service, account, region string }

// cachedClient returns the client of service in account and region,
// building it once from the account's configuration. Containment runs
// build their own, which record the request ID of every call.
func cachedClient[T any](ctx context.Context, c *Client, service, account, region string, build func(aws.Config) T) (T, error) {
	key := clientKey{service, account, region}
	c.mu.Lock()
	v, ok := c.clients[key]
	c.mu.Unlock()
	if ok {
		return v.(T), nil
	}
	cfg, err := c.regionConfig(ctx, account, region)
	if err != nil {
		var zero T
		return zero, err
	}
	client := build(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.clients[key]; ok {
		return v.(T), nil // built meanwhile by another caller
	}
	c.clients[key] = client
	return client, nil
}

func (c *Client) iamClient(ctx context.Context, account string) (*iam.Client, error) {
	return cachedClient(ctx, c, "iam", account, "", func(cfg aws.Config) *iam.Client { return iam.NewFromConfig(cfg) })
}

func (c *Client) ec2Client(ctx context.Context, account, region string) (*ec2.Client, error) {
	return cachedClient(ctx, c, "ec2", account, region, func(cfg aws.Config) *ec2.Client { return ec2.NewFromConfig(cfg) })
}

func (c *Client) lambdaClient(ctx context.Context, account, region string) (*lambda.Client, error) {
	return cachedClient(ctx, c, "lambda", account, region, func(cfg aws.Config) *lambda.Client { return lambda.NewFromConfig(cfg) })
}

func (c *Client) cloudtrailClient(ctx context.Context, account, region string) (*cloudtrail.Client, error) {
	return cachedClient(ctx, c, "cloudtrail", account, region, func(cfg aws.Config) *cloudtrail.Client {
		return cloudtrail.NewFromConfig(cfg, c.lookups.paced(account))
	})
}

// costClient is Cost Explorer's, whose endpoint is in us-east-1.
func (c *Client) costClient(ctx context.Context, account string) (*costexplorer.Client, error) {
	return cachedClient(ctx, c, "ce", account, "us-east-1", func(cfg aws.Config) *costexplorer.Client { return costexplorer.NewFromConfig(cfg) })
}

// s3Client addresses buckets by path when the endpoint is local or
// private. region is the bucket's, or "" for the home region.
func (c *Client) s3Client(ctx context.Context, account, region string) (*s3.Client, error) {
	return cachedClient(ctx, c, "s3", account, region, func(cfg aws.Config) *s3.Client {
		return s3.NewFromConfig(cfg, func(o *s3.Options) {
			if o.BaseEndpoint != nil {
				o.UsePathStyle = true
			}
		})
	})
}

// stsClient is keyleak's own STS client.
func (c *Client) stsClient() *sts.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := clientKey{service: "sts"}
	if v, ok := c.clients[key]; ok {
		return v.(*sts.Client)
	}
	client := sts.NewFromConfig(c.base)
	c.clients[key] = client
	return client
}
