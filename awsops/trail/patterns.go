package trail

import (
	"bytes"
	"slices"
	"strings"
)

// patternSet is the literal patterns a scanner watches. A pattern that is
// a member and its string value, `"name":"value"`, is found by its member,
// `"name":"` (its anchor), and its value looked up in a map: a thousand
// watched users cost one search of the bytes, not a thousand. Other
// patterns are searched for whole.
type patternSet struct {
	list   []string       // in the order of Watch
	groups []patternGroup // one per distinct anchor
	maxLen int            // of the longest pattern
}

// patternGroup is the patterns that begin with one anchor.
type patternGroup struct {
	anchor []byte
	rare   int                  // the index of the anchor's rarest pair of bytes, searched for first
	whole  int                  // the pattern that is the anchor alone, -1 for none
	values layered[string, int] // the rest after the anchor (a value and its closing quote) → pattern
	filter *bitFilter           // itemHash(anchor+rest) of every rest in values, shared by every version
}

// maxPatternBytes is the longest a watched pattern may be. An index notes
// a member's values up to it, whatever the values watched then, so that
// one watched later is known seen or not.
const maxPatternBytes = 1 << 10

// value returns the pattern of the value rest after the anchor, whose
// member and value have the itemHash h. Most values a log holds are
// turned away by the filter, with the hash the index takes too, before a
// map is looked at.
func (g *patternGroup) value(h uint64, rest []byte) (int, bool) {
	if !g.filter.has(h) {
		return 0, false
	}
	return valueOf(g.values, rest)
}

// splitPattern returns a pattern's anchor and the rest after it: for
// `"name":"value"`, `"name":"` and `value"`; else the whole pattern and "".
func splitPattern(p string) (anchor, rest string) {
	i := strings.LastIndex(p, `":"`)
	if i <= 0 || len(p) <= i+4 || !strings.HasSuffix(p, `"`) || strings.ContainsAny(p[i+3:len(p)-1], `"\`) {
		return p, ""
	}
	return p[:i+3], p[i+3:]
}

// byteRank orders the printable bytes from the rarest to the most common
// in CloudTrail logs (measured on real logs written compactly, as
// CloudTrail writes them); a byte not listed counts as rarest.
const byteRank = `!'();^` + "`" + `|~<>$&?#@=*%+\[]jxYBWXkJQ/FOqUGZL_zKVRN {}MHPETCDyhgSw.bfvp67IA89l53m40u12,dioc-n:rstae"`

// rarest returns the index of the byte of s that is rarest in logs.
func rarest(s []byte) int {
	best, rank := 0, len(byteRank)+1
	for i, c := range s {
		if r := byteRankOf(c); r < rank {
			best, rank = i, r
		}
	}
	return best
}

// byteRankOf is the place of c in byteRank; -1 (rarest) when not in it.
func byteRankOf(c byte) int { return strings.IndexByte(byteRank, c) }

// index returns the index of the first anchor in b, or -1. It looks for
// the anchor's rarest pair of bytes, so that a common first byte (a
// quote) does not make it stop at every member.
func (g *patternGroup) index(b []byte) int {
	if len(g.anchor) < 2 {
		return bytes.Index(b, g.anchor)
	}
	c0, c1 := g.anchor[g.rare], g.anchor[g.rare+1]
	for i := g.rare; i < len(b); {
		j := indexPair(b[i:], c0, c1)
		if j < 0 {
			return -1
		}
		j += i
		if s := j - g.rare; s+len(g.anchor) <= len(b) && bytes.Equal(b[s:s+len(g.anchor)], g.anchor) {
			return s
		}
		i = j + 1
	}
	return -1
}

// indexVia is index over b[from:lim] with the pair finder (which lists
// the group's pair as pair 1), b[0] being at offset base; the index it
// returns is in b.
func (g *patternGroup) indexVia(pf *pairFinder, b []byte, base int64, from, lim int) int {
	for i := from + g.rare; i < lim; {
		p := pf.find(b, base, 1, base+int64(i), base+int64(lim))
		if p < 0 {
			return -1
		}
		j := int(p - base)
		if s := j - g.rare; s+len(g.anchor) <= lim && bytes.Equal(b[s:s+len(g.anchor)], g.anchor) {
			return s
		}
		i = j + 1
	}
	return -1
}

// with returns a copy of the set that also holds p, and whether p is new.
// The copy shares the list, and the values of each group, with ps: the
// caller extends only the newest set.
func (ps *patternSet) with(p string) (*patternSet, bool) {
	if p == "" || len(p) > maxPatternBytes || ps.holds(p) {
		return ps, false
	}
	out := &patternSet{list: append(ps.list, p), groups: slices.Clone(ps.groups), maxLen: max(ps.maxLen, len(p))}
	idx := len(out.list) - 1
	anchor, rest := splitPattern(p)
	g := out.group(anchor)
	if g < 0 {
		out.groups = append(out.groups, patternGroup{anchor: []byte(anchor), rare: rarePair([]byte(anchor)), whole: -1, filter: new(bitFilter)})
		g = len(out.groups) - 1
	}
	grp := &out.groups[g]
	if rest == "" {
		grp.whole = idx
		return out, true
	}
	grp.values = grp.values.with(rest, idx)
	grp.filter.set(itemHash([]byte(p)))
	return out, true
}

// group returns the index of the group of anchor, or -1.
func (ps *patternSet) group(anchor string) int {
	return slices.IndexFunc(ps.groups, func(g patternGroup) bool { return string(g.anchor) == anchor })
}

// holds reports whether p is watched already.
func (ps *patternSet) holds(p string) bool {
	anchor, rest := splitPattern(p)
	g := ps.group(anchor)
	if g < 0 {
		return false
	}
	if rest == "" {
		return ps.groups[g].whole >= 0
	}
	_, ok := ps.groups[g].values.get(rest)
	return ok
}

// valueEnd returns the end of the value after the anchor at b[j] (past its
// closing quote) when the group has values: -1 when there is none short
// enough, incomplete when b ends too soon to tell.
func (g *patternGroup) valueEnd(b []byte, j int) (end int, incomplete bool) {
	if g.values.len() == 0 {
		return -1, false
	}
	v := j + len(g.anchor)
	q := bytes.IndexByte(b[v:min(len(b), v+maxPatternBytes)], '"')
	if q < 0 {
		return -1, v+maxPatternBytes > len(b)
	}
	return v + q + 1, false
}

// first returns where the first pattern in b begins and which it is; pos is
// -1 when none is found. A pattern may begin at or after wait but b ends
// too soon to tell (wait is -1 otherwise). Every value it looks at is
// noted in idx (at its offset plus base) when idx is not nil. With a pair
// finder that lists the first group's pair, that group is searched for
// through it.
func (ps *patternSet) first(b []byte, base int64, idx *ObjectIndex, pf *pairFinder) (pos, which, wait int) {
	pos, wait = -1, -1
	for gi := range ps.groups {
		g := &ps.groups[gi]
		lim := len(b)
		if pos >= 0 {
			lim = min(lim, pos+len(g.anchor)-1)
		}
		for from := 0; from < lim; {
			var j int
			if gi == 0 && pf != nil {
				j = g.indexVia(pf, b, base, from, lim)
			} else if j = g.index(b[from:lim]); j >= 0 {
				j += from
			}
			if j < 0 {
				break
			}
			if g.whole >= 0 {
				pos, which = j, g.whole
				break
			}
			end, incomplete := g.valueEnd(b, j)
			if incomplete {
				if wait < 0 || j < wait {
					wait = j
				}
				break
			}
			if end >= 0 {
				h := itemHash(b[j:end])
				idx.noteHash(h, base+int64(j))
				if i, ok := g.value(h, b[j+len(g.anchor):end]); ok {
					pos, which = j, i
					break
				}
			}
			from = j + 1
		}
	}
	if wait >= 0 && pos > wait {
		pos = -1 // an earlier pattern may yet begin at wait
	}
	return pos, which, wait
}

// anchors calls fn for every anchor of every group in raw, in order within
// a group, with where it begins and where its value ends (-1 when it has
// no value short enough).
func (ps *patternSet) anchors(raw []byte, fn func(g *patternGroup, j, end int)) {
	for gi := range ps.groups {
		g := &ps.groups[gi]
		for from := 0; from < len(raw); {
			j := g.index(raw[from:])
			if j < 0 {
				break
			}
			j += from
			end, _ := g.valueEnd(raw, j)
			fn(g, j, end)
			from = j + 1
		}
	}
}

// all returns the patterns raw holds, in the order of Watch, and notes in
// idx (at their offset plus base) the values of the members it looks at.
func (ps *patternSet) all(raw []byte, base int64, idx *ObjectIndex) []string {
	var found []int
	ps.anchors(raw, func(g *patternGroup, j, end int) {
		if g.whole >= 0 && !slices.Contains(found, g.whole) {
			found = append(found, g.whole)
		}
		if end >= 0 {
			h := itemHash(raw[j:end])
			idx.noteHash(h, base+int64(j))
			if i, ok := g.value(h, raw[j+len(g.anchor):end]); ok && !slices.Contains(found, i) {
				found = append(found, i)
			}
		}
	})
	if len(found) == 0 {
		return nil
	}
	slices.Sort(found)
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = ps.list[f]
	}
	return out
}
