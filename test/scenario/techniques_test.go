package scenario

import (
	"slices"
	"testing"
)

// TestTechniques: every step of the catalogue's scenario succeeds through the
// gateway and is recorded as the attacker's, beside the key's CI.
func TestTechniques(t *testing.T) {
	w, _, gt := playWorld(t, Techniques(), Options{})
	checkConsistent(t, w, gt)
	for _, a := range gt.Actions {
		if a.ErrorCode != "" {
			t.Errorf("%s failed: %s", a.EventName, a.ErrorCode)
		}
	}
	events := map[string]bool{}
	for _, r := range w.Gateway.Events() {
		events[r.EventSource+" "+r.EventName] = true
	}
	for _, want := range []string{"ssm.amazonaws.com SendCommand", "sagemaker.amazonaws.com CreateNotebookInstanceLifecycleConfig",
		"s3.amazonaws.com PutBucketLifecycle", "s3.amazonaws.com DeleteObjects", "lambda.amazonaws.com AddPermission20150331v2",
		"ec2.amazonaws.com ModifySnapshotAttribute", "rds.amazonaws.com ModifyDBSnapshotAttribute", "kms.amazonaws.com CreateGrant"} {
		if !events[want] {
			t.Errorf("no %s event; have %v", want, slices.Sorted(func(yield func(string) bool) {
				for k := range events {
					if !yield(k) {
						return
					}
				}
			}))
		}
	}
}
