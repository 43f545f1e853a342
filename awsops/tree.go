package awsops

import (
	"cmp"
	"context"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"

	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// Session is one credential of the credential tree: the investigated key
// itself (depth 0) or a temporary credential minted from it, directly or
// through other sessions (role chaining, cross-account).
type Session struct {
	// ID names the node in the tree: the access key ID, or for a user's
	// branch (a user the attacker created, or whose console password they
	// set) "user:<account>:<name>".
	ID string `json:"id"`
	// ParentID is the node whose call minted or opened this one; empty
	// for the investigated key.
	ParentID    string `json:"parent_id,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty"`
	// ParentAccessKeyID is the key whose call minted this one; empty for
	// the investigated key and below a user's branch.
	ParentAccessKeyID string `json:"parent_access_key_id,omitempty"`
	Depth             int    `json:"depth"`
	Account           string `json:"account"`
	// Via says how the credential joined the tree: minted by an STS call,
	// or through a door a tracked credential opened (a key or user it
	// created, a trust it rewrote, an anchor or identity provider it made).
	Via Via `json:"via,omitempty"`
	// CreatedByAttacker marks a branch through such a door: everything
	// in it is the attacker's, however it got in.
	CreatedByAttacker bool `json:"created_by_attacker,omitempty"`
	// OpenedFrom is the source address of the call that opened the door
	// the branch came through (that created the key, the user, the
	// trust…).
	OpenedFrom string `json:"opened_from,omitempty"`
	// Baseline marks a branch through a door opened from the key's
	// baseline source, where its owner works, and never used by the
	// attacker's: not counted as the attacker's (keyleak cannot tell the
	// owner from someone else there).
	Baseline bool `json:"baseline,omitempty"`
	// UserName is the user of a user's branch or of a created key.
	UserName string `json:"user_name,omitempty"`
	// By is who came through the door: the caller that assumed a
	// backdoored role or signed in through an identity provider.
	By string `json:"by,omitempty"`
	// Door is the door a branch came through: the user, role, trust
	// anchor or identity provider, by name or ARN.
	Door string `json:"door,omitempty"`
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

func (t *tally) add(rec *trail.Record, cat Category) {
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
	onDoor    func(ctx context.Context, d *door)

	mu    sync.Mutex
	seed  maphash.Seed
	seen  map[uint64]struct{}
	nodes map[string]*treeNode
	order []string
	total *tally
	kms   []FlaggedEvent
	// For the flagged list, made once the baseline is known: events of
	// techniques, and changes no technique names.
	trailChanges      map[string]trailChange // by account
	candidates        []candidate
	changes           []candidate
	candidatesDropped int
	sources           map[string]*sourceStat
	// own reports whether an account is of the organisation.
	own            func(account string) bool
	created        []Resource
	createdDropped int                    // resources beyond maxResources
	spans          map[string]*activeSpan // account/region → when tracked keys were active
	origin         *Session               // for a temporary key: the call that minted it
	doors          map[string]*door       // opened by tracked credentials

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
		dataNames: map[string]int{}, objects: map[string]*ObjectAccess{},
		sources: map[string]*sourceStat{}, own: noAccounts, doors: map[string]*door{}, trailChanges: map[string]trailChange{}}
	root.ID = cmp.Or(root.ID, root.AccessKeyID)
	tr.root = root.ID
	tr.nodes[root.ID] = &treeNode{s: root, t: newTally()}
	tr.order = append(tr.order, root.ID)
	return tr
}

// setOnDerived sets what is done with each newly found credential.
func (tr *tracker) setOnDerived(fn func(ctx context.Context, s Session)) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.onDerived = fn
}

// setOnDoor sets what is done with each door a tracked credential opens.
func (tr *tracker) setOnDoor(fn func(ctx context.Context, d *door)) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.onDoor = fn
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
	out := make([]string, 0, len(tr.order))
	for _, id := range tr.order {
		if k := tr.nodes[id].s.AccessKeyID; k != "" {
			out = append(out, k)
		}
	}
	return out
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
		var rec trail.Record
		if trail.Decode([]byte(*e.CloudTrailEvent), &rec) != nil {
			continue
		}
		if t.door != nil {
			tr.doorEvent(ctx, t.door, &rec)
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
func (tr *tracker) add(ctx context.Context, key string, rec *trail.Record) {
	settleSignIn(rec)
	tr.mu.Lock()
	n, ok := tr.nodes[key]
	if !ok {
		// Not (yet) a credential of the tree: the record may still come
		// as another's, so it is not marked seen.
		tr.mu.Unlock()
		return
	}
	h := tr.eventHash(rec)
	if _, dup := tr.seen[h]; dup {
		tr.mu.Unlock()
		return
	}
	tr.seen[h] = struct{}{}
	own := tr.own
	tr.mu.Unlock()
	// What the record says, worked out without the lock: the scans of
	// other files go on meanwhile.
	e := newEvent(rec, own)
	techniques := techniquesOf(e)
	cat := categoryOf(e, techniques)
	var created []Resource
	if rec.ErrorCode == "" {
		created = createdResources(e)
	}
	tr.mu.Lock()
	n.t.add(rec, cat)
	tr.total.add(rec, cat)
	tr.widen(rec)
	network := tr.noteSource(rec, e.readOnly())
	tr.noteCandidate(rec, e, cat, techniques, network)
	if isKMSDecrypt(rec) && len(tr.kms) < maxFlagged {
		tr.kms = append(tr.kms, flagEvent(rec, cat))
	}
	if e.is("cloudtrail", trailChangingCalls...) && rec.ErrorCode == "" {
		tr.noteTrailChange(rec)
	}
	if rec.ErrorCode == "" {
		for _, r := range created {
			if len(tr.created) < maxResources {
				tr.created = append(tr.created, r)
			} else {
				tr.createdDropped++
			}
		}
	}
	if isDataEvent(rec) {
		tr.noteObject(rec)
	}
	var derived []Session
	var doors []*door
	if rec.ErrorCode == "" {
		if id := rec.CredentialsAccessKeyID(); id != "" {
			if _, known := tr.nodes[id]; !known {
				s := mintedSession(e, n.s, id)
				tr.addNode(s)
				derived = append(derived, s)
			}
		}
		opened, key := doorsOpened(e, &n.s)
		if key != nil {
			if _, known := tr.nodes[key.ID]; !known {
				tr.addNode(*key)
				derived = append(derived, *key)
			}
		}
		for _, d := range opened {
			if tr.openDoor(d, rec) {
				doors = append(doors, d)
			}
		}
	}
	onDerived, onDoor := tr.onDerived, tr.onDoor
	tr.mu.Unlock()
	for _, s := range derived {
		if onDerived != nil {
			onDerived(ctx, s)
		}
	}
	for _, d := range doors {
		if onDoor != nil {
			onDoor(ctx, d)
		}
	}
}

// eventHash identifies a record among those seen.
func (tr *tracker) eventHash(rec *trail.Record) uint64 {
	if rec.EventID != "" {
		return maphash.String(tr.seed, rec.EventID)
	}
	return maphash.String(tr.seed, rec.RequestID+rec.EventName+rec.EventTime.String())
}

// hasSeen reports whether rec was counted.
func (tr *tracker) hasSeen(rec *trail.Record) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	_, ok := tr.seen[tr.eventHash(rec)]
	return ok
}

// eventCount is the number of events counted so far.
func (tr *tracker) eventCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.total.events
}

// trailChangingCalls change what a trail delivers, or where: after one,
// the bucket may lack events.
var trailChangingCalls = []string{"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"}

// trailChange is the first call of the tree that changed what a trail of
// an account delivers (see trailChangingCalls).
type trailChange struct {
	at        time.Time
	eventName string
	key       string
	account   string // where the call was made
	// trail and restarted, for a trail that logs now but stopped in the
	// window (cloudtrail:GetTrailStatus, whoever stopped it; key is "").
	trail     string
	restarted time.Time
}

// noteTrailChange keeps the first change of CloudTrail in the record's
// account. Called with the tracker's lock.
func (tr *tracker) noteTrailChange(rec *trail.Record) {
	account := cmp.Or(rec.RecipientAccountID, rec.UserIdentity.AccountID)
	if c, ok := tr.trailChanges[account]; !ok || rec.EventTime.Before(c.at) {
		tr.trailChanges[account] = trailChange{at: rec.EventTime, eventName: rec.EventName, key: rec.UserIdentity.AccessKeyID, account: account}
	}
}

// trailChangesNow returns the first change of CloudTrail the tree made in
// each account.
func (tr *tracker) trailChangesNow() map[string]trailChange {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return maps.Clone(tr.trailChanges)
}

// regionEvents is how many calls of credential id the tracker counted in
// region.
func (tr *tracker) regionEvents(id, region string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := tr.nodes[id]; n != nil {
		return n.t.regions[region]
	}
	return 0
}

// tracks reports whether id is a credential of the tree.
func (tr *tracker) tracks(id string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	_, ok := tr.nodes[id]
	return id != "" && ok
}

// callerText names the caller of a record: its ARN, its identity provider,
// or its account (another account's caller shows only that, and the
// principal ID when it is not the account itself).
func callerText(u trail.Identity) string {
	switch {
	case u.ARN != "":
		return u.ARN
	case u.IdentityProvider != "":
		return cmp.Or(u.UserName, u.PrincipalID) + " of " + u.IdentityProvider
	case u.AccountID != "" && u.PrincipalID != "" && u.PrincipalID != u.AccountID:
		return "account " + u.AccountID + " (principal " + u.PrincipalID + ")"
	case u.AccountID != "":
		return "account " + u.AccountID
	}
	return u.PrincipalID
}

// addNode adds s to the tree. Called with the tracker's lock.
func (tr *tracker) addNode(s Session) {
	tr.nodes[s.ID] = &treeNode{s: s, t: newTally()}
	tr.order = append(tr.order, s.ID)
}

// openDoor records a door a tracked credential opened, and the branch of
// a user's door; it reports whether the door is new. Called with the
// tracker's lock.
func (tr *tracker) openDoor(d *door, rec *trail.Record) bool {
	if _, seen := tr.doors[d.key()]; seen {
		return false
	}
	if d.via == ViaLoginProfile {
		if _, created := tr.doors[string(ViaCreatedUser)+"|"+d.account+"|"+d.subject]; created {
			return false // the user's branch already holds its sign-ins
		}
	}
	tr.doors[d.key()] = d
	if d.node != "" {
		if n, exists := tr.nodes[d.node]; exists && d.via == ViaCreatedUser {
			// Found after its console password (the sweep reads newest
			// first): the user is the attacker's own.
			n.s.Via, n.s.MintedBy, n.s.MintEventID, n.s.Issued = d.via, rec.EventName, rec.EventID, rec.EventTime
		} else if !exists {
			parent := tr.nodes[d.parent].s
			partition := cmp.Or(partitionOfARN(rec.UserIdentity.ARN), "aws")
			tr.addNode(Session{ID: d.node, ParentID: parent.ID, ParentAccessKeyID: cmp.Or(parent.AccessKeyID, parent.ParentAccessKeyID),
				Depth: parent.Depth + 1, Account: d.account,
				Via: d.via, CreatedByAttacker: true, OpenedFrom: d.from, UserName: d.subject, Door: d.subject,
				Principal: "arn:" + partition + ":iam::" + d.account + ":user/" + d.subject,
				MintedBy:  rec.EventName, MintEventID: rec.EventID, Issued: rec.EventTime})
		}
	}
	return true
}

// doorEvent takes one event found by looking for the use of a door: a
// user's event joins the user's branch; a session issued through a
// backdoored role, trust anchor or identity provider becomes a branch of
// its own, swept like a minted credential.
func (tr *tracker) doorEvent(ctx context.Context, d *door, rec *trail.Record) {
	settleSignIn(rec)
	tr.mu.Lock()
	tracked := func(id string) bool {
		_, ok := tr.nodes[id]
		return id != "" && ok
	}
	if !d.through(rec, tr.own, tracked) {
		tr.mu.Unlock()
		return
	}
	if d.node != "" {
		target := d.node
		k := rec.UserIdentity.AccessKeyID
		switch {
		case tracked(k):
			target = k // a call made with a key in the tree is that key's
		case (d.via == ViaLoginProfile || d.via == ViaCreatedUser) && k != "" && rec.SessionCredentialFromConsole == "true":
			// A console session signed in to with the attacker's
			// password (of a user it created or of one it gave a
			// password): a credential of its own, under the user's
			// branch, swept like a minted one, whichever door the
			// sweep happened to find first.
			user := tr.nodes[d.node].s
			issued, _ := time.Parse(time.RFC3339, rec.UserIdentity.SessionContext.Attributes.CreationDate)
			s := Session{ID: k, AccessKeyID: k, ParentID: user.ID, ParentAccessKeyID: cmp.Or(user.AccessKeyID, user.ParentAccessKeyID),
				Depth: user.Depth + 1, Account: user.Account, Via: ViaLoginProfile, CreatedByAttacker: true, OpenedFrom: d.from,
				UserName: user.UserName, Door: d.subject, Principal: user.Principal,
				MintedBy: "ConsoleLogin", Issued: issued, Expires: issued.Add(consoleSessionLifetime),
				SourceIP: rec.SourceIPAddress, UserAgent: rec.UserAgent}
			tr.addNode(s)
			target = k
			onDerived := tr.onDerived
			tr.mu.Unlock()
			tr.add(ctx, target, rec)
			if onDerived != nil {
				onDerived(ctx, s)
			}
			return
		}
		tr.mu.Unlock()
		tr.add(ctx, target, rec)
		return
	}
	id := sessionKeyOf(rec)
	node := cmp.Or(id, "session:"+rec.EventID) // credentials the record does not show
	var derived *Session
	if _, known := tr.nodes[node]; !known {
		s := mintedSession(newEvent(rec, nil), tr.nodes[d.parent].s, id)
		s.ID, s.AccessKeyID = node, id
		s.Via, s.CreatedByAttacker, s.Door, s.OpenedFrom = d.via, true, d.subject, d.from
		s.By = callerText(rec.UserIdentity)
		tr.addNode(s)
		if id != "" {
			derived = &s
		}
	}
	onDerived := tr.onDerived
	tr.mu.Unlock()
	tr.add(ctx, node, rec)
	if derived != nil && onDerived != nil {
		onDerived(ctx, *derived)
	}
}

func (tr *tracker) widen(rec *trail.Record) {
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

// mintedSession describes the credential id that the event (a call by
// parent) issued. Members are read as strings only, names compared without
// case, as json.Unmarshal into a struct of strings reads them.
func mintedSession(e *event, parent Session, id string) Session {
	rec := e.rec
	text := func(v any) string { s, _ := v.(string); return s }
	roleARN := text(e.param("roleArn"))
	s := Session{
		ID: id, ParentID: parent.ID, Via: ViaMinted,
		AccessKeyID: id, ParentAccessKeyID: parent.AccessKeyID, Depth: parent.Depth + 1,
		Account: cmp.Or(rec.RecipientAccountID, parent.Account), MintedBy: rec.EventName, MintEventID: rec.EventID,
		RoleARN: roleARN, SessionName: cmp.Or(text(e.param("roleSessionName")), text(e.param("name"))),
		SourceIdentity: cmp.Or(text(e.response("sourceIdentity")), text(e.param("sourceIdentity")), parent.SourceIdentity),
		Issued:         rec.EventTime, SourceIP: rec.SourceIPAddress, UserAgent: rec.UserAgent,
		Principal: cmp.Or(text(e.response("assumedRoleUser", "arn")), text(e.response("federatedUser", "arn")), rec.UserIdentity.ARN),
	}
	if parts := strings.Split(roleARN, ":"); len(parts) == 6 && parts[4] != "" {
		s.Account = parts[4]
	}
	s.Expires = parseExpiration(text(e.response("credentials", "expiration")))
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
func (tr *tracker) noteOrigin(rec *trail.Record, key string) {
	if rec.CredentialsAccessKeyID() != key {
		return
	}
	parent := Session{AccessKeyID: rec.UserIdentity.AccessKeyID, Account: rec.UserIdentity.AccountID,
		Principal: rec.UserIdentity.ARN, SourceIdentity: rec.UserIdentity.SessionContext.SourceIdentity}
	s := mintedSession(newEvent(rec, nil), parent, key)
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

// members returns the tree's credentials, parents first, and the doors
// they opened, by key.
func (tr *tracker) members() ([]Session, []*door) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	sessions := make([]Session, 0, len(tr.order))
	for _, id := range tr.order {
		sessions = append(sessions, tr.nodes[id].s)
	}
	doors := slices.Collect(maps.Values(tr.doors))
	slices.SortFunc(doors, func(a, b *door) int { return strings.Compare(a.key(), b.key()) })
	return sessions, doors
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

// TechniqueSeen is a catalogue technique among the flagged events.
type TechniqueSeen struct {
	Technique
	Events    int       `json:"events"`
	Failed    int       `json:"failed"` // attempts refused (AccessDenied…)
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// techniquesSeen sums the flagged events by technique, in catalogue order.
func techniquesSeen(flagged []FlaggedEvent) []TechniqueSeen {
	byID := map[string]*TechniqueSeen{}
	for _, f := range flagged {
		for _, id := range f.Techniques {
			seen, ok := byID[id]
			if !ok {
				i := slices.IndexFunc(catalogue, func(t Technique) bool { return t.ID == id })
				if i < 0 {
					continue
				}
				seen = &TechniqueSeen{Technique: catalogue[i]}
				byID[id] = seen
			}
			seen.Events++
			if f.ErrorCode != "" {
				seen.Failed++
			}
			if seen.FirstSeen.IsZero() || f.Time.Before(seen.FirstSeen) {
				seen.FirstSeen = f.Time
			}
			if f.Time.After(seen.LastSeen) {
				seen.LastSeen = f.Time
			}
		}
	}
	out := make([]TechniqueSeen, 0, len(byID))
	for _, t := range catalogue {
		if seen, ok := byID[t.ID]; ok {
			out = append(out, *seen)
		}
	}
	return out
}

// noteCandidate keeps what may be flagged once the baseline is known: a
// technique's event, or a change no technique names. Called with the
// tracker's lock.
func (tr *tracker) noteCandidate(rec *trail.Record, e *event, cat Category, techniques []*Technique, network string) {
	if len(techniques) == 0 {
		if e.readOnly() || isDataEvent(rec) {
			return
		}
		if len(tr.changes) < maxChanges {
			tr.changes = append(tr.changes, candidate{f: flagEvent(rec, cat), network: network, newSourceOnly: true})
		} else {
			tr.candidatesDropped++
		}
		return
	}
	c := candidate{f: flagEvent(rec, cat), network: network, newSourceOnly: true}
	for _, t := range techniques {
		c.f.Techniques = append(c.f.Techniques, t.ID)
		c.newSourceOnly = c.newSourceOnly && t.NewSourceOnly
		c.suspicious = c.suspicious || t.Category != CategoryRecon
	}
	if len(tr.candidates) < maxFlagged {
		tr.candidates = append(tr.candidates, c)
	} else {
		tr.candidatesDropped++
	}
}

// settleSignIn gives a failed console sign-in the error code CloudTrail
// leaves out: it writes no errorCode, but "Failed authentication" as the
// errorMessage and "Failure" as responseElements.ConsoleLogin. From then
// on it counts as refused, as every other failed call does.
func settleSignIn(rec *trail.Record) {
	if rec.ErrorCode != "" || rec.EventName != "ConsoleLogin" {
		return
	}
	e := newEvent(rec, noAccounts)
	if r, _ := e.response("ConsoleLogin").(string); strings.EqualFold(r, "Failure") {
		rec.ErrorCode = cmp.Or(rec.ErrorMessage, "Failure")
	}
}

// isDataEvent reports whether a record is of a data event (an object read
// or written, a function invoked…), which LookupEvents does not show.
func isDataEvent(rec *trail.Record) bool {
	return !rec.ManagementEvent || rec.EventCategory == "Data"
}
