package awsops_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

func sesConfig(url string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "testing", ""),
		RetryMaxAttempts: 1,
	}
}

// motoRawMessage is what moto records of a raw email (GET /moto-api/data.json).
type motoRawMessage struct {
	ID           string   `json:"id"`
	Source       string   `json:"source"`
	Destinations []string `json:"destinations"`
	RawData      string   `json:"raw_data"`
}

func motoSentMessages(tb testing.TB, url string) []motoRawMessage {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, url+"/moto-api/data.json", nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("read moto's data: %v", err)
	}
	defer resp.Body.Close()
	var data struct {
		SES struct {
			RawMessage []motoRawMessage `json:"RawMessage"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		tb.Fatalf("decode moto's data: %v", err)
	}
	return data.SES.RawMessage
}

const sesRaw = "From: keyleak@example.com\r\n" +
	"To: infosec@example.com\r\n" +
	"Subject: [KL-2026-0007] Leaked AWS access key AKIAIOSFODNN7EXAMPLE\r\n" +
	"Message-ID: <kl-2026-0007.open@keyleak>\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"\r\n" +
	"Incident KL-2026-0007\r\n"

// TestSES shares one moto between its parts: moto takes seconds to start.
func TestSES(t *testing.T) {
	moto := world.NewMotoTB(t)
	t.Run("send", func(t *testing.T) { testSESSendRaw(t, moto) })
	t.Run("errors", func(t *testing.T) { testSESErrors(t, moto) })
}

func testSESSendRaw(t *testing.T, moto *world.Moto) {
	if err := moto.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cfg := sesConfig(moto.URL())
	if _, err := sesv2.NewFromConfig(cfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{
		EmailIdentity: aws.String("keyleak@example.com"),
	}); err != nil {
		t.Fatalf("create the sender's identity: %v", err)
	}

	id, err := awsops.NewSES(cfg).SendRaw(ctx, "keyleak@example.com", []string{"infosec@example.com"}, []byte(sesRaw))
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if id == "" {
		t.Error("SES returned no message ID")
	}
	sent := motoSentMessages(t, moto.URL())
	if got, want := len(sent), 1; got != want {
		t.Fatalf("messages moto recorded: got %d, want %d", got, want)
	}
	m := sent[0]
	if got, want := m.ID, id; got != want {
		t.Errorf("message ID: got %q, want %q", got, want)
	}
	if got, want := m.Source, "keyleak@example.com"; got != want {
		t.Errorf("source: got %q, want %q", got, want)
	}
	if !slices.Contains(m.Destinations, "infosec@example.com") {
		t.Errorf("destinations: got %q, want infosec@example.com among them", m.Destinations)
	}
	if got, want := m.RawData, sesRaw; got != want {
		t.Errorf("raw data:\ngot  %q\nwant %q", got, want)
	}
}

func testSESErrors(t *testing.T, moto *world.Moto) {
	if err := moto.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + closed.Addr().String()
	closed.Close()

	cases := []struct {
		name          string
		url           string
		from          string
		wantRetryable bool
		wantCode      string
	}{
		{name: "unverified sender", url: moto.URL(), from: "nobody@example.com", wantRetryable: false, wantCode: "MessageRejected"},
		{name: "unreachable", url: unreachable, from: "keyleak@example.com", wantRetryable: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := awsops.NewSES(sesConfig(tc.url)).SendRaw(ctx, tc.from, []string{"infosec@example.com"}, []byte(sesRaw))
			var sesErr *awsops.SESError
			if !errors.As(err, &sesErr) {
				t.Fatalf("got %v, want an *SESError", err)
			}
			if got, want := sesErr.Retryable(), tc.wantRetryable; got != want {
				t.Errorf("retryable: got %v, want %v (%v)", got, want, err)
			}
			if got, want := sesErr.Code, tc.wantCode; got != want {
				t.Errorf("code: got %q, want %q", got, want)
			}
		})
	}
	if got := motoSentMessages(t, moto.URL()); len(got) != 0 {
		t.Errorf("moto recorded %d messages; want none", len(got))
	}
}
