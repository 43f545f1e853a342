package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/keyleak/keyleak/test/world"
)

// Names of the seed incident.
const (
	SeedUser         = "ci-deploy-user"
	SeedRole         = "eks-node-role"
	SeedNodeUser     = "eks-node-instance"
	SeedBackupObject = "db-backup-2026-11-21.sql.gz.enc"
	SeedStateObject  = "prod.tfstate"
	SeedVarsObject   = "terraform.tfvars"
	seedImagesBucket = "eks-node-images"
)

// The attacker of the seed incident works from China with the AWS CLI.
var (
	seedAttackerIPs = []string{"58.218.199.38", "58.218.204.17"}
	seedAttackerUA  = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2024 prompt/off"
	nodeUA          = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.3 kubelet/v1.30.2-eks"
)

// Seed is the canonical incident (seeds/003): ci-deploy-user's key leaks; the attacker
// enumerates, assumes eks-node-role 15 minutes into the attack and keeps working with that
// session, reads the database backup and the terraform state, and fails to decrypt the
// backup with KMS; meanwhile the Kubernetes nodes keep assuming eks-node-role.
func Seed() Scenario {
	s := &seed{}
	return Scenario{
		Name: "seed",
		Description: "ci-deploy-user's key leaks; the attacker (58.218.x.x) enumerates S3, EC2 and RDS, assumes " +
			"eks-node-role and reads the database backup and terraform state through that session while 50 " +
			"Kubernetes nodes keep using the same role; kms:Decrypt is denied",
		Setup: s.setup, Legit: s.legit, Attack: s.attack,
		KeyCI: ciDeploy("app-assets-bucket", seedFunction), CIAddress: seedCIIP,
	}
}

type seed struct {
	roleARN    string
	nodes      []string // instance IDs of the nodes
	nodeKey    world.Credentials
	kmsKeyID   string
	imageFiles []string
}

func (s *seed) setup(ctx context.Context, r *Run) error {
	b := r.builder(world.DefaultAccount)
	t := &r.Target
	t.Account, t.LeakedUser, t.TrailBucket = world.DefaultAccount, SeedUser, r.World.Gateway.TrailBucket()
	t.Regions = []string{"us-east-1", "us-west-2"}
	if err := baseAccount(ctx, b); err != nil {
		return err
	}
	deploy := document(
		allow("*", "s3:*", "ec2:*", "ecr:*", "eks:*", "rds:Describe*", "rds:List*", "sts:AssumeRole",
			"iam:List*", "iam:Get*", "iam:PassRole", "iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy",
			"iam:CreateServiceLinkedRole", "iam:TagRole", "cloudformation:*", "kms:DescribeKey", "kms:ListAliases"),
	)
	if err := b.group(ctx, "ci-deployers", policies{"deploy": deploy}); err != nil {
		return err
	}
	userARN, err := b.user(ctx, SeedUser, policies{"deploy-extra": document(
		allow("*", "iam:CreateUser", "iam:CreateAccessKey", "iam:AttachUserPolicy", "lambda:*", "logs:*"))}, nil, "ci-deployers")
	if err != nil {
		return err
	}
	if t.Leaked, err = b.accessKey(ctx, SeedUser); err != nil {
		return err
	}
	nodeARN, err := b.user(ctx, SeedNodeUser, policies{"assume-node-role": document(
		allow("arn:aws:iam::"+world.DefaultAccount+":role/"+SeedRole, "sts:AssumeRole"))}, nil)
	if err != nil {
		return err
	}
	if s.nodeKey, err = b.accessKey(ctx, SeedNodeUser); err != nil {
		return err
	}
	s.roleARN, err = b.role(ctx, SeedRole, trustServiceAnd("ec2.amazonaws.com", nodeARN, userARN), 12*time.Hour, policies{
		"node":           document(allow("*", "ec2:Describe*", "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets")),
		"no-kms-decrypt": document(deny("*", "kms:Decrypt")),
	}, "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
	if err != nil {
		return err
	}
	t.LegitPrincipals = []string{nodeARN, s.roleARN}
	t.LegitKeys = []world.Credentials{s.nodeKey}

	if s.kmsKeyID, err = b.kmsKey(ctx, "us-east-1", "rds-backups"); err != nil {
		return err
	}
	backup, err := b.encrypt(ctx, "us-east-1", s.kmsKeyID, []byte("-- PostgreSQL database dump of prod\nCOPY users (id, email) FROM stdin;\n"))
	if err != nil {
		return err
	}
	if err := b.bucket(ctx, "us-east-1", "backups-bucket", content{SeedBackupObject, backup, true},
		content{"README.txt", []byte("nightly pg_dump of prod, KMS encrypted\n"), false}); err != nil {
		return err
	}
	if err := b.bucket(ctx, "us-east-1", "config-bucket",
		content{SeedStateObject, []byte(tfstate), true},
		content{SeedVarsObject, []byte(tfvars), true},
		content{"README.md", []byte("# infrastructure config\n"), false}); err != nil {
		return err
	}
	s.imageFiles = []string{"pause/3.9/layer.tar", "aws-node/v1.18.2/layer.tar", "kube-proxy/v1.30.2/layer.tar"}
	var images []content
	for _, f := range s.imageFiles {
		images = append(images, content{key: f, body: []byte("layer " + f)})
	}
	if err := b.bucket(ctx, "us-east-1", seedImagesBucket, images...); err != nil {
		return err
	}
	if err := b.bucket(ctx, "us-east-1", "app-assets-bucket", content{key: "index.html", body: []byte("<html></html>")}); err != nil {
		return err
	}
	if err := b.function(ctx, "us-east-1", seedFunction); err != nil {
		return err
	}
	if s.nodes, err = b.instances(ctx, "us-east-1", "eks-node", "m5.xlarge", int32(r.Nodes())); err != nil {
		return err
	}
	return b.database(ctx, "us-east-1", "prod-db")
}

const tfstate = `{"version":4,"terraform_version":"1.9.5","resources":[{"type":"aws_db_instance","name":"prod",
"instances":[{"attributes":{"identifier":"prod-db","username":"app","password":"Pr0d-DB-pa55w0rd!"}}]},
{"type":"random_password","name":"stripe_api_key","instances":[{"attributes":{"result":"sk_live_not_a_real_key_0000"}}]}]}`

const tfvars = "db_password = \"Pr0d-DB-pa55w0rd!\"\ndatadog_api_key = \"0000000000fakefakefake\"\n"

// baseAccount creates what every scenario's account has: the trail and the responder.
func baseAccount(ctx context.Context, b *builder) error {
	if err := b.trail(ctx, "org-trail", b.run.World.Gateway.TrailBucket()); err != nil {
		return err
	}
	return b.responder(ctx)
}

// The key's CI deploys the web API from its runner.
const (
	seedFunction = "web-api"
	seedCIIP     = "20.55.14.201"
)

// nodePeriod is how often a node refreshes its eks-node-role session.
const nodePeriod = 15 * time.Minute

// legit runs every node's schedule: each node assumes eks-node-role every 15 minutes from
// its own offset, then describes its instance and pulls an image layer with the session.
func (s *seed) legit(ctx context.Context, r *Run, from, to time.Time) error {
	jobs := make([]func(context.Context) error, 0, len(s.nodes))
	for i, id := range s.nodes {
		offset := time.Duration(i) * nodePeriod / time.Duration(len(s.nodes))
		ip := fmt.Sprintf("10.0.%d.%d", 1+i/200, 10+i%200)
		jobs = append(jobs, func(ctx context.Context) error {
			a := newActor(r.World, r.legit, ip, nodeUA, from)
			key := credential{Credentials: s.nodeKey, Label: SeedNodeUser, Account: r.Target.Account}
			for at := from.Add(offset); at.Before(to); at = at.Add(nodePeriod) {
				if err := s.nodeRound(ctx, a, key, id, at); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return parallel(ctx, 4, jobs)
}

func (s *seed) nodeRound(ctx context.Context, a *actor, key credential, instanceID string, at time.Time) error {
	a.at(at)
	sess, err := a.assumeRole(ctx, key, s.roleARN, instanceID, time.Hour)
	if err != nil {
		return err
	}
	a.wait(2 * time.Second)
	if _, err := ec2.NewFromConfig(a.config("us-east-1", sess)).DescribeInstances(ctx,
		&ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}}); err != nil {
		return fmt.Errorf("node %s describe itself: %w", instanceID, err)
	}
	a.wait(3 * time.Second)
	layer := s.imageFiles[int(at.Unix()/60)%len(s.imageFiles)]
	_, err = a.getObject(ctx, "us-east-1", sess, seedImagesBucket, layer)
	return err
}

func (s *seed) attack(ctx context.Context, r *Run) error {
	recon := newActor(r.World, r.attacker, seedAttackerIPs[0], seedAttackerUA, r.Start)
	work := newActor(r.World, r.attacker, seedAttackerIPs[1], seedAttackerUA, r.Start)
	leaked := credential{Credentials: r.Target.Leaked, Label: "leaked", Account: r.Target.Account}
	var sess credential
	var backup []byte
	steps := []step{
		{0, func(ctx context.Context) error { return recon.whoami(ctx, leaked) }},
		{2 * time.Minute, func(ctx context.Context) error { _, err := recon.listBuckets(ctx, leaked); return err }},
		{4 * time.Minute, func(ctx context.Context) error { return describeInstances(ctx, recon, "us-east-1", leaked) }},
		{5 * time.Minute, func(ctx context.Context) error { return describeInstances(ctx, recon, "us-west-2", leaked) }},
		{7 * time.Minute, func(ctx context.Context) error {
			_, err := rds.NewFromConfig(recon.config("us-east-1", leaked)).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
			return wrap(err, "describe db instances")
		}},
		{10 * time.Minute, func(ctx context.Context) error {
			_, err := iam.NewFromConfig(recon.config("us-east-1", leaked)).ListRoles(ctx, &iam.ListRolesInput{})
			return wrap(err, "list roles")
		}},
		{15 * time.Minute, func(ctx context.Context) error {
			var err error
			sess, err = recon.assumeRole(ctx, leaked, s.roleARN, fmt.Sprintf("botocore-session-%d", r.Start.Add(15*time.Minute).Unix()), 12*time.Hour)
			return err
		}},
	}
	if err := play(ctx, r.Start, steps, recon); err != nil {
		return err
	}
	steps = []step{
		{16 * time.Minute, func(ctx context.Context) error { return work.whoami(ctx, sess) }},
		{17 * time.Minute, func(ctx context.Context) error { _, err := work.listBuckets(ctx, sess); return err }},
		{19 * time.Minute, func(ctx context.Context) error {
			_, err := work.listObjects(ctx, "us-east-1", sess, "backups-bucket")
			return err
		}},
		{20 * time.Minute, func(ctx context.Context) error {
			var err error
			backup, err = work.getObject(ctx, "us-east-1", sess, "backups-bucket", SeedBackupObject)
			return err
		}},
		{23 * time.Minute, func(ctx context.Context) error {
			_, err := work.listObjects(ctx, "us-east-1", sess, "config-bucket")
			return err
		}},
		{24 * time.Minute, func(ctx context.Context) error {
			_, err := work.getObject(ctx, "us-east-1", sess, "config-bucket", SeedStateObject)
			return err
		}},
		{25 * time.Minute, func(ctx context.Context) error {
			_, err := work.getObject(ctx, "us-east-1", sess, "config-bucket", SeedVarsObject)
			return err
		}},
		{30 * time.Minute, func(ctx context.Context) error {
			_, err := kms.NewFromConfig(work.config("us-east-1", sess)).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: backup})
			return expectDenied(err, "kms decrypt the backup")
		}},
		{35 * time.Minute, func(ctx context.Context) error { return describeInstances(ctx, work, "us-east-1", sess) }},
		{80 * time.Minute, func(ctx context.Context) error { _, err := work.listBuckets(ctx, sess); return err }},
		{130 * time.Minute, func(ctx context.Context) error { return work.whoami(ctx, sess) }},
		{150 * time.Minute, func(ctx context.Context) error {
			_, err := work.listObjects(ctx, "us-east-1", sess, "app-assets-bucket")
			return err
		}},
	}
	return play(ctx, r.Start, steps, work)
}

func describeInstances(ctx context.Context, a *actor, region string, c credential) error {
	_, err := ec2.NewFromConfig(a.config(region, c)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	return wrap(err, "describe instances in "+region+" as "+c.Label)
}

func wrap(err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// expectDenied accepts only an AccessDenied answer: the step is meant to fail.
func expectDenied(err error, what string) error {
	code := errorCode(err)
	if strings.HasPrefix(code, "AccessDenied") {
		return nil
	}
	if err == nil {
		return fmt.Errorf("%s: succeeded, want AccessDenied", what)
	}
	return fmt.Errorf("%s: want AccessDenied: %w", what, err)
}
