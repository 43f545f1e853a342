package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Enqueue adds m to the outbox in the current transaction, so it is
// delivered if and only if the transaction commits. A message whose Key
// was enqueued before on the same channel (pending, delivered or dead) is
// not added again: the existing message is returned with added false.
func (t *Tx) Enqueue(m Message) (msg Message, added bool, err error) {
	if m.Key == "" || m.Channel == "" || m.CreatedAt.IsZero() {
		return Message{}, false, fmt.Errorf("outbox message needs a key, a channel and a creation time: %w", ErrInvalid)
	}
	keys := t.bucket(bucketOutboxKeys)
	idem := []byte(m.Channel + "/" + m.Key)
	if v := keys.Get(idem); v != nil {
		id := binary.BigEndian.Uint64(v)
		existing, err := t.outboxMessage(id)
		if err != nil {
			// Delivered already: only its key is left.
			return Message{ID: id, Key: m.Key, Channel: m.Channel, Kind: m.Kind, Incident: m.Incident}, false, nil
		}
		return existing, false, nil
	}
	out := t.bucket(bucketOutbox)
	id, err := out.NextSequence()
	if err != nil {
		return Message{}, false, err
	}
	m.ID = id
	if m.NextAttempt.IsZero() {
		m.NextAttempt = m.CreatedAt
	}
	if err := put(out, u64(id), m); err != nil {
		return Message{}, false, fmt.Errorf("enqueue %s: %w", m.Key, err)
	}
	if err := keys.Put(idem, keyStamp(id, m.CreatedAt)); err != nil {
		return Message{}, false, err
	}
	if !t.enqueued && t.store != nil {
		t.enqueued = true
		t.tx.OnCommit(t.store.signalEnqueued)
	}
	return m, true, nil
}

func (t *Tx) outboxMessage(id uint64) (Message, error) {
	var m Message
	if err := get(t.bucket(bucketOutbox), u64(id), &m); err != nil {
		return Message{}, fmt.Errorf("outbox message %d: %w", id, err)
	}
	return m, nil
}

// Due returns up to limit pending messages whose next attempt is at or
// before now, oldest first, keeping each group's order: a message waits
// while an earlier one of its group (OrderGroup) is not due yet. Records
// that do not decode are skipped and their IDs returned in bad, for the
// caller to set aside with Quarantine; they never hold the rest back.
func (t *Tx) Due(now time.Time, limit int) (due []Message, bad []uint64, err error) {
	waiting := map[string]bool{} // groups whose first pending message is not due
	c := t.bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil && (limit <= 0 || len(due) < limit); k, v = c.Next() {
		var m Message
		if err := unmarshal(v, &m); err != nil || len(k) != 8 {
			if len(k) == 8 {
				bad = append(bad, binary.BigEndian.Uint64(k))
			}
			continue
		}
		g := m.OrderGroup()
		switch {
		case waiting[g]:
		case m.NextAttempt.After(now):
			waiting[g] = true
		default:
			due = append(due, m)
		}
	}
	return due, bad, nil
}

// undecodableKind marks a dead letter that holds an undecodable record.
const undecodableKind = "undecodable"

// Quarantine moves an outbox record that does not decode to the
// dead-letter bucket, as a message of kind "undecodable" carrying the raw
// record, so that an operator sees it and the rest of the outbox flows.
func (t *Tx) Quarantine(id uint64, at time.Time) error {
	raw := t.bucket(bucketOutbox).Get(u64(id))
	if raw == nil {
		return nil
	}
	m := Message{ID: id, Key: fmt.Sprintf("undecodable-%d", id), Channel: "?", Kind: undecodableKind, Payload: bytes.Clone(raw),
		CreatedAt: at, DeadAt: at, LastError: "the outbox record does not decode; it was set aside"}
	if err := put(t.bucket(bucketDead), u64(id), m); err != nil {
		return err
	}
	return t.bucket(bucketOutbox).Delete(u64(id))
}

// Pending returns every message still waiting, oldest first; with a
// non-empty incident, only that incident's.
func (t *Tx) Pending(incident string) ([]Message, error) {
	return t.messages(bucketOutbox, incident)
}

// DeadLetters returns the messages that failed permanently; with a
// non-empty incident, only that incident's.
func (t *Tx) DeadLetters(incident string) ([]Message, error) {
	return t.messages(bucketDead, incident)
}

// messages lists a bucket's messages; records that do not decode are
// left out (Due reports them, and Quarantine sets them aside).
func (t *Tx) messages(bucket []byte, incident string) ([]Message, error) {
	var out []Message
	err := t.bucket(bucket).ForEach(func(k, v []byte) error {
		var m Message
		if unmarshal(v, &m) != nil {
			return nil
		}
		if incident == "" || m.Incident == incident {
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// NextDue returns when the earliest pending message is due, and false if
// the outbox is empty.
func (t *Tx) NextDue() (time.Time, bool, error) {
	var next time.Time
	found := false
	err := t.bucket(bucketOutbox).ForEach(func(k, v []byte) error {
		var m Message
		if unmarshal(v, &m) != nil {
			return nil // set aside by the worker through Due and Quarantine
		}
		if !found || m.NextAttempt.Before(next) {
			next, found = m.NextAttempt, true
		}
		return nil
	})
	return next, found, err
}

// Ack removes a delivered message. Its key stays, so it is never enqueued
// again. Acknowledging a message that is gone is not an error.
func (t *Tx) Ack(id uint64) error {
	return t.bucket(bucketOutbox).Delete(u64(id))
}

// Retry records a failed attempt and when to try again.
func (t *Tx) Retry(id uint64, next time.Time, lastErr string) error {
	m, err := t.outboxMessage(id)
	if err != nil {
		return err
	}
	m.Attempts++
	m.NextAttempt = next
	m.LastError = lastErr
	return put(t.bucket(bucketOutbox), u64(id), m)
}

// Reschedule puts a message that did its work for now (a watch that
// checks every minute) back to wait until next, without counting a
// failed attempt.
func (t *Tx) Reschedule(id uint64, next time.Time) error {
	m, err := t.outboxMessage(id)
	if err != nil {
		return err
	}
	m.NextAttempt = next
	m.LastError = ""
	return put(t.bucket(bucketOutbox), u64(id), m)
}

// DeadLetter moves a message that failed permanently to the dead-letter
// bucket, where status shows it and an operator can requeue it.
func (t *Tx) DeadLetter(id uint64, at time.Time, lastErr string) (Message, error) {
	m, err := t.outboxMessage(id)
	if err != nil {
		return Message{}, err
	}
	m.Attempts++
	m.LastError = lastErr
	m.DeadAt = at
	if err := put(t.bucket(bucketDead), u64(id), m); err != nil {
		return Message{}, err
	}
	return m, t.bucket(bucketOutbox).Delete(u64(id))
}

// keyStamp is the value of an idempotency key: the message's ID, then
// when it was enqueued (unix nanoseconds), by which keys are pruned.
func keyStamp(id uint64, at time.Time) []byte {
	return append(u64(id), u64(uint64(at.UnixNano()))...)
}

// PruneOutboxKeys forgets the idempotency keys of messages enqueued
// before cutoff that are no longer pending, and returns how many. A key
// is needed only while the change that enqueued its message can run
// again, minutes; keys are kept far longer.
func (t *Tx) PruneOutboxKeys(cutoff time.Time) (int, error) {
	keys, out := t.bucket(bucketOutboxKeys), t.bucket(bucketOutbox)
	var stale [][]byte
	err := keys.ForEach(func(k, v []byte) error {
		if len(v) != 16 {
			return nil // stamped by migration 4; a key without a stamp is kept
		}
		at := time.Unix(0, int64(binary.BigEndian.Uint64(v[8:])))
		if at.Before(cutoff) && out.Get(v[:8]) == nil {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range stale {
		if err := keys.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(stale), nil
}

// PruneDeadLetters removes dead letters set aside before cutoff and
// returns how many.
func (t *Tx) PruneDeadLetters(cutoff time.Time) (int, error) {
	dead := t.bucket(bucketDead)
	var stale [][]byte
	err := dead.ForEach(func(k, v []byte) error {
		var m Message
		if unmarshal(v, &m) != nil || m.DeadAt.Before(cutoff) {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range stale {
		if err := dead.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(stale), nil
}

// ErrUndecodable means a dead letter holds a record that did not decode,
// which cannot go back to the outbox.
var ErrUndecodable = errors.New("undecodable outbox record")

// Requeue moves a dead letter back into the outbox, due at once.
func (t *Tx) Requeue(id uint64, at time.Time) (Message, error) {
	var m Message
	if err := get(t.bucket(bucketDead), u64(id), &m); err != nil {
		return Message{}, fmt.Errorf("dead letter %d: %w", id, err)
	}
	if m.Kind == undecodableKind {
		return Message{}, fmt.Errorf("dead letter %d: %w; it is kept for inspection only", id, ErrUndecodable)
	}
	m.DeadAt = time.Time{}
	m.NextAttempt = at
	m.Attempts = 0
	if err := put(t.bucket(bucketOutbox), u64(id), m); err != nil {
		return Message{}, err
	}
	return m, t.bucket(bucketDead).Delete(u64(id))
}

// MarkSeen records an inbound event ID until expires and reports whether
// it had been seen (and not yet expired) before: a retried delivery.
func (t *Tx) MarkSeen(key string, now, expires time.Time) (seen bool, err error) {
	if key == "" {
		return false, fmt.Errorf("empty event ID: %w", ErrInvalid)
	}
	b := t.bucket(bucketSeen)
	if v := b.Get([]byte(key)); len(v) >= 8 {
		if now.Before(time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))) {
			return true, nil
		}
	}
	return false, b.Put([]byte(key), u64(uint64(expires.UnixNano())))
}

// Delivery is what keyleak remembers of an inbound delivery it handles
// with BeginDelivery and FinishDelivery.
type Delivery struct {
	MarkedAt time.Time // when the handling began
	Answered bool      // the handling finished, with Reply
	Reply    []byte
}

// BeginDelivery records that keyleak handles the delivery key (until
// expires) and reports whether this caller should (ours): it should when
// the key is new, or when an earlier handling began before staleBefore
// and never finished (keyleak stopped in the middle), so that a retried
// delivery is handled rather than swallowed. Otherwise d says what is
// known: an answer to give again, or a handling under way.
func (t *Tx) BeginDelivery(key string, now, expires, staleBefore time.Time) (d Delivery, ours bool, err error) {
	if key == "" {
		return Delivery{}, false, fmt.Errorf("empty event ID: %w", ErrInvalid)
	}
	b := t.bucket(bucketSeen)
	if v := b.Get([]byte(key)); len(v) >= 8 && now.Before(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) {
		if len(v) >= 17 {
			d.MarkedAt = time.Unix(0, int64(binary.BigEndian.Uint64(v[8:16])))
			d.Answered = v[16] == 1
			d.Reply = bytes.Clone(v[17:])
		}
		if d.Answered || len(v) == 8 || !d.MarkedAt.Before(staleBefore) {
			return d, false, nil
		}
	}
	return Delivery{MarkedAt: now}, true, b.Put([]byte(key), deliveryValue(expires, now, false, nil))
}

// FinishDelivery records the answer given to a delivery begun with
// BeginDelivery, to give it again to a retry.
func (t *Tx) FinishDelivery(key string, markedAt, expires time.Time, reply []byte) error {
	return t.bucket(bucketSeen).Put([]byte(key), deliveryValue(expires, markedAt, true, reply))
}

func deliveryValue(expires, markedAt time.Time, answered bool, reply []byte) []byte {
	v := append(u64(uint64(expires.UnixNano())), u64(uint64(markedAt.UnixNano()))...)
	if answered {
		v = append(v, 1)
	} else {
		v = append(v, 0)
	}
	return append(v, reply...)
}

// PruneSeen forgets event IDs that expired at or before now and returns
// how many it removed.
func (t *Tx) PruneSeen(now time.Time) (int, error) {
	b := t.bucket(bucketSeen)
	var stale [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(v) < 8 || !now.Before(time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))) {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(stale), nil
}
