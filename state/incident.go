package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
)

// NewIncident describes a report of a key.
type NewIncident struct {
	AccessKeyID string
	Reporter    Actor
	Note        string
	Source      Source
	At          time.Time
	// Detection, when a detector reported the key: it opens the incident
	// or is counted on the open one.
	Detection *Detection
}

// Report records that a key was reported. If the key has an open incident
// the report joins it (joined is true and a "joined" entry is appended);
// otherwise a new incident is opened with the next ID of the year.
func (t *Tx) Report(r NewIncident) (inc Incident, joined bool, err error) {
	if r.AccessKeyID == "" || r.At.IsZero() {
		return Incident{}, false, fmt.Errorf("report needs a key and a time: %w", ErrInvalid)
	}
	keys := t.bucket(bucketKeys)
	if id := keys.Get([]byte(r.AccessKeyID)); id != nil {
		inc, err := t.Incident(string(id))
		if err != nil {
			return Incident{}, false, fmt.Errorf("open incident of %s: %w", r.AccessKeyID, err)
		}
		inc.Reports++
		inc.UpdatedAt = r.At
		kind, text := EventJoined, "reported the key again"
		if r.Detection != nil {
			if !inc.countDetection(*r.Detection) {
				// Counted, not announced again: a flood of the same
				// finding is one line of the timeline.
				return inc, true, t.PutIncident(inc)
			}
			kind, text = EventDetected, r.Detection.Text()
		}
		if err := t.PutIncident(inc); err != nil {
			return Incident{}, false, err
		}
		if r.Note != "" {
			text += ": " + r.Note
		}
		if _, err := t.Append(Event{Incident: inc.ID, At: r.At, Actor: r.Reporter, Kind: kind, Text: text, Source: r.Source}); err != nil {
			return Incident{}, false, err
		}
		return inc, true, nil
	}

	id, err := t.nextIncidentID(r.At)
	if err != nil {
		return Incident{}, false, err
	}
	inc = Incident{
		ID:          id,
		AccessKeyID: r.AccessKeyID,
		Status:      IncidentOpen,
		Severity:    SeverityUnknown,
		Reporter:    r.Reporter,
		Note:        r.Note,
		Reports:     1,
		OpenedAt:    r.At,
		UpdatedAt:   r.At,
	}
	if d := r.Detection; d != nil {
		inc.Detection, inc.Canary = d, d.Canary
		inc.countDetection(*d)
	}
	if err := t.PutIncident(inc); err != nil {
		return Incident{}, false, err
	}
	if err := keys.Put([]byte(r.AccessKeyID), []byte(id)); err != nil {
		return Incident{}, false, err
	}
	text := "opened the incident for " + r.AccessKeyID
	if r.Detection != nil {
		text += " from " + r.Detection.Text()
	}
	if r.Note != "" {
		text += ": " + r.Note
	}
	if _, err := t.Append(Event{Incident: id, At: r.At, Actor: r.Reporter, Kind: EventOpened, Text: text, Source: r.Source}); err != nil {
		return Incident{}, false, err
	}
	return inc, false, nil
}

// nextIncidentID allocates "KL-<year>-<number>", numbered from 1 each year.
func (t *Tx) nextIncidentID(at time.Time) (string, error) {
	seq := t.bucket(bucketMeta).Bucket(bucketIncidentSeq)
	year := fmt.Sprintf("%04d", at.UTC().Year())
	var n uint64
	if v := seq.Get([]byte(year)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	if err := seq.Put([]byte(year), u64(n)); err != nil {
		return "", err
	}
	return fmt.Sprintf("KL-%s-%04d", year, n), nil
}

// Incident returns the incident with the given ID.
func (t *Tx) Incident(id string) (Incident, error) {
	var inc Incident
	if err := get(t.bucket(bucketIncidents), []byte(id), &inc); err != nil {
		return Incident{}, fmt.Errorf("incident %s: %w", id, err)
	}
	return inc, nil
}

// OpenIncidentFor returns the open incident of an access key ID.
func (t *Tx) OpenIncidentFor(accessKeyID string) (Incident, error) {
	id := t.bucket(bucketKeys).Get([]byte(accessKeyID))
	if id == nil {
		return Incident{}, fmt.Errorf("open incident for %s: %w", accessKeyID, ErrNotFound)
	}
	return t.Incident(string(id))
}

// IncidentBySpace returns the incident whose Chat space is space.
func (t *Tx) IncidentBySpace(space string) (Incident, error) {
	id := t.bucket(bucketSpaces).Get([]byte(space))
	if id == nil {
		return Incident{}, fmt.Errorf("incident of space %s: %w", space, ErrNotFound)
	}
	return t.Incident(string(id))
}

// PutIncident stores inc. Closing an incident removes its key from the
// open-incident index, so the next report of the key opens a new one.
func (t *Tx) PutIncident(inc Incident) error {
	if inc.ID == "" {
		return fmt.Errorf("incident without ID: %w", ErrInvalid)
	}
	if err := put(t.bucket(bucketIncidents), []byte(inc.ID), inc); err != nil {
		return fmt.Errorf("store incident %s: %w", inc.ID, err)
	}
	if inc.ChatSpace != "" {
		if err := t.bucket(bucketSpaces).Put([]byte(inc.ChatSpace), []byte(inc.ID)); err != nil {
			return err
		}
	}
	if inc.Status == IncidentClosed {
		keys := t.bucket(bucketKeys)
		if string(keys.Get([]byte(inc.AccessKeyID))) == inc.ID {
			return keys.Delete([]byte(inc.AccessKeyID))
		}
	}
	return nil
}

// IncidentFilter selects incidents for Incidents.
type IncidentFilter struct {
	Status IncidentStatus // empty for all
	Limit  int            // 0 for no limit; the newest are kept
}

// Incidents lists incidents, newest first.
func (t *Tx) Incidents(f IncidentFilter) ([]Incident, error) {
	var out []Incident
	err := t.bucket(bucketIncidents).ForEach(func(_, v []byte) error {
		var inc Incident
		if err := unmarshal(v, &inc); err != nil {
			return err
		}
		if f.Status == "" || inc.Status == f.Status {
			out = append(out, inc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Incident) int {
		if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Append adds e to its incident's timeline, assigning the next sequence
// number, and returns the stored entry. Entries are never changed.
func (t *Tx) Append(e Event) (Event, error) {
	if e.Incident == "" || e.Kind == "" || e.At.IsZero() {
		return Event{}, fmt.Errorf("timeline entry needs an incident, a kind and a time: %w", ErrInvalid)
	}
	b, err := t.bucket(bucketTimeline).CreateBucketIfNotExists([]byte(e.Incident))
	if err != nil {
		return Event{}, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return Event{}, err
	}
	e.Seq = seq
	if err := put(b, u64(seq), e); err != nil {
		return Event{}, fmt.Errorf("append to timeline of %s: %w", e.Incident, err)
	}
	return e, nil
}

// Timeline returns an incident's entries in the order they were appended.
func (t *Tx) Timeline(incident string) ([]Event, error) {
	b := t.bucket(bucketTimeline).Bucket([]byte(incident))
	if b == nil {
		return nil, nil
	}
	var out []Event
	err := b.ForEach(func(_, v []byte) error {
		var e Event
		if err := unmarshal(v, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// PutFinding stores a findings document of an incident under kind,
// replacing an older one.
func (t *Tx) PutFinding(incident string, kind FindingKind, doc []byte) error {
	b, err := t.bucket(bucketFindings).CreateBucketIfNotExists([]byte(incident))
	if err != nil {
		return err
	}
	return b.Put([]byte(kind), doc)
}

// Finding returns a copy of a findings document, or ErrNotFound.
func (t *Tx) Finding(incident string, kind FindingKind) ([]byte, error) {
	b := t.bucket(bucketFindings).Bucket([]byte(incident))
	if b == nil {
		return nil, fmt.Errorf("finding %s of %s: %w", kind, incident, ErrNotFound)
	}
	v := b.Get([]byte(kind))
	if v == nil {
		return nil, fmt.Errorf("finding %s of %s: %w", kind, incident, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// PutSummary stores the summary of an incident's findings.
func (t *Tx) PutSummary(incident string, s Summary) error {
	return t.putFindingJSON(incident, FindingSummary, s)
}

// Summary returns the summary of an incident's findings, or ErrNotFound.
func (t *Tx) Summary(incident string) (Summary, error) {
	var s Summary
	return s, t.findingJSON(incident, FindingSummary, &s)
}

// PutClosingReport stores the report written when an incident closed.
func (t *Tx) PutClosingReport(incident string, r ClosingReport) error {
	return t.putFindingJSON(incident, FindingClosingReport, r)
}

// ClosingReport returns the report written when an incident closed, or
// ErrNotFound.
func (t *Tx) ClosingReport(incident string) (ClosingReport, error) {
	var r ClosingReport
	return r, t.findingJSON(incident, FindingClosingReport, &r)
}

func (t *Tx) putFindingJSON(incident string, kind FindingKind, v any) error {
	doc, err := marshal(v)
	if err != nil {
		return err
	}
	return t.PutFinding(incident, kind, doc)
}

func (t *Tx) findingJSON(incident string, kind FindingKind, v any) error {
	doc, err := t.Finding(incident, kind)
	if err != nil {
		return err
	}
	if err := unmarshal(doc, v); err != nil {
		return fmt.Errorf("finding %s of %s: %w", kind, incident, err)
	}
	return nil
}
