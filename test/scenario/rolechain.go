package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/test/world"
)

// Names of the role-chain scenario.
const (
	ChainUser       = "data-pipeline-user"
	ChainRole       = "ops-automation-role"
	ChainRemoteRole = "partner-audit-role"
	chainExports    = "partner-exports"
	chainReports    = "reporting-bucket"
)

var (
	chainAttackerIPs = []string{"185.220.101.47", "45.137.21.9"}
	chainAttackerUA  = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.2 cfg/retry-mode#legacy Botocore/1.34.69"
	reportingUA      = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2 reporting-service/2.4.1"
)

// RoleChain leaks data-pipeline-user's key; the attacker assumes ops-automation-role in the
// same account, chains from that session into partner-audit-role in SecondAccount (two hops),
// reads the partner's buckets there, and also mints a federation token with the leaked key.
func RoleChain() Scenario {
	s := &roleChain{}
	return Scenario{
		Name: "role-chain",
		Description: "data-pipeline-user's key leaks; the attacker assumes ops-automation-role, chains into " +
			"partner-audit-role in the second account and reads its buckets, and calls GetFederationToken",
		Setup: s.setup, Legit: s.legit, Attack: s.attack,
		KeyCI: ciReport(chainReports), CIAddress: "52.23.18.90",
	}
}

type roleChain struct {
	roleARN, remoteARN string
	reporter           world.Credentials
}

func (s *roleChain) setup(ctx context.Context, r *Run) error {
	b := r.builder(world.DefaultAccount)
	remote := r.builder(world.SecondAccount)
	t := &r.Target
	t.Account, t.LeakedUser, t.TrailBucket = world.DefaultAccount, ChainUser, r.World.Gateway.TrailBucket()
	t.Regions = []string{"us-east-1"}
	if err := baseAccount(ctx, b); err != nil {
		return err
	}
	userARN, err := b.user(ctx, ChainUser, policies{"pipeline": document(
		allow("*", "s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:ListAllMyBuckets", "sts:AssumeRole",
			"sts:GetFederationToken", "glue:*"))}, nil)
	if err != nil {
		return err
	}
	if t.Leaked, err = b.accessKey(ctx, ChainUser); err != nil {
		return err
	}
	if s.roleARN, err = b.role(ctx, ChainRole, trustPrincipals(userARN), 4*time.Hour, policies{
		"ops": document(allow("*", "sts:AssumeRole", "ec2:Describe*", "s3:List*", "ssm:GetParameter*")),
	}); err != nil {
		return err
	}
	if s.remoteARN, err = remote.role(ctx, ChainRemoteRole, trustPrincipals(s.roleARN), time.Hour, nil,
		"arn:aws:iam::aws:policy/ReadOnlyAccess"); err != nil {
		return err
	}
	if err := remote.bucket(ctx, "us-east-1", chainExports,
		content{"2026-11/customers.csv", []byte("id,email\n1,a@example.com\n"), true},
		content{"2026-11/summary.json", []byte(`{"rows":1}`), false}); err != nil {
		return err
	}
	reporterARN, err := b.user(ctx, "reporting-service", policies{"read-reports": document(
		allow("*", "s3:GetObject", "s3:ListBucket"))}, nil)
	if err != nil {
		return err
	}
	if s.reporter, err = b.accessKey(ctx, "reporting-service"); err != nil {
		return err
	}
	t.LegitPrincipals = []string{reporterARN}
	t.LegitKeys = []world.Credentials{s.reporter}
	return b.bucket(ctx, "us-east-1", chainReports, content{key: "daily/latest.csv", body: []byte("day,total\n")})
}

// legit: the reporting service reads its latest report every 30 minutes from 10.1.4.20.
func (s *roleChain) legit(ctx context.Context, r *Run, from, to time.Time) error {
	a := newActor(r.World, r.legit, "10.1.4.20", reportingUA, from)
	key := credential{Credentials: s.reporter, Label: "reporting-service", Account: r.Target.Account}
	for at := from; at.Before(to); at = at.Add(30 * time.Minute) {
		a.at(at)
		if _, err := a.getObject(ctx, "us-east-1", key, chainReports, "daily/latest.csv"); err != nil {
			return err
		}
	}
	return nil
}

func (s *roleChain) attack(ctx context.Context, r *Run) error {
	a := newActor(r.World, r.attacker, chainAttackerIPs[0], chainAttackerUA, r.Start)
	hop := newActor(r.World, r.attacker, chainAttackerIPs[1], chainAttackerUA, r.Start)
	leaked := credential{Credentials: r.Target.Leaked, Label: "leaked", Account: r.Target.Account}
	var ops, partner, fed credential
	steps := []step{
		{0, func(ctx context.Context) error { return a.whoami(ctx, leaked) }},
		{3 * time.Minute, func(ctx context.Context) error { _, err := a.listBuckets(ctx, leaked); return err }},
		{6 * time.Minute, func(ctx context.Context) error {
			var err error
			ops, err = a.assumeRole(ctx, leaked, s.roleARN, "pipeline-debug", time.Hour)
			return err
		}},
		{8 * time.Minute, func(ctx context.Context) error {
			out, err := a.sts(leaked).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("backup-sync"),
				DurationSeconds: aws.Int32(12 * 3600)})
			if err != nil {
				return fmt.Errorf("get federation token: %w", err)
			}
			fed = credential{Credentials: stsCredentials(out.Credentials.AccessKeyId, out.Credentials.SecretAccessKey,
				out.Credentials.SessionToken), Label: "federated/backup-sync", Account: r.Target.Account}
			return nil
		}},
		{10 * time.Minute, func(ctx context.Context) error { return a.whoami(ctx, ops) }},
		{12 * time.Minute, func(ctx context.Context) error {
			var err error
			partner, err = hop.assumeRole(ctx, ops, s.remoteARN, "audit", time.Hour)
			return err
		}},
		{13 * time.Minute, func(ctx context.Context) error { return hop.whoami(ctx, partner) }},
		{14 * time.Minute, func(ctx context.Context) error { _, err := hop.listBuckets(ctx, partner); return err }},
		{15 * time.Minute, func(ctx context.Context) error {
			_, err := hop.listObjects(ctx, "us-east-1", partner, chainExports)
			return err
		}},
		{16 * time.Minute, func(ctx context.Context) error {
			_, err := hop.getObject(ctx, "us-east-1", partner, chainExports, "2026-11/customers.csv")
			return err
		}},
		{17 * time.Minute, func(ctx context.Context) error {
			_, err := hop.getObject(ctx, "us-east-1", partner, chainExports, "2026-11/summary.json")
			return err
		}},
		{40 * time.Minute, func(ctx context.Context) error { _, err := a.listBuckets(ctx, fed); return err }},
		{42 * time.Minute, func(ctx context.Context) error {
			_, err := a.getObject(ctx, "us-east-1", fed, chainReports, "daily/latest.csv")
			return err
		}},
	}
	return play(ctx, r.Start, steps, a, hop)
}
