package trail

import "strings"

// ItemStrings returns the nonempty strings that the objects of set.items
// hold in their member field, in order, from the JSON object data (a
// record's responseElements: instancesSet.items[].instanceId). Names
// match as json.Unmarshal matches them to struct fields, without case.
// It reads only what it needs, at the speed of Decode, and returns nil
// when data is not valid JSON or not shaped so.
func ItemStrings(data []byte, set, field string) []string {
	set, field = strings.ToLower(set), strings.ToLower(field)
	d := recordDecoder{data: data}
	var out []string
	if d.open("an object") {
		for first := true; d.member(first); first = false {
			if string(d.field()) != set {
				d.skip()
				continue
			}
			if !d.open("an object") {
				continue
			}
			for first := true; d.member(first); first = false {
				if string(d.field()) != "items" {
					d.skip()
					continue
				}
				out = d.itemStrings(field, out[:0])
			}
		}
	}
	d.end()
	if d.err != nil {
		return nil
	}
	return out
}

// itemStrings reads an array of objects (or null) and appends the
// nonempty string member field of each to out.
func (d *recordDecoder) itemStrings(field string, out []string) []string {
	switch d.peek() {
	case '[':
	case 'n':
		d.literal("null")
		return out
	default:
		d.wrongType("an array")
		return out
	}
	if !d.enter() {
		return out
	}
	d.space()
	if d.peek() == ']' {
		d.i++
		d.depth--
		return out
	}
	for {
		var s string
		if d.open("an object") {
			for first := true; d.member(first); first = false {
				if c := d.peek(); string(d.field()) == field && (c == '"' || c == 'n') {
					d.str(&s)
				} else {
					d.skip() // another member, or not a string: no ID
				}
			}
		}
		if s != "" {
			out = append(out, s)
		}
		if d.err != nil {
			return out
		}
		d.space()
		switch d.peek() {
		case ']':
			d.i++
			d.depth--
			return out
		case ',':
			d.i++
			d.space()
		default:
			d.syntaxError()
			return out
		}
	}
}
