package commands

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Redaction replaces every secret Redact finds.
const Redaction = "[REDACTED secret]"

// SecretWarning is the reply to a message in which Redact found a secret.
const SecretWarning = "Your message contained what looks like an AWS secret access key or session token. " +
	"keyleak did not store, log or repeat it, but it is now exposed: treat it as compromised. " +
	"Deactivate the key and create a new one (rotate it), and delete your message if it is still visible. " +
	"Never paste secret keys into chat; the access key ID (AKIA… or ASIA…) is all keyleak needs."

// SecretKind says what a detected secret looks like.
type SecretKind int

// The kinds of secret FindSecrets detects.
const (
	KindSecretAccessKey SecretKind = iota + 1
	KindSessionToken
)

func (k SecretKind) String() string {
	switch k {
	case KindSecretAccessKey:
		return "secret access key"
	case KindSessionToken:
		return "session token"
	}
	return fmt.Sprintf("SecretKind(%d)", int(k))
}

// Span locates a secret in a text: text[Start:End], byte offsets.
type Span struct {
	Start, End int
	Kind       SecretKind
}

const (
	secretKeyLen = 40
	// minSecretKeyEntropy is in bits per character. Random 40-character
	// keys fall below it about once in two million (measured); git hashes
	// (3.7), access key IDs, words and paths mostly do.
	minSecretKeyEntropy = 4.1
	// minSessionTokenLen is shorter than any real STS token (300+
	// characters) so that a truncated paste is caught too.
	minSessionTokenLen = 100
)

// FindSecrets returns where text contains what looks like an AWS secret
// access key or session token, in order and without overlaps. It fails
// closed: what has a key's shape is reported wherever it stands, in a URL
// (user info, path or query), in Slack's <url|label> markup, glued after a
// '/', or percent-encoded, at the cost of now and then a URL segment that
// only looked like a key.
//
// A secret access key is 40 characters from [A-Za-z0-9/+], a whole run of
// them (bounded by other characters, so KEY=… and key:… are found) or the
// part of a longer run between two '/' (a path segment, s3a://…/KEY), that
// mixes lower and upper case, has the entropy of random text, is not a path
// of word-like segments or a CamelCase identifier, and is not base64 of
// plain text. Access key IDs (20 characters), hex digests (one case) and
// words fail these tests.
//
// The base64 of such a key (54 characters and padding, as Kubernetes
// Secrets and Docker configs hold it) counts as the key.
//
// A session token is a run of at least 100 base64 characters (percent
// escapes included, as in presigned URLs) that starts like an STS token.
//
// Text with percent escapes is also read decoded (up to three times, for
// escapes of escapes), and what is found there is reported as the escaped
// bytes it came from.
func FindSecrets(text string) []Span {
	spans := findSecretsIn(text)
	view, offsets := text, []int(nil)
	for range 3 {
		if !strings.Contains(view, "%") {
			break
		}
		decoded, back := percentDecode(view)
		if decoded == view {
			break
		}
		offsets = composeOffsets(offsets, back)
		view = decoded
		for _, s := range findSecretsIn(view) {
			spans = append(spans, Span{Start: offsets[s.Start], End: offsets[s.End], Kind: s.Kind})
		}
	}
	return mergeSpans(spans)
}

// findSecretsIn is FindSecrets on text as it stands.
func findSecretsIn(text string) []Span {
	var tokens []Span
	for start, end := range runs(text, isTokenByte) {
		if end-start >= minSessionTokenLen && looksLikeSessionToken(text[start:end]) {
			tokens = append(tokens, Span{Start: start, End: withPadding(text, end), Kind: KindSessionToken})
		}
	}
	spans := slices.Clone(tokens)
	next := 0 // the first token that may overlap the current run
	for start, end := range runs(text, isKeyByte) {
		for next < len(tokens) && tokens[next].End <= start {
			next++
		}
		if end-start < secretKeyLen || next < len(tokens) && tokens[next].Start < end {
			continue
		}
		if end-start == base64KeyLen && isBase64Key(text[start:end]) {
			spans = append(spans, Span{Start: start, End: withPadding(text, end), Kind: KindSecretAccessKey})
			continue
		}
		for _, at := range keyWindows(text, start, end) {
			if looksLikeSecretKey(text[at : at+secretKeyLen]) {
				spans = append(spans, Span{Start: at, End: at + secretKeyLen, Kind: KindSecretAccessKey})
			}
		}
	}
	sortSpans(spans)
	return spans
}

// base64KeyLen is the length of a key in base64 without its padding, as
// Kubernetes Secrets and Docker configs hold it.
const base64KeyLen = 54

// isBase64Key reports whether s is the base64 of a secret access key.
func isBase64Key(s string) bool {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b) != secretKeyLen {
		return false
	}
	for _, c := range b {
		if !isKeyByte(c) {
			return false
		}
	}
	return looksLikeSecretKey(string(b))
}

// keyWindows are the starts of the 40-byte windows of the run
// text[start:end] that may be a key: the whole run when it is 40 bytes,
// else each window that starts at the run's start or after a '/' and ends
// at its end or before a '/'.
func keyWindows(text string, start, end int) []int {
	if end-start == secretKeyLen {
		return []int{start}
	}
	var out []int
	for at := start; at+secretKeyLen <= end; at++ {
		if (at == start || text[at-1] == '/') && (at+secretKeyLen == end || text[at+secretKeyLen] == '/') {
			out = append(out, at)
		}
	}
	return out
}

// percentDecode decodes %XX escapes; back[i] is the byte of text that
// decoded byte i came from, and back[len(decoded)] is len(text).
func percentDecode(text string) (string, []int) {
	var b strings.Builder
	back := make([]int, 0, len(text)+1)
	for i := 0; i < len(text); i++ {
		if text[i] == '%' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]) {
			b.WriteByte(unhex(text[i+1])<<4 | unhex(text[i+2]))
			back = append(back, i)
			i += 2
			continue
		}
		b.WriteByte(text[i])
		back = append(back, i)
	}
	return b.String(), append(back, len(text))
}

// composeOffsets maps offsets of the newest decoded view (back) to the
// original text, through the earlier views (outer; nil for the first).
func composeOffsets(outer, back []int) []int {
	if outer == nil {
		return back
	}
	out := make([]int, len(back))
	for i, o := range back {
		out[i] = outer[o]
	}
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// mergeSpans sorts spans and joins those that overlap, so that the result
// is in order and disjoint; a joined span keeps the first one's kind.
func mergeSpans(spans []Span) []Span {
	sortSpans(spans)
	var out []Span
	for _, s := range spans {
		if n := len(out); n > 0 && s.Start < out[n-1].End {
			out[n-1].End = max(out[n-1].End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

// Redact returns text with every secret FindSecrets finds replaced by
// Redaction, and whether it found any. Every other copy of a found secret,
// even inside a longer word, is removed too, and the result is checked
// again until nothing is left, so FindSecrets finds nothing in it.
func Redact(text string) (string, bool) {
	found := false
	// Each pass removes at least 40 characters of runs long enough to be
	// secrets and adds none, so the loop ends.
	for {
		spans := FindSecrets(text)
		if len(spans) == 0 {
			return text, found
		}
		found = true
		text = replaceSpans(text, withCopies(text, spans))
	}
}

// withCopies adds to spans every other occurrence of the secrets they
// locate, each widened to the run of base64 characters around it. It looks
// each window of 40 bytes up by the secrets' first 40 bytes, so its cost
// grows with the text, not with the text times the secrets.
func withCopies(text string, spans []Span) []Span {
	byPrefix := make(map[string][]Span, len(spans)) // distinct secrets only
	seen := make(map[string]bool, len(spans))
	for _, s := range spans {
		if v := text[s.Start:s.End]; !seen[v] {
			seen[v] = true
			p := v[:secretKeyLen]
			byPrefix[p] = append(byPrefix[p], s)
		}
	}
	all := slices.Clone(spans)
	for start, end := range runs(text, isTokenByte) {
		if kind, ok := copyIn(text, start, end, byPrefix, spans); ok {
			all = append(all, Span{Start: start, End: withPadding(text, end), Kind: kind})
		}
	}
	sortSpans(all)
	return all
}

// copyIn reports whether text[start:end] holds a copy of a secret that
// spans do not already cover, and the copy's kind.
func copyIn(text string, start, end int, byPrefix map[string][]Span, spans []Span) (SecretKind, bool) {
	for i := start; i+secretKeyLen <= end; i++ {
		for _, s := range byPrefix[text[i:i+secretKeyLen]] {
			if strings.HasPrefix(text[i:], text[s.Start:s.End]) && !overlaps(spans, i, i+s.End-s.Start) {
				return s.Kind, true
			}
		}
	}
	return 0, false
}

// replaceSpans replaces the union of the sorted spans with Redaction.
func replaceSpans(text string, spans []Span) string {
	var b strings.Builder
	last := 0
	for _, s := range spans {
		if s.End <= last {
			continue
		}
		if s.Start >= last {
			b.WriteString(text[last:s.Start])
			b.WriteString(Redaction)
		}
		last = s.End
	}
	b.WriteString(text[last:])
	return b.String()
}

func sortSpans(spans []Span) {
	slices.SortFunc(spans, func(a, b Span) int { return a.Start - b.Start })
}

// overlaps reports whether text[start:end] overlaps one of the sorted,
// disjoint spans.
func overlaps(spans []Span, start, end int) bool {
	i, _ := slices.BinarySearchFunc(spans, start, func(s Span, at int) int {
		if s.End <= at {
			return -1
		}
		return 1
	})
	return i < len(spans) && spans[i].Start < end
}

// runs yields the start and end of every maximal run of bytes in text for
// which in is true.
func runs(text string, in func(byte) bool) func(yield func(int, int) bool) {
	return func(yield func(int, int) bool) {
		for i := 0; i < len(text); {
			if !in(text[i]) {
				i++
				continue
			}
			j := i + 1
			for j < len(text) && in(text[j]) {
				j++
			}
			if !yield(i, j) {
				return
			}
			i = j
		}
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isKeyByte reports whether c can appear in a secret access key. '=' cannot:
// it separates KEY=value.
func isKeyByte(c byte) bool { return isAlnum(c) || c == '/' || c == '+' }

// isTokenByte reports whether c can appear in a base64 token, plain or
// percent-escaped, before its padding. '=' cannot: it separates KEY=value.
func isTokenByte(c byte) bool { return isKeyByte(c) || c == '%' }

// withPadding extends the end of a base64 run over its '=' padding.
func withPadding(text string, end int) int {
	for n := 0; n < 2 && end < len(text) && text[end] == '='; n++ {
		end++
	}
	return end
}

func looksLikeSecretKey(s string) bool {
	var lower, upper bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		}
	}
	return lower && upper && entropy(s) >= minSecretKeyEntropy && !isWordPath(s) && !isCamelWords(s) && !isBase64Text(s)
}

// isCamelWords reports whether s is a CamelCase identifier: capitalised
// words of lower-case letters, with digits between them, such as
// AbstractSingletonProxyFactoryBeanWrapper. A random key almost never is.
func isCamelWords(s string) bool {
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			i++
		case c >= 'A' && c <= 'Z' && i+2 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z':
			i++
			for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
				i++
			}
		default:
			return false
		}
	}
	return true
}

// isBase64Text reports whether s is base64 of printable ASCII, such as an
// encoded sentence. The 30 random bytes behind a key almost never are.
func isBase64Text(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return false
	}
	for _, c := range b {
		if c < ' ' && c != '\t' && c != '\n' && c != '\r' || c > '~' {
			return false
		}
	}
	return true
}

// entropy returns the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// isWordPath reports whether s is a path such as /Users/alice/Library/x1:
// at least two slashes and every segment a word (an optional capital, then
// lower case and digits). A random key almost never is.
func isWordPath(s string) bool {
	if strings.Count(s, "/") < 2 {
		return false
	}
	for seg := range strings.SplitSeq(s, "/") {
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i == 0 && c >= 'A' && c <= 'Z' {
				continue
			}
			return false
		}
	}
	return true
}

// looksLikeSessionToken reports whether s starts as STS session tokens do:
// a four-character header whose third character is 'o', then base64 of
// "origin_ec…" in current tokens (IQoJb3JpZ2luX2Vj…), of "er/aws" or "aws"
// in older ones (FwoGZXIvYXdzE…, AQoDYXdzE…).
func looksLikeSessionToken(s string) bool {
	if len(s) < 4 || s[2] != 'o' {
		return false
	}
	rest := s[4:]
	return strings.HasPrefix(rest, "b3JpZ2luX2Vj") || strings.HasPrefix(rest, "ZXIvYXdzE") || strings.HasPrefix(rest, "YXdzE")
}
