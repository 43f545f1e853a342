package awsops_test

import (
	"archive/zip"
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// attack has the leaked key create what attackers create: a backdoor
// user with a key, a password, policies and a group; a role with an
// instance profile; an instance, a spot request and a function.
// It returns the IDs of the EC2 and Lambda resources by event name, which
// the world's CloudTrail does not record in responseElements.
func (s *ctSeed) attack(tb testing.TB) map[string]string {
	tb.Helper()
	ctx := tb.Context()
	cfg := s.w.Config("us-east-1", s.leaked)
	ic, ec, lc := iam.NewFromConfig(cfg), ec2.NewFromConfig(cfg), lambda.NewFromConfig(cfg)
	must := func(what string, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("attacker %s: %v", what, err)
		}
	}
	_, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backdoor")})
	must("CreateUser", err)
	_, err = ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("backdoor")})
	must("CreateAccessKey", err)
	_, err = ic.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("backdoor"), Password: aws.String("Backdoor-Passw0rd!")})
	must("CreateLoginProfile", err)
	_, err = ic.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("backdoor"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	must("AttachUserPolicy", err)
	_, err = ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("backdoor"), PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	must("PutUserPolicy", err)
	_, err = ic.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("ops")})
	must("CreateGroup", err)
	_, err = ic.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("ops"), UserName: aws.String("backdoor")})
	must("AddUserToGroup", err)
	_, err = ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("eks-node-launcher")})
	must("CreateAccessKey for another user", err)

	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("persist-role"), AssumeRolePolicyDocument: aws.String(ctTrustAnyone)})
	must("CreateRole", err)
	_, err = ic.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("persist-role"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	must("AttachRolePolicy", err)
	_, err = ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("persist-profile")})
	must("CreateInstanceProfile", err)
	_, err = ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("persist-profile"), RoleName: aws.String("persist-role")})
	must("AddRoleToInstanceProfile", err)

	ami := aws.String("ami-03cf127a") // one of moto's default AMIs
	run, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: ami, MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeC5Xlarge})
	must("RunInstances", err)
	_, err = ec.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: run.Instances[0].InstanceId,
		DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}})
	must("ModifyInstanceAttribute", err)
	spot, err := ec.RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{InstanceCount: aws.Int32(1), SpotPrice: aws.String("0.5"),
		LaunchSpecification: &ec2types.RequestSpotLaunchSpecification{ImageId: ami, InstanceType: ec2types.InstanceTypeC5Xlarge}})
	must("RequestSpotInstances", err)

	var code bytes.Buffer
	zw := zip.NewWriter(&code)
	f, _ := zw.Create("index.py")
	f.Write([]byte("def handler(event, context):\n    return 'mine'\n"))
	zw.Close()
	_, err = lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("miner"), Role: role.Role.Arn, Runtime: lambdatypes.RuntimePython312,
		Handler: aws.String("index.handler"), Code: &lambdatypes.FunctionCode{ZipFile: code.Bytes()}})
	must("CreateFunction", err)
	return map[string]string{
		"RunInstances":         aws.ToString(run.Instances[0].InstanceId),
		"RequestSpotInstances": aws.ToString(spot.SpotInstanceRequests[0].SpotInstanceRequestId),
		"CreateFunction":       "miner",
	}
}

// createdBy lists what the world's CloudTrail shows the leaked key
// created, as the investigation would find it.
func (s *ctSeed) createdBy(tb testing.TB, ids map[string]string) []awsops.CleanupItem {
	tb.Helper()
	var items []awsops.CleanupItem
	add := func(e world.Record, kind, id string) {
		items = append(items, awsops.CleanupItem{Kind: kind, ID: id, Region: e.AWSRegion, Account: e.RecipientAccountID,
			EventID: e.EventID, EventName: e.EventName, EventTime: e.Time()})
	}
	str := func(m map[string]any, path ...string) string {
		var v any = m
		for _, p := range path {
			mm, _ := v.(map[string]any)
			v = mm[p]
			if list, ok := v.([]any); ok && len(list) > 0 {
				v = list[0]
			}
		}
		s, _ := v.(string)
		return s
	}
	for _, e := range s.w.Gateway.Events() {
		if e.UserIdentity.AccessKeyID != s.leaked.AccessKeyID || e.ErrorCode != "" {
			continue
		}
		switch e.EventName {
		case "CreateUser":
			add(e, awsops.CleanupUser, str(e.RequestParameters, "userName"))
		case "CreateRole":
			add(e, awsops.CleanupRole, str(e.RequestParameters, "roleName"))
		case "CreateAccessKey":
			if str(e.RequestParameters, "userName") != "backdoor" { // the backdoor's key goes with the user
				add(e, awsops.CleanupAccessKey, str(e.ResponseElements, "accessKey", "accessKeyId"))
			}
		case "RunInstances":
			add(e, awsops.CleanupInstance, ids[e.EventName])
		case "RequestSpotInstances":
			add(e, awsops.CleanupSpotRequest, ids[e.EventName])
		case "CreateFunction20150331", "CreateFunction":
			add(e, awsops.CleanupFunction, ids["CreateFunction"])
		}
	}
	for _, it := range items {
		if it.ID == "" {
			tb.Fatalf("no ID found in the %s event for %s", it.EventName, it.Kind)
		}
	}
	return items
}

func testCleanup(t *testing.T, moto *world.Moto) {
	s := newCTSeed(t, moto, awsops.Options{})
	ctx := t.Context()
	items := s.createdBy(t, s.attack(t))
	var kinds []string
	for _, it := range items {
		kinds = append(kinds, it.Kind)
	}
	slices.Sort(kinds)
	if want := []string{awsops.CleanupInstance, awsops.CleanupSpotRequest, awsops.CleanupAccessKey, awsops.CleanupRole, awsops.CleanupUser, awsops.CleanupFunction}; !slices.Equal(kinds, slices.Sorted(slices.Values(want))) {
		t.Fatalf("attack created %v, want %v", kinds, want)
	}

	plan, err := s.c.PlanCleanup(ctx, s.target, items)
	if err != nil {
		t.Fatalf("plan cleanup: %v", err)
	}
	impact := strings.Join(plan.Impact, "\n")
	for _, it := range items {
		if !strings.Contains(impact, it.EventID) {
			t.Errorf("impact does not show the evidence of %s (event %s):\n%s", it, it.EventID, impact)
		}
	}
	for _, want := range []string{"iam:DeleteLoginProfile", "iam:RemoveUserFromGroup", "iam:DetachUserPolicy", "iam:DeleteUserPolicy",
		"iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile", "iam:DetachRolePolicy", "iam:DeleteRole", "iam:DeleteUser",
		"ec2:ModifyInstanceAttribute", "ec2:TerminateInstances", "ec2:CancelSpotInstanceRequests", "lambda:DeleteFunction", "iam:DeleteAccessKey"} {
		if !slices.Contains(ctOperations(plan.Calls), want) {
			t.Errorf("plan lacks %s:\n%s", want, strings.Join(plan.Calls, "\n"))
		}
	}
	n := len(s.w.Gateway.Events())
	res, err := s.c.ExecuteCleanup(ctx, s.target, plan.Params)
	if err != nil {
		t.Fatalf("cleanup: %v (done %v)", err, res.Done)
	}
	ctCallsMatch(t, s.w, n, plan, res)

	// Everything is gone: a second plan has nothing to do, and AWS agrees.
	again, err := s.c.PlanCleanup(ctx, s.target, items)
	if err != nil || again.Noop == "" {
		t.Errorf("cleanup planned again: %v calls, err %v; want nothing to do", again.Calls, err)
	}
	if _, err := s.admin.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("backdoor")}); ctErrorCode(t, err) != "NoSuchEntity" {
		t.Errorf("backdoor user: err %v, want NoSuchEntity", err)
	}
	if _, err := s.admin.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("persist-role")}); ctErrorCode(t, err) != "NoSuchEntity" {
		t.Errorf("persist-role: err %v, want NoSuchEntity", err)
	}
	keys, err := s.admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("eks-node-launcher")})
	if err != nil || len(keys.AccessKeyMetadata) != 1 || aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId) != s.node.AccessKeyID {
		t.Errorf("eks-node-launcher's keys = %+v (%v), want only its own", keys, err)
	}
	if got := s.listBuckets(t, s.node); got != "" {
		t.Errorf("the legitimate key of eks-node-launcher: ListBuckets error %q", got)
	}
}
