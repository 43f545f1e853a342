package scenario

import (
	"context"
	"fmt"
	"time"

	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The leaked key's own job. Every leaked key had a legitimate user before
// it leaked, and usually still has during the attack: its CI pipeline,
// running from its runners, every ciPeriod for ciHistory before the
// attack until detection. That traffic is the key's baseline, which an
// investigation must tell from the attacker's.
const (
	ciHistory = 7 * 24 * time.Hour
	ciPeriod  = 6 * time.Hour
	ciUA      = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe exec-env/github-actions md/distrib#ubuntu.22 md/prompt#off command/"
)

// ciRound is one run of the key's pipeline, with the key, at the actor's time.
type ciRound func(ctx context.Context, a *actor, key credential) error

// runCI runs round with the leaked key from ip every ciPeriod, from
// ciHistory before the attack until to; its calls are the legitimate
// workload's.
func runCI(ctx context.Context, r *Run, ip string, to time.Time, round ciRound) error {
	a := newActor(r.World, r.legit, ip, ciUA, r.Start.Add(-ciHistory))
	key := credential{Credentials: r.Target.Leaked, Label: "ci", Account: r.Target.Account}
	for at := r.Start.Add(-ciHistory).Add(17 * time.Minute); at.Before(to); at = at.Add(ciPeriod) {
		a.at(at)
		if err := round(ctx, a, key); err != nil {
			return fmt.Errorf("the key's CI at %s: %w", at.Format(time.RFC3339), err)
		}
	}
	return nil
}

// ciDeploy is a deploy job: who am I, upload the build, update the function.
func ciDeploy(bucket, function string) ciRound {
	return func(ctx context.Context, a *actor, key credential) error {
		if err := a.whoami(ctx, key); err != nil {
			return err
		}
		a.wait(20 * time.Second)
		build := fmt.Sprintf("builds/%d.zip", a.time().Unix())
		if _, err := a.s3("us-east-1", key).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(build),
			Body: strings.NewReader("build")}); err != nil {
			return fmt.Errorf("upload %s: %w", build, err)
		}
		a.wait(40 * time.Second)
		code, err := lambdaZip()
		if err != nil {
			return err
		}
		_, err = lambda.NewFromConfig(a.config("us-east-1", key)).UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
			FunctionName: aws.String(function), ZipFile: code})
		return wrap(err, "deploy "+function)
	}
}

// ciReport is a reporting job: who am I, write the day's report.
func ciReport(bucket string) ciRound {
	return func(ctx context.Context, a *actor, key credential) error {
		if err := a.whoami(ctx, key); err != nil {
			return err
		}
		a.wait(30 * time.Second)
		_, err := a.s3("us-east-1", key).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket),
			Key: aws.String("daily/latest.csv"), Body: strings.NewReader("day,total\n")})
		return wrap(err, "write the report")
	}
}

// ciTerraform is a plan-and-apply job: read the instances, tag them.
func ciTerraform(instances func() []string) ciRound {
	return func(ctx context.Context, a *actor, key credential) error {
		if err := a.whoami(ctx, key); err != nil {
			return err
		}
		a.wait(15 * time.Second)
		if err := describeInstances(ctx, a, "us-east-1", key); err != nil {
			return err
		}
		a.wait(45 * time.Second)
		_, err := ec2.NewFromConfig(a.config("us-east-1", key)).CreateTags(ctx, &ec2.CreateTagsInput{Resources: instances(),
			Tags: []ec2types.Tag{{Key: aws.String("terraform-run"), Value: aws.String(fmt.Sprint(a.time().Unix()))}}})
		return wrap(err, "tag the instances")
	}
}
