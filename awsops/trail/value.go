package trail

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// Value decodes the JSON text data as json.Unmarshal into an any does
// (objects as map[string]any, arrays as []any, numbers as float64), several
// times faster: a record's request parameters or response elements, which
// the rules that classify a call look into. It fails exactly when
// json.Unmarshal fails; as json.Unmarshal does, it still returns what it
// decoded when only a number is out of range (as nil).
func Value(data []byte) (any, error) {
	d := recordDecoder{data: data}
	v := d.value()
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return v, d.saved
}

// value decodes the value at d.i.
func (d *recordDecoder) value() any {
	d.space()
	switch c := d.peek(); {
	case c == '{':
		if !d.enter() {
			return nil
		}
		m := map[string]any{}
		for first := true; d.member(first); first = false {
			k := string(d.name)
			m[k] = d.value()
		}
		return m
	case c == '[':
		if !d.enter() {
			return nil
		}
		a := []any{}
		d.space()
		if d.peek() == ']' {
			d.i++
			d.depth--
			return a
		}
		for d.err == nil {
			a = append(a, d.value())
			d.space()
			switch d.peek() {
			case ']':
				d.i++
				d.depth--
				return a
			case ',':
				d.i++
			default:
				d.syntaxError()
			}
		}
		return nil
	case c == '"':
		var s string
		d.str(&s)
		return s
	case c == 't':
		return d.literal("true")
	case c == 'f':
		d.literal("false")
		return false
	case c == 'n':
		d.literal("null")
		return nil
	case c == '-' || '0' <= c && c <= '9':
		start := d.i
		d.number()
		if d.err != nil {
			return nil
		}
		s := string(d.data[start:d.i])
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			if d.saved == nil {
				d.saved = &json.UnmarshalTypeError{Value: "number " + s, Type: reflect.TypeFor[float64](), Offset: int64(d.i)}
			}
			return nil
		}
		return f
	}
	d.syntaxError()
	return nil
}
