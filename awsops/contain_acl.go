package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keyleak/keyleak/awsops/trail"
)

// A bucket ACL is replaced whole by each PutBucketAcl, so what the
// attacker's request added is told as a document's statements are: its
// public grants (a grantee group of everyone, with a permission) that
// the ACL before it did not have. Grants to anyone else are never
// touched.

// publicGroups are the grantee groups that admit everyone; an ACL grant
// to either is a door.
var publicGroups = []string{"AllUsers", "AuthenticatedUsers"}

// publicGrantee returns the group of everyone a grantee URI names
// ("AllUsers"), or "".
func publicGrantee(uri string) string {
	uri = strings.ToLower(strings.TrimSpace(uri))
	for _, g := range publicGroups {
		if strings.HasSuffix(uri, "acs.amazonaws.com/groups/global/"+strings.ToLower(g)) {
			return g
		}
	}
	return ""
}

// cannedPublic are the public grants of the canned ACLs that make any.
var cannedPublic = map[string][]string{
	"public-read":        {"AllUsers:READ"},
	"public-read-write":  {"AllUsers:READ", "AllUsers:WRITE"},
	"authenticated-read": {"AuthenticatedUsers:READ"},
}

// grantHeaders are the request headers that grant a permission, each to
// a comma-separated list of grantees (uri="…", id="…", emailAddress="…").
var grantHeaders = map[string]string{
	"x-amz-grant-read": "READ", "x-amz-grant-write": "WRITE", "x-amz-grant-read-acp": "READ_ACP",
	"x-amz-grant-write-acp": "WRITE_ACP", "x-amz-grant-full-control": "FULL_CONTROL",
}

// publicGrantsIn returns the public grants ("AllUsers:READ") an ACL
// request (PutBucketAcl, or CreateBucket's headers) sets, sorted. ok is
// false when the request says nothing CloudTrail shows of the ACL it
// sets: no canned ACL, grant header or ACL body. CloudTrail records the
// headers at the top of the request parameters or under
// accessControlList, a value as a string or a list.
func publicGrantsIn(e *event) (grants []string, ok bool) {
	add := func(g string) {
		if !slices.Contains(grants, g) {
			grants = append(grants, g)
		}
	}
	header := func(name string) []string {
		return append(anyStrings(e.param(name)), anyStrings(e.param("accessControlList", name))...)
	}
	for _, canned := range header("x-amz-acl") {
		ok = true
		for _, g := range cannedPublic[strings.ToLower(strings.TrimSpace(canned))] {
			add(g)
		}
	}
	for h, perm := range grantHeaders {
		for _, v := range header(h) {
			ok = true
			for _, grantee := range strings.Split(v, ",") {
				k, val, _ := strings.Cut(strings.TrimSpace(grantee), "=")
				if strings.EqualFold(strings.TrimSpace(k), "uri") {
					if g := publicGrantee(strings.Trim(strings.TrimSpace(val), `"`)); g != "" {
						add(g + ":" + perm)
					}
				}
			}
		}
	}
	if acl := e.param("AccessControlPolicy", "AccessControlList"); acl != nil {
		ok = true
		m, _ := acl.(map[string]any)
		list, isList := lookupFold(m, "Grant").([]any)
		if one := lookupFold(m, "Grant"); !isList && one != nil {
			list = []any{one}
		}
		for _, item := range list {
			grant, _ := item.(map[string]any)
			grantee, _ := lookupFold(grant, "Grantee").(map[string]any)
			uri, _ := lookupFold(grantee, "URI").(string)
			perm, _ := lookupFold(grant, "Permission").(string)
			if g := publicGrantee(uri); g != "" && perm != "" {
				add(g + ":" + strings.ToUpper(perm))
			}
		}
	}
	slices.Sort(grants)
	return grants, ok
}

// aclEvent reads an ACL write from a CloudTrail event: the public grants
// it set, and whether it is a write and CloudTrail shows what it set.
func aclEvent(e cttypes.Event) ([]string, earlier) {
	name := aws.ToString(e.EventName)
	if e.CloudTrailEvent == nil || name != "PutBucketAcl" && name != "CreateBucket" {
		return nil, notAWrite
	}
	var rec trail.Record
	if trail.Decode([]byte(*e.CloudTrailEvent), &rec) != nil {
		return nil, unreadable
	}
	if rec.ErrorCode != "" || rec.EventSource != "" && rec.EventSource != "s3.amazonaws.com" {
		return nil, notAWrite // refused, or another service's call of the name
	}
	grants, ok := publicGrantsIn(newEvent(&rec, noAccounts))
	switch {
	case ok:
		return grants, wrote
	case name == "CreateBucket":
		return nil, wrote // a bucket made without an ACL is private
	}
	return nil, unreadable
}

// aclAdded returns the public grants the attacker's requests added (the
// event that opened the door, when CloudTrail still has it, then the
// attacker's other writes of the ACL a later one replaced: what any of
// them made is the attacker's, whichever CloudTrail lists last within a
// second), and what the plan says of how it knows: nil when it cannot
// tell them from the owner's, and every public grant is to be dropped.
// earlier reads the public grants of the ACL before them, and the write
// that set it, when CloudTrail holds it.
func aclAdded(requests []cttypes.Event, earlier func() ([]string, earlierFound)) (added []string, note string) {
	if len(requests) == 0 {
		return nil, " CHECK FIRST: CloudTrail no longer shows the attacker's request: every grant to everyone is dropped, and the owner may have had some of them before."
	}
	theirs, v := aclEvent(requests[0])
	for _, e := range requests[1:] {
		if more, ok := aclEvent(e); ok == wrote {
			theirs = append(theirs, more...)
		}
	}
	slices.Sort(theirs)
	theirs = slices.Compact(theirs)
	if v != wrote || len(theirs) == 0 {
		return nil, " CHECK FIRST: CloudTrail does not show the grants to everyone the attacker's request made: every grant to everyone is dropped, and the owner may have had some of them before."
	}
	before, found := earlier()
	if !found.known {
		return theirs, " CHECK FIRST: CloudTrail holds no earlier write of the ACL (it keeps 90 days): the grants to everyone the attacker's request made (" +
			strings.Join(theirs, ", ") + ") are dropped, and the owner may have had some of them before."
	}
	added = slices.DeleteFunc(slices.Clone(theirs), func(g string) bool { return slices.Contains(before, g) })
	if added == nil {
		added = []string{} // it added none: nothing to drop
	}
	return added, " What the attacker's request added is told from the ACL before it" + found.told() + ": the rest stays as it was."
}

// aclClosing drops from a bucket's ACL the public grants the attacker's
// request added: those it made that the ACL before it did not have, as
// CloudTrail tells both. Where CloudTrail holds no earlier ACL write, the
// public grants the request made are dropped, with a warning; where it no
// longer holds the request, every public grant is.
func (r *containRun) aclClosing(ctx context.Context, client *s3.Client, it DoorItem) (doorState, error) {
	out, err := client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(it.ID)})
	if isAPIError(err, "NoSuchBucket") {
		return doorState{}, nil
	}
	if err != nil {
		return doorState{}, fmt.Errorf("ACL of %s (s3:GetBucketAcl): %w", it.ID, err)
	}
	grantOf := func(g s3types.Grant) string {
		if g.Grantee == nil {
			return ""
		}
		if who := publicGrantee(aws.ToString(g.Grantee.URI)); who != "" {
			return who + ":" + string(g.Permission)
		}
		return ""
	}
	if !slices.ContainsFunc(out.Grants, func(g s3types.Grant) bool { return grantOf(g) != "" }) {
		return doorState{}, nil
	}
	var requests []cttypes.Event // the attacker's writes of the ACL, the door's first
	for _, d := range append([]DoorItem{it}, r.replaced[it.resourceKey()]...) {
		if e, ok := r.attackerEvent(ctx, d); ok || d.EventID != it.EventID {
			requests = append(requests, e)
		} else {
			break // the door's own is gone
		}
	}
	added, note := aclAdded(requests, func() ([]string, earlierFound) {
		// The ACL before the attacker's first write: an owner's write
		// between two of the attacker's may hold what the first granted.
		first := it
		for _, d := range r.replaced[it.resourceKey()] {
			if d.EventTime.Before(first.EventTime) {
				first = d
			}
		}
		found := r.earlierWrite(ctx, first, func(e cttypes.Event) (string, earlier) {
			g, v := aclEvent(e)
			return strings.Join(g, ","), v
		})
		if found.state == "" {
			return nil, found
		}
		return strings.Split(found.state, ","), found
	})
	drop := func(g s3types.Grant) bool {
		k := grantOf(g)
		return k != "" && (added == nil || slices.Contains(added, k))
	}
	if !slices.ContainsFunc(out.Grants, drop) {
		return doorState{}, nil
	}
	kept := slices.DeleteFunc(slices.Clone(out.Grants), drop)
	var dropped, stays []string
	for _, g := range out.Grants {
		switch k := grantOf(g); {
		case k == "":
		case drop(g):
			dropped = append(dropped, k)
		default:
			stays = append(stays, k)
		}
	}
	if len(stays) > 0 {
		note += " Kept: " + strings.Join(stays, ", ") + ", which the attacker's request did not add."
	}
	prior, _ := json.Marshal(out.Grants)
	after, _ := json.Marshal(kept)
	in := &s3.PutBucketAclInput{Bucket: aws.String(it.ID), AccessControlPolicy: &s3types.AccessControlPolicy{Owner: out.Owner, Grants: kept}}
	call := fmt.Sprintf("s3:PutBucketAcl %s (drop %s; %s kept)", it.ID, strings.Join(dropped, ", "), counted(len(kept), "grant"))
	if len(kept) == 0 {
		// No grant at all is not an ACL S3 gives a bucket: the private
		// one (the owner's full control, as a new bucket has) is put.
		in = &s3.PutBucketAclInput{Bucket: aws.String(it.ID), ACL: s3types.BucketCannedACLPrivate}
		call = fmt.Sprintf("s3:PutBucketAcl %s ACL=private (drop %s; the owner keeps full control)", it.ID, strings.Join(dropped, ", "))
	}
	return doorState{prior: string(prior), after: string(after), note: note, steps: []cleanupStep{{
		call: call,
		run: func(ctx context.Context) error {
			_, err := client.PutBucketAcl(ctx, in)
			return err
		}}}}, nil
}
