package trail

import "maps"

// layered is a map that grows in versions, each immutable once made, so
// that scans read one while the next is built. A version is a base map,
// shared with the versions before it and never written, and a small top
// map, copied for each addition; the top is merged into a new base once it
// outgrows the square root of the base. n additions so copy O(n√n) entries,
// not the O(n²) of copying the whole map each time.
type layered[K comparable, V any] struct {
	base, top map[K]V
}

func (m layered[K, V]) len() int { return len(m.base) + len(m.top) }

func (m layered[K, V]) get(k K) (V, bool) {
	if v, ok := m.top[k]; ok {
		return v, true
	}
	v, ok := m.base[k]
	return v, ok
}

// with returns the version that also maps k to v; m is unchanged.
func (m layered[K, V]) with(k K, v V) layered[K, V] {
	if len(m.top) >= topLimit(len(m.base)) {
		base := make(map[K]V, m.len()+1)
		maps.Copy(base, m.base)
		maps.Copy(base, m.top)
		base[k] = v
		return layered[K, V]{base: base}
	}
	top := make(map[K]V, len(m.top)+1)
	maps.Copy(top, m.top)
	top[k] = v
	return layered[K, V]{base: m.base, top: top}
}

// topLimit is the size at which a top over a base of n entries is merged:
// 16 more than √n.
func topLimit(n int) int {
	r := 1
	for r*r < n {
		r++
	}
	return 16 + r
}

// valueOf looks a string key up by its bytes without copying them.
func valueOf(m layered[string, int], b []byte) (int, bool) {
	if v, ok := m.top[string(b)]; ok {
		return v, true
	}
	v, ok := m.base[string(b)]
	return v, ok
}
