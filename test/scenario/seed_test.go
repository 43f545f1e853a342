package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/test/world"
)

func TestSeed(t *testing.T) {
	w, run, gt := playWorld(t, Seed(), Options{})
	ctx := t.Context()
	checkConsistent(t, w, gt)

	if len(gt.Credentials) != 1 {
		t.Fatalf("derived credentials = %d, want the one eks-node-role session", len(gt.Credentials))
	}
	sess := gt.Credentials[0]
	if got, want := sess.RoleARN, "arn:aws:iam::123456789012:role/eks-node-role"; got != want {
		t.Errorf("session role = %s, want %s", got, want)
	}
	if got, want := sess.Issued, run.Start.Add(15*time.Minute); !got.Equal(want) {
		t.Errorf("AssumeRole at %s, want 15 minutes into the attack (%s)", got, want)
	}
	if !sess.Expires.After(run.Now) {
		t.Errorf("session expires %s, want still valid at detection %s", sess.Expires, run.Now)
	}

	// Every step of the incident log, by the credential that did it.
	steps := []struct {
		name, event, key, errPrefix string
	}{
		{"leaked key checks who it is", "GetCallerIdentity", gt.LeakedKeyID, ""},
		{"leaked key lists buckets", "ListBuckets", gt.LeakedKeyID, ""},
		{"leaked key describes instances", "DescribeInstances", gt.LeakedKeyID, ""},
		{"leaked key describes databases", "DescribeDBInstances", gt.LeakedKeyID, ""},
		{"leaked key assumes eks-node-role", "AssumeRole", gt.LeakedKeyID, ""},
		{"session lists buckets", "ListBuckets", sess.AccessKeyID, ""},
		{"session reads objects", "GetObject", sess.AccessKeyID, ""},
		{"session fails to decrypt", "Decrypt", sess.AccessKeyID, "AccessDenied"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			for _, a := range gt.Actions {
				if a.EventName == s.event && a.AccessKeyID == s.key && strings.HasPrefix(a.ErrorCode, s.errPrefix) &&
					(s.errPrefix != "" || a.ErrorCode == "") {
					return
				}
			}
			t.Fatalf("no %s by %s (error %q) in the ground truth", s.event, s.key, s.errPrefix)
		})
	}
	var sensitive []string
	for _, d := range gt.DataEvents {
		if d.Sensitive {
			sensitive = append(sensitive, d.Bucket+"/"+d.Key)
		}
	}
	if got, want := strings.Join(sensitive, ","), "backups-bucket/"+SeedBackupObject+",config-bucket/"+SeedStateObject+
		",config-bucket/"+SeedVarsObject; got != want {
		t.Errorf("sensitive objects read = %s, want %s", got, want)
	}
	if got, want := gt.SourceIPs, seedAttackerIPs; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attacker IPs = %v, want %v", got, want)
	}
	if got, want := len(gt.Legit.SessionKeyIDs), 50*int((run.Now.Sub(run.Start)+30*time.Minute)/nodePeriod); got < want {
		t.Errorf("node sessions = %d, want at least %d (50 nodes every 15 minutes)", got, want)
	}

	t.Run("LookupEvents holds every management step", func(t *testing.T) {
		var mgmt []Action
		for _, a := range gt.Actions {
			if !a.Data {
				mgmt = append(mgmt, a)
			}
		}
		var records []world.Record
		for _, region := range gt.Regions {
			records = append(records, lookupByKeys(t, w, run.Target.Responder, region, []string{gt.LeakedKeyID, sess.AccessKeyID})...)
		}
		compareEvents(t, "LookupEvents", attackers(records, gt), mgmt)
	})
	t.Run("trail log files hold every step with data events", func(t *testing.T) {
		compareEvents(t, "trail files", attackers(trailRecords(t, w, gt.Account), gt), gt.Actions)
	})

	t.Run("revoking old sessions stops the attacker and spares the nodes", func(t *testing.T) {
		cutoff := run.Now.Add(time.Minute)
		deny := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*",`+
			`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"%s"}}}]}`, cutoff.Format(time.RFC3339))
		admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
		if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(SeedRole),
			PolicyName: aws.String("revoke-older-sessions"), PolicyDocument: aws.String(deny)}); err != nil {
			t.Fatalf("put revocation policy: %v", err)
		}
		probe := run.Probe(ctx, cutoff.Add(time.Minute))
		if got, want := probe[sess.AccessKeyID], "AccessDenied"; got != want {
			t.Errorf("attacker session after revocation: %q, want %q", got, want)
		}
		before := gt.Legit.Calls
		if err := run.Scenario.Legit(ctx, run, cutoff.Add(time.Minute), cutoff.Add(time.Minute+nodePeriod)); err != nil {
			t.Fatalf("nodes after revocation: %v", err)
		}
		after, err := run.GroundTruth(ctx)
		if err != nil {
			t.Fatalf("ground truth after revocation: %v", err)
		}
		if after.Legit.Calls <= before || after.Legit.Failures != 0 {
			t.Errorf("nodes after revocation: %d calls (before %d), %d failures; want more calls, none failed",
				after.Legit.Calls, before, after.Legit.Failures)
		}
		if got, want := len(after.Actions), len(gt.Actions)+len(probe); got != want {
			t.Errorf("attacker actions after the probe = %d, want %d (the probes are attacker actions)", got, want)
		}
	})
}
