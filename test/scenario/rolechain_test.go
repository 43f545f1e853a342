package scenario

import (
	"testing"

	"github.com/keyleak/keyleak/test/world"
)

func TestRoleChain(t *testing.T) {
	w, _, gt := playWorld(t, RoleChain(), Options{})
	checkConsistent(t, w, gt)
	byLabel := map[string]DerivedCredential{}
	for _, d := range gt.Credentials {
		byLabel[d.Label] = d
	}
	tests := []struct {
		name, label, via, account string
		hops                      int
	}{
		{"same-account role", ChainRole + "/pipeline-debug", "AssumeRole", world.DefaultAccount, 1},
		{"cross-account role chained from it", ChainRemoteRole + "/audit", "AssumeRole", world.SecondAccount, 2},
		{"federation token", "federated/backup-sync", "GetFederationToken", world.DefaultAccount, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := byLabel[tt.label]
			if !ok {
				t.Fatalf("no derived credential %s in %v", tt.label, gt.Credentials)
			}
			if d.Via != tt.via || d.Account != tt.account || d.Hops() != tt.hops {
				t.Fatalf("%s: via %s in %s, %d hops; want via %s in %s, %d hops", tt.label, d.Via, d.Account, d.Hops(), tt.via, tt.account, tt.hops)
			}
		})
	}
	remote := byLabel[ChainRemoteRole+"/audit"]
	if got, want := remote.ParentKeyID, byLabel[ChainRole+"/pipeline-debug"].AccessKeyID; got != want {
		t.Errorf("cross-account session parent = %s, want the same-account session %s", got, want)
	}
	read := map[string]bool{}
	for _, d := range gt.DataEvents {
		if d.AccessKeyID == remote.AccessKeyID && d.Account == world.SecondAccount && d.ErrorCode == "" {
			read[d.Bucket+"/"+d.Key] = true
		}
	}
	if !read[chainExports+"/2026-11/customers.csv"] {
		t.Errorf("cross-account reads = %v, want the partner's customers.csv", read)
	}
	compareEvents(t, "trail files of the second account", attackers(trailRecords(t, w, world.SecondAccount), gt),
		actionsIn(gt.Actions, world.SecondAccount))
}

// actionsIn keeps the actions made in account.
func actionsIn(actions []Action, account string) []Action {
	var out []Action
	for _, a := range actions {
		if a.Account == account {
			out = append(out, a)
		}
	}
	return out
}
