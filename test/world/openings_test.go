package world

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestOpeningShapes: the opening calls' requestParameters are recorded as
// CloudTrail records them (shapes from real records).
func TestOpeningShapes(t *testing.T) {
	query := func(service, body string) operation {
		r, _ := http.NewRequest(http.MethodPost, "http://gateway/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return classify(r, []byte(body), service, DefaultAccount, "us-east-1")
	}
	asJSON := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	tests := []struct {
		name string
		op   operation
		want string
	}{
		{"snapshot share", query("ec2", "Action=ModifySnapshotAttribute&SnapshotId=snap-1&Attribute=createVolumePermission&CreateVolumePermission.Add.1.UserId=999988887777"),
			`{"attributeType":"CREATE_VOLUME_PERMISSION","createVolumePermission":{"add":{"items":[{"userId":"999988887777"}]}},"snapshotId":"snap-1"}`},
		{"image share", query("ec2", "Action=ModifyImageAttribute&ImageId=ami-1&Attribute=launchPermission&LaunchPermission.Add.1.Group=all"),
			`{"attributeType":"launchPermission","imageId":"ami-1","launchPermission":{"add":{"items":[{"group":"all"}]}}}`},
		{"ingress, flat", query("ec2", "Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=0.0.0.0%2F0"),
			`{"cidrIp":"0.0.0.0/0","fromPort":22,"groupId":"sg-1","ipPermissions":{},"ipProtocol":"tcp","toPort":22}`},
		{"ingress, permissions", query("ec2", "Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=3389&IpPermissions.1.ToPort=3389&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0"),
			`{"groupId":"sg-1","ipPermissions":{"items":[{"fromPort":3389,"ipProtocol":"tcp","ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"toPort":3389}]}}`},
		{"database snapshot share", query("rds", "Action=ModifyDBSnapshotAttribute&DBSnapshotIdentifier=nightly&AttributeName=restore&ValuesToAdd.AttributeValue.1=999988887777"),
			`{"attributeName":"restore","dBSnapshotIdentifier":"nightly","valuesToAdd":["999988887777"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := asJSON(tt.op.Params); got != tt.want {
				t.Errorf("requestParameters\n got  %s\n want %s", got, tt.want)
			}
		})
	}
	t.Run("lifecycle body", func(t *testing.T) {
		body := `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>cleanup</ID><Filter><Prefix></Prefix></Filter>` +
			`<Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`
		r, _ := http.NewRequest(http.MethodPut, "http://gateway/trail-bucket?lifecycle=", strings.NewReader(body))
		op := classify(r, []byte(body), "s3", DefaultAccount, "us-east-1")
		got := asJSON(op.Params["LifecycleConfiguration"])
		want := `{"Rule":{"Expiration":{"Days":1},"Filter":{"Prefix":""},"ID":"cleanup","Status":"Enabled"},"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/"}`
		if op.Name != "PutBucketLifecycle" || got != want {
			t.Errorf("%s %s, want PutBucketLifecycle %s", op.Name, got, want)
		}
	})
	t.Run("bucket policy and canned ACL", func(t *testing.T) {
		body := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"s3:GetObject","Resource":"*"}]}`
		r, _ := http.NewRequest(http.MethodPut, "http://gateway/data?policy=", strings.NewReader(body))
		op := classify(r, []byte(body), "s3", DefaultAccount, "us-east-1")
		if got := asJSON(op.Params["bucketPolicy"]); !strings.Contains(got, `"arn:aws:iam::999988887777:root"`) || op.Name != "PutBucketPolicy" {
			t.Errorf("%s bucketPolicy = %s, want the policy as an object", op.Name, got)
		}
		r, _ = http.NewRequest(http.MethodPut, "http://gateway/data?acl=", nil)
		r.Header.Set("x-amz-acl", "public-read")
		op = classify(r, nil, "s3", DefaultAccount, "us-east-1")
		if got := asJSON(op.Params["x-amz-acl"]); got != `["public-read"]` || op.Name != "PutBucketAcl" {
			t.Errorf("%s x-amz-acl = %s, want [\"public-read\"]", op.Name, got)
		}
	})
	t.Run("lambda names", func(t *testing.T) {
		for path, want := range map[string]string{
			"POST /2015-03-31/functions/f/policy":          "AddPermission20150331v2",
			"DELETE /2015-03-31/functions/f/policy/public": "RemovePermission20150331v2",
			"POST /2021-10-31/functions/f/url":             "CreateFunctionUrlConfig20211031",
			"PUT /2015-03-31/functions/f/code":             "UpdateFunctionCode20150331v2",
		} {
			method, p, _ := strings.Cut(path, " ")
			r, _ := http.NewRequest(method, "http://gateway"+p, nil)
			if op := classify(r, nil, "lambda", DefaultAccount, "us-east-1"); op.Name != want {
				t.Errorf("%s = %s, want %s", path, op.Name, want)
			}
		}
	})
	t.Run("snapshot share as moto reads it", func(t *testing.T) {
		c := &call{op: operation{Service: "ec2", Name: "ModifySnapshotAttribute"}}
		bodies := motoBodies(c, []byte("Action=ModifySnapshotAttribute&Version=2016-11-15&SnapshotId=snap-1&Attribute=createVolumePermission"+
			"&CreateVolumePermission.Add.1.UserId=111&CreateVolumePermission.Remove.1.Group=all"))
		if len(bodies) != 2 {
			t.Fatalf("%d bodies, want an add and a remove", len(bodies))
		}
		add, _ := url.ParseQuery(string(bodies[0]))
		remove, _ := url.ParseQuery(string(bodies[1]))
		if add.Get("OperationType") != "add" || add.Get("UserId.1") != "111" || remove.Get("OperationType") != "remove" || remove.Get("UserGroup.1") != "all" {
			t.Errorf("bodies = %s / %s", bodies[0], bodies[1])
		}
	})
}

// TestOpeningsThroughTheGateway: the opening calls succeed through the
// gateway, are recorded with what CloudTrail records of their answers,
// and take effect (a snapshot shared with the SDK's form is shared).
func TestOpeningsThroughTheGateway(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	admin := w.Admin(DefaultAccount)
	e := ec2.NewFromConfig(w.Config("us-east-1", admin))
	vol, err := e.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8)})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := e.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: snap.SnapshotId, Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &ec2types.CreateVolumePermissionModifications{Add: []ec2types.CreateVolumePermission{{UserId: aws.String("999988887777")}}}}); err != nil {
		t.Fatal(err)
	}
	attr, err := e.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: snap.SnapshotId, Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission})
	if err != nil || len(attr.CreateVolumePermissions) != 1 || aws.ToString(attr.CreateVolumePermissions[0].UserId) != "999988887777" {
		t.Errorf("snapshot permissions = %+v (%v), want the share", attr, err)
	}
	sg, err := e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("bastion"), Description: aws.String("b")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpProtocol: aws.String("tcp"),
		FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("0.0.0.0/0")}); err != nil {
		t.Fatal(err)
	}
	ic := iam.NewFromConfig(w.Config("us-east-1", admin))
	if _, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://idp.example.invalid"),
		ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{strings.Repeat("b", 40)}}); err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(w.Config("us-east-1", admin), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("data"), ACL: s3types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	byName := map[string]Record{}
	for _, r := range w.Gateway.Events() {
		byName[r.EventName] = r
	}
	rule, _ := byName["AuthorizeSecurityGroupIngress"].ResponseElements["securityGroupRuleSet"].(map[string]any)
	items, _ := rule["items"].([]any)
	if len(items) != 1 || !strings.HasPrefix(items[0].(map[string]any)["securityGroupRuleId"].(string), "sgr-") {
		t.Errorf("AuthorizeSecurityGroupIngress responseElements = %+v, want the rule's ID", byName["AuthorizeSecurityGroupIngress"].ResponseElements)
	}
	if arn, _ := byName["CreateOpenIDConnectProvider"].ResponseElements["openIDConnectProviderArn"].(string); !strings.HasSuffix(arn, ":oidc-provider/idp.example.invalid") {
		t.Errorf("CreateOpenIDConnectProvider responseElements = %+v", byName["CreateOpenIDConnectProvider"].ResponseElements)
	}
	if got := byName["PutBucketAcl"].RequestParameters["x-amz-acl"]; !slices.Equal(toStrings(got), []string{"public-read"}) {
		t.Errorf("PutBucketAcl x-amz-acl = %v", got)
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestDescribeRegionsAsAWS: the commercial partition's regions only, with
// their opt-in status in the caller's account; without AllRegions only the
// enabled ones.
func TestDescribeRegionsAsAWS(t *testing.T) {
	w := newWorld(t)
	w.Gateway.EnableRegion(DefaultAccount, "me-central-1")
	e := ec2.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount)))
	enabled, err := e.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{AllRegions: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	status := func(out *ec2.DescribeRegionsOutput) map[string]string {
		m := map[string]string{}
		for _, r := range out.Regions {
			m[aws.ToString(r.RegionName)] = aws.ToString(r.OptInStatus)
		}
		return m
	}
	en, al := status(enabled), status(all)
	if len(en) != len(defaultRegions)+1 || en["me-central-1"] != "opted-in" || en["us-east-1"] != "opt-in-not-required" {
		t.Errorf("enabled regions = %v", en)
	}
	if len(al) != len(defaultRegions)+len(optInRegions) || al["af-south-1"] != "not-opted-in" {
		t.Errorf("all regions = %v", al)
	}
	for r := range al {
		if strings.HasPrefix(r, "cn-") || strings.HasPrefix(r, "us-gov-") {
			t.Errorf("%s is not of the commercial partition", r)
		}
	}
	// Another account has not opted in.
	other, err := ec2.NewFromConfig(w.Config("us-east-1", w.Admin(SecondAccount))).DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{})
	if err != nil || len(other.Regions) != len(defaultRegions) {
		t.Errorf("second account's regions = %d (%v), want the %d default ones", len(other.Regions), err, len(defaultRegions))
	}
}

// TestConsoleSignIn: a user with a console password signs in (recorded as
// ConsoleLogin, and the session's calls as the user's from the console); a
// user without one is refused (ConsoleLogin Failure).
func TestConsoleSignIn(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	newUser(t, w, DefaultAccount, "with-password")
	newUser(t, w, DefaultAccount, "without")
	ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount)))
	if _, err := ic.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("with-password"), Password: aws.String("Passw0rd-long!")}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	creds, err := w.Gateway.SignIn(ctx, SignIn{Account: DefaultAccount, UserName: "with-password", SourceIP: "203.0.113.66", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Gateway.SignIn(ctx, SignIn{Account: DefaultAccount, UserName: "without", At: at}); err == nil {
		t.Error("a user without a console password signed in")
	}
	if _, err := iam.NewFromConfig(w.Config("us-east-1", creds)).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("console session: %v", err)
	}
	var logins []string
	var consoleCall Record
	for _, r := range w.Gateway.Events() {
		if r.EventName == "ConsoleLogin" {
			logins = append(logins, r.UserIdentity.UserName+"="+r.ResponseElements["ConsoleLogin"].(string))
			if r.EventSource != "signin.amazonaws.com" || r.EventType != "AwsConsoleSignIn" || r.EventTime != formatTime(at) {
				t.Errorf("ConsoleLogin record = %+v", r)
			}
		}
		if r.EventName == "ListUsers" {
			consoleCall = r
		}
	}
	slices.Sort(logins)
	if !slices.Equal(logins, []string{"with-password=Success", "without=Failure"}) {
		t.Errorf("ConsoleLogin events = %v", logins)
	}
	if consoleCall.UserIdentity.UserName != "with-password" || consoleCall.SessionCredentialFromConsole != "true" || consoleCall.UserIdentity.AccessKeyID != creds.AccessKeyID {
		t.Errorf("console call = %+v, want the user's, from the console session", consoleCall.UserIdentity)
	}
}

// TestCrossAccountAssumeRoleInBothTrails: an AssumeRole into another
// account is recorded in the caller's account and, with the caller as an
// AWSAccount principal, in the role's.
func TestCrossAccountAssumeRoleInBothTrails(t *testing.T) {
	w := newWorld(t)
	roleARN := newRole(t, w, SecondAccount, "partner")
	user := newUser(t, w, DefaultAccount, "caller")
	if _, err := sts.NewFromConfig(w.Config("us-east-1", user)).AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	var copies []Record
	for _, r := range w.Gateway.Events() {
		if r.EventName == "AssumeRole" {
			copies = append(copies, r)
		}
	}
	if len(copies) != 2 || copies[0].SharedEventID == "" || copies[0].SharedEventID != copies[1].SharedEventID {
		t.Fatalf("AssumeRole records = %+v, want two sharing an event ID", copies)
	}
	for _, r := range copies {
		switch r.RecipientAccountID {
		case DefaultAccount:
			if r.UserIdentity.UserName != "caller" {
				t.Errorf("caller's copy = %+v", r.UserIdentity)
			}
		case SecondAccount:
			if r.UserIdentity.Type != "AWSAccount" || r.UserIdentity.AccountID != DefaultAccount || r.UserIdentity.AccessKeyID != "" {
				t.Errorf("role account's copy = %+v, want the caller as an AWSAccount of %s", r.UserIdentity, DefaultAccount)
			}
		default:
			t.Errorf("AssumeRole recorded in %s", r.RecipientAccountID)
		}
	}
}
