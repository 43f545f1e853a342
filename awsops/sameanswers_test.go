package awsops_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops"
)

// answers are what a responder reads in an investigation, as sets that do
// not depend on the order or the path that found them.
func answers(inv *awsops.Investigation) map[string][]string {
	out := map[string][]string{}
	add := func(kind, s string) { out[kind] = append(out[kind], s) }
	for _, s := range inv.Sessions {
		add("session", fmt.Sprintf("%s parent=%s via=%s account=%s minted-by=%s role=%s attacker=%v events=%d",
			s.ID, s.ParentID, s.Via, s.Account, s.MintedBy, s.RoleARN, s.CreatedByAttacker, s.Activity.Events))
	}
	for _, f := range inv.Flagged {
		add("flagged", f.EventID+" "+f.EventName+" "+string(f.Category))
	}
	for _, t := range inv.Techniques {
		add("technique", fmt.Sprintf("%s events=%d", t.ID, t.Events))
	}
	for _, r := range inv.Resources {
		add("resource", r.Type+" "+r.ID+" "+r.On)
	}
	for _, s := range inv.Sources {
		add("source", fmt.Sprintf("%s events=%d baseline=%v attacker=%v", s.Network, s.Events, s.Baseline, s.Attacker))
	}
	for _, k := range inv.KMSDecrypts {
		add("kms", k.EventID)
	}
	if inv.DataEvents != nil {
		for _, o := range inv.DataEvents.Accessed {
			add("object", fmt.Sprintf("%s/%s %v count=%d", o.Bucket, o.Key, o.EventNames, o.Count))
		}
	}
	add("activity", fmt.Sprintf("events=%d errors=%d", inv.Activity.Events, inv.Activity.Errors))
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// sameAnswers fails when two investigations of one key differ in what a
// responder reads: the tree, the flagged events and techniques, the
// resources, the sources, the data events and the totals.
func sameAnswers(t *testing.T, lookup, trail *awsops.Investigation) {
	t.Helper()
	if lookup == nil || trail == nil {
		t.Fatal("an investigation of the pair is missing")
	}
	a, b := answers(lookup), answers(trail)
	for _, kind := range []string{"session", "flagged", "technique", "resource", "source", "kms", "object", "activity"} {
		if slices.Equal(a[kind], b[kind]) {
			continue
		}
		var onlyA, onlyB []string
		for _, s := range a[kind] {
			if !slices.Contains(b[kind], s) {
				onlyA = append(onlyA, s)
			}
		}
		for _, s := range b[kind] {
			if !slices.Contains(a[kind], s) {
				onlyB = append(onlyB, s)
			}
		}
		t.Errorf("%s differ:\n only through LookupEvents:\n  %s\n only trail first:\n  %s", kind, strings.Join(onlyA, "\n  "), strings.Join(onlyB, "\n  "))
	}
}
