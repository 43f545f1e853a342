package world

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestKeyLifecycle(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	creds := newUser(t, w, DefaultAccount, "ci-deploy-user")
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount)))
	user := sts.NewFromConfig(w.Config("us-east-1", creds))

	callerARN := func() (string, error) {
		out, err := user.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return "", err
		}
		return *out.Arn, nil
	}
	setStatus := func(s types.StatusType) {
		t.Helper()
		_, err := admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
			UserName: aws.String("ci-deploy-user"), AccessKeyId: aws.String(creds.AccessKeyID), Status: s,
		})
		if err != nil {
			t.Fatalf("update access key to %s: %v", s, err)
		}
	}

	got, err := callerARN()
	if err != nil {
		t.Fatalf("active key: GetCallerIdentity: %v", err)
	}
	if want := "arn:aws:iam::123456789012:user/ci-deploy-user"; got != want {
		t.Fatalf("caller ARN = %q, want %q", got, want)
	}

	setStatus(types.StatusTypeInactive)
	if _, err := callerARN(); apiCode(err) != "InvalidClientTokenId" {
		t.Fatalf("inactive key: err = %v, want InvalidClientTokenId", err)
	}

	setStatus(types.StatusTypeActive)
	if _, err := callerARN(); err != nil {
		t.Fatalf("reactivated key: %v", err)
	}

	if _, err := admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{
		UserName: aws.String("ci-deploy-user"), AccessKeyId: aws.String(creds.AccessKeyID),
	}); err != nil {
		t.Fatalf("delete access key: %v", err)
	}
	if _, err := callerARN(); apiCode(err) != "InvalidClientTokenId" {
		t.Fatalf("deleted key: err = %v, want InvalidClientTokenId", err)
	}
}

func TestUnknownKeyErrorsPerService(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	unknown := Credentials{AccessKeyID: "AKIAZZZZZZZZZZZZZZZZ", SecretAccessKey: "nope"}
	cfg := w.Config("eu-west-1", unknown)
	cfg.RetryMaxAttempts = 1
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"iam", func() error { _, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{}); return err }, "InvalidClientTokenId"},
		{"sts", func() error {
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}, "InvalidClientTokenId"},
		{"s3", func() error {
			_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		}, "InvalidAccessKeyId"},
		{"ec2", func() error {
			_, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return err
		}, "AuthFailure"},
		{"cloudtrail", func() error {
			_, err := cloudtrail.NewFromConfig(cfg).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
			return err
		}, "UnrecognizedClientException"},
		{"lambda", func() error {
			_, err := lambda.NewFromConfig(cfg).ListFunctions(ctx, &lambda.ListFunctionsInput{})
			return err
		}, "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apiCode(tt.call()); got != tt.want {
				t.Fatalf("error code = %q, want %q", got, tt.want)
			}
		})
	}
	var failed int
	for _, r := range w.Gateway.Events() {
		if r.UserIdentity.AccessKeyID == unknown.AccessKeyID {
			failed++
			if r.ErrorCode == "" {
				t.Errorf("event %s of unknown key has no errorCode", r.EventName)
			}
		}
	}
	if got, want := failed, len(tests); got != want {
		t.Fatalf("recorded failures = %d, want %d", got, want)
	}
}

func TestBadSignatureRejected(t *testing.T) {
	w := newWorld(t)
	creds := newUser(t, w, DefaultAccount, "alice")
	creds.SecretAccessKey = "wrong" + creds.SecretAccessKey
	_, err := sts.NewFromConfig(w.Config("us-east-1", creds)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if got, want := apiCode(err), "SignatureDoesNotMatch"; got != want {
		t.Fatalf("error code = %q, want %q (err %v)", got, want, err)
	}
}

func TestBadEventTimeHeaderRefused(t *testing.T) {
	w := newWorld(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.URL()+"/", strings.NewReader("Action=GetCallerIdentity"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(HeaderEventTime, "yesterday")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusBadRequest; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
}
