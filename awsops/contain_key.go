package awsops

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// Access key statuses as IAM reports them, plus KeyDeleted for a key
// that no longer exists.
const (
	KeyActive   = "Active"
	KeyInactive = "Inactive"
	KeyDeleted  = "deleted"
)

// keyStatus is the status of the target's key: Active, Inactive or
// KeyDeleted.
func (r *containRun) keyStatus(ctx context.Context) (string, error) {
	p := iam.NewListAccessKeysPaginator(r.iam, &iam.ListAccessKeysInput{UserName: aws.String(r.t.UserName)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if goneAlready(err) {
			return KeyDeleted, nil // the user is gone, and its keys with it
		}
		if err != nil {
			return "", fmt.Errorf("status of %s (iam:ListAccessKeys %s): %w", r.t.AccessKeyID, r.t.UserName, err)
		}
		for _, k := range page.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == r.t.AccessKeyID {
				return string(k.Status), nil
			}
		}
	}
	return KeyDeleted, nil
}

func (r *containRun) updateKeyCall(status string) string {
	return fmt.Sprintf("iam:UpdateAccessKey %s AccessKeyId=%s Status=%s", r.t.UserARN, r.t.AccessKeyID, status)
}

// PlanDeactivate plans setting the key Inactive (it can be reactivated).
func (c *Client) PlanDeactivate(ctx context.Context, t Target) (ActionPlan, error) {
	return c.planKeyStatus(ctx, t, KeyInactive)
}

// ExecuteDeactivate sets the key Inactive; an Inactive key is left alone.
func (c *Client) ExecuteDeactivate(ctx context.Context, t Target) (Result, error) {
	return c.executeKeyStatus(ctx, t, KeyInactive)
}

// PlanReactivate plans setting the key Active again (the undo of deactivate).
func (c *Client) PlanReactivate(ctx context.Context, t Target) (ActionPlan, error) {
	return c.planKeyStatus(ctx, t, KeyActive)
}

// ExecuteReactivate sets the key Active; an Active key is left alone.
func (c *Client) ExecuteReactivate(ctx context.Context, t Target) (Result, error) {
	return c.executeKeyStatus(ctx, t, KeyActive)
}

func (c *Client) planKeyStatus(ctx context.Context, t Target, want string) (ActionPlan, error) {
	verb := "deactivate"
	if want == KeyActive {
		verb = "reactivate"
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	if err := r.checkUser(ctx, verb); err != nil {
		return ActionPlan{}, err
	}
	status, err := r.keyStatus(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	switch status {
	case want:
		return ActionPlan{Noop: fmt.Sprintf("%s is already %s", t.AccessKeyID, want)}, nil
	case KeyDeleted:
		return ActionPlan{Noop: fmt.Sprintf("%s no longer exists (deleted)", t.AccessKeyID)}, nil
	}
	p := ActionPlan{Calls: []string{r.updateKeyCall(want)}}
	if want == KeyInactive {
		p.Impact = []string{
			fmt.Sprintf("Every program using %s (%s) stops authenticating; reactivate undoes it.", t.AccessKeyID, t.UserName),
			"Sessions already issued from the key (sts:GetSessionToken, sts:AssumeRole) keep working until they expire: revoke-sessions cuts them.",
		}
		if last := r.lastUsed(ctx); last != "" {
			p.Impact = append(p.Impact, last)
		}
	} else {
		p.Impact = []string{fmt.Sprintf("%s (%s) works again, for whoever holds its secret: only do this once the leak is contained.", t.AccessKeyID, t.UserName)}
	}
	return p, nil
}

// lastUsed describes the key's last use, or "" when unknown.
func (r *containRun) lastUsed(ctx context.Context) string {
	out, err := r.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(r.t.AccessKeyID)})
	if err != nil || out.AccessKeyLastUsed == nil || out.AccessKeyLastUsed.LastUsedDate == nil {
		return ""
	}
	u := out.AccessKeyLastUsed
	return fmt.Sprintf("The key was last used %s (%s in %s).",
		u.LastUsedDate.UTC().Format(time.RFC3339), aws.ToString(u.ServiceName), aws.ToString(u.Region))
}

func (c *Client) executeKeyStatus(ctx context.Context, t Target, want string) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkUser(ctx, "change"); err != nil {
		return Result{}, err
	}
	status, err := r.keyStatus(ctx)
	if err != nil {
		return r.finish(err)
	}
	switch status {
	case want:
		r.did("%s was already %s", t.AccessKeyID, want)
		return r.finish(nil)
	case KeyDeleted:
		r.did("%s no longer exists (deleted); nothing to change", t.AccessKeyID)
		return r.finish(nil)
	}
	err = r.write(r.updateKeyCall(want), func() error {
		_, err := r.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
			UserName: aws.String(t.UserName), AccessKeyId: aws.String(t.AccessKeyID), Status: types.StatusType(want),
		})
		return err
	})
	if err != nil {
		return r.finish(fmt.Errorf("%s is still %s: %w", t.AccessKeyID, status, err))
	}
	r.did("%s of %s is now %s", t.AccessKeyID, t.UserName, want)
	return r.finish(nil)
}

// PlanDeleteKey plans deleting the key, which cannot be undone. It is
// refused while the key is Active: deactivate it first and watch that
// nothing legitimate breaks.
func (c *Client) PlanDeleteKey(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	if err := r.checkUser(ctx, "delete"); err != nil {
		return ActionPlan{}, err
	}
	status, err := r.keyStatus(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	switch status {
	case KeyDeleted:
		return ActionPlan{Noop: fmt.Sprintf("%s is already deleted", t.AccessKeyID)}, nil
	case KeyActive:
		return ActionPlan{}, refusal(ErrKeyStillActive, "%s is still Active: deactivate it first (reversible), make sure nothing legitimate broke, then delete it.", t.AccessKeyID)
	}
	return ActionPlan{
		Calls: []string{r.deleteKeyCall()},
		Impact: []string{
			fmt.Sprintf("%s is gone for good: it cannot be reactivated; %s needs a new key if it still needs one.", t.AccessKeyID, t.UserName),
			"CloudTrail keeps the key ID, so the investigation still finds its activity.",
		},
	}, nil
}

func (r *containRun) deleteKeyCall() string {
	return fmt.Sprintf("iam:DeleteAccessKey %s AccessKeyId=%s", r.t.UserARN, r.t.AccessKeyID)
}

// ExecuteDeleteKey deletes the key if it is Inactive; a deleted key is
// left alone and an Active one refused.
func (c *Client) ExecuteDeleteKey(ctx context.Context, t Target) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkUser(ctx, "delete"); err != nil {
		return Result{}, err
	}
	status, err := r.keyStatus(ctx)
	if err != nil {
		return r.finish(err)
	}
	switch status {
	case KeyDeleted:
		r.did("%s was already deleted", t.AccessKeyID)
		return r.finish(nil)
	case KeyActive:
		return r.finish(refusal(ErrKeyStillActive, "%s was reactivated since the request; not deleted", t.AccessKeyID))
	}
	err = r.write(r.deleteKeyCall(), func() error {
		_, err := r.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(t.UserName), AccessKeyId: aws.String(t.AccessKeyID)})
		if goneAlready(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return r.finish(fmt.Errorf("%s is not deleted: %w", t.AccessKeyID, err))
	}
	r.did("deleted %s of %s", t.AccessKeyID, t.UserName)
	return r.finish(nil)
}
