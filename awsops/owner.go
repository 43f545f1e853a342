package awsops

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Owner is who a long-term access key belongs to.
type Owner struct {
	AccessKeyID string `json:"access_key_id"`
	Account     string `json:"account"`
	// AccountSource says how the account was found: "sts:GetAccessKeyInfo",
	// "decoded from the key ID", or both when they agree.
	AccountSource string `json:"account_source"`
	UserName      string `json:"user_name,omitempty"` // empty for root keys
	ARN           string `json:"arn,omitempty"`
	Root          bool   `json:"root"`
	Temporary     bool   `json:"temporary"`
}

// ErrAccountUnknown means neither AWS nor the key ID tells the account.
var ErrAccountUnknown = errors.New("the key's account is unknown")

// KeyAccount finds the account a key belongs to: sts:GetAccessKeyInfo,
// cross-checked against the account decoded from the key ID, which is the
// fallback when the call fails.
func (c *Client) KeyAccount(ctx context.Context, key KeyID) (account, source string, err error) {
	decoded, decodedOK := key.Account()
	out, callErr := c.stsClient().GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(key.String())})
	switch {
	case callErr == nil && decodedOK && aws.ToString(out.Account) != decoded:
		c.opts.Log.WarnContext(ctx, "account from sts:GetAccessKeyInfo differs from the one decoded from the key ID",
			"access_key_id", key.String(), "sts", aws.ToString(out.Account), "decoded", decoded)
		return aws.ToString(out.Account), "sts:GetAccessKeyInfo (the key ID decodes to " + decoded + ")", nil
	case callErr == nil && decodedOK:
		return decoded, "sts:GetAccessKeyInfo and decoded from the key ID", nil
	case callErr == nil:
		return aws.ToString(out.Account), "sts:GetAccessKeyInfo", nil
	case decodedOK:
		c.opts.Log.WarnContext(ctx, "sts:GetAccessKeyInfo failed; using the account decoded from the key ID", "access_key_id", key.String(), "err", callErr)
		return decoded, "decoded from the key ID (sts:GetAccessKeyInfo failed: " + callErr.Error() + ")", nil
	default:
		return "", "", fmt.Errorf("account of %s: sts:GetAccessKeyInfo: %v: %w", key, callErr, ErrAccountUnknown)
	}
}

// KeyOwner finds the account and the IAM user of a long-term key, through
// the responder role in that account (iam:GetAccessKeyLastUsed).
func (c *Client) KeyOwner(ctx context.Context, key KeyID) (Owner, error) {
	o := Owner{AccessKeyID: key.String(), Temporary: key.Kind() == TemporaryKey}
	var err error
	if o.Account, o.AccountSource, err = c.KeyAccount(ctx, key); err != nil {
		return o, err
	}
	if o.Temporary {
		return o, nil // STS keys have no IAM owner; the credential tree finds their parent
	}
	ic, err := c.iamClient(ctx, o.Account)
	if err != nil {
		return o, err
	}
	out, err := ic.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(key.String())})
	if err != nil {
		return o, fmt.Errorf("owner of %s in account %s (iam:GetAccessKeyLastUsed): %w", key, o.Account, err)
	}
	o.UserName = aws.ToString(out.UserName)
	switch o.UserName {
	case "", "root", "<root_account>":
		o.UserName, o.Root = "", true
		o.ARN = "arn:aws:iam::" + o.Account + ":root"
	default:
		o.ARN = "arn:aws:iam::" + o.Account + ":user/" + o.UserName
		if u, err := ic.GetUser(ctx, &iam.GetUserInput{UserName: out.UserName}); err == nil && u.User != nil {
			o.ARN = aws.ToString(u.User.Arn) // keeps the user's path
		}
	}
	return o, nil
}
