package awsops_test

import (
	"context"
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
