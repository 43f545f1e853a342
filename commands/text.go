package commands

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the text of one command, whatever the chat platform.
const (
	// MaxTextBytes is the longest command text Tokenize accepts.
	MaxTextBytes = 4096
	// MaxArgs is the largest number of arguments Tokenize returns.
	MaxArgs = 64
)

// Errors returned by Tokenize. Their messages never quote the text, so they
// are safe to show to the user who typed it and to log.
var (
	ErrTextTooLong       = errors.New("command text is too long")
	ErrTooManyArgs       = errors.New("too many arguments")
	ErrUnterminatedQuote = errors.New("unterminated quote")
	ErrInvalidUTF8       = errors.New("command text is not valid UTF-8")
)

// Tokenize splits command text into arguments the way a shell would, with
// the rules kept small enough to explain in one help line:
//
//   - arguments are separated by white space (including the no-break space
//     chat clients insert);
//   - an argument that starts with a double quote (" or “) runs to the
//     matching closing quote and may contain spaces; inside it \" and \\
//     stand for " and \;
//   - an argument that starts with a single quote (' or ‘) runs to the
//     matching closing quote, with nothing special inside;
//   - a quote inside a word is an ordinary character, so "attacker's IP"
//     needs no escaping;
//   - a pair of quotes with nothing between them is an empty argument.
//
// Text longer than MaxTextBytes or with more than MaxArgs arguments is
// rejected, as is an opening quote without its closing one. Errors wrap the
// sentinels above and name a position (in characters, from 1) but never the
// text itself.
func Tokenize(text string) ([]string, error) {
	if len(text) > MaxTextBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTextTooLong, len(text), MaxTextBytes)
	}
	if !utf8.ValidString(text) {
		return nil, ErrInvalidUTF8
	}
	var (
		args []string
		cur  strings.Builder
		pos  int // characters read so far
		i    int
	)
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			pos++
			i += size
			continue
		}
		// The start of an argument.
		if len(args) == MaxArgs {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyArgs, MaxArgs)
		}
		cur.Reset()
		if closing, ok := closingQuote(r); ok {
			pos++
			next, n, err := readQuoted(text, i+size, r, closing, &cur)
			if err != nil {
				return nil, fmt.Errorf("%w: %s opened at character %d is never closed", err, quoteName(r), pos)
			}
			pos += n
			i = next
		}
		// The rest of the word, up to white space; quotes here are literal.
		for i < len(text) {
			r, size = utf8.DecodeRuneInString(text[i:])
			if unicode.IsSpace(r) {
				break
			}
			cur.WriteRune(r)
			pos++
			i += size
		}
		args = append(args, cur.String())
	}
	return args, nil
}

// readQuoted reads a quoted section that starts at text[start:], just after
// the opening quote, into b. It returns the index just past the closing
// quote and the number of characters consumed, closing quote included.
func readQuoted(text string, start int, opening, closing rune, b *strings.Builder) (next, chars int, err error) {
	double := opening == '"' || opening == '“'
	for i := start; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		chars++
		switch {
		case r == closing:
			return i, chars, nil
		case double && r == '\\' && i < len(text) && (text[i] == '"' || text[i] == '\\'):
			b.WriteByte(text[i])
			i++
			chars++
		default:
			b.WriteRune(r)
		}
	}
	return 0, 0, ErrUnterminatedQuote
}

// closingQuote reports whether r opens a quoted argument and, if so, which
// rune closes it.
func closingQuote(r rune) (rune, bool) {
	switch r {
	case '"':
		return '"', true
	case '\'':
		return '\'', true
	case '“':
		return '”', true
	case '‘':
		return '’', true
	}
	return 0, false
}

func quoteName(r rune) string {
	if r == '"' || r == '“' {
		return "the double quote"
	}
	return "the single quote"
}
