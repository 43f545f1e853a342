package world

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
