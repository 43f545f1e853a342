// Package respond is keyleak's response to a leaked key once it is
// reported: the work between what a responder types (commands) and what
// happens in AWS (awsops), recorded in the store (state).
//
// What it owns, file by file:
//
//	responder.go  Responder: the response wired over one store and AWS client
//	investigate.go  the investigation as outbox work: run it, record its
//	                findings, refresh the page and the incident card, post them
//	findings.go   the stored findings: sections and follow-ups for the
//	              report, the roles and resources containment acts on
//	followups.go  which succeeded action settles which follow-up
//	actions.go    the containment actions as the approval engine sees them:
//	              one table of names, undo pairs and what counts as containment
//	target.go     the key, its owner and its roles as containment targets
//	params.go     the arguments each action takes
//	verify.go     verify: is the attacker cut off? (and when containment began)
//	watch.go      the watch after containment: CloudTrail rechecked, alarms
//	space.go      the space's commands that read findings: whois,
//	              investigate, resources, cost
//	card.go       the incident card of the war room
//
// It imports awsops, commands and state; main wires it, and nothing below
// main imports it.
package respond
