package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/keyleak/keyleak/state"
)

// DefaultExpiry is how long a request waits for its approval.
const DefaultExpiry = 15 * time.Minute

// Policy is who may request and approve, and how.
type Policy struct {
	// Responders are the authorised responders: emails (matched without
	// regard to case) or platform user IDs. Only they may request,
	// approve or deny actions.
	Responders []string
	// Expiry is how long a request can be approved. Zero means DefaultExpiry.
	Expiry time.Duration
	// OnePerson lists reversible actions that run on the requester's word
	// alone. Irreversible actions always need a second person; naming one
	// here is a configuration error.
	OnePerson []string
}

// Authorised reports whether a is an authorised responder.
func (p Policy) Authorised(a state.Actor) bool {
	for _, r := range p.Responders {
		if r == "" {
			continue
		}
		if r == a.ID || (a.Email != "" && strings.EqualFold(r, a.Email)) {
			return true
		}
	}
	return false
}

// Plan is what an action will do, computed before anyone approves it.
type Plan struct {
	Calls  []string          // the exact API calls on the exact ARNs, in order
	Impact []string          // what else it affects, e.g. who keeps working
	Params map[string]string // parameters fixed now, e.g. the revocation cutoff
	// Warnings are what the approver must not miss (a role outside the
	// credential tree): the request card says them first, in bold.
	Warnings []string
	// Noop, when set, says why the action would change nothing (the key
	// is Inactive already); no request is made.
	Noop string
}

// Outcome is what an execution did.
type Outcome struct {
	Result     string   // what changed, for the thread and the report
	RequestIDs []string // the AWS request ID of every call made
}

// Executor plans and carries out one kind of action. Plan must not change
// anything. Execute receives the frozen parameters of the approved action
// and must be idempotent: running it again after a crash is harmless.
// When it fails part-way, the Outcome says what was done and the error
// what was not.
type Executor interface {
	Plan(ctx context.Context, inc state.Incident, params map[string]string) (Plan, error)
	Execute(ctx context.Context, inc state.Incident, a state.Action) (Outcome, error)
}

// ActionSpec describes an action command.
type ActionSpec struct {
	Name         string
	Usage        string
	Summary      string
	Irreversible bool
	// Undo names the action that reverses this one, if any.
	Undo string
	// Remains is what is left to do once the action succeeded, unless it
	// is undone: a follow-up of the report (state.Action.Remains), where
	// RemainsID stands for the action's ID.
	Remains string
	// Params turns the typed arguments into parameters; nil accepts none.
	// Errors should be UserErrors that say what is wrong.
	Params   func(args []string, inc state.Incident) (map[string]string, error)
	Executor Executor
}

// RemainsID stands for the action's ID in ActionSpec.Remains.
const RemainsID = "{action}"

// Engine runs the request → approval → execution life of actions.
type Engine struct {
	store     *state.Store
	policy    Policy
	specs     map[string]ActionSpec
	now       Clock
	log       *slog.Logger
	onSuccess func(tx *state.Tx, a state.Action, at time.Time) error
	// batches makes one plan request at a time: its batch ID is taken,
	// and its requests stored, before another's is taken.
	batches sync.Mutex
}

// OnSuccess sets a function called in the transaction that records an
// action's success, to write down what must follow (a watch).
func (e *Engine) OnSuccess(fn func(tx *state.Tx, a state.Action, at time.Time) error) {
	e.onSuccess = fn
}

// NewEngine checks the policy against the action specs.
func NewEngine(store *state.Store, policy Policy, now Clock, log *slog.Logger, specs ...ActionSpec) (*Engine, error) {
	if len(policy.Responders) == 0 {
		return nil, errors.New("approval policy: no authorised responders")
	}
	if policy.Expiry == 0 {
		policy.Expiry = DefaultExpiry
	}
	if policy.Expiry < 0 {
		return nil, fmt.Errorf("approval policy: negative expiry %s", policy.Expiry)
	}
	e := &Engine{store: store, policy: policy, specs: make(map[string]ActionSpec, len(specs)), now: now, log: log}
	for _, s := range specs {
		if s.Name == "" || s.Executor == nil {
			return nil, fmt.Errorf("action %q: needs a name and an executor", s.Name)
		}
		if _, dup := e.specs[s.Name]; dup {
			return nil, fmt.Errorf("action %q defined twice", s.Name)
		}
		e.specs[s.Name] = s
	}
	for _, name := range policy.OnePerson {
		s, ok := e.specs[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("approval policy: one-person action %q does not exist", name)
		case s.Irreversible:
			return nil, fmt.Errorf("approval policy: %q is irreversible and always needs two people", name)
		}
	}
	return e, nil
}

// Policy returns the policy in force.
func (e *Engine) Policy() Policy { return e.policy }

func (e *Engine) twoPerson(s ActionSpec) bool {
	if s.Irreversible {
		return true
	}
	for _, n := range e.policy.OnePerson {
		if n == s.Name {
			return false
		}
	}
	return true
}

// Ask asks for action name on req's incident, or with dryRun shows the
// plan and changes nothing.
func (e *Engine) Ask(ctx context.Context, req Request, name string, dryRun bool) (Reply, error) {
	reply, _, err := e.ask(ctx, req, name, dryRun, nil)
	return reply, err
}

// ask is Ask with parameters added to what the arguments give (a
// batch's); it returns the request made, if one was.
func (e *Engine) ask(ctx context.Context, req Request, name string, dryRun bool, extra map[string]string) (Reply, *state.Action, error) {
	spec, ok := e.specs[name]
	if !ok {
		return Reply{}, nil, fmt.Errorf("no action %q", name)
	}
	if !e.policy.Authorised(req.Actor) {
		return Reply{}, nil, Userf("%s is not an authorised responder, so cannot request %s. Ask the incident lead to add you to keyleak's responders.", req.Actor, name)
	}
	var inc state.Incident
	if err := e.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(req.Incident); return err }); err != nil {
		return Reply{}, nil, err
	}
	if !inc.Open() {
		return Reply{}, nil, Userf("%s is closed; nothing can be requested on it.", inc.ID)
	}
	params := map[string]string{}
	if spec.Params != nil {
		p, err := spec.Params(req.Args, inc)
		if err != nil {
			return Reply{}, nil, err
		}
		params = p
	} else if len(req.Args) > 0 {
		return Reply{}, nil, Userf("%s takes no arguments (got %q). Add --dry-run to see what it would do.", name, strings.Join(req.Args, " "))
	}
	plan, err := spec.Executor.Plan(ctx, inc, params)
	if err != nil {
		return Reply{}, nil, fmt.Errorf("plan %s for %s: %w", name, inc.ID, err)
	}
	if plan.Noop != "" {
		return Reply{Text: fmt.Sprintf("Nothing to do: %s", plan.Noop), Private: true}, nil, nil
	}
	maps.Copy(params, plan.Params)
	maps.Copy(params, extra)
	if dryRun {
		return planReply(name, inc, plan), nil, nil
	}

	now := e.now()
	a := state.Action{
		Incident:     inc.ID,
		Name:         name,
		Params:       params,
		Plan:         plan.Calls,
		Impact:       plan.Impact,
		Warnings:     plan.Warnings,
		Irreversible: spec.Irreversible,
		TwoPerson:    e.twoPerson(spec),
		Remains:      spec.Remains,
		Requester:    req.Actor,
		Source:       req.Source,
		Status:       state.ActionRequested,
		RequestedAt:  now,
		ExpiresAt:    now.Add(e.policy.Expiry),
	}
	err = e.store.Update(func(tx *state.Tx) error {
		var err error
		if a, err = tx.NewAction(a); err != nil {
			return err
		}
		a.Thread = "action-" + strings.ToLower(a.ID)
		if err := tx.PutAction(a); err != nil {
			return err
		}
		if err := e.record(tx, a, req.Actor, req.Source, state.EventActionRequested, requestText(a)); err != nil {
			return err
		}
		if !a.TwoPerson {
			return e.approve(tx, &a, req.Actor, req.Source, now, "under the one-person policy for "+a.Name)
		}
		return nil
	})
	if err != nil {
		return Reply{}, nil, fmt.Errorf("request %s on %s: %w", name, inc.ID, err)
	}
	return ActionReply(a, now), &a, nil
}

// Decision is an approval or denial of a request, from a verified event.
type Decision struct {
	ActionID string
	Digest   string // the digest shown on the card that was clicked, if any
	Approve  bool
	Reason   string
	Actor    state.Actor
	Source   state.Source
}

// Decide applies an approval or denial, enforcing every rule: the decider
// is an authorised responder; a two-person request is approved by someone
// other than its requester; a request is decided once; an expired request
// cannot be approved; a request whose parameters changed since it was made
// (or since the card was shown) is refused. Refusals are recorded in the
// timeline and returned as UserErrors.
func (e *Engine) Decide(ctx context.Context, d Decision) (state.Action, error) {
	now := e.now()
	var a state.Action
	var refusal error
	err := e.store.Update(func(tx *state.Tx) error {
		var err error
		a, err = tx.Action(d.ActionID)
		if errors.Is(err, state.ErrNotFound) {
			refusal = Userf("There is no request %s.", d.ActionID)
			return nil
		}
		if err != nil {
			return err
		}
		refusal = e.check(tx, &a, d, now)
		if refusal != nil {
			if a.Status == state.ActionExpired {
				return nil // check recorded the expiry
			}
			return e.record(tx, a, d.Actor, d.Source, state.EventActionRefused, "was refused: "+refusal.Error())
		}
		if d.Approve {
			return e.approve(tx, &a, d.Actor, d.Source, now, "")
		}
		a.Reason = d.Reason
		a.Approver = &d.Actor
		if err := a.Transition(state.ActionDenied, now); err != nil {
			return err
		}
		if err := tx.PutAction(a); err != nil {
			return err
		}
		text := "denied " + a.ID + " (" + a.Name + ")"
		if a.Requester.Same(d.Actor) {
			text = "withdrew " + a.ID + " (" + a.Name + ")"
		}
		if d.Reason != "" {
			text += ": " + d.Reason
		}
		return e.record(tx, a, d.Actor, d.Source, state.EventActionDenied, text)
	})
	if err != nil {
		return state.Action{}, fmt.Errorf("decide %s: %w", d.ActionID, err)
	}
	if refusal != nil {
		e.log.WarnContext(ctx, "approval refused", "action", d.ActionID, "actor", d.Actor.ID, "reason", refusal.Error())
		return a, refusal
	}
	return a, nil
}

// check returns why d cannot be applied to a, or nil. An expired request
// is moved to expired as a side effect.
func (e *Engine) check(tx *state.Tx, a *state.Action, d Decision, now time.Time) error {
	verb := "deny"
	if d.Approve {
		verb = "approve"
	}
	if !e.policy.Authorised(d.Actor) {
		return Userf("%s is not an authorised responder and cannot %s %s.", d.Actor, verb, a.ID)
	}
	inc, err := tx.Incident(a.Incident)
	if err != nil {
		return err
	}
	if !inc.Open() {
		return Userf("%s is closed; %s can no longer be decided.", inc.ID, a.ID)
	}
	if a.Status != state.ActionRequested {
		who := ""
		if a.Approver != nil {
			who = " by " + a.Approver.String()
		}
		return Userf("%s was already %s%s at %s; a request is decided once.", a.ID, a.Status, who, a.DecidedAt.UTC().Format("15:04:05 MST"))
	}
	if a.Expired(now) {
		if err := a.Transition(state.ActionExpired, now); err != nil {
			return err
		}
		if err := tx.PutAction(*a); err != nil {
			return err
		}
		msg := fmt.Sprintf("%s expired at %s, unapproved; request it again if it is still needed.", a.ID, a.ExpiresAt.UTC().Format("15:04:05 MST"))
		if err := e.record(tx, *a, state.System, state.Source{Platform: "keyleak"}, state.EventActionExpired, msg); err != nil {
			return err
		}
		return Userf("%s", msg)
	}
	if d.Digest != "" && d.Digest != a.Digest {
		return Userf("%s is not the request that card showed; nothing was %sd. Look at the current request card.", a.ID, verb)
	}
	if !a.Intact() {
		return Userf("%s's parameters changed after it was requested; it cannot be %sd. Request it again.", a.ID, verb)
	}
	if d.Approve && a.TwoPerson && a.Requester.Same(d.Actor) {
		return Userf("You requested %s, so a second responder must approve it.", a.ID)
	}
	return nil
}

// approve moves a to approved and writes down the work of running it, in
// the caller's transaction.
func (e *Engine) approve(tx *state.Tx, a *state.Action, by state.Actor, src state.Source, now time.Time, why string) error {
	a.Approver = &by
	if err := a.Transition(state.ActionApproved, now); err != nil {
		return err
	}
	if err := tx.PutAction(*a); err != nil {
		return err
	}
	text := "approved " + a.ID + " (" + a.Name + ")"
	if why != "" {
		text += " " + why
	}
	if err := e.record(tx, *a, by, src, state.EventActionApproved, text); err != nil {
		return err
	}
	return EnqueueNotice(tx, ChannelWork, "run:"+a.ID, Notice{Kind: NoticeRun, Incident: a.Incident, Action: a.ID}, now)
}

// record appends a timeline entry about a and queues the card update.
func (e *Engine) record(tx *state.Tx, a state.Action, who state.Actor, src state.Source, kind state.EventKind, text string) error {
	ev, err := tx.Append(state.Event{Incident: a.Incident, At: e.now(), Actor: who, Kind: kind, Text: text, Source: src, Action: a.ID})
	if err != nil {
		return err
	}
	return EnqueueNotice(tx, ChannelChat, actionCardKey(a, fmt.Sprint(ev.Seq)),
		Notice{Kind: NoticeAction, Incident: a.Incident, Action: a.ID, Thread: a.Thread}, e.now())
}

func requestText(a state.Action) string {
	kind := "reversible"
	if a.Irreversible {
		kind = "irreversible"
	}
	return fmt.Sprintf("requested %s (%s, %s): %s", a.ID, a.Name, kind, strings.Join(a.Plan, "; "))
}
