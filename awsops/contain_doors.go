package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/keyleak/keyleak/awsops/trail"
)

// Kinds of door close shuts: what the attacker opened on a resource that
// is not its own, so that deleting what it created does not shut it.
const (
	DoorLambdaPermission  = "lambda-permission"  // a function's policy statement (AddPermission)
	DoorFunctionURL       = "lambda-url"         // a function URL with auth type NONE
	DoorSnapshotShare     = "ec2-snapshot-share" // createVolumePermission added
	DoorImageShare        = "ec2-image-share"    // launchPermission added
	DoorDBSnapshotShare   = "rds-snapshot-share" // the restore attribute of a DB snapshot
	DoorDBClusterShare    = "rds-cluster-snapshot-share"
	DoorBucketPolicy      = "s3-bucket-policy" // statements added to a bucket policy
	DoorBucketACL         = "s3-bucket-acl"    // grants to everyone
	DoorIngressRule       = "ec2-ingress-rule" // a security group rule open to the internet
	DoorKMSGrant          = "kms-grant"
	DoorKeyPolicy         = "kms-key-policy"        // statements added to a key policy
	DoorSecretPolicy      = "secret-policy"         // statements added to a secret's policy
	DoorRoleTrust         = "iam-role-trust"        // principals added to a role's trust
	DoorRepositoryPolicy  = "ecr-repository-policy" // statements added to an ECR repository's policy
	DoorTopicPolicy       = "sns-topic-policy"      // statements added to an SNS topic's policy
	DoorQueuePolicy       = "sqs-queue-policy"      // statements added to an SQS queue's policy
	DoorReplication       = "s3-replication"        // replication rules sending a bucket's objects elsewhere
	ParamDoors            = "doors"                 // the doors a close shuts, frozen as JSON
	paramReplaced         = "replaced_doors"        // doors a later write of the same ACL replaced, frozen as JSON
	ParamTree             = "tree_keys"             // the keys of the credential tree, whose writes are the attacker's, space-separated
	closedAlreadyNoteBase = "already closed: "
)

// DoorItem is one door the attacker opened, with the CloudTrail event
// that opened it, and what close froze when it was requested: the
// resource's state then (Prior) and what closing writes (After), so
// that reopen can put back exactly what was there.
type DoorItem struct {
	Kind string `json:"kind"` // one of the Door… kinds
	// ID names it: statement ID, function, snapshot, image, DB snapshot,
	// bucket, rule ID, grant ID, key, secret or role name.
	ID string `json:"id"`
	// On is what it sits on: a permission's function, a rule's group, a
	// grant's key.
	On string `json:"on,omitempty"`
	// Opening is whom it admits, as the investigation found: the
	// accounts, principals or groups closing removes, comma-separated.
	Opening   string    `json:"opening"`
	Account   string    `json:"account"`
	Region    string    `json:"region"`
	EventID   string    `json:"event_id"`
	EventName string    `json:"event_name"`
	EventTime time.Time `json:"event_time"`
	Prior     string    `json:"prior,omitempty"`
	After     string    `json:"after,omitempty"`
}

func (it DoorItem) String() string {
	what := it.ID
	if it.On != "" {
		what = it.On + " " + it.ID
	}
	return fmt.Sprintf("%s %s (%s %s)", it.Kind, what, it.Account, it.Region)
}

// resourceKey names what the door is on, with its kind.
func (it DoorItem) resourceKey() string {
	return strings.Join([]string{it.Kind, it.Account, it.Region, it.On, it.ID}, "\x00")
}

func (it DoorItem) evidence() string {
	return fmt.Sprintf("%s, admitting %s: opened by %s at %s (CloudTrail event %s)", it, cmp.Or(it.Opening, "others"), it.EventName,
		it.EventTime.UTC().Format(time.RFC3339), it.EventID)
}

// admitted are the principals, accounts or groups the door admits.
func (it DoorItem) admitted() []string {
	var out []string
	for _, s := range strings.Split(it.Opening, ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// doorState is what closing (or reopening) a door takes: the calls, from
// its current state, and what it leaves.
type doorState struct {
	steps []cleanupStep
	prior string // the state closing changes, kept for reopen
	after string // the document closing writes, for document doors
	// note says what closing it does, beyond the calls.
	note string
	// changed says the document is no longer what the request saw.
	changed bool
}

// errDoorChanged: the resource changed since the request was made.
var errDoorChanged = errors.New("changed since the request was made")

// PlanClose plans shutting each door, one by one, each with its
// evidence and what it changes; doors already shut are named.
func (c *Client) PlanClose(ctx context.Context, t Target, items []DoorItem) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	var p ActionPlan
	var closed []string
	var refused []error
	frozen := make([]DoorItem, 0, len(items))
	items, replaced := latestWrites(items)
	tree := treeKeys(t.Tree)
	r.learnDoors(ctx, items, replaced, tree)
	for _, it := range replaced {
		p.Impact = append(p.Impact, "Closed with the attacker's later write of the same ACL: "+it.evidence()+".")
	}
	for _, it := range items {
		st, err := r.doorClosing(ctx, &it)
		var no *Refusal
		if errors.As(err, &no) {
			// keyleak will not close this one (a protected principal, a
			// change it may not make): the others are still closed.
			refused = append(refused, fmt.Errorf("%s: %w", it, err))
			continue
		}
		if err != nil {
			return ActionPlan{}, fmt.Errorf("%s: %w", it, err)
		}
		if len(st.steps) == 0 {
			closed = append(closed, it.String())
			continue
		}
		it.Prior, it.After = st.prior, st.after
		frozen = append(frozen, it)
		p.Impact = append(p.Impact, "Closes "+it.evidence()+"."+st.note)
		for _, s := range st.steps {
			p.Calls = append(p.Calls, s.call)
		}
	}
	if len(closed) > 0 {
		p.Impact = append(p.Impact, "Already closed: "+strings.Join(closed, ", "))
	}
	if len(p.Calls) == 0 && len(refused) > 0 {
		return ActionPlan{}, errors.Join(refused...)
	}
	for _, err := range refused {
		p.Impact = append(p.Impact, "NOT closed, by hand: "+err.Error())
	}
	if len(p.Calls) == 0 {
		return ActionPlan{Noop: closedAlreadyNoteBase + strings.Join(closed, ", ")}, nil
	}
	p.Impact = append(p.Impact, "reopen puts back exactly what was there (a re-created function URL or grant gets a new ID).")
	b, _ := json.Marshal(frozen)
	p.Params = map[string]string{ParamDoors: string(b)}
	if len(replaced) > 0 {
		b, _ := json.Marshal(replaced)
		p.Params[paramReplaced] = string(b)
	}
	if len(tree) > 0 {
		// The execution tells the state before by the same keys.
		p.Params[ParamTree] = strings.Join(tree, " ")
	}
	return p, nil
}

// latestWrites keeps, of the doors that writes of one bucket's ACL
// opened, the latest: each write replaced the ACL whole, so closing it
// against the ACL before the attacker's first write, dropping what any of
// the writes granted, closes them all, where closing each against the
// same ACL would write twice. replaced are the others. (Policy documents
// are closed door by door, each by whom it admits: one closed first makes
// the next find its document changed, and ask to be requested again.)
func latestWrites(items []DoorItem) (keep, replaced []DoorItem) {
	latest := map[string]DoorItem{}
	for _, it := range items {
		if l, seen := latest[it.resourceKey()]; it.Kind == DoorBucketACL && (!seen || it.EventTime.After(l.EventTime)) {
			latest[it.resourceKey()] = it
		}
	}
	for _, it := range items {
		if l, ok := latest[it.resourceKey()]; ok && l.EventID != it.EventID {
			replaced = append(replaced, it)
			continue
		}
		keep = append(keep, it)
	}
	return keep, replaced
}

// ExecuteClose shuts the frozen doors one by one. A document that changed
// since the request is left alone and reported; a door found shut is
// counted as shut; one that fails does not stop the others.
func (c *Client) ExecuteClose(ctx context.Context, t Target, params map[string]string) (Result, error) {
	var items []DoorItem
	if err := json.Unmarshal([]byte(params[ParamDoors]), &items); err != nil || len(items) == 0 {
		return Result{}, fmt.Errorf("close: no doors were frozen in the request: %v", err)
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	var replaced []DoorItem
	_ = json.Unmarshal([]byte(params[paramReplaced]), &replaced)
	r.learnDoors(ctx, items, replaced, treeKeys(strings.Fields(params[ParamTree])))
	var failed partFailures
	shut := 0
	for _, it := range items {
		planned := it
		st, err := r.doorClosing(ctx, &it)
		switch {
		case err != nil:
			failed = append(failed, fmt.Errorf("%s: %w", it, err))
			continue
		case len(st.steps) == 0:
			r.did("%s was already closed", it)
			shut++
			continue
		case planned.After != "" && st.prior != planned.Prior:
			failed = append(failed, fmt.Errorf("%s: %w: left as it is; request close again to see its current document", it, errDoorChanged))
			continue
		case planned.After != "" && st.after != planned.After:
			// What closing would write now is not what was approved (what
			// CloudTrail answered differs): nothing else is written.
			failed = append(failed, fmt.Errorf("%s: %w: what closing would write differs from what the request showed; left as it is; request close again", it, errDoorChanged))
			continue
		}
		if err := r.runSteps(ctx, st.steps); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", it, err))
			continue
		}
		shut++
		r.did("closed %s", it)
	}
	if len(failed) > 0 {
		return r.finish(fmt.Errorf("close: %d of %d closed; not closed: %w", shut, len(items), failed))
	}
	return r.finish(nil)
}

// PlanReopen plans putting back what a close changed (its frozen
// parameters): each door as it was, unless it changed since.
func (c *Client) PlanReopen(ctx context.Context, t Target, closed map[string]string) (ActionPlan, error) {
	var items []DoorItem
	if err := json.Unmarshal([]byte(closed[ParamDoors]), &items); err != nil || len(items) == 0 {
		return ActionPlan{}, fmt.Errorf("reopen: the close request holds no doors: %v", err)
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	var p ActionPlan
	var open []string
	for _, it := range items {
		steps, err := r.doorReopening(ctx, it)
		if errors.Is(err, ErrPassRole) {
			p.Impact = append(p.Impact, "Leaves "+it.String()+" shut: "+err.Error())
			continue
		}
		if err != nil {
			return ActionPlan{}, fmt.Errorf("%s: %w", it, err)
		}
		if len(steps) == 0 {
			open = append(open, it.String())
			continue
		}
		p.Impact = append(p.Impact, "Reopens "+it.evidence()+": the attacker's way in again.")
		for _, s := range steps {
			p.Calls = append(p.Calls, s.call)
		}
	}
	if len(p.Calls) == 0 {
		noop := p.Impact
		if len(open) > 0 {
			noop = append(noop, "Already as before: "+strings.Join(open, ", ")+".")
		}
		return ActionPlan{Noop: strings.Join(noop, " ")}, nil
	}
	p.Params = map[string]string{ParamDoors: closed[ParamDoors]}
	return p, nil
}

// ExecuteReopen puts back what the close changed.
func (c *Client) ExecuteReopen(ctx context.Context, t Target, params map[string]string) (Result, error) {
	var items []DoorItem
	if err := json.Unmarshal([]byte(params[ParamDoors]), &items); err != nil || len(items) == 0 {
		return Result{}, fmt.Errorf("reopen: no doors were frozen in the request: %v", err)
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	var failed partFailures
	for _, it := range items {
		steps, err := r.doorReopening(ctx, it)
		if errors.Is(err, ErrPassRole) {
			r.did("left %s shut: %v", it, err) // as the plan said
			continue
		}
		if err == nil && len(steps) > 0 {
			err = r.runSteps(ctx, steps)
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", it, err))
			continue
		}
		r.did("reopened %s as it was", it)
	}
	if len(failed) > 0 {
		return r.finish(fmt.Errorf("reopen: %d of %d put back; not: %w", len(items)-len(failed), len(items), failed))
	}
	return r.finish(nil)
}

// attackerDocument reads, from the event that opened the door, the
// policy document the attacker's request wrote; "" when CloudTrail no
// longer has it.
func (r *containRun) attackerDocument(ctx context.Context, it DoorItem) string {
	e, ok := r.attackerEvent(ctx, it)
	if !ok {
		return ""
	}
	doc, _, _ := documentIn(e, policyDocs[it.Kind].param)
	return doc
}

// attackerEvent reads the event that opened the door from CloudTrail;
// false when CloudTrail no longer has it.
func (r *containRun) attackerEvent(ctx context.Context, it DoorItem) (cttypes.Event, bool) {
	if it.EventID == "" {
		return cttypes.Event{}, false
	}
	r.mu.Lock()
	e, ok := r.events[it.EventID]
	r.mu.Unlock()
	if ok {
		return e, true
	}
	client, ok := r.doorTrail(ctx, it)
	if !ok {
		return cttypes.Event{}, false
	}
	out, err := client.LookupEvents(ctx, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventId, AttributeValue: aws.String(it.EventID)}}})
	if err != nil || len(out.Events) == 0 {
		return cttypes.Event{}, false
	}
	r.mu.Lock()
	if r.events == nil {
		r.events = map[string]cttypes.Event{}
	}
	r.events[it.EventID] = out.Events[0]
	r.mu.Unlock()
	return out.Events[0], true
}

// learnDoors takes, as the attacker's, the leaked key, the keys of its
// tree and the keys that made the doors' events, and keeps the doors
// later writes replaced by what they are on.
func (r *containRun) learnDoors(ctx context.Context, items, replaced []DoorItem, tree []string) {
	r.attackers = map[string]bool{r.t.AccessKeyID: true}
	for _, k := range tree {
		r.attackers[k] = true
	}
	r.replaced = map[string][]DoorItem{}
	for _, it := range slices.Concat(items, replaced) {
		if e, ok := r.attackerEvent(ctx, it); ok {
			if k := callerKey(e); k != "" {
				r.attackers[k] = true
			}
		}
	}
	for _, it := range replaced {
		k := it.resourceKey()
		r.replaced[k] = append(r.replaced[k], it)
	}
}

// treeKeys are the access key IDs of keys, sorted, once each; what is not
// a key ID is left out.
func treeKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		if id, err := ParseAccessKeyID(k); err == nil {
			out = append(out, id.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// callerKey is the access key that made a CloudTrail event, if any.
func callerKey(e cttypes.Event) string {
	_, key := callerOf(e)
	return key
}

// callerOf is the principal (its ARN) and the access key that made a
// CloudTrail event, as far as the event says.
func callerOf(e cttypes.Event) (arn, key string) {
	if e.CloudTrailEvent == nil {
		return "", ""
	}
	var rec struct {
		UserIdentity struct {
			ARN         string `json:"arn"`
			AccessKeyID string `json:"accessKeyId"`
		} `json:"userIdentity"`
	}
	if json.Unmarshal([]byte(*e.CloudTrailEvent), &rec) != nil {
		return "", ""
	}
	return rec.UserIdentity.ARN, rec.UserIdentity.AccessKeyID
}

// maxEarlierPages bounds the LookupEvents pages read for the document
// before the attacker's: a resource's events of 90 days.
const maxEarlierPages = 20

// earlierDocument reads, from CloudTrail, the document the resource had
// before the attacker's request wrote its own: the one the last earlier
// write wrote ("" after a removal). known is false when CloudTrail holds
// no earlier write (it keeps 90 days) or could not be read.
func (r *containRun) earlierDocument(ctx context.Context, it DoorItem) earlierFound {
	pd := policyDocs[it.Kind]
	if len(pd.earlier) == 0 {
		return earlierFound{}
	}
	return r.earlierWrite(ctx, it, func(e cttypes.Event) (string, earlier) {
		path, writes := pd.earlier[aws.ToString(e.EventName)]
		if !writes {
			return "", notAWrite
		}
		text, failed, ok := documentIn(e, path)
		switch {
		case failed: // a write refused changed nothing
			return "", notAWrite
		case path == nil:
			return "", wrote // removed
		case ok:
			if _, _, err := policyParts(text); err == nil {
				return text, wrote
			}
		}
		return "", unreadable
	})
}

// earlier is what an event before the attacker's says of the state it
// set.
type earlier int

const (
	notAWrite  earlier = iota // another call, or a write refused
	wrote                     // it set the state given
	unreadable                // it set a state CloudTrail does not show
)

// earlierFound is the state the last earlier write set, when known, and
// which write that was, for the plan.
type earlierFound struct {
	state string
	known bool
	// from names the write, and the attacker's writes passed over to
	// reach it: "PutBucketPolicy by arn:… at …; 1 write with the
	// attacker's keys passed over".
	from string
}

// told says, for the plan, where the state before the attacker's
// request was read.
func (f earlierFound) told() string { return " (CloudTrail's last earlier write: " + f.from + ")" }

// earlierWrite walks the events of the door's resource before the
// attacker's request, newest first, and returns the state the first write
// set: settle says what an event set. A write made with one of the
// attacker's keys is passed over (it is not the state before the
// attacker), and one whose state CloudTrail does not show ends the walk,
// unknown. It is unknown also when CloudTrail holds no write (it keeps
// 90 days) or could not be read.
func (r *containRun) earlierWrite(ctx context.Context, it DoorItem, settle func(cttypes.Event) (string, earlier)) earlierFound {
	if it.EventTime.IsZero() {
		return earlierFound{}
	}
	client, ok := r.doorTrail(ctx, it)
	if !ok {
		return earlierFound{}
	}
	pages := cloudtrail.NewLookupEventsPaginator(client, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(it.ID)}},
		// (to the second after: an earlier write may share the attacker's second)
		StartTime: aws.Time(it.EventTime.Add(-maxWindow)), EndTime: aws.Time(it.EventTime.Add(time.Second)),
	})
	passed := false // the attacker's event was listed: what follows is older
	theirs := 0     // writes with the attacker's keys passed over
	for n := 0; pages.HasMorePages() && n < maxEarlierPages; n++ {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return earlierFound{}
		}
		for _, e := range out.Events { // newest first
			if aws.ToString(e.EventId) == it.EventID {
				passed = true
				continue
			}
			if e.EventTime == nil || !passed && !e.EventTime.Before(it.EventTime) {
				continue
			}
			arn, key := callerOf(e)
			switch state, v := settle(e); {
			case v == notAWrite:
			case r.attackers[key]:
				theirs++
			case v == unreadable:
				return earlierFound{}
			default:
				from := fmt.Sprintf("%s by %s at %s", aws.ToString(e.EventName), cmp.Or(arn, key, "an unnamed caller"), e.EventTime.UTC().Format(time.RFC3339))
				if theirs > 0 {
					from += fmt.Sprintf("; %s with the attacker's keys passed over", counted(theirs, "write"))
				}
				return earlierFound{state: state, known: true, from: from}
			}
		}
	}
	return earlierFound{}
}

// doorTrail is a LookupEvents client of the door's account, in the region
// its events are recorded in.
func (r *containRun) doorTrail(ctx context.Context, it DoorItem) (*cloudtrail.Client, bool) {
	region := it.Region
	if it.Kind == DoorRoleTrust {
		region = r.c.globalEventRegion()
	}
	account := cmp.Or(it.Account, r.t.Account)
	cfg, err := r.config(ctx, account)
	if err != nil {
		return nil, false
	}
	cfg.Region = region
	return cloudtrail.NewFromConfig(cfg, r.c.lookups.paced(account)), true
}

// documentIn is the policy document an event's request wrote at path;
// failed says the request was refused. A document that names a member
// twice is not read (ok is false).
func documentIn(e cttypes.Event, path []string) (doc string, failed, ok bool) {
	if e.CloudTrailEvent == nil {
		return "", false, false
	}
	var rec trail.Record
	if trail.Decode([]byte(*e.CloudTrailEvent), &rec) != nil {
		return "", false, false
	}
	if rec.ErrorCode != "" {
		return "", true, false
	}
	if path == nil {
		return "", false, true
	}
	ev := newEvent(&rec, noAccounts)
	switch v := ev.param(path...).(type) {
	case string:
		if _, dup := duplicateMember(decodePolicyDocument(v)); dup {
			return "", false, false // which of the two AWS applied is not known
		}
		return v, false, true
	case map[string]any:
		if ev.ambiguousParams() {
			return "", false, false // the object kept one of two members
		}
		b, _ := json.Marshal(v)
		return string(b), false, true
	}
	return "", false, false
}

// withoutDoor returns current without what the door added. A Deny
// statement never opens a door and is kept as it is. With the document
// the resource had before the attacker's write (earlier, known), what
// the write added is exact: the principals the door admits that the
// earlier document did not, taken from the statements that are not the
// earlier document's own. Without it, they are taken from the statements
// the attacker's request wrote (every statement, when the event no longer
// shows them, or for a trust), and doubt says that the owner may have
// had some of them before.
func withoutDoor(current, attacker, earlier string, known bool, admitted []string, principalsOnly bool) (after string, doubt bool, err error) {
	doc, stmts, err := policyParts(current)
	if err != nil {
		return "", false, err
	}
	canon := func(list []any) []string {
		out := make([]string, 0, len(list))
		for _, s := range list {
			m, _ := s.(map[string]any)
			out = append(out, canonicalStatement(m))
		}
		return out
	}
	_, theirs, _ := policyParts(attacker)
	theirsCanon := canon(theirs)
	var before []string // the earlier document's statements
	drop := admitted
	if known {
		_, earlierStmts, _ := policyParts(earlier)
		before = canon(earlierStmts)
		var had []string // every principal the earlier document allowed
		for _, s := range earlierStmts {
			if m, _ := s.(map[string]any); !isDeny(m) {
				had = append(had, principalList(m)...)
			}
		}
		drop = slices.DeleteFunc(slices.Clone(admitted), func(a string) bool {
			return slices.ContainsFunc(had, func(h string) bool { return samePrincipal(a, h) })
		})
	}
	var kept []any
	for _, s := range stmts {
		m, _ := s.(map[string]any)
		c := canonicalStatement(m)
		var door bool
		switch {
		case isDeny(m):
		case known:
			door = !slices.Contains(before, c)
		default:
			door = principalsOnly || len(theirsCanon) == 0 || slices.Contains(theirsCanon, c)
		}
		if door && namesAny(m, drop) {
			doubt = doubt || !known
			if rest, emptied := dropPrincipals(m, drop); !emptied {
				kept = append(kept, rest)
			}
			continue
		}
		kept = append(kept, m)
	}
	doc["Statement"] = kept
	out, err := json.Marshal(doc)
	if err != nil {
		return "", false, err
	}
	return string(out), doubt, nil
}

// isDeny reports whether a statement denies.
func isDeny(st map[string]any) bool {
	e, _ := st["Effect"].(string)
	return strings.EqualFold(e, "Deny")
}

// canonicalStatement writes a statement so that two spellings of it
// compare equal: an account's principal as its ID or its root's ARN (in
// any partition), one principal or a list of them, in any order.
func canonicalStatement(st map[string]any) string {
	c := make(map[string]any, len(st))
	for k, v := range st {
		c[k] = v
	}
	canonP := func(v any) any {
		list := anyStrings(v)
		if list == nil {
			return v
		}
		out := make([]string, 0, len(list))
		for _, p := range list {
			if a, ok := principalAccount(p); ok {
				p = "account:" + a
			}
			out = append(out, p)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	switch p := st["Principal"].(type) {
	case string:
		c["Principal"] = canonP(p)
	case map[string]any:
		m := make(map[string]any, len(p))
		for k, v := range p {
			m[k] = canonP(v)
		}
		c["Principal"] = m
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// principalAccount is the account a principal names as a whole: its ID,
// or its root user's ARN in any partition.
func principalAccount(p string) (string, bool) {
	if len(p) == 12 && strings.Trim(p, "0123456789") == "" {
		return p, true
	}
	if rest, ok := strings.CutPrefix(p, "arn:"); ok {
		if parts := strings.Split(rest, ":"); len(parts) == 5 && parts[1] == "iam" && parts[4] == "root" && len(parts[3]) == 12 {
			return parts[3], true
		}
	}
	return "", false
}

// policyParts decodes a policy document (URL-encoded or not) and its
// statements as a list.
func policyParts(text string) (map[string]any, []any, error) {
	if text == "" {
		return map[string]any{}, nil, nil
	}
	normal, err := normalPolicy(text)
	if err != nil {
		return nil, nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(normal), &doc); err != nil {
		return nil, nil, fmt.Errorf("policy document is not an object: %w", err)
	}
	switch s := doc["Statement"].(type) {
	case []any:
		return doc, s, nil
	case map[string]any:
		return doc, []any{s}, nil
	}
	return doc, nil, nil
}

// principalList is a statement's AWS principals.
func principalList(st map[string]any) []string {
	switch p := st["Principal"].(type) {
	case string:
		return []string{p}
	case map[string]any:
		return anyStrings(p["AWS"])
	}
	return nil
}

func namesAny(st map[string]any, who []string) bool {
	for _, p := range principalList(st) {
		if slices.ContainsFunc(who, func(w string) bool { return samePrincipal(p, w) }) {
			return true
		}
	}
	return false
}

// samePrincipal compares a policy principal with one the investigation
// named: the same ARN, or an account ID and that account's root (in any
// partition).
func samePrincipal(a, b string) bool {
	if x, ok := principalAccount(a); ok {
		y, ok := principalAccount(b)
		return ok && x == y
	}
	return strings.EqualFold(a, b)
}

// dropPrincipals removes who from a statement's AWS principals; emptied
// says nothing is left of it.
func dropPrincipals(st map[string]any, who []string) (map[string]any, bool) {
	p, ok := st["Principal"].(map[string]any)
	if !ok {
		s, _ := st["Principal"].(string)
		return st, slices.ContainsFunc(who, func(w string) bool { return samePrincipal(s, w) })
	}
	var keep []any
	for _, a := range anyStrings(p["AWS"]) {
		if !slices.ContainsFunc(who, func(w string) bool { return samePrincipal(a, w) }) {
			keep = append(keep, a)
		}
	}
	out := map[string]any{}
	for k, v := range st {
		out[k] = v
	}
	np := map[string]any{}
	for k, v := range p {
		np[k] = v
	}
	switch len(keep) {
	case 0:
		delete(np, "AWS")
	case 1:
		np["AWS"] = keep[0]
	default:
		np["AWS"] = keep
	}
	out["Principal"] = np
	return out, len(np) == 0
}

// statementCount is how many statements a document has.
func statementCount(doc string) int {
	_, s, _ := policyParts(doc)
	return len(s)
}
