package world

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
	ratypes "github.com/aws/aws-sdk-go-v2/service/rolesanywhere/types"
	"github.com/aws/aws-sdk-go-v2/service/signin"
	signintypes "github.com/aws/aws-sdk-go-v2/service/signin/types"
	"github.com/keyleak/keyleak/awsops"
)

// TestLocalServices: Roles Anywhere anchors and profiles, EKS access
// entries, service-specific credentials and sign-in sessions, which moto
// lacks, answer through the gateway as AWS's APIs do, and are recorded.
func TestLocalServices(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	cfg := w.Config("us-east-1", w.Admin(DefaultAccount))

	ra := rolesanywhere.NewFromConfig(cfg)
	anchor, err := ra.CreateTrustAnchor(ctx, &rolesanywhere.CreateTrustAnchorInput{Name: aws.String("ca"), Enabled: aws.Bool(true),
		Source: &ratypes.Source{SourceType: ratypes.TrustAnchorTypeCertificateBundle,
			SourceData: &ratypes.SourceDataMemberX509CertificateData{Value: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := anchor.TrustAnchor.TrustAnchorId
	if !strings.HasPrefix(aws.ToString(anchor.TrustAnchor.TrustAnchorArn), "arn:aws:rolesanywhere:us-east-1:"+DefaultAccount+":trust-anchor/") {
		t.Errorf("trust anchor = %+v", anchor.TrustAnchor)
	}
	if _, err := ra.DisableTrustAnchor(ctx, &rolesanywhere.DisableTrustAnchorInput{TrustAnchorId: id}); err != nil {
		t.Fatal(err)
	}
	got, err := ra.GetTrustAnchor(ctx, &rolesanywhere.GetTrustAnchorInput{TrustAnchorId: id})
	if err != nil || aws.ToBool(got.TrustAnchor.Enabled) {
		t.Errorf("after disable: %+v %v", got, err)
	}
	if _, err := ra.DeleteTrustAnchor(ctx, &rolesanywhere.DeleteTrustAnchorInput{TrustAnchorId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := ra.GetTrustAnchor(ctx, &rolesanywhere.GetTrustAnchorInput{TrustAnchorId: id}); codeOf(err) != "ResourceNotFoundException" {
		t.Errorf("deleted anchor: %v", err)
	}
	prof, err := ra.CreateProfile(ctx, &rolesanywhere.CreateProfileInput{Name: aws.String("p"), RoleArns: []string{"arn:aws:iam::" + DefaultAccount + ":role/x"}})
	if err != nil || aws.ToString(prof.Profile.ProfileId) == "" {
		t.Fatalf("create profile: %+v %v", prof, err)
	}

	ek := eks.NewFromConfig(cfg)
	role := "arn:aws:iam::" + DefaultAccount + ":role/eks"
	if _, err := ek.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String("prod"), RoleArn: aws.String(role),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}}}); err != nil {
		t.Fatal(err)
	}
	outsider := "arn:aws:iam::" + SecondAccount + ":root"
	if _, err := ek.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("prod"), PrincipalArn: aws.String(outsider),
		KubernetesGroups: []string{"system:masters"}}); err != nil {
		t.Fatal(err)
	}
	entry, err := ek.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("prod"), PrincipalArn: aws.String(outsider)})
	if err != nil || aws.ToString(entry.AccessEntry.PrincipalArn) != outsider {
		t.Fatalf("describe access entry: %+v %v", entry, err)
	}
	if _, err := ek.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String("prod"), PrincipalArn: aws.String(outsider)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ek.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("prod"), PrincipalArn: aws.String(outsider)}); codeOf(err) != "ResourceNotFoundException" {
		t.Errorf("deleted access entry: %v", err)
	}
	if _, err := ek.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("staging"), PrincipalArn: aws.String(outsider)}); codeOf(err) != "ResourceNotFoundException" {
		t.Errorf("access entry on a cluster that does not exist: %v", err)
	}

	newUser(t, w, DefaultAccount, "git")
	ic := iam.NewFromConfig(cfg)
	sc, err := ic.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("git"), ServiceName: aws.String("codecommit.amazonaws.com")})
	if err != nil || aws.ToString(sc.ServiceSpecificCredential.ServicePassword) == "" {
		t.Fatalf("create credential: %+v %v", sc, err)
	}
	credID := sc.ServiceSpecificCredential.ServiceSpecificCredentialId
	if _, err := ic.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String("git"),
		ServiceSpecificCredentialId: credID, Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	list, err := ic.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("git")})
	if err != nil || len(list.ServiceSpecificCredentials) != 1 || list.ServiceSpecificCredentials[0].Status != iamtypes.StatusTypeInactive {
		t.Fatalf("list credentials: %+v %v", list, err)
	}
	if _, err := ic.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String("git"), ServiceSpecificCredentialId: credID}); err != nil {
		t.Fatal(err)
	}

	if _, err := ic.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("git"), Password: aws.String("A-long-passw0rd!")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Gateway.SignIn(ctx, SignIn{Account: DefaultAccount, UserName: "git"}); err != nil {
		t.Fatal(err)
	}
	si := signin.NewFromConfig(cfg, func(o *signin.Options) { o.EndpointResolverV2 = awsops.SigninEndpoint{} })
	userARN := "arn:aws:iam::" + DefaultAccount + ":user/git"
	sessions, err := si.ListSessions(ctx, &signin.ListSessionsInput{PrincipalArn: aws.String(userARN)})
	if err != nil || len(sessions.Items) != 1 || sessions.Items[0].Status != signintypes.SessionStatusActive {
		t.Fatalf("list sessions: %+v %v", sessions, err)
	}
	revoked, err := si.BatchRevokeSessions(ctx, &signin.BatchRevokeSessionsInput{PrincipalArn: aws.String(userARN), SessionArns: []string{aws.ToString(sessions.Items[0].SessionArn)}})
	if err != nil || len(revoked.RevokedSessions) != 1 {
		t.Fatalf("revoke: %+v %v", revoked, err)
	}
	after, err := si.ListSessions(ctx, &signin.ListSessionsInput{PrincipalArn: aws.String("arn:aws:iam::" + DefaultAccount + ":*")})
	if err != nil || len(after.Items) != 1 || after.Items[0].Status != "REVOKED" {
		t.Errorf("after revoking: %+v %v", after, err)
	}

	names := map[string]bool{}
	for _, r := range w.Gateway.Events() {
		names[r.EventSource+" "+r.EventName] = true
	}
	for _, want := range []string{"rolesanywhere.amazonaws.com CreateTrustAnchor", "rolesanywhere.amazonaws.com DeleteTrustAnchor",
		"eks.amazonaws.com CreateAccessEntry", "iam.amazonaws.com CreateServiceSpecificCredential", "signin.amazonaws.com BatchRevokeSessions"} {
		if !names[want] {
			t.Errorf("no %s event recorded", want)
		}
	}
}

// TestQuarantineV4 is in every account, as AWS published it.
func TestQuarantineV4(t *testing.T) {
	w := newWorld(t)
	ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount)))
	p, err := ic.GetPolicy(t.Context(), &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV4")})
	if err != nil || aws.ToString(p.Policy.DefaultVersionId) != "v2" {
		t.Fatalf("V4 = %+v, %v", p, err)
	}
	v, err := ic.GetPolicyVersion(t.Context(), &iam.GetPolicyVersionInput{PolicyArn: p.Policy.Arn, VersionId: p.Policy.DefaultVersionId})
	if err != nil || !strings.Contains(aws.ToString(v.PolicyVersion.Document), "ec2%3ARunInstances") && !strings.Contains(aws.ToString(v.PolicyVersion.Document), "ec2:RunInstances") {
		t.Errorf("V4 document = %v, %v", v, err)
	}
}
