package awsops

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"
)

// Source is one place the key and its sessions were used from: a network
// (an IPv4 /24 or an IPv6 /48) and what came from it.
type Source struct {
	// Network is 58.218.204.0/24, 2001:db8:1::/48, or aws:<name> for
	// calls AWS made on the key's behalf (sourceIPAddress a service name).
	Network    string    `json:"network"`
	IPs        []string  `json:"ips"`         // the first 10 addresses
	UserAgents []string  `json:"user_agents"` // the first 5 user agents
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Events     int       `json:"events"`
	Changes    int       `json:"changes"` // calls that were not read-only
	Flagged    int       `json:"flagged"` // calls in the flagged list
	// Baseline sources were in use before the attack began: the key's
	// usual use. Attacker sources were not: the attacker's, or at least
	// unexplained. AWS's own calls are neither.
	Baseline bool `json:"baseline"`
	Attacker bool `json:"attacker"`
}

// Sources are learnt, and the flagged list made, in these limits.
const (
	maxSourceIPs    = 10
	maxSourceAgents = 5
	maxChanges      = 5000 // uncatalogued changes kept to judge by source
	// attackRecent: a technique anchors the attack's start only if its
	// source appeared at most this long before it. A source in use for
	// longer is the key's usual user doing something sensitive.
	attackRecent = 24 * time.Hour
)

// networkOf is the network an address belongs to, for baselines: calls
// from one /24 (IPv4) or /48 (IPv6) are one source. A service name, as
// CloudTrail writes for calls AWS made, is its own source.
func networkOf(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		if ip == "" {
			return "unknown"
		}
		if a, ok := leadingZeros(ip); ok {
			addr = a // anonymised logs write 08.1.250.216
		} else {
			return "aws:" + ip
		}
	}
	bits := 24
	if addr.Is6() && !addr.Is4In6() {
		bits = 48
	}
	p, err := addr.Unmap().Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}

// leadingZeros reads a dotted quad whose parts have leading zeros, which
// netip refuses.
func leadingZeros(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, p := range parts {
		n := 0
		if p == "" || len(p) > 3 {
			return netip.Addr{}, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return netip.Addr{}, false
			}
			n = n*10 + int(c-'0')
		}
		if n > 255 {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

// sourceStat accumulates one Source.
type sourceStat struct {
	s Source
}

// candidate is an event that may go in the flagged list, once the
// baseline is known.
type candidate struct {
	f       FlaggedEvent
	network string
	// suspicious: filed under a technique that is not recon, so that it
	// can mark the start of the attack.
	suspicious bool
	// newSourceOnly: flagged only when from a new source (recon, single
	// object deletes, changes no technique names).
	newSourceOnly bool
}

// noteSource counts rec in its source; called with the tracker's lock.
func (tr *tracker) noteSource(rec *trail.Record, readOnly bool) string {
	n := networkOf(rec.SourceIPAddress)
	st, ok := tr.sources[n]
	if !ok {
		if len(tr.sources) >= maxDistinct {
			n = OtherName
			if st, ok = tr.sources[n]; !ok {
				st = &sourceStat{s: Source{Network: n}}
				tr.sources[n] = st
			}
		} else {
			st = &sourceStat{s: Source{Network: n}}
			tr.sources[n] = st
		}
	}
	s := &st.s
	s.Events++
	if !readOnly {
		s.Changes++
	}
	if at := rec.EventTime; !at.IsZero() {
		if s.FirstSeen.IsZero() || at.Before(s.FirstSeen) {
			s.FirstSeen = at
		}
		if at.After(s.LastSeen) {
			s.LastSeen = at
		}
	}
	if ip := rec.SourceIPAddress; ip != "" && len(s.IPs) < maxSourceIPs && !slices.Contains(s.IPs, ip) {
		s.IPs = append(s.IPs, ip)
	}
	if ua := rec.UserAgent; ua != "" && len(s.UserAgents) < maxSourceAgents && !slices.Contains(s.UserAgents, ua) {
		s.UserAgents = append(s.UserAgents, ua)
	}
	return n
}

// attackStart is when the attack began: the earliest first appearance of
// a source that, within attackRecent of appearing, did something a
// technique other than recon names. The key's first source, the one in
// use from the start of the window, cannot mark it while others exist: a
// key is set up by its owner. Zero when no source did.
func attackStart(sources map[string]*sourceStat, cands []candidate) time.Time {
	first, real := "", 0 // (AWS calling on the key's behalf is no source of its own)
	for n, st := range sources {
		if strings.HasPrefix(n, "aws:") {
			continue
		}
		real++
		if f := sources[first]; first == "" || st.s.FirstSeen.Before(f.s.FirstSeen) || st.s.FirstSeen.Equal(f.s.FirstSeen) && n < first {
			first = n
		}
	}
	if real < 2 {
		first = ""
	}
	var start time.Time
	for _, c := range cands {
		st, ok := sources[c.network]
		if !c.suspicious || !ok || strings.HasPrefix(c.network, "aws:") || c.network == first {
			continue
		}
		first := st.s.FirstSeen
		if c.f.Time.Sub(first) > attackRecent {
			continue // a long-standing source: the key's usual user
		}
		if start.IsZero() || first.Before(start) {
			start = first
		}
	}
	return start
}

// finishSources splits the sources into baseline and attacker around the
// attack's start, and makes the flagged list: every technique's event
// (those that matter only from a new source, only then; from the
// baseline, only those after the attack began that the baseline did not
// do before it) and every change from a new source. Called with the tracker's lock, once the events are
// all in.
func (tr *tracker) finishSources() (flagged []FlaggedEvent, sources []Source, dropped int) {
	start := attackStart(tr.sources, tr.candidates)
	isNew := func(network string) bool {
		if strings.HasPrefix(network, "aws:") {
			return false
		}
		st, ok := tr.sources[network]
		return ok && !start.IsZero() && !st.s.FirstSeen.Before(start)
	}
	for _, st := range tr.sources {
		st.s.Flagged = 0
		service := strings.HasPrefix(st.s.Network, "aws:")
		st.s.Attacker = !service && isNew(st.s.Network)
		st.s.Baseline = !service && !st.s.Attacker
	}
	keep := func(c candidate) {
		c.f.NewSource = isNew(c.network)
		if len(flagged) >= maxFlagged {
			dropped++
			return
		}
		flagged = append(flagged, c.f)
		if st, ok := tr.sources[c.network]; ok {
			st.s.Flagged++
		}
	}
	// What the key's baseline did before the attack began is its usual
	// use: not flagged, and the same calls from the baseline later are
	// routine (a CI job that deploys a function every day).
	routine := map[string]bool{}
	if !start.IsZero() {
		for _, c := range tr.candidates {
			if c.f.Time.Before(start) && !isNew(c.network) {
				routine[c.f.EventSource+":"+normalName(c.f.EventName)] = true
			}
		}
	}
	for _, c := range tr.candidates {
		baseline := !start.IsZero() && !isNew(c.network)
		switch {
		case c.newSourceOnly && !isNew(c.network):
		case baseline && (c.f.Time.Before(start) || routine[c.f.EventSource+":"+normalName(c.f.EventName)]):
		default:
			keep(c)
		}
	}
	for _, c := range tr.changes {
		if isNew(c.network) {
			keep(c)
		}
	}
	dropped += tr.candidatesDropped
	for _, st := range tr.sources {
		sources = append(sources, st.s)
	}
	slices.SortFunc(sources, func(a, b Source) int {
		return cmp.Or(a.FirstSeen.Compare(b.FirstSeen), strings.Compare(a.Network, b.Network))
	})
	sortEvents(flagged)
	return flagged, sources, dropped
}
