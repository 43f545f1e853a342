package world

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

const quarantineARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"

func TestQuarantinePolicyDenies(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount)))
	if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{
		UserName: aws.String("ci-deploy-user"), PolicyArn: aws.String(quarantineARN),
	}); err != nil {
		t.Fatalf("attach %s: %v", quarantineARN, err)
	}
	client := iam.NewFromConfig(w.Config("us-east-1", user))
	_, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backdoor")})
	if got, want := apiCode(err), "AccessDenied"; got != want {
		t.Fatalf("quarantined CreateUser: error code = %q, want %q", got, want)
	}
	// V3 also denies s3:ListAllMyBuckets, but not ec2:DescribeInstances.
	if got, want := apiCode(listBuckets(t, w, user)), "AccessDenied"; got != want {
		t.Fatalf("quarantined ListBuckets: error code = %q, want %q", got, want)
	}
	if _, err := ec2.NewFromConfig(w.Config("us-east-1", user)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("quarantined DescribeInstances: %v", err)
	}
	events := w.Gateway.Events()
	last := events[len(events)-3]
	if last.EventName != "CreateUser" || last.ErrorCode != "AccessDenied" || last.ErrorMessage == "" {
		t.Fatalf("denied call recorded as %s/%s %q, want CreateUser/AccessDenied with a message",
			last.EventName, last.ErrorCode, last.ErrorMessage)
	}
}
