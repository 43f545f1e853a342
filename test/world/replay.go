package world

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Replay records CloudTrail events that CloudTrail wrote elsewhere (real
// logs) as if this world's CloudTrail had recorded them: LookupEvents
// returns them (management events) and FlushTrail delivers them to the
// trail bucket, each as given, in compact JSON. A record without a time,
// an account or a region cannot be indexed and is refused.
func (g *Gateway) Replay(records ...json.RawMessage) error {
	for i, raw := range records {
		var rec Record
		var flags struct {
			ManagementEvent *bool  `json:"managementEvent"`
			EventCategory   string `json:"eventCategory"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("replay record %d: %w", i, err)
		}
		if err := json.Unmarshal(raw, &flags); err != nil {
			return fmt.Errorf("replay record %d: %w", i, err)
		}
		at := rec.Time()
		if at.IsZero() || rec.RecipientAccountID == "" || rec.AWSRegion == "" {
			return fmt.Errorf("replay record %d: it needs eventTime, recipientAccountId and awsRegion", i)
		}
		// Records older than eventVersion 1.06 lack managementEvent: all
		// but data events are management events.
		rec.ManagementEvent = flags.EventCategory != "Data"
		if flags.ManagementEvent != nil {
			rec.ManagementEvent = *flags.ManagementEvent
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return fmt.Errorf("replay record %d: %w", i, err)
		}
		var resources []resource
		for _, r := range rec.Resources {
			resources = append(resources, resource{ARN: r.ARN, Type: r.Type, Name: arnName(r.ARN)})
		}
		g.events.add(&storedEvent{rec: rec, raw: compact.Bytes(), at: at, username: lookupUsername(rec.UserIdentity, arnName(rec.UserIdentity.ARN)), resources: resources})
	}
	return nil
}

// arnName is the last part of an ARN's resource: a user's, a role
// session's or an object's name.
func arnName(arn string) string {
	if i := strings.LastIndexAny(arn, "/:"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
