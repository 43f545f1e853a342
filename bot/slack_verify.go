package bot

import (
	"bytes"
	"container/heap"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Slack's request signing, version v0.
const (
	SlackTimestampHeader = "X-Slack-Request-Timestamp"
	SlackSignatureHeader = "X-Slack-Signature"
	// SlackSignatureWindow is how far a request's timestamp may be from the
	// clock, either way.
	SlackSignatureWindow = 5 * time.Minute

	// DefaultSlackMaxBody is the default cap on a request body. Slash
	// commands and interaction payloads are a few KiB.
	DefaultSlackMaxBody = 64 << 10
	// DefaultSlackMaxReplayEntries bounds the replay cache: signatures seen
	// within the last window (about 5 MB at most).
	DefaultSlackMaxReplayEntries = 50_000

	slackSignaturePrefix = "v0="
	slackTimestampDigits = 19 // enough for any int64 number of seconds
)

// Reasons a Slack request is rejected. Check them with errors.Is; the HTTP
// layer answers 401 to all of them.
var (
	ErrSlackMissingHeaders  = errors.New("slack signature: missing signature headers")
	ErrSlackBadTimestamp    = errors.New("slack signature: malformed timestamp")
	ErrSlackStaleTimestamp  = errors.New("slack signature: timestamp outside the window")
	ErrSlackBadSignature    = errors.New("slack signature: bad signature")
	ErrSlackReplay          = errors.New("slack signature: replayed request")
	ErrSlackBodyTooLarge    = errors.New("slack signature: body too large")
	ErrSlackReplayCacheFull = errors.New("slack signature: replay cache full")
)

// SlackVerifierConfig configures a SlackVerifier.
type SlackVerifierConfig struct {
	// SigningSecret is the Slack app's signing secret; required. It is
	// copied, and never logged or printed.
	SigningSecret []byte
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxBody caps the request body in bytes; DefaultSlackMaxBody when 0.
	MaxBody int64
	// MaxReplayEntries bounds the replay cache;
	// DefaultSlackMaxReplayEntries when 0.
	MaxReplayEntries int
	// Logger records rejections (never the secret, signature or body);
	// slog.DiscardHandler when nil.
	Logger *slog.Logger
}

// String describes the configuration without its secret.
func (c SlackVerifierConfig) String() string {
	return fmt.Sprintf("SlackVerifierConfig{SigningSecret: [redacted], MaxBody: %d, MaxReplayEntries: %d}",
		c.MaxBody, c.MaxReplayEntries)
}

// GoString is String, so %#v does not print the secret either.
func (c SlackVerifierConfig) GoString() string { return c.String() }

// LogValue keeps the secret out of structured logs.
func (c SlackVerifierConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// SlackVerifier authenticates requests from Slack by their v0 signature
// before anything parses them: timestamp within SlackSignatureWindow of the
// clock, HMAC-SHA256 compared in constant time over the raw body, and each
// signature accepted once. It is safe for concurrent use.
//
// A request whose signature is already in the replay cache is refused; the
// cache forgets a signature once its timestamp leaves the window, when the
// request would be refused as stale anyway. If the cache is full of
// signatures still inside the window, new requests are refused rather than
// opening a gap for replays.
type SlackVerifier struct {
	secret     []byte
	now        func() time.Time
	maxBody    int64
	maxEntries int
	log        *slog.Logger

	mu      sync.Mutex
	seen    map[[sha256.Size]byte]struct{}
	expires expiryHeap
}

// NewSlackVerifier checks cfg and returns a verifier.
func NewSlackVerifier(cfg SlackVerifierConfig) (*SlackVerifier, error) {
	if len(cfg.SigningSecret) == 0 {
		return nil, errors.New("new slack verifier: signing secret is required")
	}
	if cfg.MaxBody < 0 || cfg.MaxReplayEntries < 0 {
		return nil, errors.New("new slack verifier: limits must not be negative")
	}
	v := &SlackVerifier{
		secret:     bytes.Clone(cfg.SigningSecret),
		now:        cfg.Now,
		maxBody:    cfg.MaxBody,
		maxEntries: cfg.MaxReplayEntries,
		log:        cfg.Logger,
		seen:       make(map[[sha256.Size]byte]struct{}),
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxBody == 0 {
		v.maxBody = DefaultSlackMaxBody
	}
	if v.maxEntries == 0 {
		v.maxEntries = DefaultSlackMaxReplayEntries
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	return v, nil
}

// String describes the verifier without its secret.
func (v *SlackVerifier) String() string {
	return fmt.Sprintf("SlackVerifier{SigningSecret: [redacted], MaxBody: %d, MaxReplayEntries: %d}", v.maxBody, v.maxEntries)
}

// GoString is String, so %#v does not print the secret either.
func (v *SlackVerifier) GoString() string { return v.String() }

// LogValue keeps the secret out of structured logs.
func (v *SlackVerifier) LogValue() slog.Value { return slog.StringValue(v.String()) }

// RequireSlackSignature passes to next only requests that v verifies, with
// the body restored for next to parse. Anything else gets 401 with a generic
// body, and the reason goes to v's logger.
func RequireSlackSignature(v *SlackVerifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.Verify(r)
		if err != nil {
			v.log.LogAttrs(r.Context(), slog.LevelWarn, "slack request rejected",
				slog.String("reason", err.Error()),
				slog.String("path", r.URL.Path),
				slog.String("remote_addr", r.RemoteAddr))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// Verify authenticates r and returns its raw body for the caller to parse.
// It reads r.Body (at most the configured cap) and does not restore it.
// Errors wrap the ErrSlack… sentinels and never contain the secret, the
// signature or the body.
func (v *SlackVerifier) Verify(r *http.Request) ([]byte, error) {
	tsHeader, err := singleHeader(r.Header, SlackTimestampHeader)
	if err != nil {
		return nil, err
	}
	sigHeader, err := singleHeader(r.Header, SlackSignatureHeader)
	if err != nil {
		return nil, err
	}
	ts, err := parseSlackTimestamp(tsHeader)
	if err != nil {
		return nil, err
	}
	now := v.now()
	sent := time.Unix(ts, 0)
	if skew := now.Sub(sent); skew > SlackSignatureWindow || skew < -SlackSignatureWindow {
		return nil, fmt.Errorf("%w: timestamp %d is %s from the clock", ErrSlackStaleTimestamp, ts, skew.Round(time.Second))
	}
	got, err := parseSlackSignature(sigHeader)
	if err != nil {
		return nil, err
	}
	body, err := v.readBody(r)
	if err != nil {
		return nil, err
	}
	want := slackMAC(v.secret, tsHeader, body)
	if !hmac.Equal(got[:], want[:]) {
		return nil, ErrSlackBadSignature
	}
	if err := v.remember(want, sent.Add(SlackSignatureWindow), now); err != nil {
		return nil, err
	}
	return body, nil
}

// SignSlackRequest signs body as Slack does at time ts and returns the
// values of the X-Slack-Request-Timestamp and X-Slack-Signature headers.
func SignSlackRequest(secret []byte, ts time.Time, body []byte) (timestampHeader, signatureHeader string) {
	timestampHeader = strconv.FormatInt(ts.Unix(), 10)
	mac := slackMAC(secret, timestampHeader, body)
	return timestampHeader, slackSignaturePrefix + hex.EncodeToString(mac[:])
}

func slackMAC(secret []byte, timestamp string, body []byte) [sha256.Size]byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("v0:"))
	h.Write([]byte(timestamp))
	h.Write([]byte(":"))
	h.Write(body)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func singleHeader(h http.Header, name string) (string, error) {
	values := h.Values(name)
	switch {
	case len(values) == 0 || values[0] == "":
		return "", fmt.Errorf("%w: no %s", ErrSlackMissingHeaders, name)
	case len(values) > 1:
		return "", fmt.Errorf("%w: %d %s headers", ErrSlackMissingHeaders, len(values), name)
	}
	return values[0], nil
}

// parseSlackTimestamp accepts only what Slack sends: decimal seconds, no
// sign, no spaces. The signature covers the header as sent, so anything
// looser would sign a string Slack never produces.
func parseSlackTimestamp(s string) (int64, error) {
	if len(s) > slackTimestampDigits {
		return 0, fmt.Errorf("%w: %d characters", ErrSlackBadTimestamp, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: not a decimal number", ErrSlackBadTimestamp)
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: out of range", ErrSlackBadTimestamp)
	}
	return ts, nil
}

func parseSlackSignature(s string) ([sha256.Size]byte, error) {
	var mac [sha256.Size]byte
	if len(s) != len(slackSignaturePrefix)+2*sha256.Size || s[:len(slackSignaturePrefix)] != slackSignaturePrefix {
		return mac, fmt.Errorf("%w: not a v0 signature", ErrSlackBadSignature)
	}
	if _, err := hex.Decode(mac[:], []byte(s[len(slackSignaturePrefix):])); err != nil {
		return mac, fmt.Errorf("%w: not hexadecimal", ErrSlackBadSignature)
	}
	return mac, nil
}

func (v *SlackVerifier) readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > v.maxBody {
		return nil, fmt.Errorf("%w: %d bytes declared, the limit is %d", ErrSlackBodyTooLarge, r.ContentLength, v.maxBody)
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, v.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read slack request body: %w", err)
	}
	if int64(len(body)) > v.maxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrSlackBodyTooLarge, v.maxBody)
	}
	return body, nil
}

// remember records a verified signature until expiry, or reports that it
// was seen before.
func (v *SlackVerifier) remember(mac [sha256.Size]byte, expiry, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.expires) > 0 && now.After(v.expires[0].at) {
		delete(v.seen, heap.Pop(&v.expires).(expiryEntry).mac)
	}
	if _, ok := v.seen[mac]; ok {
		return ErrSlackReplay
	}
	if len(v.seen) >= v.maxEntries {
		return fmt.Errorf("%w: %d signatures inside the window", ErrSlackReplayCacheFull, len(v.seen))
	}
	v.seen[mac] = struct{}{}
	heap.Push(&v.expires, expiryEntry{at: expiry, mac: mac})
	return nil
}

type expiryEntry struct {
	at  time.Time
	mac [sha256.Size]byte
}

// expiryHeap is a min-heap of replay cache entries by expiry.
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
