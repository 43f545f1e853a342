package state

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// Digest is the fingerprint of an action's name and parameters. It is
// computed when the request is made; approving or executing a request
// whose parameters no longer match it is refused.
func Digest(name string, params map[string]string) string {
	h := sha256.New()
	writeField := func(s string) {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	writeField(name)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		writeField(k)
		writeField(params[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Intact reports whether the action's parameters still match the digest
// taken when it was requested.
func (a *Action) Intact() bool {
	return a.Digest != "" && a.Digest == Digest(a.Name, a.Params)
}

// NewAction stores a new request of an incident, numbering it with the
// incident's next action number and freezing its digest. The action must
// be in the requested state.
func (t *Tx) NewAction(a Action) (Action, error) {
	if a.Status != ActionRequested || a.Name == "" || a.RequestedAt.IsZero() {
		return Action{}, fmt.Errorf("new action needs a name, a request time and status requested: %w", ErrInvalid)
	}
	inc, err := t.Incident(a.Incident)
	if err != nil {
		return Action{}, err
	}
	if !inc.Open() {
		return Action{}, fmt.Errorf("request %s on %s: %w", a.Name, inc.ID, ErrClosed)
	}
	inc.Actions++
	inc.UpdatedAt = a.RequestedAt
	if err := t.PutIncident(inc); err != nil {
		return Action{}, err
	}
	a.ID = fmt.Sprintf("%s-A%d", inc.ID, inc.Actions)
	a.Params = cloneParams(a.Params)
	a.Digest = Digest(a.Name, a.Params)
	if err := t.PutAction(a); err != nil {
		return Action{}, err
	}
	return a, nil
}

// Action returns the action with the given ID.
func (t *Tx) Action(id string) (Action, error) {
	var a Action
	if err := get(t.bucket(bucketActions), []byte(id), &a); err != nil {
		return Action{}, fmt.Errorf("action %s: %w", id, err)
	}
	return a, nil
}

// PutAction stores a (new or changed) action.
func (t *Tx) PutAction(a Action) error {
	if a.ID == "" || a.Incident == "" {
		return fmt.Errorf("action without ID or incident: %w", ErrInvalid)
	}
	if err := put(t.bucket(bucketActions), []byte(a.ID), a); err != nil {
		return fmt.Errorf("store action %s: %w", a.ID, err)
	}
	return indexAction(t.bucket(bucketIncidentActions), a)
}

// Actions lists an incident's actions in the order they were requested.
func (t *Tx) Actions(incident string) ([]Action, error) {
	idx := t.bucket(bucketIncidentActions).Bucket([]byte(incident))
	if idx == nil {
		return nil, nil
	}
	var out []Action
	err := idx.ForEach(func(_, id []byte) error {
		a, err := t.Action(string(id))
		if err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

func cloneParams(p map[string]string) map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}
