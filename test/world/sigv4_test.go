package world

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		wantKey string
		wantErr bool
	}{
		{"sdk form", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd", "AKIAEXAMPLE", false},
		{"no spaces", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/eu-west-1/s3/aws4_request,SignedHeaders=host,Signature=ab", "AKIAEXAMPLE", false},
		{"sigv2", "AWS AKIAEXAMPLE:signature", "", true},
		{"short scope", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/iam/aws4_request, SignedHeaders=host, Signature=ab", "", true},
		{"no signature", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := parseAuthorization(tt.header)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := sig.AccessKeyID; !tt.wantErr && got != tt.wantKey {
				t.Fatalf("access key = %q, want %q", got, tt.wantKey)
			}
		})
	}
}

func TestVerifySignature(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret"}
	tests := []struct {
		name, service, path, query, body, secret string
		want                                     bool
	}{
		{"query service", "iam", "/", "", "Action=GetUser&Version=2010-05-08", "secret", true},
		{"wrong secret", "iam", "/", "", "Action=GetUser&Version=2010-05-08", "other", false},
		{"escaped path, non-S3", "lambda", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af", "Qualifier=%24LATEST", "", "secret", true},
		{"s3 path and query", "s3", "/bucket/a%20b/c", "list-type=2&prefix=x%2Fy", "", "secret", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := "http://127.0.0.1:1234" + tt.path
			if tt.query != "" {
				url += "?" + tt.query
			}
			req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			hash := sha256Hex([]byte(tt.body))
			if tt.service == "s3" {
				req.Header.Set("X-Amz-Content-Sha256", hash)
			}
			signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = tt.service == "s3" })
			if err := signer.SignHTTP(t.Context(), creds, req, hash, tt.service, "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			// Replay the signed request as a server sees it.
			server := httptest.NewRequest(req.Method, req.URL.String(), strings.NewReader(tt.body))
			server.Header = req.Header.Clone()
			server.Host = req.URL.Host
			sig, err := requestSignature(server)
			if err != nil {
				t.Fatalf("read signature: %v", err)
			}
			if got := sig.verify(server, []byte(tt.body), tt.secret); got != tt.want {
				t.Fatalf("verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=, Signature=")
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := parseAuthorization(header)
		if err != nil {
			return
		}
		if sig.AccessKeyID == "" || sig.Region == "" || sig.Service == "" || len(sig.SignedHeaders) == 0 {
			t.Fatalf("accepted %q with an empty part: %+v", header, sig)
		}
	})
}

func FuzzCanonicalQuery(f *testing.F) {
	f.Add("a=1&b=%20x&a=0&c")
	f.Fuzz(func(t *testing.T, raw string) {
		q := canonicalQuery(raw, true)
		if strings.Contains(q, "X-Amz-Signature=") {
			t.Fatalf("canonical query keeps the signature: %q", q)
		}
	})
}
