package state

import (
	"bytes"
	"encoding/binary"
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
	if err := keys.Put(idem, u64(id)); err != nil {
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
// before now, oldest first.
func (t *Tx) Due(now time.Time, limit int) ([]Message, error) {
	var out []Message
	c := t.bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		var m Message
		if err := unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("outbox message %x: %w", k, err)
		}
		if !m.NextAttempt.After(now) {
			out = append(out, m)
		}
	}
	return out, nil
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

func (t *Tx) messages(bucket []byte, incident string) ([]Message, error) {
	var out []Message
	err := t.bucket(bucket).ForEach(func(k, v []byte) error {
		var m Message
		if err := unmarshal(v, &m); err != nil {
			return fmt.Errorf("message %x: %w", k, err)
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
		if err := unmarshal(v, &m); err != nil {
			return fmt.Errorf("outbox message %x: %w", k, err)
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

// Requeue moves a dead letter back into the outbox, due at once.
func (t *Tx) Requeue(id uint64, at time.Time) (Message, error) {
	var m Message
	if err := get(t.bucket(bucketDead), u64(id), &m); err != nil {
		return Message{}, fmt.Errorf("dead letter %d: %w", id, err)
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
	if v := b.Get([]byte(key)); len(v) == 8 {
		if now.Before(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) {
			return true, nil
		}
	}
	return false, b.Put([]byte(key), u64(uint64(expires.UnixNano())))
}

// PruneSeen forgets event IDs that expired at or before now and returns
// how many it removed.
func (t *Tx) PruneSeen(now time.Time) (int, error) {
	b := t.bucket(bucketSeen)
	var stale [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 8 || !now.Before(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) {
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
