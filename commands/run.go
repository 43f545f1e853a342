package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyleak/keyleak/state"
)

// Deliver is the notifier of ChannelWork: it runs the approved action a
// message names. It returns retry for failures worth another attempt
// (keyleak shutting down, the store busy); an action's own failure is
// recorded on the action, not retried.
func (e *Engine) Deliver(ctx context.Context, m state.Message) (retry bool, err error) {
	n, err := DecodeNotice(m)
	if err != nil {
		return false, err
	}
	if n.Kind != NoticeRun {
		return false, fmt.Errorf("work message %d: unknown kind %q", m.ID, n.Kind)
	}
	if err := e.Run(ctx, n.Action); err != nil {
		return true, err
	}
	return false, nil
}

// Run executes an approved action and records the outcome. An action
// found running (keyleak stopped mid-execution) runs again: executors are
// idempotent. A finished action is left alone, so a duplicate delivery
// has no effect.
func (e *Engine) Run(ctx context.Context, actionID string) error {
	var a state.Action
	var inc state.Incident
	done := false
	err := e.store.Update(func(tx *state.Tx) error {
		var err error
		if a, err = tx.Action(actionID); err != nil {
			return err
		}
		if inc, err = tx.Incident(a.Incident); err != nil {
			return err
		}
		switch {
		case a.Status == state.ActionApproved && !inc.Open():
			// Approved, then the incident was closed (its report sent)
			// before the run: AWS is not changed behind it.
			done = true
			for _, st := range []state.ActionStatus{state.ActionRunning, state.ActionFailed} {
				if err := a.Transition(st, e.now()); err != nil {
					return err
				}
			}
			a.Error = "not run: " + a.Incident + " was closed before it ran"
			if err := tx.PutAction(a); err != nil {
				return err
			}
			return e.record(tx, a, state.System, state.Source{Platform: "keyleak"}, state.EventActionFailed, a.ID+" ("+a.Name+") "+a.Error)
		case a.Status == state.ActionApproved:
			if err := a.Transition(state.ActionRunning, e.now()); err != nil {
				return err
			}
			if err := tx.PutAction(a); err != nil {
				return err
			}
			return e.record(tx, a, state.System, state.Source{Platform: "keyleak"}, state.EventActionStarted, "started "+a.ID+" ("+a.Name+")")
		case a.Status == state.ActionRunning:
			return e.record(tx, a, state.System, state.Source{Platform: "keyleak"}, state.EventActionStarted, "resumed "+a.ID+" ("+a.Name+") after a restart")
		default:
			done = true
			return nil
		}
	})
	if err != nil || done {
		return err
	}

	spec, ok := e.specs[a.Name]
	var out Outcome
	var runErr error
	switch {
	case !ok:
		runErr = fmt.Errorf("this keyleak has no action %q", a.Name)
	case !a.Intact():
		runErr = errors.New("its parameters changed after approval; not executed")
	default:
		out, runErr = spec.Executor.Execute(ctx, inc, a)
	}
	if runErr != nil && ctx.Err() != nil {
		// Shutting down: leave it running; the restart resumes it.
		return fmt.Errorf("run %s: %w", a.ID, ctx.Err())
	}

	return e.store.Update(func(tx *state.Tx) error {
		a, err := tx.Action(actionID)
		if err != nil {
			return err
		}
		if a.Status != state.ActionRunning {
			return nil
		}
		a.Result = out.Result
		a.RequestIDs = append(a.RequestIDs, out.RequestIDs...)
		kind, status, text := state.EventActionSucceeded, state.ActionSucceeded, "completed "+a.ID+" ("+a.Name+")"
		if runErr != nil {
			kind, status, text = state.EventActionFailed, state.ActionFailed, "failed "+a.ID+" ("+a.Name+")"
			a.Error = runErr.Error()
			text += ": " + a.Error
		}
		if out.Result != "" {
			text += "; " + out.Result
		}
		if err := a.Transition(status, e.now()); err != nil {
			return err
		}
		if err := tx.PutAction(a); err != nil {
			return err
		}
		if status == state.ActionSucceeded && e.onSuccess != nil {
			if err := e.onSuccess(tx, a, e.now()); err != nil {
				return err
			}
		}
		if status == state.ActionSucceeded && a.Params[ParamUndoOf] != "" {
			orig, err := tx.Action(a.Params[ParamUndoOf])
			if err == nil {
				orig.Undone = a.ID
				if err := tx.PutAction(orig); err != nil {
					return err
				}
			}
		}
		return e.record(tx, a, state.System, state.Source{Platform: "keyleak"}, kind, text)
	})
}

// DeadLettered records, in the transaction that gives up on an outbox
// message, what that means for an action: a run that will never be
// delivered leaves its action failed, not approved forever. Other
// messages are left alone.
func (e *Engine) DeadLettered(tx *state.Tx, m state.Message, at time.Time) error {
	if m.Channel != ChannelWork || m.Kind != NoticeRun {
		return nil
	}
	n, err := DecodeNotice(m)
	if err != nil {
		return nil // nothing to tie it to; the dead letter itself is kept
	}
	a, err := tx.Action(n.Action)
	if err != nil {
		return nil
	}
	if a.Status == state.ActionApproved {
		if err := a.Transition(state.ActionRunning, at); err != nil {
			return err
		}
	}
	if a.Status != state.ActionRunning {
		return nil
	}
	if err := a.Transition(state.ActionFailed, at); err != nil {
		return err
	}
	a.Error = "keyleak gave up running it: " + m.LastError + ". Check what was done in AWS, then request it again."
	if err := tx.PutAction(a); err != nil {
		return err
	}
	return e.record(tx, a, state.System, state.Source{Platform: "keyleak"}, state.EventActionFailed, "failed "+a.ID+" ("+a.Name+"): "+a.Error)
}

// ParamUndoOf is the parameter naming the action an undo reverses.
const ParamUndoOf = "undo_of"

// Expire moves every unapproved request past its expiry to expired and
// returns how many it moved.
func (e *Engine) Expire(ctx context.Context) (int, error) {
	now := e.now()
	n := 0
	err := e.store.Update(func(tx *state.Tx) error {
		incs, err := tx.Incidents(state.IncidentFilter{Status: state.IncidentOpen})
		if err != nil {
			return err
		}
		for _, inc := range incs {
			actions, err := tx.Actions(inc.ID)
			if err != nil {
				return err
			}
			for _, a := range actions {
				if !a.Expired(now) {
					continue
				}
				if err := a.Transition(state.ActionExpired, now); err != nil {
					return err
				}
				if err := tx.PutAction(a); err != nil {
					return err
				}
				msg := fmt.Sprintf("%s (%s) expired unapproved after %s", a.ID, a.Name, e.policy.Expiry)
				if err := e.record(tx, a, state.System, state.Source{Platform: "keyleak"}, state.EventActionExpired, msg); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expire requests: %w", err)
	}
	if n > 0 {
		e.log.InfoContext(ctx, "requests expired", "count", n)
	}
	return n, nil
}
