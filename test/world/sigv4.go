package world

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Errors from reading a request's SigV4 signature.
var (
	errNoSignature  = errors.New("request is not signed with sigv4")
	errBadSignature = errors.New("malformed sigv4 authorization")
)

const sigV4Algorithm = "AWS4-HMAC-SHA256"

// signature is the SigV4 signature of a request, from its Authorization header or, for a
// presigned URL, its query string.
type signature struct {
	AccessKeyID   string
	Date          string // YYYYMMDD of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	AmzDate       string // X-Amz-Date
	SecurityToken string
	Presigned     bool
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/iam/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex".
func parseAuthorization(header string) (signature, error) {
	var sig signature
	rest, ok := strings.CutPrefix(header, sigV4Algorithm+" ")
	if !ok {
		return sig, errBadSignature
	}
	var credential, signed string
	for part := range strings.SplitSeq(rest, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return sig, errBadSignature
		}
		switch key {
		case "Credential":
			credential = value
		case "SignedHeaders":
			signed = value
		case "Signature":
			sig.Signature = value
		}
	}
	if err := sig.setScope(credential, signed); err != nil {
		return sig, err
	}
	return sig, nil
}

func (s *signature) setScope(credential, signed string) error {
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || s.Signature == "" || signed == "" {
		return errBadSignature
	}
	for _, p := range parts[:4] {
		if p == "" {
			return errBadSignature
		}
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	s.SignedHeaders = strings.Split(signed, ";")
	return nil
}

// requestSignature reads the signature of r from its Authorization header or presigned query.
func requestSignature(r *http.Request) (signature, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		sig, err := parseAuthorization(h)
		if err != nil {
			return sig, err
		}
		sig.AmzDate = r.Header.Get("X-Amz-Date")
		sig.SecurityToken = r.Header.Get("X-Amz-Security-Token")
		return sig, nil
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != sigV4Algorithm {
		return signature{}, errNoSignature
	}
	sig := signature{Signature: q.Get("X-Amz-Signature"), Presigned: true}
	if err := sig.setScope(q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders")); err != nil {
		return sig, err
	}
	sig.AmzDate = q.Get("X-Amz-Date")
	sig.SecurityToken = q.Get("X-Amz-Security-Token")
	return sig, nil
}

// verify reports whether sig is a valid signature of r (whose body is body) with secret.
// Paths are tried both as sent and escaped once more, since S3 signs the path as is and
// every other service escapes it again.
func (s signature) verify(r *http.Request, body []byte, secret string) bool {
	if s.AmzDate == "" {
		return false
	}
	key := signingKey(secret, s.Date, s.Region, s.Service)
	scope := strings.Join([]string{s.Date, s.Region, s.Service, "aws4_request"}, "/")
	rawPath := r.URL.EscapedPath()
	if strings.HasPrefix(r.RequestURI, "/") { // the path exactly as sent
		rawPath, _, _ = strings.Cut(r.RequestURI, "?")
	}
	if rawPath == "" {
		rawPath = "/"
	}
	paths := []string{rawPath}
	if s.Service != "s3" {
		paths = []string{escapePath(rawPath), rawPath}
	}
	for _, p := range paths {
		canonical := s.canonicalRequest(r, body, p)
		sum := sha256.Sum256([]byte(canonical))
		toSign := sigV4Algorithm + "\n" + s.AmzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
		want := hex.EncodeToString(hmacSHA256(key, toSign))
		if hmac.Equal([]byte(want), []byte(s.Signature)) {
			return true
		}
	}
	return false
}

func (s signature) canonicalRequest(r *http.Request, body []byte, path string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, s.Presigned))
	b.WriteByte('\n')
	for _, name := range s.SignedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(s.SignedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash(r, body, s.Presigned))
	return b.String()
}

func payloadHash(r *http.Request, body []byte, presigned bool) string {
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		return h
	}
	if presigned {
		return "UNSIGNED-PAYLOAD"
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func canonicalHeaderValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		return strconv.FormatInt(r.ContentLength, 10)
	}
	values := r.Header.Values(name)
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(trimmed, ",")
}

func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return "" // a query that does not parse cannot match any signature
	}
	if presigned {
		values.Del("X-Amz-Signature")
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(values))
	for k, vs := range values {
		for _, v := range vs {
			pairs = append(pairs, pair{awsEscape(k, true), awsEscape(v, true)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool { // SigV4 sorts after encoding, by key then value
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// escapePath escapes a path the way SigV4 does for every service but S3.
func escapePath(p string) string { return awsEscape(p, false) }

// awsEscape percent-encodes every byte but the unreserved characters (and '/' unless
// encodeSep).
func awsEscape(s string, encodeSep bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~'
		if unreserved || c == '/' && !encodeSep {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
