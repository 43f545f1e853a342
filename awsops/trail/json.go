package trail

// The JSON syntax under recordDecoder: reading and checking values as
// encoding/json's scanner does.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// skip checks the value at d.i and moves past it.
func (d *recordDecoder) skip() {
	var kinds [32]byte
	open := kinds[:0] // '{' or '[' for each container of the value still open
	for d.err == nil {
		d.space()
		switch c := d.peek(); {
		case c == '{' || c == '[':
			if !d.enter() {
				return
			}
			d.space()
			if d.peek() == c+2 { // '}' or ']'
				d.i++
				d.depth--
				break
			}
			open = append(open, c)
			if c == '{' && !d.key() {
				return
			}
			continue
		case c == '"':
			d.scanString()
		case c == 't':
			d.literal("true")
		case c == 'f':
			d.literal("false")
		case c == 'n':
			d.literal("null")
		case c == '-' || '0' <= c && c <= '9':
			d.number()
		default:
			d.syntaxError()
			return
		}
		// After a value: close what it ends, up to a comma.
		for d.err == nil {
			if len(open) == 0 {
				return
			}
			d.space()
			last := open[len(open)-1]
			if d.peek() == last+2 {
				d.i++
				d.depth--
				open = open[:len(open)-1]
				continue
			}
			if d.peek() != ',' {
				d.syntaxError()
				return
			}
			d.i++
			if last == '{' && !d.key() {
				return
			}
			break
		}
	}
}

// key reads a member name that is not decoded, and the colon after it.
func (d *recordDecoder) key() bool {
	d.space()
	if d.peek() != '"' {
		d.syntaxError()
		return false
	}
	d.scanString()
	return d.err == nil && d.colon()
}

// enter moves past the '{' or '[' at d.i, within the nesting limit.
func (d *recordDecoder) enter() bool {
	d.depth++
	if d.depth > maxNesting {
		d.err = fmt.Errorf("nesting deeper than %d at offset %d", maxNesting, d.i)
		return false
	}
	d.i++
	return true
}

// scanString checks the string whose opening quote is at d.i and moves
// past it. It reports whether the string has escapes, and bytes outside
// ASCII.
func (d *recordDecoder) scanString() (escaped, nonASCII bool) {
	b, i := d.data, d.i+1
	for i < len(b) {
		i = plainRun(b, i)
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return escaped, nonASCII
		case c == '\\':
			escaped = true
			n := escapeLen(b[i:])
			if n == 0 {
				d.i = i
				d.syntaxError()
				return escaped, nonASCII
			}
			i += n
		case c < 0x20:
			d.i = i
			d.syntaxError()
			return escaped, nonASCII
		case c >= utf8.RuneSelf:
			nonASCII = true
			i++
		default:
			i++
		}
	}
	d.i = i
	d.syntaxError()
	return escaped, nonASCII
}

// plainRun returns the index of the first byte at or after b[i] that is a
// quote, a backslash, a control character or not ASCII; len(b) if none.
// It reads eight bytes at a time.
func plainRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		m := zeroBytes(w^0x2222222222222222) | zeroBytes(w^0x5c5c5c5c5c5c5c5c) |
			(w-0x2020202020202020)&^w&0x8080808080808080 | w&0x8080808080808080
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// escapeLen returns the length of the escape sequence at the start of e,
// or 0 if it is not a valid one.
func escapeLen(e []byte) int {
	if len(e) < 2 {
		return 0
	}
	switch e[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(e) < 6 {
			return 0
		}
		for _, c := range e[2:6] {
			if !isHexDigit(c) {
				return 0
			}
		}
		return 6
	}
	return 0
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number checks the number at d.i and moves past it.
func (d *recordDecoder) number() {
	b, i := d.data, d.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		d.i = i
		d.syntaxError()
		return
	}
	if i < len(b) && b[i] == '.' {
		if i++; i == len(b) || !isDigit(b[i]) {
			d.i = i
			d.syntaxError()
			return
		}
		i = digits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == len(b) || !isDigit(b[i]) {
			d.i = i
			d.syntaxError()
			return
		}
		i = digits(b, i)
	}
	d.i = i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits returns the index after the run of digits at b[i].
func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// literal reads the literal lit (true, false or null) at d.i.
func (d *recordDecoder) literal(lit string) bool {
	for j := range len(lit) {
		if d.i+j == len(d.data) || d.data[d.i+j] != lit[j] {
			d.i += j
			d.syntaxError()
			return false
		}
	}
	d.i += len(lit)
	return true
}

func (d *recordDecoder) space() {
	for d.i < len(d.data) && isSpace(d.data[d.i]) {
		d.i++
	}
}

// peek returns the byte at d.i, or 0 (never valid there) at the end.
func (d *recordDecoder) peek() byte {
	if d.i < len(d.data) {
		return d.data[d.i]
	}
	return 0
}

var errRecordEnd = errors.New("unexpected end of JSON text")

func (d *recordDecoder) syntaxError() {
	switch {
	case d.err != nil:
	case d.i >= len(d.data):
		d.err = errRecordEnd
	default:
		d.err = fmt.Errorf("invalid character %q at offset %d", d.data[d.i], d.i)
	}
}

// wrongType fails on a value that does not decode into the member's field.
func (d *recordDecoder) wrongType(want string) {
	if d.err != nil {
		return
	}
	if d.i >= len(d.data) {
		d.err = errRecordEnd
		return
	}
	d.err = fmt.Errorf("member %q: want %s, found %q at offset %d", d.name, want, d.data[d.i], d.i)
}
