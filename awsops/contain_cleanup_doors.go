package awsops

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
)

// Kinds of created doors cleanup removes: ways in the attacker made, which
// outlive the key.
const (
	CleanupLoginProfile      = "iam-login-profile"      // ID: the user; its console password
	CleanupServiceCredential = "iam-service-credential" // ID: the credential; Owner: its user
	CleanupOIDCProvider      = "iam-oidc-provider"      // ID: the provider's ARN
	CleanupSAMLProvider      = "iam-saml-provider"      // ID: the provider's ARN
	CleanupTrustAnchor       = "rolesanywhere-trust-anchor"
	CleanupRAProfile         = "rolesanywhere-profile"
	CleanupAccessEntry       = "eks-access-entry" // ID: the principal; On: the cluster
	CleanupSecret            = "secret"           // ID: the secret's ARN; recoverable for 7 days
	// CleanupSSOAssignment: an IAM Identity Center account assignment;
	// ID: the principal; Ref: the instance, permission set, principal
	// type and target account.
	CleanupSSOAssignment = "sso-account-assignment"
)

// doorCleanupSteps reads a created door's state and returns the calls
// that remove it; none when it is gone. ok is false for other kinds.
func (r *containRun) doorCleanupSteps(ctx context.Context, it CleanupItem) (steps []cleanupStep, ok bool, err error) {
	cfg, err := r.config(ctx, it.Account)
	if err != nil {
		return nil, true, err
	}
	if it.Region != "" {
		cfg.Region = it.Region
	}
	one := func(call string, read func() error, del func(context.Context) error) ([]cleanupStep, bool, error) {
		if err := read(); goneAlready(err) || isAPIError(err, "ResourceNotFoundException", "NotFoundException") {
			return nil, true, nil
		} else if err != nil {
			return nil, true, fmt.Errorf("%s: %w", it, err)
		}
		return []cleanupStep{{call: call, run: del}}, true, nil
	}
	client := iam.NewFromConfig(cfg)
	switch it.Kind {
	case CleanupLoginProfile:
		arn := "arn:" + partitionOf(r.c.base.Region) + ":iam::" + it.Account + ":user/" + it.ID
		if err := r.c.CheckNotProtected(ctx, arn); err != nil {
			return nil, true, err
		}
		return one("iam:DeleteLoginProfile "+arn,
			func() error {
				_, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(it.ID)})
				return err
			},
			func(ctx context.Context) error {
				_, err := client.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(it.ID)})
				return err
			})
	case CleanupServiceCredential:
		out, err := client.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String(it.Owner)})
		if goneAlready(err) {
			return nil, true, nil
		}
		if err != nil {
			return nil, true, fmt.Errorf("credentials of %s (iam:ListServiceSpecificCredentials): %w", it.Owner, err)
		}
		for _, c := range out.ServiceSpecificCredentials {
			if aws.ToString(c.ServiceSpecificCredentialId) == it.ID {
				return []cleanupStep{serviceCredentialStep(client, it.Account, it.Owner, it.ID)}, true, nil
			}
		}
		return nil, true, nil
	case CleanupOIDCProvider:
		return one("iam:DeleteOpenIDConnectProvider "+it.ID,
			func() error {
				_, err := client.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(it.ID)})
				return err
			},
			func(ctx context.Context) error {
				_, err := client.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(it.ID)})
				return err
			})
	case CleanupSAMLProvider:
		return one("iam:DeleteSAMLProvider "+it.ID,
			func() error {
				_, err := client.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: aws.String(it.ID)})
				return err
			},
			func(ctx context.Context) error {
				_, err := client.DeleteSAMLProvider(ctx, &iam.DeleteSAMLProviderInput{SAMLProviderArn: aws.String(it.ID)})
				return err
			})
	case CleanupTrustAnchor, CleanupRAProfile:
		ra := rolesanywhere.NewFromConfig(cfg)
		if it.Kind == CleanupTrustAnchor {
			if _, err := ra.GetTrustAnchor(ctx, &rolesanywhere.GetTrustAnchorInput{TrustAnchorId: aws.String(it.ID)}); isAPIError(err, "ResourceNotFoundException") {
				return nil, true, nil
			} else if err != nil {
				return nil, true, fmt.Errorf("trust anchor %s (rolesanywhere:GetTrustAnchor): %w", it.ID, err)
			}
			return []cleanupStep{
				{call: fmt.Sprintf("rolesanywhere:DisableTrustAnchor %s TrustAnchorId=%s", it.Region, it.ID), run: func(ctx context.Context) error {
					_, err := ra.DisableTrustAnchor(ctx, &rolesanywhere.DisableTrustAnchorInput{TrustAnchorId: aws.String(it.ID)})
					return err
				}},
				{call: fmt.Sprintf("rolesanywhere:DeleteTrustAnchor %s TrustAnchorId=%s", it.Region, it.ID), run: func(ctx context.Context) error {
					_, err := ra.DeleteTrustAnchor(ctx, &rolesanywhere.DeleteTrustAnchorInput{TrustAnchorId: aws.String(it.ID)})
					return err
				}},
			}, true, nil
		}
		if _, err := ra.GetProfile(ctx, &rolesanywhere.GetProfileInput{ProfileId: aws.String(it.ID)}); isAPIError(err, "ResourceNotFoundException") {
			return nil, true, nil
		} else if err != nil {
			return nil, true, fmt.Errorf("profile %s (rolesanywhere:GetProfile): %w", it.ID, err)
		}
		return []cleanupStep{
			{call: fmt.Sprintf("rolesanywhere:DisableProfile %s ProfileId=%s", it.Region, it.ID), run: func(ctx context.Context) error {
				_, err := ra.DisableProfile(ctx, &rolesanywhere.DisableProfileInput{ProfileId: aws.String(it.ID)})
				return err
			}},
			{call: fmt.Sprintf("rolesanywhere:DeleteProfile %s ProfileId=%s", it.Region, it.ID), run: func(ctx context.Context) error {
				_, err := ra.DeleteProfile(ctx, &rolesanywhere.DeleteProfileInput{ProfileId: aws.String(it.ID)})
				return err
			}},
		}, true, nil
	case CleanupAccessEntry:
		ek := eks.NewFromConfig(cfg)
		return one(fmt.Sprintf("eks:DeleteAccessEntry %s ClusterName=%s PrincipalArn=%s", it.Region, it.On, it.ID),
			func() error {
				_, err := ek.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(it.On), PrincipalArn: aws.String(it.ID)})
				return err
			},
			func(ctx context.Context) error {
				_, err := ek.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(it.On), PrincipalArn: aws.String(it.ID)})
				return err
			})
	case CleanupSSOAssignment:
		ref := it.Ref
		in := &ssoadmin.DeleteAccountAssignmentInput{InstanceArn: aws.String(ref["instanceArn"]), PermissionSetArn: aws.String(ref["permissionSetArn"]),
			PrincipalId: aws.String(it.ID), PrincipalType: ssotypes.PrincipalType(ref["principalType"]),
			TargetId: aws.String(ref["targetId"]), TargetType: ssotypes.TargetType(ref["targetType"])}
		if aws.ToString(in.InstanceArn) == "" || aws.ToString(in.PermissionSetArn) == "" || aws.ToString(in.TargetId) == "" {
			return nil, true, refusal(ErrNoEvidence, "%s comes without the instance, permission set and account its creating event named; remove it in IAM Identity Center by hand", it)
		}
		sa := ssoadmin.NewFromConfig(cfg)
		found, err := ssoAssigned(ctx, sa, in)
		if err != nil || !found {
			return nil, true, err
		}
		return []cleanupStep{{call: fmt.Sprintf("sso:DeleteAccountAssignment %s %s %s PermissionSetArn=%s TargetId=%s", it.Region, in.PrincipalType, it.ID,
			aws.ToString(in.PermissionSetArn), aws.ToString(in.TargetId)), run: func(ctx context.Context) error {
			_, err := sa.DeleteAccountAssignment(ctx, in)
			return err
		}}}, true, nil
	case CleanupSecret:
		sm := secretsmanager.NewFromConfig(cfg)
		out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(it.ID)})
		if goneAlready(err) || err == nil && out.DeletedDate != nil {
			return nil, true, nil
		}
		if err != nil {
			return nil, true, fmt.Errorf("secret %s (secretsmanager:DescribeSecret): %w", it.ID, err)
		}
		return []cleanupStep{{call: fmt.Sprintf("secretsmanager:DeleteSecret %s SecretId=%s RecoveryWindowInDays=7", it.Region, it.ID), run: func(ctx context.Context) error {
			_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(it.ID), RecoveryWindowInDays: aws.Int64(7)})
			return err
		}}}, true, nil
	}
	return nil, false, nil
}

func serviceCredentialStep(client *iam.Client, account, user, id string) cleanupStep {
	return cleanupStep{call: fmt.Sprintf("iam:DeleteServiceSpecificCredential arn:aws:iam::%s:user/%s ServiceSpecificCredentialId=%s", account, user, id),
		run: func(ctx context.Context) error {
			_, err := client.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String(user), ServiceSpecificCredentialId: aws.String(id)})
			return err
		}}
}

// ssoAssigned reports whether the assignment still exists.
func ssoAssigned(ctx context.Context, sa *ssoadmin.Client, in *ssoadmin.DeleteAccountAssignmentInput) (bool, error) {
	p := ssoadmin.NewListAccountAssignmentsPaginator(sa, &ssoadmin.ListAccountAssignmentsInput{InstanceArn: in.InstanceArn,
		AccountId: in.TargetId, PermissionSetArn: in.PermissionSetArn})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isAPIError(err, "ResourceNotFoundException") {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("assignments of %s in %s (sso:ListAccountAssignments): %w", aws.ToString(in.PermissionSetArn), aws.ToString(in.TargetId), err)
		}
		for _, a := range page.AccountAssignments {
			if aws.ToString(a.PrincipalId) == aws.ToString(in.PrincipalId) && a.PrincipalType == in.PrincipalType {
				return true, nil
			}
		}
	}
	return false, nil
}
