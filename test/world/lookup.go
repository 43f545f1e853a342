package world

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// lookupRequest is cloudtrail:LookupEvents' input (JSON 1.1; times are epoch seconds).
type lookupRequest struct {
	LookupAttributes []struct {
		AttributeKey   string `json:"AttributeKey"`
		AttributeValue string `json:"AttributeValue"`
	} `json:"LookupAttributes"`
	StartTime  *float64 `json:"StartTime"`
	EndTime    *float64 `json:"EndTime"`
	MaxResults *int     `json:"MaxResults"`
	NextToken  string   `json:"NextToken"`
}

type lookupEvent struct {
	EventID         string           `json:"EventId"`
	EventName       string           `json:"EventName"`
	ReadOnly        string           `json:"ReadOnly"`
	AccessKeyID     string           `json:"AccessKeyId,omitempty"`
	EventTime       float64          `json:"EventTime"`
	EventSource     string           `json:"EventSource"`
	Username        string           `json:"Username,omitempty"`
	Resources       []lookupResource `json:"Resources"`
	CloudTrailEvent string           `json:"CloudTrailEvent"`
}

type lookupResource struct {
	ResourceType string `json:"ResourceType"`
	ResourceName string `json:"ResourceName"`
}

// lookupCursor is the NextToken: the position after the last event returned.
type lookupCursor struct {
	At  int64  `json:"t"`
	Seq uint64 `json:"s"`
}

func encodeCursor(c lookupCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (lookupCursor, error) {
	var c lookupCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, fmt.Errorf("decode next token: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Seq == 0 {
		return c, fmt.Errorf("decode next token: not a token this service issued")
	}
	return c, nil
}

var lookupKeys = map[string]bool{
	"EventId": true, "EventName": true, "ReadOnly": true, "Username": true, "ResourceType": true,
	"ResourceName": true, "EventSource": true, "AccessKeyId": true,
}

// serveLookup answers LookupEvents from the recorded management events of the caller's
// account in the signing region, newest first, throttled per account and region.
func (g *Gateway) serveLookup(w http.ResponseWriter, r *http.Request, c *call, body []byte) {
	if !g.lookups.allow(c.account + "/" + c.region) {
		g.fail(w, r, c, errorFor(familyJSON, failThrottled))
		return
	}
	var req lookupRequest
	if err := json.Unmarshal(body, &req); err != nil {
		g.fail(w, r, c, apiError{400, "SerializationException", "malformed request: " + err.Error()})
		return
	}
	page, bad := runLookup(g.events, c.account, c.region, req, g.now())
	if bad != nil {
		g.fail(w, r, c, *bad)
		return
	}
	out, _ := json.Marshal(page)
	g.record(c, "", "", nil)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

type lookupPage struct {
	Events    []lookupEvent `json:"Events"`
	NextToken string        `json:"NextToken,omitempty"`
}

// lookupRetention is how far back LookupEvents sees.
const lookupRetention = 90 * 24 * time.Hour

func runLookup(store *eventStore, account, region string, req lookupRequest, now time.Time) (lookupPage, *apiError) {
	page := lookupPage{Events: []lookupEvent{}}
	if len(req.LookupAttributes) > 1 {
		return page, &apiError{400, "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."}
	}
	var key, value string
	if len(req.LookupAttributes) == 1 {
		key, value = req.LookupAttributes[0].AttributeKey, req.LookupAttributes[0].AttributeValue
		if !lookupKeys[key] {
			return page, &apiError{400, "InvalidLookupAttributesException", "Invalid AttributeKey " + key}
		}
	}
	limit := 50
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 50 {
			return page, &apiError{400, "InvalidMaxResultsException", "MaxResults must be between 1 and 50."}
		}
		limit = *req.MaxResults
	}
	var start, end time.Time
	if req.StartTime != nil {
		start = epochTime(*req.StartTime)
	}
	if req.EndTime != nil {
		end = epochTime(*req.EndTime)
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return page, &apiError{400, "InvalidTimeRangeException", "Start time must be before end time."}
	}
	if oldest := now.Add(-lookupRetention); start.Before(oldest) {
		start = oldest
	}
	var cur lookupCursor
	if req.NextToken != "" {
		var err error
		if cur, err = decodeCursor(req.NextToken); err != nil {
			return page, &apiError{400, "InvalidNextTokenException", "Invalid NextToken."}
		}
	}
	var last *storedEvent
	more := false
	store.scan(account, region, cur.At, cur.Seq, func(e *storedEvent) bool {
		if !end.IsZero() && e.at.After(end) {
			return true
		}
		if !start.IsZero() && e.at.Before(start) {
			return false
		}
		if !matchesLookup(e, key, value) {
			return true
		}
		if len(page.Events) == limit {
			more = true
			return false
		}
		page.Events = append(page.Events, toLookupEvent(e))
		last = e
		return true
	})
	if more && last != nil {
		page.NextToken = encodeCursor(lookupCursor{At: last.at.UnixNano(), Seq: last.seq})
	}
	return page, nil
}

func epochTime(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

func matchesLookup(e *storedEvent, key, value string) bool {
	rec := &e.rec
	switch key {
	case "":
		return true
	case "EventId":
		return rec.EventID == value
	case "EventName":
		return rec.EventName == value
	case "ReadOnly":
		return strconv.FormatBool(rec.ReadOnly) == strings.ToLower(value)
	case "Username":
		return e.username == value
	case "EventSource":
		return rec.EventSource == value
	case "AccessKeyId":
		return rec.UserIdentity.AccessKeyID == value
	case "ResourceType", "ResourceName":
		for _, r := range e.resources {
			if key == "ResourceType" && r.Type == value || key == "ResourceName" && (r.Name == value || r.ARN == value) {
				return true
			}
		}
	}
	return false
}

func toLookupEvent(e *storedEvent) lookupEvent {
	res := make([]lookupResource, 0, len(e.resources))
	for _, r := range e.resources {
		name := r.Name
		if name == "" {
			name = r.ARN
		}
		res = append(res, lookupResource{ResourceType: r.Type, ResourceName: name})
	}
	return lookupEvent{
		EventID:         e.rec.EventID,
		EventName:       e.rec.EventName,
		ReadOnly:        strconv.FormatBool(e.rec.ReadOnly),
		AccessKeyID:     e.rec.UserIdentity.AccessKeyID,
		EventTime:       float64(e.at.UnixNano()) / 1e9,
		EventSource:     e.rec.EventSource,
		Username:        e.username,
		Resources:       res,
		CloudTrailEvent: string(e.raw),
	}
}
