package trail

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// locate returns the start of the record around offset v. Records are the
// elements of the Records array. An object is known to be an array element
// when '[' or ',' precedes it, but not at which depth; so locate walks back
// over the objects that start before v and takes the outermost array
// element that contains v. It stops at an array element that does not
// contain it and begins with the same member: the previous record, as the
// records of a log all begin with "eventVersion". Hence a record-shaped
// object planted in a parameter is found inside its record, unless an
// array planted there holds two objects that begin alike.
//
// With no record found although the walk was cut short by MaxRecordBytes
// (or by the tracking budget), the record is too large to handle: an error.
func (sc *objectScan) locate(v int64) (int64, bool, error) {
	b := sc.buf
	floor := max(sc.base, sc.lastEnd)
	lo := int(max(floor, v-int64(sc.opts.MaxRecordBytes)) - sc.base)
	target, hi := int(v-sc.base), int(v-sc.base)
	found := -1
	budget := 2 * sc.opts.MaxRecordBytes // bytes tracked, against adversarial input
	for hi > lo && budget > 0 {
		o := bytes.LastIndexByte(b[lo:hi], '{')
		if o < 0 {
			break
		}
		o += lo
		hi = o
		if !objectStart(b, o) || !arrayElement(b, lo, o) {
			continue
		}
		var t objTracker
		i, closed := t.advance(b, o, target)
		budget -= i - o
		if !closed && i == target {
			found, target = o, o // o contains the best so far
		} else if found >= 0 && bytes.Equal(firstMember(b, o), firstMember(b, found)) {
			break
		}
	}
	if found < 0 && (budget <= 0 || sc.base+int64(lo) > floor) {
		return 0, false, fmt.Errorf("%w: no record starts within %d bytes before the tracked key at offset %d", ErrRecordTooLarge, sc.opts.MaxRecordBytes, v)
	}
	return sc.base + int64(found), found >= 0, nil
}

// firstMember returns the first member name of the object at b[o], with
// its quotes, when it is short and unescaped (nil otherwise).
func firstMember(b []byte, o int) []byte {
	i := o + 1
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	n := bytes.IndexAny(b[i+1:min(len(b), i+64)], `"\`)
	if n < 0 || b[i+1+n] != '"' {
		return nil
	}
	return b[i : i+n+2]
}

// inKeyField reports whether the string at b[q] lies in the record at b[c]
// as userIdentity.accessKeyId or responseElements.credentials.accessKeyId,
// the only members that make a record match: keys named elsewhere (as
// request parameters, say) do not cost a decoding. Decoding still checks.
func inKeyField(b []byte, c, q int) bool {
	var names [3][]byte // the last member named at depths 1 and 2
	depth := 0
	for i := c; i < q; i++ {
		switch b[i] {
		case '"':
			end := stringEnd(b, i+1, q)
			if end < 0 {
				return false
			}
			j := end + 1
			for j < q && isSpace(b[j]) {
				j++
			}
			if depth >= 0 && depth < len(names) && j < q && b[j] == ':' {
				names[depth] = b[i : end+1]
			}
			i = end
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	switch depth {
	case 2:
		return string(names[1]) == `"userIdentity"`
	case 3:
		return string(names[1]) == `"responseElements"` && string(names[2]) == `"credentials"`
	}
	return false
}

// stringEnd returns the index of the quote that ends the string whose
// contents start at b[i], looking before b[to]; -1 if there is none.
func stringEnd(b []byte, i, to int) int {
	for i < to {
		j := quoteOrBackslash(b, i, to)
		if j == to {
			return -1
		}
		if b[j] == '"' {
			return j
		}
		i = j + 2 // past the escaped byte
	}
	return -1
}

// objectStart reports whether the '{' at b[o] opens an object outside any
// string: followed (after white space) by a quote and a letter, it cannot
// be inside a string of valid JSON, whose next quote would then end it.
func objectStart(b []byte, o int) bool {
	i := o + 1
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i+1 >= len(b) || b[i] != '"' {
		return false
	}
	c := b[i+1] | 0x20
	return c >= 'a' && c <= 'z'
}

// arrayElement reports whether '[' or ',' precedes b[o], white space aside.
func arrayElement(b []byte, lo, o int) bool {
	i := o - 1
	for i >= lo && isSpace(b[i]) {
		i--
	}
	return i >= lo && (b[i] == '[' || b[i] == ',')
}

// objTracker follows strings and nesting from the '{' that opens an object
// to the '}' that closes it. It trusts the text to be JSON; on other input
// it finds wrong boundaries, which decoding the record then catches.
type objTracker struct {
	depth    int
	inString bool
	escaped  bool // the previous byte was an escaping backslash
}

// advance tracks b[i:to] and stops right after the byte that closes the
// object, returning closed=true.
func (t *objTracker) advance(b []byte, i, to int) (next int, closed bool) {
	depth, inString, escaped := t.depth, t.inString, t.escaped // kept in registers
loop:
	for i < to {
		if inString {
			if escaped {
				escaped = false
				i++
				continue
			}
			j := quoteOrBackslash(b, i, to)
			if j == to {
				i = to
				break
			}
			if b[j] == '\\' {
				escaped = true
			} else {
				inString = false
			}
			i = j + 1
			continue
		}
		switch b[i] {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				i, closed = i+1, true
				break loop
			}
		}
		i++
	}
	t.depth, t.inString, t.escaped = depth, inString, escaped
	return i, closed
}

// quoteOrBackslash returns the index of the first '"' or '\\' in b[i:to],
// or to if there is none. It reads eight bytes at a time.
func quoteOrBackslash(b []byte, i, to int) int {
	for ; i+8 <= to; i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := zeroBytes(w^0x2222222222222222) | zeroBytes(w^0x5c5c5c5c5c5c5c5c); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < to; i++ {
		if b[i] == '"' || b[i] == '\\' {
			return i
		}
	}
	return to
}

// zeroBytes sets the top bit of the bytes of w that are zero, and maybe of
// some bytes above a zero byte: the lowest bit it sets is exact.
func zeroBytes(w uint64) uint64 {
	return (w - 0x0101010101010101) &^ w & 0x8080808080808080
}
