// Package scenario builds accounts in the local AWS world and replays leaked-key incidents
// against them, so that keyleak's investigation can be compared with what really happened.
//
// A Scenario has a name, a description and three steps, all run through aws-sdk-go-v2
// clients on world.Config:
//
//   - Setup builds the account as its admin (users with policies and keys, roles with trust
//     and policies, groups, buckets with objects, instances…) and fills Run.Target: the
//     leaked key, the responder's credentials and what the legitimate workload uses.
//   - Legit runs the legitimate workload for event times in [from, to), backfilled with
//     world.WithEventTime; tests call it again after containment to check it still works.
//   - Attack runs the attacker with the leaked key, backfilled so that the attack began
//     hours before Run.Now, from foreign source IPs with attacker user agents.
//
// Play runs the three steps against a world. Every call of the attacker and of the
// legitimate workload is recorded by its SDK client (operation, region, time, credential,
// outcome, derived credentials, created resources, objects read); Run.GroundTruth derives
// what an investigation must find from those records, never from a hand-written list.
//
//	w := world.New(t, moto)
//	run, err := scenario.Play(ctx, w, scenario.Seed(), scenario.Options{})
//	truth, err := run.GroundTruth(ctx)
//
// The scenarios are Seed (the canonical incident: ci-deploy-user → eks-node-role, 50 nodes
// on the same role), RoleChain (same-account role → cross-account role, and a federation
// token) and CostAttack (instances and spot requests in unused regions, Lambda functions, a
// backdoor admin user, StopLogging, and Cost Explorer data with the spike). All returns them.
package scenario
