package world

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestShapeParams(t *testing.T) {
	tests := []struct {
		name    string
		service string
		target  string // request path; lambda calls are routed by it
		body    string
		want    string // requestParameters as JSON
	}{
		{
			name: "RunInstances nests the launch and hides user data", service: "ec2", target: "/",
			body: "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=20&InstanceType=p3.16xlarge&KeyName=k" +
				"&UserData=c2VjcmV0&SecurityGroupId.1=sg-1&SecurityGroupId.2=sg-2&EbsOptimized=false",
			want: `{"ebsOptimized":false,"groupSet":{"items":[{"groupId":"sg-1"},{"groupId":"sg-2"}]},"instanceType":"p3.16xlarge",` +
				`"instancesSet":{"items":[{"imageId":"ami-1","keyName":"k","maxCount":20,"minCount":1}]},"userData":"\u003csensitiveDataRemoved\u003e"}`,
		},
		{
			name: "RequestSpotInstances nests the launch specification", service: "ec2", target: "/",
			body: "Action=RequestSpotInstances&SpotPrice=0.9&InstanceCount=3&LaunchSpecification.ImageId=ami-1" +
				"&LaunchSpecification.InstanceType=g4dn.xlarge&LaunchSpecification.UserData=c2VjcmV0",
			want: `{"instanceCount":3,"launchSpecification":{"imageId":"ami-1","instanceType":"g4dn.xlarge",` +
				`"userData":"\u003csensitiveDataRemoved\u003e"},"spotPrice":"0.9"}`,
		},
		{
			name: "CreateLoginProfile drops the password", service: "iam", target: "/",
			body: "Action=CreateLoginProfile&UserName=u&Password=hunter2&PasswordResetRequired=true",
			want: `{"passwordResetRequired":true,"userName":"u"}`,
		},
		{
			name: "ChangePassword drops both passwords", service: "iam", target: "/",
			body: "Action=ChangePassword&OldPassword=a&NewPassword=b",
			want: `{}`,
		},
		{
			name: "CreateFunction keeps the code location but not the code", service: "lambda", target: "/2015-03-31/functions",
			body: `{"FunctionName":"f","Role":"arn:aws:iam::123456789012:role/r","Code":{"ZipFile":"UEsDBA==","S3Bucket":"b"},` +
				`"Environment":{"Variables":{"TOKEN":"hunter2"}},"TracingConfig":{"Mode":"Active"},"Tags":{"Owner":"x"}}`,
			want: `{"code":{"s3Bucket":"b"},"environment":{},"functionName":"f","role":"arn:aws:iam::123456789012:role/r",` +
				`"tags":{"Owner":"x"},"tracingConfig":{"mode":"Active"}}`,
		},
		{
			name: "other calls keep the flat form", service: "iam", target: "/",
			body: "Action=AttachUserPolicy&UserName=u&PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess",
			want: `{"policyArn":"arn:aws:iam::aws:policy/AdministratorAccess","userName":"u"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tt.target, strings.NewReader(tt.body))
			op := classify(r, []byte(tt.body), tt.service, DefaultAccount, "us-east-1")
			got, err := json.Marshal(op.Params)
			if err != nil {
				t.Fatalf("encode params: %v", err)
			}
			if tt.want == `{}` && len(op.Params) == 0 {
				got = []byte(`{}`)
			}
			if string(got) != tt.want {
				t.Fatalf("requestParameters =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestCreatedElementsIgnoreOtherAnswers(t *testing.T) {
	tests := []struct {
		name    string
		service string
		event   string
		body    string
	}{
		{"RunInstances without instances", "ec2", "RunInstances", `<RunInstancesResponse><reservationId>r-1</reservationId></RunInstancesResponse>`},
		{"RunInstances not XML", "ec2", "RunInstances", `{"Reservation":{}}`},
		{"RequestSpotInstances empty set", "ec2", "RequestSpotInstances", `<RequestSpotInstancesResponse><spotInstanceRequestSet/></RequestSpotInstancesResponse>`},
		{"CreateKeyPair without a name", "ec2", "CreateKeyPair", `<CreateKeyPairResponse><keyMaterial>x</keyMaterial></CreateKeyPairResponse>`},
		{"CreateFunction not JSON", "lambda", "CreateFunction20150331", `<html/>`},
		{"DescribeInstances is not parsed", "ec2", "DescribeInstances", `<DescribeInstancesResponse/>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &call{op: operation{Service: tt.service, Name: tt.event}, account: DefaultAccount, region: "us-east-1"}
			var got map[string]any
			if tt.service == "ec2" {
				got = observeEC2(c, []byte(tt.body))
			} else {
				got = observeLambda(c, []byte(tt.body))
			}
			if got != nil {
				t.Fatalf("responseElements = %v, want none", got)
			}
		})
	}
}

// FuzzCreatedElements feeds arbitrary answers to the parsers of moto's EC2, Lambda and
// IAM answers: they must not panic, and never echo key material or environment variables.
func FuzzCreatedElements(f *testing.F) {
	f.Add("RunInstances", `<RunInstancesResponse><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-1</instanceId></item></instancesSet></RunInstancesResponse>`)
	f.Add("RequestSpotInstances", `<RequestSpotInstancesResponse><spotInstanceRequestSet><item><spotInstanceRequestId>sir-1</spotInstanceRequestId></item></spotInstanceRequestSet></RequestSpotInstancesResponse>`)
	f.Add("CreateKeyPair", `<CreateKeyPairResponse><keyName>k</keyName><keyMaterial>PRIVATE</keyMaterial></CreateKeyPairResponse>`)
	f.Add("CreateFunction20150331", `{"FunctionName":"f","Environment":{"Variables":{"A":"PRIVATE"}},"VpcConfig":null}`)
	f.Add("CreateLoginProfile", `<CreateLoginProfileResponse><CreateLoginProfileResult><LoginProfile><UserName>u</UserName></LoginProfile></CreateLoginProfileResult></CreateLoginProfileResponse>`)
	f.Fuzz(func(t *testing.T, event, body string) {
		c := &call{op: operation{Name: event}, account: DefaultAccount, region: "us-east-1"}
		for _, out := range []map[string]any{
			observeEC2(c, []byte(body)), observeLambda(c, []byte(body)),
			loginProfileElements(c, []byte(body)), policyElements(c, []byte(body)),
		} {
			if _, err := json.Marshal(out); err != nil {
				t.Fatalf("elements %v do not encode: %v", out, err)
			}
			if m, ok := out["keyMaterial"]; ok && m != sensitiveDataRemoved {
				t.Fatalf("key material echoed: %v", out)
			}
			if env, ok := out["environment"]; ok {
				if m, isMap := env.(map[string]any); !isMap || len(m) > 0 {
					t.Fatalf("environment echoed: %v", out)
				}
			}
		}
	})
}
