package e2e

import (
	"testing"
	"time"

	"github.com/keyleak/keyleak/test/googlefake"
	"github.com/keyleak/keyleak/test/slackfake"
	"github.com/keyleak/keyleak/test/world"
)

var awsServices = []string{"sts", "iam", "cloudtrail", "ec2", "s3", "ce", "lambda", "kms", "rds"}

// TestSeedIncidentWithFaults runs the canonical incident with latency and
// failures in every outside service: Slack rate-limits and is slow,
// Google answers 500, 429 and 503 at every step of opening the room, the
// mail server refuses twice, and AWS is slow, throttles and fails one call
// in ten. The response must still complete, with nothing lost or sent
// twice. The room is one delivery retried with backoff, so its failures add
// up: six of them wait at most 1+2+4+8+16+32 seconds in all.
func TestSeedIncidentWithFaults(t *testing.T) {
	h := Start(t, WithScenario("seed"))
	h.Slack.SetLatency("", 50*time.Millisecond)
	h.Slack.Fail("chat.postMessage", slackfake.RateLimited(time.Second, 2))
	h.Slack.Fail("chat.update", slackfake.Fault{Error: "internal_error", Status: 500, Times: 1})
	h.Google.SetFault("*", googlefake.Fault{Delay: 50 * time.Millisecond})
	h.Google.SetFault("chat.spaces.create", googlefake.Fault{Code: 500, Times: 2})
	h.Google.SetFault("chat.spaces.members.create", googlefake.Fault{Code: 429, Times: 1})
	h.Google.SetFault("meet.spaces.create", googlefake.Fault{Code: 503, Times: 1})
	h.Google.SetFault("chat.spaces.messages.create", googlefake.Fault{Code: 500, Times: 2})
	h.SMTP.Refuse(2, 451)
	for _, svc := range awsServices {
		h.World.Gateway.SetFault(svc, world.Fault{Delay: 50 * time.Millisecond, ErrorRate: 0.1, ThrottleRate: 0.1})
	}
	calm := func() {
		for _, svc := range awsServices {
			h.World.Gateway.SetFault(svc, world.Fault{})
		}
	}
	respond(t, h, 2*time.Minute, calm)
	if n := len(h.Google.Spaces()); n != 1 {
		t.Errorf("%d Chat spaces after Google recovered, want 1", n)
	}
	if n := len(h.Google.MeetSpaces()); n != 1 {
		t.Errorf("%d Meet spaces, want 1", n)
	}
	if n := pages(h); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
}
