package awsops

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// TestLayoutWrittenBy: a trail counts for the files read only when it
// writes their folder: same bucket, same key prefix (with or without its
// slash), and an organisation trail exactly for an organisation's folder.
func TestLayoutWrittenBy(t *testing.T) {
	account := trailLayout{bucket: "logs", root: "AWSLogs/"}
	org := trailLayout{bucket: "logs", root: "AWSLogs/o-abcdefghij/"}
	prefixed := trailLayout{bucket: "logs", prefix: "ct/", root: "ct/AWSLogs/"}
	trail := func(bucket, prefix string, orgTrail bool) cttypes.Trail {
		t := cttypes.Trail{S3BucketName: aws.String(bucket), IsOrganizationTrail: aws.Bool(orgTrail)}
		if prefix != "" {
			t.S3KeyPrefix = aws.String(prefix)
		}
		return t
	}
	for _, tc := range []struct {
		name   string
		layout trailLayout
		trail  cttypes.Trail
		want   bool
	}{
		{"the account's trail, its folder", account, trail("logs", "", false), true},
		{"another bucket", account, trail("other", "", false), false},
		{"another prefix", account, trail("logs", "ct", false), false},
		{"the prefix without its slash", prefixed, trail("logs", "ct", false), true},
		{"the prefix with its slash", prefixed, trail("logs", "ct/", false), true},
		{"no prefix where one is read", prefixed, trail("logs", "", false), false},
		{"an organisation trail, the account's folder", account, trail("logs", "", true), false},
		{"an organisation trail, the organisation's folder", org, trail("logs", "", true), true},
		{"the account's trail, the organisation's folder", org, trail("logs", "", false), false},
	} {
		if got := tc.layout.writtenBy(tc.trail); got != tc.want {
			t.Errorf("%s: writtenBy = %v, want %v", tc.name, got, tc.want)
		}
	}
}
