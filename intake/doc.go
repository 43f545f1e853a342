// Package intake opens incidents from detectors: GuardDuty findings, AWS
// Health's exposed-credential events, secret scanners and canary keys,
// delivered by EventBridge rules to an SQS queue that keyleak long-polls.
// Nothing inbound is exposed.
//
// Parse reads one EventBridge event into a typed Event; Rules decide
// whether it opens an incident, joins the key's open one or is dropped;
// Consumer receives, decides, records through commands.Reporter and
// deletes each message only after the transaction that records it has
// committed. A message that can never be read goes to the queue's
// dead-letter queue with the reason.
//
// The custom event for secret scanners and anything else (docs/intake.md):
//
//	{"source": "<your sender, not aws.*>", "detail-type": "Leaked Access Key",
//	 "detail": {"accessKeyId": "AKIA…", "reason": "github_secret_scanning", "url": "https://…"}}
package intake
