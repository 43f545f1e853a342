package bot

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

const testSlackSecret = "8f742231b10e8888abcd99yyyzzz85a5"

var testSlackNow = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

const testSlashBody = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&channel_id=C2147483705&user_id=U2147483697" +
	"&command=%2Fkeyleak&text=AKIAIOSFODNN7EXAMPLE&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678" +
	"&trigger_id=13345224609.738474920.8088930838d88f008e0"

// newTestSlackVerifier returns a verifier whose clock reads *now and whose
// log goes to the returned buffer. Only the goroutine that calls the
// middleware logs, so the buffer needs no lock.
func newTestSlackVerifier(tb testing.TB, now *time.Time, cfg SlackVerifierConfig) (*SlackVerifier, *bytes.Buffer) {
	tb.Helper()
	logs := &bytes.Buffer{}
	cfg.SigningSecret = []byte(testSlackSecret)
	cfg.Now = func() time.Time { return *now }
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := NewSlackVerifier(cfg)
	if err != nil {
		tb.Fatalf("NewSlackVerifier: %v", err)
	}
	return v, logs
}

// signedSlackRequest builds a POST with body signed at ts.
func signedSlackRequest(tb testing.TB, secret string, ts time.Time, body string) *http.Request {
	tb.Helper()
	r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tsHeader, sigHeader := SignSlackRequest([]byte(secret), ts, []byte(body))
	r.Header.Set(SlackTimestampHeader, tsHeader)
	r.Header.Set(SlackSignatureHeader, sigHeader)
	return r
}

// assertNoSlackSecret fails if s contains the signing secret in any common
// encoding.
func assertNoSlackSecret(tb testing.TB, what, s string) {
	tb.Helper()
	for _, form := range []string{
		testSlackSecret,
		hex.EncodeToString([]byte(testSlackSecret)),
		base64.StdEncoding.EncodeToString([]byte(testSlackSecret)),
		fmt.Sprint([]byte(testSlackSecret)),
		fmt.Sprintf("%#v", []byte(testSlackSecret)),
	} {
		if strings.Contains(s, form) {
			tb.Errorf("%s contains the signing secret (%q)", what, form)
		}
	}
}

func TestRequireSlackSignature(t *testing.T) {
	setHeader := func(name, value string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(name, value) }
	}
	bigBody := strings.Repeat("a", DefaultSlackMaxBody+1)
	tests := []struct {
		name   string
		secret string        // signs the request; testSlackSecret when ""
		age    time.Duration // how long before the clock it was signed
		body   string        // testSlashBody when ""
		mutate func(r *http.Request)
		want   error
	}{
		{name: "good signature"},
		{name: "timestamp 4 minutes old", age: 4 * time.Minute},
		{name: "empty body", body: "-"},
		{name: "upper-case hex signature", mutate: func(r *http.Request) {
			r.Header.Set(SlackSignatureHeader, "v0="+strings.ToUpper(r.Header.Get(SlackSignatureHeader)[3:]))
		}},
		{name: "signed with another secret", secret: "another-secret", want: ErrSlackBadSignature},
		{name: "signature flipped in one digit", want: ErrSlackBadSignature, mutate: func(r *http.Request) {
			sig := []byte(r.Header.Get(SlackSignatureHeader))
			sig[len(sig)-1] ^= 1
			r.Header.Set(SlackSignatureHeader, string(sig))
		}},
		{name: "v1 signature", want: ErrSlackBadSignature, mutate: func(r *http.Request) {
			r.Header.Set(SlackSignatureHeader, "v1="+r.Header.Get(SlackSignatureHeader)[3:])
		}},
		{name: "signature not hexadecimal", want: ErrSlackBadSignature, mutate: setHeader(SlackSignatureHeader, "v0="+strings.Repeat("zz", 32))},
		{name: "body altered after signing", want: ErrSlackBadSignature, mutate: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(testSlashBody, "U2147483697", "U0000000001", 1)))
		}},
		{name: "timestamp header altered after signing", want: ErrSlackBadSignature,
			mutate: setHeader(SlackTimestampHeader, strconv.FormatInt(testSlackNow.Unix()-1, 10))},
		{name: "no signature header", want: ErrSlackMissingHeaders, mutate: func(r *http.Request) { r.Header.Del(SlackSignatureHeader) }},
		{name: "no timestamp header", want: ErrSlackMissingHeaders, mutate: func(r *http.Request) { r.Header.Del(SlackTimestampHeader) }},
		{name: "two signature headers", want: ErrSlackMissingHeaders, mutate: func(r *http.Request) {
			r.Header.Add(SlackSignatureHeader, r.Header.Get(SlackSignatureHeader))
		}},
		{name: "timestamp 6 minutes old", age: 6 * time.Minute, want: ErrSlackStaleTimestamp},
		{name: "timestamp 6 minutes in the future", age: -6 * time.Minute, want: ErrSlackStaleTimestamp},
		{name: "non-numeric timestamp", want: ErrSlackBadTimestamp, mutate: setHeader(SlackTimestampHeader, "yesterday")},
		{name: "signed timestamp with a plus sign", want: ErrSlackBadTimestamp, mutate: func(r *http.Request) {
			ts := "+" + strconv.FormatInt(testSlackNow.Unix(), 10)
			mac := slackMAC([]byte(testSlackSecret), ts, []byte(testSlashBody))
			r.Header.Set(SlackTimestampHeader, ts)
			r.Header.Set(SlackSignatureHeader, "v0="+hex.EncodeToString(mac[:]))
		}},
		{name: "timestamp out of range", want: ErrSlackBadTimestamp, mutate: setHeader(SlackTimestampHeader, "9999999999999999999")},
		{name: "oversized body", body: bigBody, want: ErrSlackBodyTooLarge},
		{name: "oversized body without a length", body: bigBody, want: ErrSlackBodyTooLarge, mutate: func(r *http.Request) {
			r.ContentLength = -1
			r.Body = io.NopCloser(strings.NewReader(bigBody))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			switch body {
			case "":
				body = testSlashBody
			case "-":
				body = ""
			}
			newRequest := func() *http.Request {
				r := signedSlackRequest(t, cmp.Or(tt.secret, testSlackSecret), testSlackNow.Add(-tt.age), body)
				if tt.mutate != nil {
					tt.mutate(r)
				}
				return r
			}
			now := testSlackNow
			v, logs := newTestSlackVerifier(t, &now, SlackVerifierConfig{})

			var called bool
			var gotBody []byte
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				gotBody, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusOK)
			})
			rec := httptest.NewRecorder()
			RequireSlackSignature(v, next).ServeHTTP(rec, newRequest())

			if tt.want == nil {
				if !called || rec.Code != http.StatusOK {
					t.Fatalf("next called = %v, status %d; want the request passed on (log: %s)", called, rec.Code, logs)
				}
				if string(gotBody) != body {
					t.Errorf("next read body %q, want %q", gotBody, body)
				}
				return
			}
			if called {
				t.Fatal("next handler was called for a rejected request")
			}
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", rec.Code)
			}
			if got := rec.Body.String(); got != "unauthorized\n" {
				t.Errorf("body = %q, want a generic one", got)
			}
			if !strings.Contains(logs.String(), "slack request rejected") {
				t.Errorf("rejection not logged: %q", logs)
			}

			// The same request straight to Verify gives the sentinel.
			_, err := v.Verify(newRequest())
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify error = %v, want %v", err, tt.want)
			}
			assertNoSlackSecret(t, "error", err.Error())
			assertNoSlackSecret(t, "log", logs.String())
		})
	}
}

func TestSlackVerifierReplay(t *testing.T) {
	now := testSlackNow
	v, logs := newTestSlackVerifier(t, &now, SlackVerifierConfig{})
	body, err := v.Verify(signedSlackRequest(t, testSlackSecret, now, testSlashBody))
	if err != nil || string(body) != testSlashBody {
		t.Fatalf("first delivery: %q, %v", body, err)
	}

	now = now.Add(2 * time.Minute)
	calls := 0
	h := RequireSlackSignature(v, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls++ }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signedSlackRequest(t, testSlackSecret, testSlackNow, testSlashBody))
	if rec.Code != http.StatusUnauthorized || calls != 0 {
		t.Fatalf("replay: status %d, next called %d times; want 401 and no call", rec.Code, calls)
	}
	if !strings.Contains(logs.String(), ErrSlackReplay.Error()) {
		t.Errorf("replay not logged as such: %q", logs)
	}

	// The same body signed at another second is a new request.
	if _, err := v.Verify(signedSlackRequest(t, testSlackSecret, testSlackNow.Add(time.Second), testSlashBody)); err != nil {
		t.Errorf("same body, new timestamp: %v", err)
	}
}

func TestSlackVerifierReplayCacheBounded(t *testing.T) {
	now := testSlackNow
	v, _ := newTestSlackVerifier(t, &now, SlackVerifierConfig{MaxReplayEntries: 2})
	for i := range 2 {
		if _, err := v.Verify(signedSlackRequest(t, testSlackSecret, now, fmt.Sprintf("n=%d", i))); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	_, err := v.Verify(signedSlackRequest(t, testSlackSecret, now, "n=2"))
	if !errors.Is(err, ErrSlackReplayCacheFull) {
		t.Fatalf("third request with a full cache: %v, want %v", err, ErrSlackReplayCacheFull)
	}

	// Once the first two leave the window they are forgotten and make room.
	now = now.Add(SlackSignatureWindow + time.Second)
	if _, err := v.Verify(signedSlackRequest(t, testSlackSecret, now, "n=2")); err != nil {
		t.Fatalf("request after expiry: %v", err)
	}
	v.mu.Lock()
	entries, heapLen := len(v.seen), len(v.expires)
	v.mu.Unlock()
	if entries != 1 || heapLen != 1 {
		t.Errorf("cache holds %d entries (%d in the heap), want 1", entries, heapLen)
	}
	// A replay of an expired entry is still refused, as stale.
	_, err = v.Verify(signedSlackRequest(t, testSlackSecret, testSlackNow, "n=0"))
	if !errors.Is(err, ErrSlackStaleTimestamp) {
		t.Errorf("replay after expiry: %v, want %v", err, ErrSlackStaleTimestamp)
	}
}

func TestSlackVerifierConcurrentReplay(t *testing.T) {
	now := testSlackNow
	v, _ := newTestSlackVerifier(t, &now, SlackVerifierConfig{})
	ts, sig := SignSlackRequest([]byte(testSlackSecret), now, []byte(testSlashBody))
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(testSlashBody))
			r.Header.Set(SlackTimestampHeader, ts)
			r.Header.Set(SlackSignatureHeader, sig)
			_, errs[i] = v.Verify(r)
		})
	}
	wg.Wait()
	accepted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrSlackReplay):
			t.Errorf("unexpected error %v", err)
		}
	}
	if accepted != 1 {
		t.Errorf("%d of %d identical deliveries accepted, want exactly 1", accepted, n)
	}
}

// TestSignSlackRequestKnownAnswer checks the signature against a request
// signed by Slack (the vector slack-go tests with).
func TestSignSlackRequestKnownAnswer(t *testing.T) {
	const (
		secret  = "e6b19c573432dcc6b075501d51b51bb8"
		body    = `{"token":"aF5ynEYQH0dFN9imlgcADxDB","team_id":"XXXXXXXXX","api_app_id":"YYYYYYYYY","event":{"type":"app_mention","user":"AAAAAAAAA","text":"<@EEEEEEEEE> hello world","client_msg_id":"477cc591-ch73-a14z-4db8-g0cd76321bec","ts":"1531431954.000073","channel":"TTTTTTTTT","event_ts":"1531431954.000073"},"type":"event_callback","event_id":"TvBP7LRED7","event_time":1531431954,"authed_users":["EEEEEEEEE"]}`
		wantTS  = "1531431954"
		wantSig = "v0=adada4ed31709aef585c2580ca3267678c6a8eaeb7e0c1aca3ee57b656886b2c"
	)
	sent := time.Unix(1531431954, 0)
	gotTS, gotSig := SignSlackRequest([]byte(secret), sent, []byte(body))
	if gotTS != wantTS || gotSig != wantSig {
		t.Errorf("SignSlackRequest = %q, %q; want %q, %q", gotTS, gotSig, wantTS, wantSig)
	}

	v, err := NewSlackVerifier(SlackVerifierConfig{SigningSecret: []byte(secret), Now: func() time.Time { return sent.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/slack/events", strings.NewReader(body))
	r.Header.Set(SlackTimestampHeader, wantTS)
	r.Header.Set(SlackSignatureHeader, wantSig)
	if _, err := v.Verify(r); err != nil {
		t.Errorf("Verify of a request signed by Slack: %v", err)
	}
}

// TestSignSlackRequestMatchesSlackGo checks SignSlackRequest against
// slack-go's own verifier, which reads the real clock.
func TestSignSlackRequestMatchesSlackGo(t *testing.T) {
	ts, sig := SignSlackRequest([]byte(testSlackSecret), time.Now(), []byte(testSlashBody))
	h := http.Header{}
	h.Set(SlackTimestampHeader, ts)
	h.Set(SlackSignatureHeader, sig)
	sv, err := slack.NewSecretsVerifier(h, testSlackSecret)
	if err != nil {
		t.Fatalf("slack.NewSecretsVerifier: %v", err)
	}
	if _, err := sv.Write([]byte(testSlashBody)); err != nil {
		t.Fatal(err)
	}
	if err := sv.Ensure(); err != nil {
		t.Errorf("slack-go rejects our signature: %v", err)
	}
}

func TestSlackVerifierDoesNotPrintSecret(t *testing.T) {
	now := testSlackNow
	cfg := SlackVerifierConfig{SigningSecret: []byte(testSlackSecret)}
	v, logs := newTestSlackVerifier(t, &now, SlackVerifierConfig{})
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	logger.Info("configured", "verifier", v, "config", cfg)
	printed := fmt.Sprintf("%v %+v %#v %s %v %+v %#v", v, v, v, v, cfg, cfg, cfg)
	assertNoSlackSecret(t, "printed verifier", printed)
	assertNoSlackSecret(t, "logged verifier", logs.String())
	if !strings.Contains(printed, "[redacted]") {
		t.Errorf("printed verifier %q does not say the secret is redacted", printed)
	}
}

func TestNewSlackVerifierErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  SlackVerifierConfig
	}{
		{name: "no secret", cfg: SlackVerifierConfig{}},
		{name: "negative body cap", cfg: SlackVerifierConfig{SigningSecret: []byte("s"), MaxBody: -1}},
		{name: "negative cache size", cfg: SlackVerifierConfig{SigningSecret: []byte("s"), MaxReplayEntries: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := NewSlackVerifier(tt.cfg); err == nil {
				t.Errorf("NewSlackVerifier = %v, want an error", v)
			}
		})
	}
}

func TestSlackVerifierCopiesSecret(t *testing.T) {
	secret := []byte(testSlackSecret)
	now := testSlackNow
	v, err := NewSlackVerifier(SlackVerifierConfig{SigningSecret: secret, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	if _, err := v.Verify(signedSlackRequest(t, testSlackSecret, now, testSlashBody)); err != nil {
		t.Errorf("Verify after the caller cleared its copy of the secret: %v", err)
	}
}

func FuzzSlackVerify(f *testing.F) {
	now := testSlackNow
	f.Add(strconv.FormatInt(now.Unix(), 10), "", []byte(testSlashBody), true)
	f.Add(strconv.FormatInt(now.Unix()-301, 10), "", []byte("a=b"), true)
	f.Add("+1", "v0=00", []byte{}, false)
	f.Add("", "v0="+strings.Repeat("0", 64), []byte("x"), false)
	f.Add("17635"+strings.Repeat("9", 20), "v0=zz", []byte("x"), false)
	f.Add(" 1763802000", "V0=", []byte("x"), true)
	f.Fuzz(func(t *testing.T, tsHeader, sigHeader string, body []byte, sign bool) {
		v, err := NewSlackVerifier(SlackVerifierConfig{
			SigningSecret: []byte(testSlackSecret),
			Now:           func() time.Time { return now },
			MaxBody:       1 << 10,
		})
		if err != nil {
			t.Fatal(err)
		}
		if sign {
			mac := slackMAC([]byte(testSlackSecret), tsHeader, body)
			sigHeader = "v0=" + hex.EncodeToString(mac[:])
		}
		newRequest := func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			// Set the raw values: the fuzzer may produce what a client would not send.
			r.Header[SlackTimestampHeader] = []string{tsHeader}
			r.Header[SlackSignatureHeader] = []string{sigHeader}
			return r
		}
		got, err := v.Verify(newRequest())
		if err != nil {
			assertNoSlackSecret(t, "error", err.Error())
			return
		}
		// Accepted: everything Slack guarantees must hold.
		ts, perr := strconv.ParseInt(tsHeader, 10, 64)
		if perr != nil || strings.TrimLeft(tsHeader, "0123456789") != "" {
			t.Fatalf("accepted timestamp %q", tsHeader)
		}
		if d := now.Sub(time.Unix(ts, 0)); d > SlackSignatureWindow || d < -SlackSignatureWindow {
			t.Fatalf("accepted timestamp %d, %s from the clock", ts, d)
		}
		mac := slackMAC([]byte(testSlackSecret), tsHeader, body)
		if !strings.EqualFold(sigHeader, "v0="+hex.EncodeToString(mac[:])) {
			t.Fatalf("accepted signature %q for a body it does not sign", sigHeader)
		}
		if !bytes.Equal(got, body) || len(got) > 1<<10 {
			t.Fatalf("returned body %q, want %q", got, body)
		}
		if _, err := v.Verify(newRequest()); !errors.Is(err, ErrSlackReplay) {
			t.Fatalf("second delivery: %v, want %v", err, ErrSlackReplay)
		}
	})
}
