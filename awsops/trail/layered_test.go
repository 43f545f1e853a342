package trail

import (
	"fmt"
	"testing"
)

// TestLayeredVersionsStayAsMade: every version of a layered map keeps
// exactly what it held when made, while later versions grow past several
// merges of their top into a new base.
func TestLayeredVersionsStayAsMade(t *testing.T) {
	var versions []layered[string, int]
	var m layered[string, int]
	const n = 1500
	for i := range n {
		m = m.with(fmt.Sprint("k", i), i)
		versions = append(versions, m)
	}
	merged := 0
	for v, m := range versions {
		if m.len() != v+1 {
			t.Fatalf("version %d holds %d entries, want %d", v, m.len(), v+1)
		}
		if len(m.top) == 0 {
			merged++
		}
		for _, probe := range []int{0, v / 2, v, v + 1, n} {
			got, ok := valueOf(m, []byte(fmt.Sprint("k", probe)))
			if want := probe <= v; ok != want || ok && got != probe {
				t.Fatalf("version %d: k%d = %d, %v; want present %v", v, probe, got, ok, want)
			}
		}
	}
	if merged < 10 || merged > 200 {
		t.Errorf("%d merges for %d additions, want about √n·2 (the top outgrows 16+√base)", merged, n)
	}
}

// TestPatternSetVersionsShareNothingVisible: a watched set made earlier
// does not see what later ones add, though they share the list.
func TestPatternSetVersionsShareNothingVisible(t *testing.T) {
	ps := &patternSet{}
	var sets []*patternSet
	for i := range 300 {
		var added bool
		ps, added = ps.with(fmt.Sprintf(`"userName":"u%d"`, i))
		if !added {
			t.Fatalf("pattern %d not added", i)
		}
		sets = append(sets, ps)
	}
	if _, again := ps.with(`"userName":"u7"`); again {
		t.Error(`"userName":"u7" added twice`)
	}
	if !ps.holds(`"userName":"u299"`) || ps.holds(`"userName":"u300"`) {
		t.Error("holds is wrong at the end of the list")
	}
	for i, s := range sets {
		raw := []byte(fmt.Sprintf(`{"userName":"u%d","x":{"userName":"u%d"}}`, i, i+1))
		got := s.all(raw, 0, nil)
		if len(got) != 1 || got[0] != fmt.Sprintf(`"userName":"u%d"`, i) {
			t.Fatalf("set %d finds %q in %s, want only u%d", i, got, raw, i)
		}
		if len(s.list) != i+1 {
			t.Fatalf("set %d lists %d patterns, want %d", i, len(s.list), i+1)
		}
	}
}

// TestScannerIgnoresKeysOfOtherLengths: a key ID that is not 20
// characters long, as a hostile record may hand on, is ignored, not a
// panic; the generation stays.
func TestScannerIgnoresKeysOfOtherLengths(t *testing.T) {
	s := NewScanner([]string{"", "AKIA", "AKIAIOSFODNN7EXAMPLE-TOO-LONG"}, ScanOptions{})
	gen := s.Generation()
	if got := s.Add("ASIA", "x"); got != gen {
		t.Errorf("Add of short keys made generation %d, want %d", got, gen)
	}
	if got := s.Add("AKIAIOSFODNN7EXAMPLE"); got != gen+1 {
		t.Errorf("Add of a key made generation %d, want %d", got, gen+1)
	}
	if !s.set.Load().tracksID("AKIAIOSFODNN7EXAMPLE") || s.set.Load().tracksID("AKIA") {
		t.Error("the scanner tracks the wrong keys")
	}
}

// TestPatternFilterPassesEveryWatchedValue: a group's filter lets through
// every value watched in it, in every version, and turns most others
// away before the map lookup.
func TestPatternFilterPassesEveryWatchedValue(t *testing.T) {
	ps := &patternSet{}
	for i := range 1000 {
		for _, member := range []string{"userName", "roleName"} {
			ps, _ = ps.with(fmt.Sprintf(`"%s":"u%d"`, member, i))
			g := &ps.groups[ps.group(`"`+member+`":"`)]
			p := ps.list[len(ps.list)-1]
			if got, ok := g.value(itemHash([]byte(p)), []byte(p[len(g.anchor):])); !ok || ps.list[got] != p {
				t.Fatalf("after adding %s, its group finds pattern %d (%v)", p, got, ok)
			}
		}
	}
	for _, g := range ps.groups {
		passed := 0
		for i := range 10000 {
			item := fmt.Sprintf(`%sx%d"`, g.anchor, i)
			if g.filter.has(itemHash([]byte(item))) {
				passed++
			}
			if _, ok := g.value(itemHash([]byte(item)), []byte(item[len(g.anchor):])); ok {
				t.Fatalf("%s is taken for a watched value", item)
			}
		}
		// A thousand values set at most 1.5% of the bits.
		if passed > 300 {
			t.Errorf("the filter of %s lets %d of 10,000 absent values through", g.anchor, passed)
		}
	}
}
