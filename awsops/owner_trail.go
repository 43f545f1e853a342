package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/keyleak/keyleak/awsops/trail"
)

// KeyStatusDeleted is Identity.Status for a key IAM no longer has.
const KeyStatusDeleted = "Deleted"

// Deletion says when and by whom a key was deleted, from its
// DeleteAccessKey event.
type Deletion struct {
	At      time.Time `json:"at"`
	By      string    `json:"by,omitempty"` // the caller's ARN
	EventID string    `json:"event_id,omitempty"`
}

// Where the owner of a key was found.
const (
	OwnerFromIAM   = "iam:GetAccessKeyLastUsed"
	OwnerFromTrail = "CloudTrail (the key is no longer in IAM)"
)

// errNotInTrail means CloudTrail holds no event of a key.
var errNotInTrail = errors.New("no CloudTrail event of the key")

// trailOwner is what CloudTrail tells of a key IAM no longer has.
type trailOwner struct {
	userName, arn string
	root          bool
	created       *time.Time
	deleted       *Deletion
}

// ownerFromTrail names the owner of a key that IAM no longer has, from
// CloudTrail: the key's own IAM events (CreateAccessKey, DeleteAccessKey,
// recorded in us-east-1) and, failing those, the identity of any call
// made with it, region by region. AWS's own exposed-key automation and a
// hasty owner both delete keys; every record still says whose key it was.
func (c *Client) ownerFromTrail(ctx context.Context, key KeyID, account string, regions []string) (trailOwner, error) {
	var o trailOwner
	iamRegion := c.globalEventRegion()
	err := c.lookupAll(ctx, account, iamRegion, cttypes.LookupAttributeKeyResourceName, key.String(), func(rec *trail.Record) bool {
		if rec.ErrorCode != "" {
			return true
		}
		switch rec.EventName {
		case "CreateAccessKey":
			var resp struct {
				AccessKey struct {
					AccessKeyID string `json:"accessKeyId"`
					UserName    string `json:"userName"`
				} `json:"accessKey"`
			}
			_ = json.Unmarshal(rec.ResponseElements, &resp)
			if resp.AccessKey.AccessKeyID != "" && resp.AccessKey.AccessKeyID != key.String() {
				return true
			}
			at := rec.EventTime.UTC()
			o.created = &at
			o.userName = cmp.Or(resp.AccessKey.UserName, requestUserName(rec), rec.UserIdentity.UserName)
		case "DeleteAccessKey":
			o.deleted = &Deletion{At: rec.EventTime.UTC(), By: rec.UserIdentity.ARN, EventID: rec.EventID}
			if o.userName == "" {
				o.userName = cmp.Or(requestUserName(rec), rec.UserIdentity.UserName)
			}
		}
		return true
	})
	if err != nil {
		return o, err
	}
	// The caller of any call made with the key is its owner.
	order := append([]string{iamRegion}, regions...)
	for i, region := range order {
		if o.arn != "" || o.root {
			break
		}
		if i > 0 && region == iamRegion {
			continue // looked in already
		}
		err := c.lookupAll(ctx, account, region, cttypes.LookupAttributeKeyAccessKeyId, key.String(), func(rec *trail.Record) bool {
			switch u := rec.UserIdentity; {
			case u.AccessKeyID != key.String():
				return true
			case u.Type == "Root":
				o.root, o.arn, o.userName = true, u.ARN, ""
				return false
			case u.Type == "IAMUser" && u.ARN != "":
				o.arn, o.userName = u.ARN, u.UserName
				return false
			}
			return true
		}, 1)
		if err != nil {
			return o, err
		}
	}
	if o.arn == "" && o.userName != "" {
		o.arn = "arn:" + partitionOf(iamRegion) + ":iam::" + account + ":user/" + o.userName
	}
	if o.arn == "" && !o.root {
		return o, errNotInTrail
	}
	return o, nil
}

// requestUserName is requestParameters.userName of an IAM call.
func requestUserName(rec *trail.Record) string {
	var req struct {
		UserName string `json:"userName"`
	}
	_ = json.Unmarshal(rec.RequestParameters, &req)
	return req.UserName
}

// lookupAll looks attr=value up over CloudTrail's 90 days in one region,
// handing each record to fn until it returns false, for at most maxPages
// pages (20 when not given).
func (c *Client) lookupAll(ctx context.Context, account, region string, attr cttypes.LookupAttributeKey, value string, fn func(*trail.Record) bool, maxPages ...int) error {
	ct, err := c.cloudtrailClient(ctx, account, region)
	if err != nil {
		return err
	}
	now := c.Now()
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: attr, AttributeValue: aws.String(value)}},
		StartTime:        aws.Time(now.Add(-maxWindow)), EndTime: aws.Time(now),
	}
	pages := 20
	if len(maxPages) > 0 {
		pages = maxPages[0]
	}
	for range pages {
		out, err := ct.LookupEvents(ctx, in)
		if err != nil {
			return fmt.Errorf("cloudtrail:LookupEvents of %s in %s: %s", value, region, describeAWSError(err))
		}
		for _, e := range out.Events {
			var rec trail.Record
			if e.CloudTrailEvent == nil || trail.Decode([]byte(*e.CloudTrailEvent), &rec) != nil {
				continue
			}
			if !fn(&rec) {
				return nil
			}
		}
		if out.NextToken == nil {
			return nil
		}
		in.NextToken = out.NextToken
	}
	return nil
}

// globalEventRegion is where CloudTrail records the calls to IAM and the
// other global services of keyleak's partition: us-east-1 in the
// commercial partition, the home region elsewhere.
func (c *Client) globalEventRegion() string {
	if partitionOf(c.base.Region) == "aws" {
		return "us-east-1"
	}
	return c.base.Region
}
