package awsops

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/keyleak/keyleak/awsops/trail"
)

// The attacker, with the management account's key, creates account X in the
// organisation during the window and opens a bucket to anyone whose
// aws:PrincipalAccount is X. The investigation finds the door (X joined in
// the window: outside), its Opening is "*". The door's check of the same
// policy, given the window's start as checkResources gives it, reads X as
// outside too: the door is still open (the Opening, "*", does not name X).
func TestDoorPinnedToAnAccountThatJoinedDuringTheWindowStaysOpen(t *testing.T) {
	const own, theirs = "123456789012", "666666666666"
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	since := now.Add(-24 * time.Hour)
	c := NewFromConfig(aws.Config{Region: "us-east-1"}, Options{Organizations: []string{"o-abcdefghij"}, Now: func() time.Time { return now }})
	c.org.joined = map[string]time.Time{own: now.Add(-900 * time.Hour), theirs: now.Add(-time.Hour)} // theirs joined in the window
	c.org.read = now
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",` +
		`"Condition":{"StringEquals":{"aws:PrincipalAccount":"` + theirs + `"}}}]}`
	ownFn, err := c.ownIn(t.Context(), own, since)
	if err != nil {
		t.Fatal(err)
	}
	opening := newEvent(&trail.Record{RecipientAccountID: own}, ownFn).outsidersIn(doc)
	if opening == "" {
		t.Fatal("the investigation finds no door: the test shows nothing")
	}
	r := &Resource{Account: own, Opening: opening}
	if err := stillAdmits(r, c.outsidersIn(context.WithValue(t.Context(), windowStartKey{}, since), r, doc), "the bucket policy"); err != nil {
		t.Fatal(err)
	}
	if r.Exists != ExistsYes {
		t.Errorf("opening %q; the unchanged policy's check says %s (%s): the door to %s, which joined during the incident, reads as closed", opening, r.Exists, r.ExistsDetail, theirs)
	}
}
