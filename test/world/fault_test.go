package world

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestFaults(t *testing.T) {
	w := newWorld(t)
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	cfg := w.Config("us-east-1", user)
	cfg.RetryMaxAttempts = 1
	client := sts.NewFromConfig(cfg)
	call := func() (time.Duration, error) {
		start := time.Now()
		_, err := client.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		return time.Since(start), err
	}

	w.Gateway.SetFault("sts", Fault{ThrottleRate: 1})
	if _, err := call(); apiCode(err) != "Throttling" {
		t.Fatalf("throttle fault: err = %v, want Throttling", err)
	}
	w.Gateway.SetFault("s3", Fault{ErrorRate: 1}) // another service's fault does not apply
	w.Gateway.SetFault("sts", Fault{Delay: 80 * time.Millisecond})
	took, err := call()
	if err != nil || took < 80*time.Millisecond {
		t.Fatalf("delay fault: took %v, err %v; want ≥ 80ms and no error", took, err)
	}

	// The admin endpoint sets faults for a process that holds no *Gateway.
	resp, err := http.Post(w.URL()+"/_world/fault", "application/json",
		strings.NewReader(`{"service":"*","errorRate":1}`))
	if err != nil {
		t.Fatalf("post fault: %v", err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusNoContent; got != want {
		t.Fatalf("admin fault status = %d, want %d", got, want)
	}
	w.Gateway.SetFault("sts", Fault{})
	if _, err := call(); apiCode(err) != "InternalFailure" {
		t.Fatalf("wildcard error fault: err = %v, want InternalFailure", err)
	}
	var recorded int
	for _, r := range w.Gateway.Events() {
		if r.EventName == "GetCallerIdentity" && (r.ErrorCode == "Throttling" || r.ErrorCode == "InternalFailure") {
			recorded++
		}
	}
	if got, want := recorded, 2; got != want {
		t.Fatalf("recorded faulted calls = %d, want %d", got, want)
	}
}

// TestPoliciesUnreadNeverAllow: the gateway reads a caller's policies from
// moto to enforce their Deny statements. When they cannot be read (moto's
// connection breaks, again and again), the call fails with an internal
// error, which clients retry, and is never allowed.
func TestPoliciesUnreadNeverAllow(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "denied-user")
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount)))
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("denied-user"), PolicyName: aws.String("deny-s3"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	cfg := w.Config("us-east-1", user)
	cfg.RetryMaxAttempts = 1
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{}); apiCode(err) != "AccessDenied" {
		t.Fatalf("the denied call: %v, want AccessDenied", err)
	}

	// A listener that accepts connections and closes them unanswered.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	pc := w.Gateway.principals
	pc.mu.Lock()
	working := pc.motoURL
	pc.motoURL = "http://" + l.Addr().String()
	pc.mu.Unlock()
	pc.invalidate()
	if _, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{}); apiCode(err) != "InternalError" && apiCode(err) != "InternalFailure" {
		t.Errorf("with the caller's policies unreadable: %v, want an internal error", err)
	}
	pc.mu.Lock()
	pc.motoURL = working
	pc.mu.Unlock()
	if _, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{}); apiCode(err) != "AccessDenied" {
		t.Errorf("with moto back: %v, want AccessDenied", err)
	}
}

// TestBrokenAnswers: with BreakRate 1, a call is served and recorded, and
// its connection is reset halfway through the answer: the client has a
// success it cannot read, which the SDK's retryer retries, and
// RetryBrokenConnections too (up to three calls), but not a throttle.
func TestBrokenAnswers(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "reader")
	calls := func() (ok, failed int) {
		for _, r := range w.Gateway.Events() {
			if r.EventName == "GetCallerIdentity" && r.UserIdentity.AccessKeyID == user.AccessKeyID {
				if r.ErrorCode == "" {
					ok++
				} else {
					failed++
				}
			}
		}
		return ok, failed
	}
	w.Gateway.SetFault("sts", Fault{BreakRate: 1})
	cfg := w.Config("us-east-1", user)
	cfg.RetryMaxAttempts = 1
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var resp *awshttp.ResponseError
	if err == nil || !errors.As(err, &resp) || resp.HTTPStatusCode() != 200 || (retry.RetryableConnectionError{}).IsErrorRetryable(err) != aws.TrueTernary {
		t.Fatalf("a broken answer: %v, want a 200 whose body breaks off, which the SDK retries", err)
	}
	if ok, _ := calls(); ok != 1 {
		t.Errorf("%d successful calls recorded, want the one served before its answer broke", ok)
	}

	cfg = w.Config("us-east-1", user)
	RetryBrokenConnections(&cfg, 10*time.Millisecond)
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Fatal("every answer broken, yet the call succeeded")
	}
	if ok, _ := calls(); ok != 1+3 {
		t.Errorf("%d successful calls recorded, want 1 and then 3 (a call and two retries)", ok)
	}
	w.Gateway.SetFault("sts", Fault{ThrottleRate: 1})
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); apiCode(err) != "Throttling" {
		t.Fatalf("throttled: %v, want Throttling", err)
	}
	if _, failed := calls(); failed != 1 {
		t.Errorf("%d throttled calls recorded, want 1: a throttle is not retried", failed)
	}
}
