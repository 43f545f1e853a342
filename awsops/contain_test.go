package awsops_test

import (
	"testing"

	"github.com/keyleak/keyleak/test/world"
)

// TestContain runs containment against the local AWS world. One moto
// serves every case (each gets a fresh, reset world), so the cases run
// one after another.
func TestContain(t *testing.T) {
	moto := world.NewMotoTB(t)
	cases := []struct {
		name string
		run  func(*testing.T, *world.Moto)
	}{
		{"seed incident: attacker refused, nodes keep working", testSeedIncident},
		{"revoking again moves the cutoff", testRevokeAgain},
		{"undo restores the prior IAM state", testUndoRestores},
		{"undo leaves a changed policy in place", testUndoLeavesChangedPolicy},
		{"every action twice is harmless", testIdempotent},
		{"refusals and explanations", testRefusals},
		{"every spelling of a protected principal refused", testProtectedSpellings},
		{"typed role ARNs as IAM spells them", testTypedRoleCanonical},
		{"cleanup refuses a user made again since", testCleanupRefusesRecreated},
		{"quarantine names its version and gaps", testQuarantine},
		{"cleanup removes what the attacker made", testCleanup},
		{"partial failure is reported and a re-run completes", testPartialRevoke},
		{"faulty world: complete or say what is missing", testFaults},
		{"scenario seed: 50 nodes keep working", testScenarioSeed},
		{"scenario cost attack: everything removed", testScenarioCostAttack},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, moto) })
	}
}
