package awsops_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

func TestKeyOwnerInWorld(t *testing.T) {
	w := world.Start(t)
	admin := w.Config("us-east-1", w.Admin(world.DefaultAccount))
	ic := iam.NewFromConfig(admin)
	ctx := context.Background()
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci-deploy-user")}); err != nil {
		t.Fatal(err)
	}
	k, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci-deploy-user")})
	if err != nil {
		t.Fatal(err)
	}
	c := awsops.NewFromConfig(admin, awsops.Options{})
	key, err := awsops.ParseAccessKeyID(aws.ToString(k.AccessKey.AccessKeyId))
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.KeyOwner(ctx, key)
	t.Logf("owner = %+v err = %v", o, err)
	if err != nil || o.UserName != "ci-deploy-user" || o.Account != world.DefaultAccount {
		t.Fatalf("owner = %+v, %v", o, err)
	}
}

func TestResponderInOwnAccount(t *testing.T) {
	w := world.Start(t)
	ctx := context.Background()
	admin := w.Config("us-east-1", w.Admin(world.DefaultAccount))
	ic := iam.NewFromConfig(admin)
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("keyleak-bot")}); err != nil {
		t.Fatal(err)
	}
	k, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("keyleak-bot")})
	if err != nil {
		t.Fatal(err)
	}
	bot := w.Config("us-east-1", world.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)})

	direct := awsops.NewFromConfig(bot, awsops.Options{})
	cfg, err := direct.ConfigIn(ctx, world.DefaultAccount)
	if err != nil {
		t.Fatal(err)
	}
	if creds, _ := cfg.Credentials.Retrieve(ctx); creds.AccessKeyID != aws.ToString(k.AccessKey.AccessKeyId) {
		t.Errorf("without the option keyleak should act with its own key in its own account, got %s", creds.AccessKeyID)
	}

	assuming := awsops.NewFromConfig(bot, awsops.Options{ResponderInOwnAccount: true})
	if _, err := assuming.ConfigIn(ctx, world.DefaultAccount); !errors.Is(err, awsops.ErrNoResponderRole) {
		t.Fatalf("without a responder role in its own account: err = %v, want ErrNoResponderRole", err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(awsops.DefaultResponderRole), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	assuming = awsops.NewFromConfig(bot, awsops.Options{ResponderInOwnAccount: true})
	cfg, err = assuming.ConfigIn(ctx, world.DefaultAccount)
	if err != nil {
		t.Fatal(err)
	}
	if creds, _ := cfg.Credentials.Retrieve(ctx); !strings.HasPrefix(creds.AccessKeyID, "ASIA") {
		t.Errorf("with the option keyleak should act through the responder role, got key %s", creds.AccessKeyID)
	}
}
