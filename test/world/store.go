package world

import (
	"sort"
	"sync"
)

// eventStore keeps every recorded event, in arrival order for the trail and in time order
// per account and region for LookupEvents.
type eventStore struct {
	mu      sync.RWMutex
	seq     uint64
	all     []*storedEvent
	flushed int                       // all[:flushed] are in trail log files
	byAR    map[string][]*storedEvent // account/region → management events by (at, seq)
}

func newEventStore() *eventStore { return &eventStore{byAR: map[string][]*storedEvent{}} }

func (s *eventStore) add(e *storedEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	e.seq = s.seq
	s.all = append(s.all, e)
	if !e.rec.ManagementEvent {
		return
	}
	key := e.rec.RecipientAccountID + "/" + e.rec.AWSRegion
	list := s.byAR[key]
	i := sort.Search(len(list), func(i int) bool { return list[i].at.After(e.at) })
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = e
	s.byAR[key] = list
}

// records returns a copy of every record in arrival order.
func (s *eventStore) records() []Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Record, len(s.all))
	for i, e := range s.all {
		out[i] = e.rec
	}
	return out
}

// unflushed returns the events not yet in trail files; commit marks them written.
func (s *eventStore) unflushed() (events []*storedEvent, commit func()) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	start, end := s.flushed, len(s.all)
	events = append([]*storedEvent(nil), s.all[start:end]...)
	return events, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.flushed == start {
			s.flushed = end
		}
	}
}

// scan calls fn for management events of account/region, newest first, from the position
// after (atNano, seq) when seq > 0, until fn returns false. fn must not call the store.
func (s *eventStore) scan(account, region string, afterNano int64, afterSeq uint64, fn func(*storedEvent) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.byAR[account+"/"+region]
	for i := len(list) - 1; i >= 0; i-- {
		e := list[i]
		if afterSeq > 0 {
			n := e.at.UnixNano()
			if n > afterNano || n == afterNano && e.seq >= afterSeq {
				continue
			}
		}
		if !fn(e) {
			return
		}
	}
}

func (s *eventStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all, s.flushed = nil, 0
	clear(s.byAR)
}
