package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// replicationRead is a bucket's replication configuration now; nil when
// it has none or the bucket is gone.
func replicationRead(ctx context.Context, client *s3.Client, bucket string) (*s3types.ReplicationConfiguration, error) {
	out, err := client.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(bucket)})
	if isAPIError(err, "ReplicationConfigurationNotFoundError", "NoSuchBucket") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replication of %s (s3:GetBucketReplication): %w", bucket, err)
	}
	return out.ReplicationConfiguration, nil
}

// replicationTargets are the destination buckets a replication door
// sends to, from whom it admits ("arn:aws:s3:::b (account 1234…)").
func replicationTargets(it DoorItem) []string {
	var out []string
	for _, w := range it.admitted() {
		out = append(out, strings.Fields(w)[0])
	}
	return out
}

// toTargets reports whether a rule sends to one of targets.
func toTargets(targets []string) func(s3types.ReplicationRule) bool {
	return func(r s3types.ReplicationRule) bool {
		return r.Destination != nil && slices.Contains(targets, aws.ToString(r.Destination.Bucket))
	}
}

// replicationClosing deletes the bucket's replication when all its rules
// send to the door's destinations. Rewriting it with other rules kept
// would name the replication role again, which takes iam:PassRole:
// keyleak refuses and says which rules to remove by hand.
func replicationClosing(ctx context.Context, client *s3.Client, it DoorItem) (doorState, error) {
	conf, err := replicationRead(ctx, client, it.ID)
	if err != nil || conf == nil {
		return doorState{}, err
	}
	targets := replicationTargets(it)
	if !slices.ContainsFunc(conf.Rules, toTargets(targets)) {
		return doorState{}, nil
	}
	if kept := slices.DeleteFunc(slices.Clone(conf.Rules), toTargets(targets)); len(kept) > 0 {
		var ids []string
		for _, r := range conf.Rules {
			if toTargets(targets)(r) {
				ids = append(ids, aws.ToString(r.ID))
			}
		}
		return doorState{}, refusal(ErrPassRole, "bucket %s replicates to %s under rules %s beside %d rules of its own; keeping those means writing the replication again with its role, which takes iam:PassRole: remove the rules %s by hand (S3 console, Management, Replication rules)",
			it.ID, strings.Join(targets, ", "), strings.Join(ids, ", "), len(kept), strings.Join(ids, ", "))
	}
	prior, _ := json.Marshal(conf)
	return doorState{prior: string(prior), steps: []cleanupStep{step("s3:DeleteBucketReplication "+it.ID+" (every rule sends to "+strings.Join(targets, ", ")+")",
		func(ctx context.Context) error {
			_, err := client.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String(it.ID)})
			return err
		})}}, nil
}

// replicationReopening would put the configuration back, which takes
// iam:PassRole: it says so, with the configuration the close recorded.
func replicationReopening(ctx context.Context, client *s3.Client, it DoorItem) ([]cleanupStep, error) {
	conf, err := replicationRead(ctx, client, it.ID)
	if err != nil {
		return nil, err
	}
	if now, _ := json.Marshal(conf); string(now) == it.Prior {
		return nil, nil // as it was
	}
	return nil, refusal(ErrPassRole, "putting back the replication of %s names its role, which takes iam:PassRole: if it must be restored, write it by hand from the close request's record: %s", it.ID, it.Prior)
}
