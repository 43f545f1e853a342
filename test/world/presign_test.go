package world

import (
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestPresignedGetObject(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	newBucket(t, w, "backups-bucket", "db.dump", "encrypted")
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	tests := []struct {
		name       string
		creds      Credentials
		wantStatus int
	}{
		{"valid key", user, http.StatusOK},
		{"wrong secret", Credentials{AccessKeyID: user.AccessKeyID, SecretAccessKey: "x"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			presigner := s3.NewPresignClient(s3Client(w, "us-east-1", tt.creds))
			req, err := presigner.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("backups-bucket"), Key: aws.String("db.dump")})
			if err != nil {
				t.Fatalf("presign: %v", err)
			}
			resp, err := http.Get(req.URL)
			if err != nil {
				t.Fatalf("get presigned URL: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := resp.StatusCode; got != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", got, tt.wantStatus, body)
			}
			if tt.wantStatus == http.StatusOK && string(body) != "encrypted" {
				t.Fatalf("body = %q, want %q", body, "encrypted")
			}
		})
	}
}
