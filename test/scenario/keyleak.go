package scenario

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/test/world"
)

// KeyleakUser is keyleak's own IAM user in the world's first account.
const KeyleakUser = "keyleak-bot"

// KeyleakIdentity gives keyleak an identity in the world as it has in a
// real organisation: an IAM user of its own in the first account (its
// security account) and the responder role, trusting that user, in every
// other account. It returns the user's credentials.
func KeyleakIdentity(ctx context.Context, w *world.World, responderRole string) (world.Credentials, error) {
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(KeyleakUser)}); err != nil {
		return world.Credentials{}, fmt.Errorf("create %s: %w", KeyleakUser, err)
	}
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(KeyleakUser)})
	if err != nil {
		return world.Credentials{}, fmt.Errorf("create %s's key: %w", KeyleakUser, err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` +
		world.DefaultAccount + `:user/` + KeyleakUser + `"},"Action":"sts:AssumeRole"}]}`
	for _, account := range w.Gateway.Accounts() {
		if account == world.DefaultAccount {
			continue
		}
		other := iam.NewFromConfig(w.Config("us-east-1", w.Admin(account)))
		if _, err := other.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(responderRole), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			return world.Credentials{}, fmt.Errorf("create %s in %s: %w", responderRole, account, err)
		}
	}
	return world.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}, nil
}
