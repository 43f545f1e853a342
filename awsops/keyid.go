package awsops

import (
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// accessKeyIDLen is the length of every AWS access key ID.
const accessKeyIDLen = 20

// Sentinel errors returned (wrapped in an *InputError) by ParseAccessKeyID.
var (
	ErrKeyIDEmpty     = errors.New("empty access key ID")
	ErrKeyIDLength    = errors.New("access key ID has the wrong length")
	ErrKeyIDPrefix    = errors.New("access key ID has an unknown prefix")
	ErrNotAccessKeyID = errors.New("identifier is not an access key ID")
	ErrKeyIDCharacter = errors.New("access key ID contains a character that is not allowed")
	ErrKeyIDLowerCase = errors.New("access key ID is not upper case")
)

// InputError reports input that a user typed wrong. Its message is safe to
// show to that user: it never repeats more of the input than one character,
// or a corrected access key ID.
type InputError struct {
	Message string // what is wrong, in the user's terms
	Err     error  // one of the ErrKeyID… sentinels
}

func (e *InputError) Error() string { return e.Message }

func (e *InputError) Unwrap() error { return e.Err }

// KeyKind says what sort of credential an access key ID belongs to.
type KeyKind int

// The kinds of access key.
const (
	// LongTermKey (AKIA…) belongs to an IAM user or to the account root.
	LongTermKey KeyKind = iota + 1
	// TemporaryKey (ASIA…) was issued by AWS STS, and works only with its
	// session token until it expires (15 minutes to 36 hours).
	TemporaryKey
)

func (k KeyKind) String() string {
	switch k {
	case LongTermKey:
		return "long-term"
	case TemporaryKey:
		return "temporary"
	default:
		return "unknown"
	}
}

// keyPrefixes are the prefixes of access key IDs.
var keyPrefixes = map[string]KeyKind{
	"AKIA": LongTermKey,
	"ASIA": TemporaryKey,
}

// otherPrefixes are the prefixes of IAM unique identifiers that are not
// access key IDs, with what they identify. Users paste these by mistake,
// most often a user ID (AIDA…) or role ID (AROA…) copied from CloudTrail.
var otherPrefixes = map[string]string{
	"ABIA": "an STS service bearer token ID",
	"ACCA": "a context-specific credential ID",
	"AGPA": "a user group ID",
	"AIDA": "a user ID",
	"AIPA": "an EC2 instance profile ID",
	"ANPA": "a managed policy ID",
	"ANVA": "a managed policy version ID",
	"APKA": "a public key ID",
	"AROA": "a role ID",
	"ASCA": "a certificate ID",
}

// KeyID is a syntactically valid AWS access key ID. The zero value is not
// valid; obtain one from ParseAccessKeyID.
type KeyID struct {
	id string
}

// ParseAccessKeyID checks that s (surrounding white space ignored) has the
// form of an AWS access key ID: 20 characters of upper-case base32 (A–Z and
// 2–7) starting with AKIA or ASIA. Every error is an *InputError that says
// precisely what is wrong and wraps one of the ErrKeyID… sentinels (or
// ErrNotAccessKeyID).
func ParseAccessKeyID(s string) (KeyID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return KeyID{}, inputErrorf(ErrKeyIDEmpty, "empty: an access key ID has %d characters and starts with AKIA or ASIA", accessKeyIDLen)
	}
	if upper := strings.ToUpper(s); upper != s {
		if _, err := parseUpper(upper); err == nil {
			return KeyID{}, inputErrorf(ErrKeyIDLowerCase, "access key IDs are upper case: did you mean %s?", upper)
		}
	}
	return parseUpper(s)
}

// parseUpper validates s, which has been trimmed.
func parseUpper(s string) (KeyID, error) {
	n := utf8.RuneCountInString(s)
	if n >= 4 && utf8.ValidString(s[:4]) {
		if what, ok := otherPrefixes[strings.ToUpper(s[:4])]; ok {
			return KeyID{}, inputErrorf(ErrNotAccessKeyID, "that is %s, not an access key ID (access key IDs start with AKIA or ASIA)", what)
		}
	}
	switch {
	case n < accessKeyIDLen:
		return KeyID{}, inputErrorf(ErrKeyIDLength, "too short: %d %s, an access key ID has %d", n, plural(n, "character"), accessKeyIDLen)
	case n > accessKeyIDLen:
		return KeyID{}, inputErrorf(ErrKeyIDLength, "too long: %d characters, an access key ID has %d", n, accessKeyIDLen)
	}
	if len(s) == accessKeyIDLen { // all ASCII, so the prefix can be shown
		if _, ok := keyPrefixes[s[:4]]; !ok {
			return KeyID{}, inputErrorf(ErrKeyIDPrefix, "wrong prefix: an access key ID starts with AKIA (long-term) or ASIA (temporary)")
		}
	}
	pos := 0
	for _, r := range s {
		pos++
		if !isKeyIDChar(r) {
			msg := fmt.Sprintf("character %q at position %d is not allowed: access key IDs use only A–Z and 2–7", r, pos)
			if r >= 'a' && r <= 'z' {
				msg += " (upper case)"
			}
			return KeyID{}, &InputError{Message: msg, Err: ErrKeyIDCharacter}
		}
	}
	// Twenty allowed characters are twenty bytes, so the prefix was checked.
	return KeyID{id: s}, nil
}

func isKeyIDChar(r rune) bool {
	return (r >= 'A' && r <= 'Z') || (r >= '2' && r <= '7')
}

func inputErrorf(sentinel error, format string, args ...any) *InputError {
	return &InputError{Message: fmt.Sprintf(format, args...), Err: sentinel}
}

// counted is n and word, in the plural unless n is 1.
func counted(n int, word string) string { return fmt.Sprintf("%d %s", n, plural(n, word)) }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// String returns the access key ID. Access key IDs are not secret.
func (k KeyID) String() string { return k.id }

// IsZero reports whether k is the zero KeyID.
func (k KeyID) IsZero() bool { return k.id == "" }

// Kind says whether the key is long-term (AKIA) or temporary (ASIA).
func (k KeyID) Kind() KeyKind {
	if len(k.id) < 4 {
		return 0
	}
	return keyPrefixes[k.id[:4]]
}

// Account decodes the 12-digit AWS account ID that owns the key from the key
// ID itself, without calling AWS. Only keys created since about 2019 carry
// it (their fifth character is Q–Z or 2–7); for older keys such as
// AKIAIOSFODNN7EXAMPLE ok is false. sts:GetAccessKeyInfo remains the
// authority; this is the offline fallback.
//
// The characters after the prefix are base32; the account is bits 1–40 of
// the decoded bytes: (first 6 bytes as a big-endian integer &
// 0x7fffffffff80) >> 7.
func (k KeyID) Account() (account string, ok bool) {
	if len(k.id) != accessKeyIDLen {
		return "", false
	}
	raw, err := base32.StdEncoding.DecodeString(k.id[4:])
	if err != nil || len(raw) < 6 || raw[0]&0x80 == 0 {
		return "", false
	}
	var b [8]byte
	copy(b[2:], raw[:6])
	id := (binary.BigEndian.Uint64(b[:]) & 0x7fffffffff80) >> 7
	if id > 999_999_999_999 {
		return "", false
	}
	s := strconv.FormatUint(id, 10)
	return strings.Repeat("0", 12-len(s)) + s, true
}
