package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Kinds of resource cleanup removes.
const (
	CleanupInstance    = "ec2-instance"
	CleanupSpotRequest = "ec2-spot-request"
	CleanupFunction    = "lambda-function"
	CleanupUser        = "iam-user"
	CleanupRole        = "iam-role"
	CleanupAccessKey   = "iam-access-key"
)

// ParamResources holds the resources a cleanup removes, frozen as JSON.
const ParamResources = "resources"

// CleanupItem is a resource the key or its sessions created, with the
// CloudTrail event that shows it was created.
type CleanupItem struct {
	Kind      string    `json:"kind"`   // one of the Cleanup… kinds
	ID        string    `json:"id"`     // instance ID, spot request ID, function name, user name, role name or access key ID
	Region    string    `json:"region"` // for EC2 and Lambda
	Account   string    `json:"account"`
	EventID   string    `json:"event_id"`
	EventName string    `json:"event_name"`
	EventTime time.Time `json:"event_time"`
	// UniqueID is the user's or role's ID (AIDA…, AROA…) the creating
	// event gave it: a user or role of the same name made later is not
	// the attacker's, and is not deleted.
	UniqueID string `json:"unique_id,omitempty"`
	// Owner is the user of a service credential; On the cluster of an
	// access entry.
	Owner string `json:"owner,omitempty"`
	On    string `json:"on,omitempty"`
	// Ref holds the parameters that name it beside its ID (Resource.Ref).
	Ref map[string]string `json:"ref,omitempty"`
}

func (it CleanupItem) String() string {
	where := it.Account
	if it.Region != "" {
		where += " " + it.Region
	}
	return fmt.Sprintf("%s %s (%s)", it.Kind, it.ID, where)
}

// evidence is the line that shows why it may be deleted.
func (it CleanupItem) evidence() string {
	return fmt.Sprintf("%s: created by %s at %s (CloudTrail event %s)", it, it.EventName, it.EventTime.UTC().Format(time.RFC3339), it.EventID)
}

// cleanupStep is one call of a removal, planned and executed alike.
type cleanupStep struct {
	call string
	run  func(ctx context.Context) error
}

// encodeCleanupItems freezes items as a plan parameter.
func encodeCleanupItems(items []CleanupItem) string {
	b, _ := json.Marshal(items)
	return string(b)
}

// PlanCleanup plans removing each item, one by one, each with its
// evidence. Items without evidence, of an unknown kind, or that keyleak
// must not touch (the key's own user, protected principals) are refused.
func (c *Client) PlanCleanup(ctx context.Context, t Target, items []CleanupItem) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	p := ActionPlan{Params: map[string]string{ParamResources: encodeCleanupItems(items)}}
	var gone []string
	for _, it := range items {
		steps, err := r.cleanupSteps(ctx, it)
		if err != nil {
			return ActionPlan{}, err
		}
		if len(steps) == 0 {
			gone = append(gone, it.String())
			continue
		}
		p.Impact = append(p.Impact, "Irreversible: "+it.evidence())
		for _, s := range steps {
			p.Calls = append(p.Calls, s.call)
		}
	}
	if len(gone) > 0 {
		p.Impact = append(p.Impact, "Already gone: "+strings.Join(gone, ", "))
	}
	if len(p.Calls) == 0 {
		return ActionPlan{Noop: "already gone: " + strings.Join(gone, ", ")}, nil
	}
	return p, nil
}

// ExecuteCleanup removes the frozen items (params[ParamResources]) one by
// one. An item that fails does not stop the others.
func (c *Client) ExecuteCleanup(ctx context.Context, t Target, params map[string]string) (Result, error) {
	var items []CleanupItem
	if err := json.Unmarshal([]byte(params[ParamResources]), &items); err != nil || len(items) == 0 {
		return Result{}, fmt.Errorf("cleanup: no resources were frozen in the request: %v", err)
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	var failed partFailures
	removed := 0
	for _, it := range items {
		steps, err := r.cleanupSteps(ctx, it)
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", it, err))
			continue
		}
		if len(steps) == 0 {
			r.did("%s was already gone", it)
			removed++
			continue
		}
		if err := r.runSteps(ctx, steps); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", it, err))
			continue
		}
		removed++
		r.did("removed %s (%d calls)", it, len(steps))
	}
	if len(failed) > 0 {
		return r.finish(fmt.Errorf("cleanup: %d of %d removed; not removed: %w", removed, len(items), failed))
	}
	return r.finish(nil)
}

func (r *containRun) runSteps(ctx context.Context, steps []cleanupStep) error {
	for _, s := range steps {
		err := r.write(s.call, func() error {
			if err := s.run(ctx); err != nil && !goneAlready(err) {
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// cleanupSteps reads the item's current state and returns the calls that
// remove it, none when it is gone.
func (r *containRun) cleanupSteps(ctx context.Context, it CleanupItem) ([]cleanupStep, error) {
	if it.Account == "" {
		it.Account = r.t.Account
	}
	if it.EventID == "" {
		return nil, refusal(ErrNoEvidence, "%s comes without evidence (no CloudTrail event shows who created it); keyleak deletes only what it can show the attacker made", it)
	}
	switch it.Kind {
	case CleanupInstance, CleanupSpotRequest:
		cfg, err := r.config(ctx, it.Account)
		if err != nil {
			return nil, err
		}
		cfg.Region = it.Region
		client := ec2.NewFromConfig(cfg)
		if it.Kind == CleanupInstance {
			return r.instanceSteps(ctx, client, it.Region, it.ID)
		}
		return r.spotSteps(ctx, client, it)
	case CleanupFunction:
		cfg, err := r.config(ctx, it.Account)
		if err != nil {
			return nil, err
		}
		cfg.Region = it.Region
		return functionSteps(ctx, lambda.NewFromConfig(cfg), it)
	case CleanupUser, CleanupRole, CleanupAccessKey:
		client, err := r.iamIn(ctx, it.Account)
		if err != nil {
			return nil, err
		}
		switch it.Kind {
		case CleanupUser:
			return r.userSteps(ctx, client, it)
		case CleanupRole:
			return r.roleSteps(ctx, client, it)
		default:
			return r.accessKeySteps(ctx, client, it)
		}
	}
	if steps, ok, err := r.doorCleanupSteps(ctx, it); ok {
		return steps, err
	}
	return nil, refusal(ErrUnknownResource, "keyleak cannot remove %q resources (%s); remove it by hand", it.Kind, it.ID)
}

func (r *containRun) instanceSteps(ctx context.Context, client *ec2.Client, region, id string) ([]cleanupStep, error) {
	out, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if goneAlready(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ec2:DescribeInstances %s: %w", id, err)
	}
	for _, res := range out.Reservations {
		for _, in := range res.Instances {
			if in.State != nil && (in.State.Name == ec2types.InstanceStateNameTerminated || in.State.Name == ec2types.InstanceStateNameShuttingDown) {
				return nil, nil
			}
			var steps []cleanupStep
			// Attackers turn on termination protection to keep their miners.
			attr, err := client.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
				InstanceId: aws.String(id), Attribute: ec2types.InstanceAttributeNameDisableApiTermination})
			if err != nil {
				return nil, fmt.Errorf("ec2:DescribeInstanceAttribute %s: %w", id, err)
			}
			if attr.DisableApiTermination != nil && aws.ToBool(attr.DisableApiTermination.Value) {
				steps = append(steps, cleanupStep{
					call: fmt.Sprintf("ec2:ModifyInstanceAttribute %s InstanceId=%s DisableApiTermination=false", region, id),
					run: func(ctx context.Context) error {
						_, err := client.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
							InstanceId: aws.String(id), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)}})
						return err
					},
				})
			}
			return append(steps, cleanupStep{
				call: fmt.Sprintf("ec2:TerminateInstances %s InstanceId=%s", region, id),
				run: func(ctx context.Context) error {
					_, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
					return err
				},
			}), nil
		}
	}
	return nil, nil
}

func (r *containRun) spotSteps(ctx context.Context, client *ec2.Client, it CleanupItem) ([]cleanupStep, error) {
	out, err := client.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{it.ID}})
	if goneAlready(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ec2:DescribeSpotInstanceRequests %s: %w", it.ID, err)
	}
	var steps []cleanupStep
	for _, req := range out.SpotInstanceRequests {
		switch req.State {
		case ec2types.SpotInstanceStateCancelled, ec2types.SpotInstanceStateClosed:
		default:
			steps = append(steps, cleanupStep{
				call: fmt.Sprintf("ec2:CancelSpotInstanceRequests %s SpotInstanceRequestId=%s", it.Region, it.ID),
				run: func(ctx context.Context) error {
					_, err := client.CancelSpotInstanceRequests(ctx, &ec2.CancelSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{it.ID}})
					return err
				},
			})
		}
		// Cancelling a request leaves its instance running.
		if id := aws.ToString(req.InstanceId); id != "" {
			more, err := r.instanceSteps(ctx, client, it.Region, id)
			if err != nil {
				return nil, err
			}
			steps = append(steps, more...)
		}
	}
	return steps, nil
}

func functionSteps(ctx context.Context, client *lambda.Client, it CleanupItem) ([]cleanupStep, error) {
	if _, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(it.ID)}); goneAlready(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("lambda:GetFunction %s: %w", it.ID, err)
	}
	return []cleanupStep{{
		call: fmt.Sprintf("lambda:DeleteFunction %s FunctionName=%s", it.Region, it.ID),
		run: func(ctx context.Context) error {
			_, err := client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(it.ID)})
			return err
		},
	}}, nil
}

func (r *containRun) accessKeySteps(ctx context.Context, client *iam.Client, it CleanupItem) ([]cleanupStep, error) {
	if it.ID == r.t.AccessKeyID {
		return nil, refusal(ErrProtected, "%s is the leaked key itself: use deactivate, then delete-key", it.ID)
	}
	last, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(it.ID)})
	if goneAlready(err) || err == nil && aws.ToString(last.UserName) == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("owner of %s (iam:GetAccessKeyLastUsed): %w", it.ID, err)
	}
	user := aws.ToString(last.UserName)
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if goneAlready(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys of %s (iam:ListAccessKeys): %w", user, err)
	}
	for _, k := range keys.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == it.ID {
			return []cleanupStep{deleteKeyStep(client, it.Account, user, it.ID)}, nil
		}
	}
	return nil, nil
}

func deleteKeyStep(client *iam.Client, account, user, id string) cleanupStep {
	return cleanupStep{
		call: fmt.Sprintf("iam:DeleteAccessKey arn:aws:iam::%s:user/%s AccessKeyId=%s", account, user, id),
		run: func(ctx context.Context) error {
			_, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
			return err
		},
	}
}
