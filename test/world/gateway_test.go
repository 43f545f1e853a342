package world

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestGatewayReset(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	if err := w.Moto.Reset(ctx); err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	w.Gateway.Reset()
	if got := len(w.Gateway.Events()); got != 0 {
		t.Fatalf("events after reset = %d, want 0", got)
	}
	_, err := sts.NewFromConfig(w.Config("us-east-1", user)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if got, want := apiCode(err), "InvalidClientTokenId"; got != want {
		t.Fatalf("key from before the reset: error code = %q, want %q", got, want)
	}
	if _, err := sts.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount))).GetCallerIdentity(ctx,
		&sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("admin after reset: %v", err)
	}
}

func TestPeriodicTrailFlushAndEventsEndpoint(t *testing.T) {
	if err := sharedMoto.Reset(t.Context()); err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	g, err := StartGateway(Config{MotoURL: sharedMoto.URL(), TrailInterval: 100 * time.Millisecond, TrailBucket: "org-trail"})
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	w := &World{Moto: sharedMoto, Gateway: g}
	ctx := t.Context()
	if _, err := sts.NewFromConfig(w.Config("eu-west-1", w.Admin(DefaultAccount))).GetCallerIdentity(ctx,
		&sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	admin := s3Client(w, "us-east-1", w.Admin(DefaultAccount))
	deadline := time.Now().Add(time.Minute) // a guard against a hang
	for {
		out, err := admin.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String("org-trail"), Prefix: aws.String("AWSLogs/123456789012/CloudTrail/eu-west-1/"),
		})
		if err == nil && len(out.Contents) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trail file for eu-west-1 after a minute (err %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	resp, err := http.Get(g.URL() + "/_world/events")
	if err != nil {
		t.Fatalf("get events: %v", err)
	}
	defer resp.Body.Close()
	var got struct{ Records []Record }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decode events: %v", err)
	}
	if len(got.Records) == 0 || got.Records[0].EventName != "GetCallerIdentity" || got.Records[0].UserIdentity.Type != "Root" {
		t.Fatalf("first event = %+v, want GetCallerIdentity by Root", got.Records)
	}
}
