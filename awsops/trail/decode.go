package trail

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// maxNesting is how deeply encoding/json lets arrays and objects nest.
const maxNesting = 10000

// Decode decodes the JSON text data into rec with the result of
// json.Unmarshal(data, rec), several times faster: see recordDecoder.
func Decode(data []byte, rec *Record) error {
	d := recordDecoder{data: data}
	if d.open("an object") {
		d.record(rec)
	}
	d.end()
	return d.err
}

// credentialsAccessKeyID returns responseElements.credentials.accessKeyId
// from the JSON text data as json.Unmarshal into a struct of just that
// field does, with the same error cases.
func credentialsAccessKeyID(data []byte) (string, error) {
	d := recordDecoder{data: data}
	var id string
	if d.open("an object") {
		for first := true; d.member(first); first = false {
			if string(d.field()) != "credentials" {
				d.skip()
				continue
			}
			if !d.open("an object") {
				continue
			}
			for first := true; d.member(first); first = false {
				if string(d.field()) == "accesskeyid" {
					d.str(&id)
				} else {
					d.skip()
				}
			}
		}
	}
	d.end()
	return id, d.err
}

// recordDecoder decodes CloudTrail records into TrailRecords in one pass,
// without reflection, to the result of json.Unmarshal: the same values,
// and an error exactly when json.Unmarshal fails. So it does what
// encoding/json does: it checks the syntax of the whole text, members it
// skips included, and the nesting depth; matches member names to fields
// exactly or else under Unicode simple case folding; lets a later
// duplicate member overwrite an earlier one, objects and arrays decoding
// into what the earlier left; leaves a field as it is on null, except
// RawMessage (which becomes "null") and slices (nil); fails on a value of
// the wrong type; and hands EventTime's text to time.Time.UnmarshalJSON.
// Strings with escapes or invalid UTF-8 are unquoted by encoding/json.
type recordDecoder struct {
	data  []byte
	i     int    // the next byte to read
	depth int    // arrays and objects open
	name  []byte // the member being decoded, unquoted
	fold  [28]byte
	err   error // the first error: decoding stops there
	saved error // the first number out of range (Value): decoding goes on
}

// open starts a value that decodes into a struct. It returns true after
// the '{' of an object; false after null, which leaves the struct as it
// is, and on an error (any other value).
func (d *recordDecoder) open(want string) bool {
	d.space()
	switch d.peek() {
	case '{':
		return d.enter()
	case 'n':
		d.literal("null")
		return false
	}
	d.wrongType(want)
	return false
}

// end checks that only white space follows the top-level value.
func (d *recordDecoder) end() {
	d.space()
	if d.err == nil && d.i < len(d.data) {
		d.syntaxError()
	}
}

// member reads the name of an object's next member, and the colon after
// it, into d.name. first says whether it is the first member, right after
// the '{'. It returns false after the closing '}', or on an error.
func (d *recordDecoder) member(first bool) bool {
	if d.err != nil {
		return false
	}
	d.space()
	c := d.peek()
	if c == '}' {
		d.i++
		d.depth--
		return false
	}
	if !first {
		if c != ',' {
			d.syntaxError()
			return false
		}
		d.i++
		d.space()
	}
	if d.peek() != '"' {
		d.syntaxError()
		return false
	}
	start := d.i
	escaped, nonASCII := d.scanString()
	switch {
	case d.err != nil:
		return false
	case escaped || nonASCII:
		d.name = []byte(d.unquote(d.data[start:d.i]))
	default:
		d.name = d.data[start+1 : d.i-1]
	}
	return d.colon()
}

// colon reads the ':' after a member name, and the white space around it.
func (d *recordDecoder) colon() bool {
	d.space()
	if d.peek() != ':' {
		d.syntaxError()
		return false
	}
	d.i++
	d.space()
	return true
}

// field returns d.name folded as encoding/json folds names to match them
// to fields: ASCII letters in lower case, and the two other letters that
// fold to ASCII ones, U+212A (Kelvin) and U+017F (long s), as k and s. A
// name with any other non-ASCII character, or longer than any field's
// name, folds to nil, which names no field.
func (d *recordDecoder) field() []byte {
	out := d.fold[:0]
	for i := 0; i < len(d.name); {
		c := d.name[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			i++
		} else {
			r, n := utf8.DecodeRune(d.name[i:])
			switch r {
			case '\u212a':
				c = 'k'
			case '\u017f':
				c = 's'
			default:
				return nil
			}
			i += n
		}
		if len(out) == cap(out) {
			return nil
		}
		out = append(out, c)
	}
	return out
}

func (d *recordDecoder) record(r *Record) {
	for first := true; d.member(first); first = false {
		switch string(d.field()) {
		case "eventversion":
			d.str(&r.EventVersion)
		case "eventtime":
			d.time(&r.EventTime)
		case "eventsource":
			d.str(&r.EventSource)
		case "eventname":
			d.str(&r.EventName)
		case "awsregion":
			d.str(&r.AWSRegion)
		case "sourceipaddress":
			d.str(&r.SourceIPAddress)
		case "useragent":
			d.str(&r.UserAgent)
		case "useridentity":
			d.identity(&r.UserIdentity)
		case "requestparameters":
			d.raw(&r.RequestParameters)
		case "responseelements":
			d.raw(&r.ResponseElements)
		case "additionaleventdata":
			d.raw(&r.AdditionalEventData)
		case "errorcode":
			d.str(&r.ErrorCode)
		case "errormessage":
			d.str(&r.ErrorMessage)
		case "requestid":
			d.str(&r.RequestID)
		case "eventid":
			d.str(&r.EventID)
		case "eventtype":
			d.str(&r.EventType)
		case "eventcategory":
			d.str(&r.EventCategory)
		case "readonly":
			d.boolean(&r.ReadOnly)
		case "managementevent":
			d.boolean(&r.ManagementEvent)
		case "sessioncredentialfromconsole":
			d.str(&r.SessionCredentialFromConsole)
		case "recipientaccountid":
			d.str(&r.RecipientAccountID)
		case "resources":
			d.resources(&r.Resources)
		default:
			d.skip()
		}
	}
}

func (d *recordDecoder) identity(id *Identity) {
	if !d.open("an object") {
		return
	}
	for first := true; d.member(first); first = false {
		switch string(d.field()) {
		case "type":
			d.str(&id.Type)
		case "principalid":
			d.str(&id.PrincipalID)
		case "arn":
			d.str(&id.ARN)
		case "accountid":
			d.str(&id.AccountID)
		case "accesskeyid":
			d.str(&id.AccessKeyID)
		case "username":
			d.str(&id.UserName)
		case "invokedby":
			d.str(&id.InvokedBy)
		case "identityprovider":
			d.str(&id.IdentityProvider)
		case "sessioncontext":
			d.sessionContext(&id.SessionContext)
		default:
			d.skip()
		}
	}
}

func (d *recordDecoder) sessionContext(sc *SessionContext) {
	if !d.open("an object") {
		return
	}
	for first := true; d.member(first); first = false {
		switch string(d.field()) {
		case "sessionissuer":
			if !d.open("an object") {
				continue
			}
			is := &sc.SessionIssuer
			for first := true; d.member(first); first = false {
				switch string(d.field()) {
				case "type":
					d.str(&is.Type)
				case "principalid":
					d.str(&is.PrincipalID)
				case "arn":
					d.str(&is.ARN)
				case "accountid":
					d.str(&is.AccountID)
				case "username":
					d.str(&is.UserName)
				default:
					d.skip()
				}
			}
		case "attributes":
			if !d.open("an object") {
				continue
			}
			for first := true; d.member(first); first = false {
				switch string(d.field()) {
				case "creationdate":
					d.str(&sc.Attributes.CreationDate)
				case "mfaauthenticated":
					d.str(&sc.Attributes.MFAAuthenticated)
				default:
					d.skip()
				}
			}
		case "sourceidentity":
			d.str(&sc.SourceIdentity)
		default:
			d.skip()
		}
	}
}

// resources decodes an array into the slice as encoding/json does: into
// the elements already there (within its capacity, even past its length),
// growing it as needed, then cutting it to the array's length; an empty
// array makes a new empty slice, and null makes it nil.
func (d *recordDecoder) resources(dst *[]Resource) {
	switch d.peek() {
	case '[':
	case 'n':
		if d.literal("null") {
			*dst = nil
		}
		return
	default:
		d.wrongType("an array")
		return
	}
	if !d.enter() {
		return
	}
	s, n := *dst, 0
	d.space()
	if d.peek() == ']' {
		d.i++
		d.depth--
	} else {
		for {
			if n == cap(s) { // then len(s) == n too
				s = append(s, Resource{})[:n]
			}
			if n == len(s) {
				s = s[:n+1]
			}
			d.resource(&s[n])
			n++
			if d.err != nil {
				return
			}
			d.space()
			if d.peek() == ']' {
				d.i++
				d.depth--
				break
			}
			if d.peek() != ',' {
				d.syntaxError()
				return
			}
			d.i++
			d.space()
		}
	}
	if n == 0 {
		s = make([]Resource, 0)
	}
	*dst = s[:n]
}

func (d *recordDecoder) resource(r *Resource) {
	if !d.open("an object") {
		return
	}
	for first := true; d.member(first); first = false {
		switch string(d.field()) {
		case "arn":
			d.str(&r.ARN)
		case "accountid":
			d.str(&r.AccountID)
		case "type":
			d.str(&r.Type)
		default:
			d.skip()
		}
	}
}

func (d *recordDecoder) str(dst *string) {
	switch d.peek() {
	case '"':
		start := d.i
		escaped, nonASCII := d.scanString()
		if d.err != nil {
			return
		}
		if body := d.data[start+1 : d.i-1]; !escaped && (!nonASCII || utf8.Valid(body)) {
			*dst = string(body)
		} else {
			*dst = d.unquote(d.data[start:d.i])
		}
	case 'n':
		d.literal("null")
	default:
		d.wrongType("a string")
	}
}

// unquote decodes a string with escapes or invalid UTF-8 with
// encoding/json itself.
func (d *recordDecoder) unquote(quoted []byte) string {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil && d.err == nil {
		d.err = err
	}
	return s
}

func (d *recordDecoder) boolean(dst *bool) {
	switch d.peek() {
	case 't':
		if d.literal("true") {
			*dst = true
		}
	case 'f':
		if d.literal("false") {
			*dst = false
		}
	case 'n':
		d.literal("null")
	default:
		d.wrongType("true or false")
	}
}

func (d *recordDecoder) time(dst *time.Time) {
	start := d.i
	d.skip()
	if d.err != nil {
		return
	}
	if err := dst.UnmarshalJSON(d.data[start:d.i]); err != nil {
		d.err = fmt.Errorf("member %q: %w", d.name, err)
	}
}

func (d *recordDecoder) raw(dst *json.RawMessage) {
	start := d.i
	d.skip()
	if d.err == nil {
		*dst = append((*dst)[:0], d.data[start:d.i]...)
	}
}
