package awsops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// userSteps removes an IAM user the attacker made: its keys, login
// profile, MFA devices, group memberships, attached and inline policies,
// then the user.
func (r *containRun) userSteps(ctx context.Context, client *iam.Client, it CleanupItem) ([]cleanupStep, error) {
	name := it.ID
	u, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
	if goneAlready(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("iam:GetUser %s: %w", name, err)
	}
	arn := aws.ToString(u.User.Arn)
	if err := sameAsCreated(it, "user", arn, aws.ToString(u.User.UserId), u.User.CreateDate); err != nil {
		return nil, err
	}
	if arn == r.t.UserARN || (it.Account == r.t.Account && name == r.t.UserName) {
		return nil, refusal(ErrProtected, "%s owns the leaked key; it is not something the attacker made (use deactivate, deny-all or delete-key)", arn)
	}
	if err := r.c.CheckNotProtected(ctx, arn); err != nil {
		return nil, err
	}
	un := aws.String(name)
	var steps []cleanupStep
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: un})
	if err != nil {
		return nil, fmt.Errorf("keys of %s (iam:ListAccessKeys): %w", arn, err)
	}
	for _, k := range keys.AccessKeyMetadata {
		steps = append(steps, deleteKeyStep(client, it.Account, name, aws.ToString(k.AccessKeyId)))
	}
	creds, err := client.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: un})
	if err != nil {
		return nil, fmt.Errorf("service credentials of %s (iam:ListServiceSpecificCredentials): %w", arn, err)
	}
	for _, c := range creds.ServiceSpecificCredentials {
		steps = append(steps, serviceCredentialStep(client, it.Account, name, aws.ToString(c.ServiceSpecificCredentialId)))
	}
	if _, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: un}); err == nil {
		steps = append(steps, cleanupStep{call: "iam:DeleteLoginProfile " + arn, run: func(ctx context.Context) error {
			_, err := client.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: un})
			return err
		}})
	} else if !goneAlready(err) {
		return nil, fmt.Errorf("login profile of %s (iam:GetLoginProfile): %w", arn, err)
	}
	mfa, err := client.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: un})
	if err != nil {
		return nil, fmt.Errorf("MFA devices of %s (iam:ListMFADevices): %w", arn, err)
	}
	for _, d := range mfa.MFADevices {
		serial := d.SerialNumber
		steps = append(steps, cleanupStep{call: fmt.Sprintf("iam:DeactivateMFADevice %s SerialNumber=%s", arn, aws.ToString(serial)), run: func(ctx context.Context) error {
			_, err := client.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: un, SerialNumber: serial})
			return err
		}})
	}
	groups, err := client.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: un})
	if err != nil {
		return nil, fmt.Errorf("groups of %s (iam:ListGroupsForUser): %w", arn, err)
	}
	for _, g := range groups.Groups {
		group := g.GroupName
		steps = append(steps, cleanupStep{call: fmt.Sprintf("iam:RemoveUserFromGroup %s GroupName=%s", arn, aws.ToString(group)), run: func(ctx context.Context) error {
			_, err := client.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: un, GroupName: group})
			return err
		}})
	}
	attached, err := client.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: un})
	if err != nil {
		return nil, fmt.Errorf("policies of %s (iam:ListAttachedUserPolicies): %w", arn, err)
	}
	for _, ap := range attached.AttachedPolicies {
		pa := ap.PolicyArn
		steps = append(steps, cleanupStep{call: fmt.Sprintf("iam:DetachUserPolicy %s PolicyArn=%s", arn, aws.ToString(pa)), run: func(ctx context.Context) error {
			_, err := client.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: un, PolicyArn: pa})
			return err
		}})
	}
	inline, err := client.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: un})
	if err != nil {
		return nil, fmt.Errorf("inline policies of %s (iam:ListUserPolicies): %w", arn, err)
	}
	for _, pn := range inline.PolicyNames {
		steps = append(steps, cleanupStep{call: fmt.Sprintf("iam:DeleteUserPolicy %s PolicyName=%s", arn, pn), run: func(ctx context.Context) error {
			_, err := client.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: un, PolicyName: aws.String(pn)})
			return err
		}})
	}
	return append(steps, cleanupStep{call: "iam:DeleteUser " + arn, run: func(ctx context.Context) error {
		_, err := client.DeleteUser(ctx, &iam.DeleteUserInput{UserName: un})
		return err
	}}), nil
}

// roleSteps removes an IAM role the attacker made: out of its instance
// profiles (deleting those it leaves empty), its policies, then the role.
func (r *containRun) roleSteps(ctx context.Context, client *iam.Client, it CleanupItem) ([]cleanupStep, error) {
	if strings.HasPrefix(it.ID, "AWSReservedSSO_") {
		return nil, refusal(ErrProtected, "%s is an IAM Identity Center role, which IAM cannot change: remove its permission set assignment in IAM Identity Center", it.ID)
	}
	rn := aws.String(it.ID)
	role, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: rn})
	if goneAlready(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("iam:GetRole %s: %w", it.ID, err)
	}
	arn := aws.ToString(role.Role.Arn)
	if err := r.c.CheckNotProtected(ctx, arn); err != nil {
		return nil, err
	}
	if err := sameAsCreated(it, "role", arn, aws.ToString(role.Role.RoleId), role.Role.CreateDate); err != nil {
		return nil, err
	}
	var steps []cleanupStep
	profiles, err := client.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: rn})
	if err != nil {
		return nil, fmt.Errorf("instance profiles of %s (iam:ListInstanceProfilesForRole): %w", arn, err)
	}
	for _, ip := range profiles.InstanceProfiles {
		name := ip.InstanceProfileName
		steps = append(steps, cleanupStep{call: fmt.Sprintf("iam:RemoveRoleFromInstanceProfile %s InstanceProfileName=%s", arn, aws.ToString(name)), run: func(ctx context.Context) error {
			_, err := client.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{RoleName: rn, InstanceProfileName: name})
			return err
		}})
		if len(ip.Roles) == 1 {
			steps = append(steps, cleanupStep{call: "iam:DeleteInstanceProfile " + aws.ToString(ip.Arn), run: func(ctx context.Context) error {
				_, err := client.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: name})
				return err
			}})
		}
	}
	attached, err := client.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: rn})
	if err != nil {
		return nil, fmt.Errorf("policies of %s (iam:ListAttachedRolePolicies): %w", arn, err)
	}
	for _, ap := range attached.AttachedPolicies {
		pa := ap.PolicyArn
		steps = append(steps, cleanupStep{call: fmt.Sprintf("iam:DetachRolePolicy %s PolicyArn=%s", arn, aws.ToString(pa)), run: func(ctx context.Context) error {
			_, err := client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: rn, PolicyArn: pa})
			return err
		}})
	}
	inline, err := client.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: rn})
	if err != nil {
		return nil, fmt.Errorf("inline policies of %s (iam:ListRolePolicies): %w", arn, err)
	}
	for _, pn := range inline.PolicyNames {
		steps = append(steps, cleanupStep{call: fmt.Sprintf("iam:DeleteRolePolicy %s PolicyName=%s", arn, pn), run: func(ctx context.Context) error {
			_, err := client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: rn, PolicyName: aws.String(pn)})
			return err
		}})
	}
	return append(steps, cleanupStep{call: "iam:DeleteRole " + arn, run: func(ctx context.Context) error {
		_, err := client.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: rn})
		return err
	}}), nil
}

// sameAsCreated refuses a user or role that is not the one the attacker's
// event created: another ID, or, when the event gave none, created after
// it (deleted and made again under the same name since).
func sameAsCreated(it CleanupItem, kind, arn, id string, created *time.Time) error {
	switch {
	case it.UniqueID != "" && id != it.UniqueID:
		return refusal(ErrRecreated, "%s has ID %s, but the %s the attacker created (%s at %s) had ID %s: it was deleted and made again since, so keyleak leaves it alone",
			arn, id, kind, it.EventName, it.EventTime.UTC().Format(time.RFC3339), it.UniqueID)
	case it.UniqueID == "" && created != nil && !it.EventTime.IsZero() && created.After(it.EventTime.Add(time.Minute)):
		return refusal(ErrRecreated, "%s was created at %s, after the attacker's %s at %s: it is not the %s the attacker made, so keyleak leaves it alone",
			arn, created.UTC().Format(time.RFC3339), it.EventName, it.EventTime.UTC().Format(time.RFC3339), kind)
	}
	return nil
}
