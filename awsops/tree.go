package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// Session is one credential of the credential tree: the investigated key
// itself (depth 0) or a temporary credential minted from it, directly or
// through other sessions (role chaining, cross-account).
type Session struct {
	AccessKeyID string `json:"access_key_id"`
	// ParentAccessKeyID is the key whose STS call minted this one; empty
	// for the investigated key.
	ParentAccessKeyID string `json:"parent_access_key_id,omitempty"`
	Depth             int    `json:"depth"`
	Account           string `json:"account"`
	// MintedBy is the STS call that issued the credential (AssumeRole,
	// GetSessionToken, GetFederationToken, AssumeRoleWith…).
	MintedBy    string `json:"minted_by,omitempty"`
	MintEventID string `json:"mint_event_id,omitempty"`
	// Principal is who the credential acts as: a user, an assumed-role
	// session (arn:aws:sts::A:assumed-role/R/S) or a federated user.
	Principal      string    `json:"principal,omitempty"`
	RoleARN        string    `json:"role_arn,omitempty"`
	SessionName    string    `json:"session_name,omitempty"`
	SourceIdentity string    `json:"source_identity,omitempty"`
	Issued         time.Time `json:"issued,omitzero"`
	Expires        time.Time `json:"expires,omitzero"`
	// SourceIP and UserAgent are those of the call that minted it.
	SourceIP  string `json:"source_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// SweepDelay is how long after the minting event was seen the sweep
	// of this credential started (its slowest region).
	SweepDelay time.Duration `json:"sweep_delay_ns,omitempty"`
	Activity   Activity      `json:"activity"`
}

// Activity sums the events of one credential, or of all of them.
type Activity struct {
	Events     int       `json:"events"`
	Errors     int       `json:"errors"` // events with an errorCode
	First      time.Time `json:"first_seen,omitzero"`
	Last       time.Time `json:"last_seen,omitzero"`
	Categories []Count   `json:"categories"`
	EventNames []Count   `json:"event_names"`
	Regions    []Count   `json:"regions"`
	SourceIPs  []Count   `json:"source_ips"`
	UserAgents []Count   `json:"user_agents"`
}

// Count is a name and how often it was seen, in lists sorted by count.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// OtherName collects the values beyond a tally's distinct-value cap.
const OtherName = "(other)"

const (
	maxDistinct  = 1000 // distinct values kept per tally field
	maxFlagged   = 2000 // flagged events kept
	maxResources = 1000 // created resources kept (and checked)
)

// tally accumulates an Activity in bounded memory.
type tally struct {
	events, errors int
	first, last    time.Time
	categories     map[string]int
	names          map[string]int
	regions        map[string]int
	ips            map[string]int
	agents         map[string]int
}

func newTally() *tally {
	return &tally{categories: map[string]int{}, names: map[string]int{}, regions: map[string]int{},
		ips: map[string]int{}, agents: map[string]int{}}
}

func (t *tally) add(rec *TrailRecord, cat Category) {
	t.events++
	if rec.ErrorCode != "" {
		t.errors++
	}
	if at := rec.EventTime; !at.IsZero() {
		if t.first.IsZero() || at.Before(t.first) {
			t.first = at
		}
		if at.After(t.last) {
			t.last = at
		}
	}
	bump(t.categories, string(cat))
	bump(t.names, rec.EventName)
	bump(t.regions, rec.AWSRegion)
	bump(t.ips, rec.SourceIPAddress)
	bump(t.agents, rec.UserAgent)
}

func bump(m map[string]int, k string) {
	if _, ok := m[k]; !ok && len(m) >= maxDistinct {
		k = OtherName
	}
	m[k]++
}

func (t *tally) activity() Activity {
	return Activity{Events: t.events, Errors: t.errors, First: t.first, Last: t.last,
		Categories: counts(t.categories), EventNames: counts(t.names), Regions: counts(t.regions),
		SourceIPs: counts(t.ips), UserAgents: counts(t.agents)}
}

func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		if k != "" {
			out = append(out, Count{k, v})
		}
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(b.Count-a.Count, strings.Compare(a.Name, b.Name)) })
	return out
}

// tracker builds the investigation from events as the sweep and the
// trail scan find them. It is safe for concurrent use; onDerived is
// called without its lock held.
type tracker struct {
	root      string
	onDerived func(ctx context.Context, s Session)

	mu             sync.Mutex
	seed           maphash.Seed
	seen           map[uint64]struct{}
	nodes          map[string]*treeNode
	order          []string
	total          *tally
	flagged        []FlaggedEvent
	dropped        int
	kms            []FlaggedEvent
	created        []Resource
	createdDropped int                    // resources beyond maxResources
	spans          map[string]*activeSpan // account/region → when tracked keys were active
	origin         *Session               // for a temporary key: the call that minted it

	// Data events, from trail files.
	dataCount      int
	dataNames      map[string]int
	objects        map[string]*ObjectAccess
	objectsDropped int
}

type treeNode struct {
	s Session
	t *tally
}

// activeSpan is the time range of activity in one account and region.
type activeSpan struct{ first, last time.Time }

func newTracker(root Session) *tracker {
	tr := &tracker{root: root.AccessKeyID, seed: maphash.MakeSeed(), seen: map[uint64]struct{}{},
		nodes: map[string]*treeNode{}, total: newTally(), spans: map[string]*activeSpan{},
		dataNames: map[string]int{}, objects: map[string]*ObjectAccess{}}
	tr.nodes[root.AccessKeyID] = &treeNode{s: root, t: newTally()}
	tr.order = append(tr.order, root.AccessKeyID)
	return tr
}

// setOnDerived sets what is done with each newly found credential.
func (tr *tracker) setOnDerived(fn func(ctx context.Context, s Session)) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.onDerived = fn
}

// sweepStarted records how soon the sweep of a derived key began.
func (tr *tracker) sweepStarted(t sweepTask, delay time.Duration) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n, ok := tr.nodes[t.value]; ok {
		n.s.SweepDelay = max(n.s.SweepDelay, delay)
	}
}

// keys returns the tracked access key IDs.
func (tr *tracker) keys() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.order)
}

func (tr *tracker) keyCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.order)
}

// page is the sweep's handler.
func (tr *tracker) page(ctx context.Context, t sweepTask, events []cttypes.Event) {
	for _, e := range events {
		if e.CloudTrailEvent == nil {
			continue
		}
		var rec TrailRecord
		if decodeTrailRecord([]byte(*e.CloudTrailEvent), &rec) != nil {
			continue
		}
		if t.attr == cttypes.LookupAttributeKeyResourceName {
			tr.noteOrigin(&rec, t.value)
			continue
		}
		tr.add(ctx, t.value, &rec)
	}
}

// add counts one event of key, once whatever the number of times it is
// seen, and starts tracking any credential it minted.
func (tr *tracker) add(ctx context.Context, key string, rec *TrailRecord) {
	tr.mu.Lock()
	h := maphash.String(tr.seed, cmp.Or(rec.EventID, rec.RequestID+rec.EventName+rec.EventTime.String()))
	if _, dup := tr.seen[h]; dup {
		tr.mu.Unlock()
		return
	}
	tr.seen[h] = struct{}{}
	n, ok := tr.nodes[key]
	if !ok {
		tr.mu.Unlock()
		return
	}
	cat := categorize(rec)
	n.t.add(rec, cat)
	tr.total.add(rec, cat)
	tr.widen(rec)
	if flagged(rec, cat) {
		if len(tr.flagged) < maxFlagged {
			tr.flagged = append(tr.flagged, flagEvent(rec, cat))
		} else {
			tr.dropped++
		}
	}
	if isKMSDecrypt(rec) && len(tr.kms) < maxFlagged {
		tr.kms = append(tr.kms, flagEvent(rec, cat))
	}
	if rec.ErrorCode == "" {
		for _, r := range createdResources(rec) {
			if len(tr.created) < maxResources {
				tr.created = append(tr.created, r)
			} else {
				tr.createdDropped++
			}
		}
	}
	if !rec.ManagementEvent || rec.EventCategory == "Data" {
		tr.noteObject(rec)
	}
	var derived *Session
	if id := rec.CredentialsAccessKeyID(); id != "" && rec.ErrorCode == "" {
		if _, known := tr.nodes[id]; !known {
			s := mintedSession(rec, n.s, id)
			tr.nodes[id] = &treeNode{s: s, t: newTally()}
			tr.order = append(tr.order, id)
			derived = &s
		}
	}
	onDerived := tr.onDerived
	tr.mu.Unlock()
	if derived != nil && onDerived != nil {
		onDerived(ctx, *derived)
	}
}

func (tr *tracker) widen(rec *TrailRecord) {
	acct := cmp.Or(rec.RecipientAccountID, rec.UserIdentity.AccountID)
	id := acct + "/" + rec.AWSRegion
	sp, ok := tr.spans[id]
	if !ok {
		tr.spans[id] = &activeSpan{rec.EventTime, rec.EventTime}
		return
	}
	if rec.EventTime.Before(sp.first) {
		sp.first = rec.EventTime
	}
	if rec.EventTime.After(sp.last) {
		sp.last = rec.EventTime
	}
}

// mintedSession describes the credential id that rec (a call by parent)
// issued.
func mintedSession(rec *TrailRecord, parent Session, id string) Session {
	var req struct {
		RoleARN         string `json:"roleArn"`
		RoleSessionName string `json:"roleSessionName"`
		SourceIdentity  string `json:"sourceIdentity"`
		Name            string `json:"name"`
	}
	_ = json.Unmarshal(rec.RequestParameters, &req)
	var resp struct {
		Credentials struct {
			Expiration string `json:"expiration"`
		} `json:"credentials"`
		AssumedRoleUser struct {
			ARN string `json:"arn"`
		} `json:"assumedRoleUser"`
		FederatedUser struct {
			ARN string `json:"arn"`
		} `json:"federatedUser"`
		SourceIdentity string `json:"sourceIdentity"`
	}
	_ = json.Unmarshal(rec.ResponseElements, &resp)
	s := Session{
		AccessKeyID: id, ParentAccessKeyID: parent.AccessKeyID, Depth: parent.Depth + 1,
		Account: cmp.Or(rec.RecipientAccountID, parent.Account), MintedBy: rec.EventName, MintEventID: rec.EventID,
		RoleARN: req.RoleARN, SessionName: cmp.Or(req.RoleSessionName, req.Name),
		SourceIdentity: cmp.Or(resp.SourceIdentity, req.SourceIdentity, parent.SourceIdentity),
		Issued:         rec.EventTime, SourceIP: rec.SourceIPAddress, UserAgent: rec.UserAgent,
		Principal: cmp.Or(resp.AssumedRoleUser.ARN, resp.FederatedUser.ARN, rec.UserIdentity.ARN),
	}
	if parts := strings.Split(req.RoleARN, ":"); len(parts) == 6 && parts[4] != "" {
		s.Account = parts[4]
	}
	s.Expires = parseExpiration(resp.Credentials.Expiration)
	if s.Expires.IsZero() {
		s.Expires = s.Issued.Add(36 * time.Hour) // the longest any STS credential lives
	}
	return s
}

// parseExpiration reads credentials.expiration as CloudTrail writes it
// ("Jan 2, 2006, 3:04:05 PM") or as RFC 3339.
func parseExpiration(s string) time.Time {
	for _, layout := range []string{"Jan 2, 2006, 3:04:05 PM", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// noteOrigin records the STS call that minted the investigated temporary
// key, found by looking the key up as a resource name.
func (tr *tracker) noteOrigin(rec *TrailRecord, key string) {
	if rec.CredentialsAccessKeyID() != key {
		return
	}
	parent := Session{AccessKeyID: rec.UserIdentity.AccessKeyID, Account: rec.UserIdentity.AccountID,
		Principal: rec.UserIdentity.ARN, SourceIdentity: rec.UserIdentity.SessionContext.SourceIdentity}
	s := mintedSession(rec, parent, key)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.origin = &s
	root := tr.nodes[tr.root]
	root.s.ParentAccessKeyID, root.s.MintedBy, root.s.MintEventID = s.ParentAccessKeyID, s.MintedBy, s.MintEventID
	root.s.RoleARN, root.s.SessionName, root.s.Principal = s.RoleARN, s.SessionName, s.Principal
	root.s.Issued, root.s.Expires, root.s.SourceIdentity = s.Issued, s.Expires, s.SourceIdentity
}

// sessions returns the tree in discovery order (parents before children).
func (tr *tracker) sessions() []Session {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]Session, 0, len(tr.order))
	for _, id := range tr.order {
		n := tr.nodes[id]
		s := n.s
		s.Activity = n.t.activity()
		out = append(out, s)
	}
	return out
}

// activeSpans returns, per account/region, when tracked keys were active.
func (tr *tracker) activeSpans() map[string]activeSpan {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make(map[string]activeSpan, len(tr.spans))
	for k, v := range tr.spans {
		out[k] = *v
	}
	return out
}

// Category is what an event suggests the caller was doing.
type Category string

// The categories of events.
const (
	CategoryRecon             Category = "recon"
	CategoryIAMPersistence    Category = "iam-persistence"
	CategoryCredentialMinting Category = "credential-minting"
	CategoryComputeAbuse      Category = "compute-abuse"
	CategoryDataAccess        Category = "data-access"
	CategoryDefenseEvasion    Category = "defense-evasion"
	CategoryErrors            Category = "errors-probing" // failed calls of no other category
	CategoryOther             Category = "other"
)

// eventCategories names the events of each flagged category, by event
// source without ".amazonaws.com".
var eventCategories = map[string]Category{
	"sts:AssumeRole": CategoryCredentialMinting, "sts:AssumeRoleWithSAML": CategoryCredentialMinting,
	"sts:AssumeRoleWithWebIdentity": CategoryCredentialMinting, "sts:GetSessionToken": CategoryCredentialMinting,
	"sts:GetFederationToken": CategoryCredentialMinting, "sso:GetRoleCredentials": CategoryCredentialMinting,
	"iam:CreateAccessKey": CategoryIAMPersistence, "iam:CreateLoginProfile": CategoryIAMPersistence,
	"ec2:RunInstances": CategoryComputeAbuse, "ec2:RequestSpotInstances": CategoryComputeAbuse,
	"ec2:RequestSpotFleet": CategoryComputeAbuse, "ec2:CreateFleet": CategoryComputeAbuse,
	"ec2:StartInstances": CategoryComputeAbuse, "ec2:CreateKeyPair": CategoryComputeAbuse,
	"ec2:ImportKeyPair": CategoryComputeAbuse, "ec2:AuthorizeSecurityGroupIngress": CategoryComputeAbuse,
	"ec2:CreateLaunchTemplate": CategoryComputeAbuse, "lambda:CreateFunction20150331": CategoryComputeAbuse,
	"lambda:CreateFunction": CategoryComputeAbuse, "lambda:UpdateFunctionCode20150331v2": CategoryComputeAbuse,
	"ecs:RunTask": CategoryComputeAbuse, "ecs:CreateCluster": CategoryComputeAbuse, "batch:SubmitJob": CategoryComputeAbuse,
	"autoscaling:CreateAutoScalingGroup": CategoryComputeAbuse, "autoscaling:UpdateAutoScalingGroup": CategoryComputeAbuse,
	"sagemaker:CreateNotebookInstance": CategoryComputeAbuse, "sagemaker:CreateTrainingJob": CategoryComputeAbuse,
	"lightsail:CreateInstances": CategoryComputeAbuse,
	"cloudtrail:StopLogging":    CategoryDefenseEvasion, "cloudtrail:DeleteTrail": CategoryDefenseEvasion,
	"cloudtrail:UpdateTrail": CategoryDefenseEvasion, "cloudtrail:PutEventSelectors": CategoryDefenseEvasion,
	"guardduty:DeleteDetector": CategoryDefenseEvasion, "guardduty:UpdateDetector": CategoryDefenseEvasion,
	"guardduty:DisassociateFromMasterAccount": CategoryDefenseEvasion, "config:StopConfigurationRecorder": CategoryDefenseEvasion,
	"config:DeleteConfigurationRecorder": CategoryDefenseEvasion, "config:DeleteDeliveryChannel": CategoryDefenseEvasion,
	"logs:DeleteLogGroup": CategoryDefenseEvasion, "logs:DeleteLogStream": CategoryDefenseEvasion,
	"ec2:DeleteFlowLogs": CategoryDefenseEvasion, "securityhub:DisableSecurityHub": CategoryDefenseEvasion,
	"organizations:LeaveOrganization": CategoryDefenseEvasion, "iam:DeactivateMFADevice": CategoryDefenseEvasion,
	"secretsmanager:GetSecretValue": CategoryDataAccess, "ssm:GetParameter": CategoryDataAccess,
	"ssm:GetParameters": CategoryDataAccess, "ssm:GetParametersByPath": CategoryDataAccess,
	"kms:Decrypt": CategoryDataAccess, "kms:GenerateDataKey": CategoryDataAccess,
	"ec2:CreateSnapshot": CategoryDataAccess, "ec2:ModifySnapshotAttribute": CategoryDataAccess,
	"rds:CreateDBSnapshot": CategoryDataAccess, "rds:ModifyDBSnapshotAttribute": CategoryDataAccess,
	"s3:PutBucketPolicy": CategoryDataAccess, "s3:PutBucketAcl": CategoryDataAccess,
	"s3:DeletePublicAccessBlock": CategoryDataAccess, "dynamodb:Scan": CategoryDataAccess,
	"sts:GetCallerIdentity": CategoryRecon, "s3:ListBuckets": CategoryRecon,
}

// categorize puts an event in one category.
func categorize(rec *TrailRecord) Category {
	service := strings.TrimSuffix(rec.EventSource, ".amazonaws.com")
	if c, ok := eventCategories[service+":"+rec.EventName]; ok {
		return c
	}
	name := rec.EventName
	switch {
	case service == "iam" && !isReadName(name):
		return CategoryIAMPersistence
	case rec.EventCategory == "Data" || !rec.ManagementEvent && service == "s3":
		return CategoryDataAccess
	case rec.ErrorCode != "":
		return CategoryErrors
	case isReadName(name):
		return CategoryRecon
	}
	return CategoryOther
}

func isReadName(name string) bool {
	for _, p := range []string{"Get", "List", "Describe", "Head", "Lookup", "Search", "Scan", "BatchGet"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// FlaggedEvent is one event a responder should look at.
type FlaggedEvent struct {
	Time        time.Time `json:"time"`
	Category    Category  `json:"category"`
	EventName   string    `json:"event_name"`
	EventSource string    `json:"event_source"`
	Region      string    `json:"region"`
	SourceIP    string    `json:"source_ip"`
	UserAgent   string    `json:"user_agent"`
	AccessKeyID string    `json:"access_key_id"` // the credential used
	Principal   string    `json:"principal"`     // its ARN
	ErrorCode   string    `json:"error_code,omitempty"`
	EventID     string    `json:"event_id"`
	// Target names what the call acted on, when the event says.
	Target string `json:"target,omitempty"`
}

// flagged reports whether an event goes in the flagged list: everything
// but recon, plain failures and S3 object reads (which data events sum).
func flagged(rec *TrailRecord, cat Category) bool {
	switch cat {
	case CategoryIAMPersistence, CategoryCredentialMinting, CategoryComputeAbuse, CategoryDefenseEvasion:
		return true
	case CategoryDataAccess:
		return rec.ManagementEvent
	}
	return false
}

func isKMSDecrypt(rec *TrailRecord) bool {
	return rec.EventSource == "kms.amazonaws.com" && (rec.EventName == "Decrypt" || strings.HasPrefix(rec.EventName, "GenerateDataKey") || rec.EventName == "ReEncrypt")
}

func flagEvent(rec *TrailRecord, cat Category) FlaggedEvent {
	f := FlaggedEvent{Time: rec.EventTime, Category: cat, EventName: rec.EventName, EventSource: rec.EventSource,
		Region: rec.AWSRegion, SourceIP: rec.SourceIPAddress, UserAgent: rec.UserAgent,
		AccessKeyID: rec.UserIdentity.AccessKeyID, Principal: rec.UserIdentity.ARN, ErrorCode: rec.ErrorCode, EventID: rec.EventID}
	for _, r := range rec.Resources {
		if r.Type != "AWS::IAM::AccessKey" || f.Target == "" {
			f.Target = r.ARN
		}
		if r.Type != "AWS::IAM::AccessKey" {
			break
		}
	}
	return f
}

func sortEvents(evs []FlaggedEvent) {
	slices.SortStableFunc(evs, func(a, b FlaggedEvent) int { return a.Time.Compare(b.Time) })
}
