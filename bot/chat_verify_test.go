package bot

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testEndpointURL   = "https://keyleak.example.com/chat/events"
	testProjectNumber = "123456789012"
)

var testNow = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

type testKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func newTestKey(tb testing.TB, kid string) testKey {
	tb.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("generate key: %v", err)
	}
	return testKey{kid: kid, priv: priv}
}

// keyServer publishes keys as Google does: a JWKS at /jwks and a kid→X.509
// PEM map at /x509.
type keyServer struct {
	srv     *httptest.Server
	fetches atomic.Int32

	mu     sync.Mutex
	keys   []testKey
	maxAge int
	down   bool
}

func newKeyServer(tb testing.TB, keys ...testKey) *keyServer {
	tb.Helper()
	ks := &keyServer{keys: keys, maxAge: 300}
	ks.srv = httptest.NewServer(http.HandlerFunc(ks.serve))
	tb.Cleanup(ks.srv.Close)
	return ks
}

func (ks *keyServer) add(k testKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys = append(ks.keys, k)
}

func (ks *keyServer) setDown(down bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.down = down
}

func (ks *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.fetches.Add(1)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.down {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	var doc any
	switch r.URL.Path {
	case "/jwks":
		var jwks []map[string]string
		for _, k := range ks.keys {
			jwks = append(jwks, map[string]string{
				"kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.kid,
				"n": base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
			})
		}
		doc = map[string]any{"keys": jwks}
	case "/x509":
		certs := make(map[string]string)
		for _, k := range ks.keys {
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(1),
				Subject:      pkix.Name{CommonName: ChatServiceAccount},
				NotBefore:    testNow.Add(-time.Hour),
				NotAfter:     testNow.Add(24 * time.Hour),
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.priv.PublicKey, k.priv)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			certs[k.kid] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		}
		doc = certs
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(ks.maxAge)+", must-revalidate")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

func segment(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signRS256 builds a compact JWT signed with key (the header's kid may differ).
func signRS256(tb testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	tb.Helper()
	input := segment(tb, header) + "." + segment(tb, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func endpointClaims() map[string]any {
	return map[string]any{
		"iss": "https://accounts.google.com", "aud": testEndpointURL, "azp": "113", "sub": "113",
		"email": ChatServiceAccount, "email_verified": true,
		"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(59 * time.Minute).Unix(),
	}
}

func projectClaims() map[string]any {
	return map[string]any{
		"iss": ChatServiceAccount, "aud": testProjectNumber,
		"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(59 * time.Minute).Unix(),
	}
}

func with(claims map[string]any, key string, value any) map[string]any {
	if value == nil {
		delete(claims, key)
	} else {
		claims[key] = value
	}
	return claims
}

type verifierSet struct {
	keys     *keyServer
	good     testKey
	endpoint *ChatVerifier
	project  *ChatVerifier
	now      *atomic.Int64 // unix nanoseconds
}

func newVerifierSet(tb testing.TB) *verifierSet {
	tb.Helper()
	good := newTestKey(tb, "kid-good")
	ks := newKeyServer(tb, good)
	now := new(atomic.Int64)
	now.Store(testNow.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	newVerifier := func(typ ChatAudienceType, audience, path string) *ChatVerifier {
		v, err := NewChatVerifier(ChatVerifierConfig{
			AudienceType: typ, Audience: audience, KeysURL: ks.srv.URL + path,
			HTTPClient: ks.srv.Client(), Now: clock,
		})
		if err != nil {
			tb.Fatalf("new verifier: %v", err)
		}
		return v
	}
	return &verifierSet{
		keys:     ks,
		good:     good,
		endpoint: newVerifier(ChatAudienceEndpointURL, testEndpointURL, "/jwks"),
		project:  newVerifier(ChatAudienceProjectNumber, testProjectNumber, "/x509"),
		now:      now,
	}
}

func TestChatVerifier(t *testing.T) {
	vs := newVerifierSet(t)
	other := newTestKey(t, "kid-other")
	hdr := map[string]any{"alg": "RS256", "kid": "kid-good", "typ": "JWT"}
	valid := signRS256(t, vs.good.priv, hdr, endpointClaims())
	pubDER, err := x509.MarshalPKIXPublicKey(&vs.good.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs256 := func() string {
		input := segment(t, map[string]any{"alg": "HS256", "kid": "kid-good"}) + "." + segment(t, endpointClaims())
		mac := hmac.New(sha256.New, pubPEM)
		mac.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}()
	validParts := strings.Split(valid, ".")
	validSig, err := base64.RawURLEncoding.DecodeString(validParts[2])
	if err != nil {
		t.Fatal(err)
	}
	truncatedSig := validParts[0] + "." + validParts[1] + "." + base64.RawURLEncoding.EncodeToString(validSig[:len(validSig)-3])
	none := segment(t, map[string]any{"alg": "none", "kid": "kid-good"}) + "." + segment(t, endpointClaims())

	tests := []struct {
		name    string
		project bool // verify in project-number mode
		auth    string
		wantErr error
	}{
		{name: "endpoint URL mode valid", auth: "Bearer " + valid},
		{name: "endpoint URL mode issuer without scheme", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "iss", "accounts.google.com"))},
		{name: "endpoint URL mode email_verified as string", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "email_verified", "true"))},
		{name: "endpoint URL mode audience array", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "aud", []string{"x", testEndpointURL}))},
		{name: "expired within clock skew", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "exp", testNow.Add(-20*time.Second).Unix()))},
		{name: "project number mode valid", project: true, auth: "Bearer " + signRS256(t, vs.good.priv, hdr, projectClaims())},
		{name: "lower-case bearer scheme", auth: "bearer " + valid},
		{name: "forged by another key", auth: "Bearer " + signRS256(t, other.priv, hdr, endpointClaims()), wantErr: ErrChatTokenSignature},
		{name: "forged by another key project mode", project: true, auth: "Bearer " + signRS256(t, other.priv, hdr, projectClaims()), wantErr: ErrChatTokenSignature},
		{name: "wrong audience", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "aud", "https://evil.example.com/")), wantErr: ErrChatTokenAudience},
		{name: "missing audience", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "aud", nil)), wantErr: ErrChatTokenAudience},
		{name: "wrong audience project mode", project: true, auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(projectClaims(), "aud", "999")), wantErr: ErrChatTokenAudience},
		{name: "wrong issuer", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "iss", "https://evil.example.com")), wantErr: ErrChatTokenIssuer},
		{name: "ID token issuer in project mode", project: true, auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(projectClaims(), "iss", "https://accounts.google.com")), wantErr: ErrChatTokenIssuer},
		{name: "wrong email", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "email", "attacker@evil.example.com")), wantErr: ErrChatTokenEmail},
		{name: "email_verified false", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "email_verified", false)), wantErr: ErrChatTokenEmail},
		{name: "email_verified missing", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "email_verified", nil)), wantErr: ErrChatTokenEmail},
		{name: "expired", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "exp", testNow.Add(-time.Minute).Unix())), wantErr: ErrChatTokenExpired},
		{name: "expired project mode", project: true, auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(projectClaims(), "exp", testNow.Add(-time.Minute).Unix())), wantErr: ErrChatTokenExpired},
		{name: "no exp", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "exp", nil)), wantErr: ErrChatTokenMalformed},
		{name: "issued in the future", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "iat", testNow.Add(time.Minute).Unix())), wantErr: ErrChatTokenNotYetValid},
		{name: "not before in the future", auth: "Bearer " + signRS256(t, vs.good.priv, hdr, with(endpointClaims(), "nbf", testNow.Add(time.Minute).Unix())), wantErr: ErrChatTokenNotYetValid},
		{name: "unknown kid", auth: "Bearer " + signRS256(t, other.priv, map[string]any{"alg": "RS256", "kid": "kid-other"}, endpointClaims()), wantErr: ErrChatTokenUnknownKey},
		{name: "no kid", auth: "Bearer " + signRS256(t, vs.good.priv, map[string]any{"alg": "RS256"}, endpointClaims()), wantErr: ErrChatTokenUnknownKey},
		{name: "missing header", auth: "", wantErr: ErrChatTokenMissing},
		{name: "basic scheme", auth: "Basic " + valid, wantErr: ErrChatTokenMissing},
		{name: "bearer without token", auth: "Bearer ", wantErr: ErrChatTokenMissing},
		{name: "alg none unsigned", auth: "Bearer " + none + ".", wantErr: ErrChatTokenMalformed},
		{name: "alg none with signature", auth: "Bearer " + none + ".c2ln", wantErr: ErrChatTokenAlgorithm},
		{name: "HS256 with the public key as secret", auth: "Bearer " + hs256, wantErr: ErrChatTokenAlgorithm},
		{name: "RS512", auth: "Bearer " + signRS256(t, vs.good.priv, map[string]any{"alg": "RS512", "kid": "kid-good"}, endpointClaims()), wantErr: ErrChatTokenAlgorithm},
		{name: "truncated to two parts", auth: "Bearer " + valid[:strings.LastIndex(valid, ".")], wantErr: ErrChatTokenMalformed},
		{name: "truncated signature", auth: "Bearer " + truncatedSig, wantErr: ErrChatTokenSignature},
		{name: "trailing space", auth: "Bearer " + valid + " ", wantErr: ErrChatTokenMalformed},
		{name: "claims swapped under a valid signature", auth: "Bearer " + validParts[0] + "." + segment(t, with(endpointClaims(), "sub", "999")) + "." + validParts[2], wantErr: ErrChatTokenSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vs.endpoint
			if tt.project {
				v = vs.project
			}
			claims, err := v.Verify(context.Background(), tt.auth)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify() error = %v, want nil", err)
				}
				if got, want := claims.KeyID, "kid-good"; got != want {
					t.Errorf("KeyID = %q, want %q", got, want)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.wantErr)
			}

			var called bool
			h := RequireChatToken(v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				if _, ok := ChatClaimsFromContext(r.Context()); !ok {
					t.Error("claims missing from request context")
				}
				w.WriteHeader(http.StatusOK)
			}))
			body := &watchedBody{r: strings.NewReader(`{"type":"MESSAGE"}`)}
			req := httptest.NewRequest(http.MethodPost, "/chat/events", body)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			wantStatus := http.StatusOK
			if tt.wantErr != nil {
				wantStatus = http.StatusUnauthorized
			}
			if got := rec.Code; got != wantStatus {
				t.Fatalf("status = %d, want %d", got, wantStatus)
			}
			if tt.wantErr != nil {
				if called {
					t.Error("next handler called for a rejected request")
				}
				if body.read.Load() {
					t.Error("request body read for a rejected request")
				}
				if got, want := strings.TrimSpace(rec.Body.String()), "unauthorized"; got != want {
					t.Errorf("body = %q, want %q", got, want)
				}
			}
		})
	}
}

type watchedBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func TestRequireChatTokenCapsBody(t *testing.T) {
	vs := newVerifierSet(t)
	hdr := map[string]any{"alg": "RS256", "kid": "kid-good"}
	token := signRS256(t, vs.good.priv, hdr, endpointClaims())
	var readErr error
	h := RequireChatToken(vs.endpoint, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, readErr = io.ReadAll(r.Body)
	}))
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", chatEventMaxBytes+1)))
	req.Header.Set("Authorization", "Bearer "+token)
	h.ServeHTTP(httptest.NewRecorder(), req)
	var maxErr *http.MaxBytesError
	if !errors.As(readErr, &maxErr) {
		t.Fatalf("reading an oversized body: error = %v, want *http.MaxBytesError", readErr)
	}
}

func TestChatVerifierKeyRotation(t *testing.T) {
	for _, mode := range []struct {
		name   string
		claims func() map[string]any
		pick   func(*verifierSet) *ChatVerifier
	}{
		{name: "JWKS", claims: endpointClaims, pick: func(vs *verifierSet) *ChatVerifier { return vs.endpoint }},
		{name: "x509 map", claims: projectClaims, pick: func(vs *verifierSet) *ChatVerifier { return vs.project }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			vs := newVerifierSet(t)
			v := mode.pick(vs)
			ctx := context.Background()
			tokenFor := func(k testKey) string {
				return "Bearer " + signRS256(t, k.priv, map[string]any{"alg": "RS256", "kid": k.kid}, mode.claims())
			}
			advance := func(d time.Duration) { vs.now.Add(int64(d)) }
			verify := func(step, auth string, wantErr error) {
				t.Helper()
				if _, err := v.Verify(ctx, auth); !errors.Is(err, wantErr) {
					t.Fatalf("%s: Verify() error = %v, want %v", step, err, wantErr)
				}
			}
			fetches := func(step string, want int32) {
				t.Helper()
				if got := vs.keys.fetches.Load(); got != want {
					t.Fatalf("%s: key fetches = %d, want %d", step, got, want)
				}
			}

			verify("first key", tokenFor(vs.good), nil)
			fetches("first key", 1)
			verify("cached key", tokenFor(vs.good), nil)
			fetches("cached key", 1)

			rotated := newTestKey(t, "kid-rotated")
			vs.keys.add(rotated)
			// The claims are recomputed from testNow, so keep the clock where
			// the tokens stay valid: the refetch window is one minute.
			verify("new kid right after a fetch", tokenFor(rotated), ErrChatTokenUnknownKey)
			fetches("new kid right after a fetch", 1)
			advance(61 * time.Second)
			verify("new kid after a minute", tokenFor(rotated), nil)
			fetches("new kid after a minute", 2)
			verify("old kid still published", tokenFor(vs.good), nil)
			verify("never published kid", tokenFor(newTestKey(t, "kid-never")), ErrChatTokenUnknownKey)
			fetches("never published kid", 2)

			advance(5 * time.Minute) // past max-age=300
			verify("after max-age", tokenFor(vs.good), nil)
			fetches("after max-age", 3)

			vs.keys.setDown(true)
			advance(5 * time.Minute)
			verify("key endpoint down, cached key", tokenFor(vs.good), nil)
			fetches("key endpoint down, cached key", 4)
			verify("key endpoint down, no refetch within a minute", tokenFor(vs.good), nil)
			verify("key endpoint down, unknown kid", tokenFor(newTestKey(t, "kid-x")), ErrChatTokenUnknownKey)
			fetches("key endpoint down, no refetch within a minute", 4)
			vs.keys.setDown(false)
			advance(61 * time.Second)
			verify("key endpoint back", tokenFor(rotated), nil)
			fetches("key endpoint back", 5)
		})
	}
}

func TestNewChatVerifierConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ChatVerifierConfig
		wantErr bool
		wantURL string
	}{
		{name: "endpoint default keys", cfg: ChatVerifierConfig{AudienceType: ChatAudienceEndpointURL, Audience: testEndpointURL}, wantURL: DefaultChatJWKSURL},
		{name: "project default keys", cfg: ChatVerifierConfig{AudienceType: ChatAudienceProjectNumber, Audience: testProjectNumber}, wantURL: DefaultChatX509URL},
		{name: "no audience", cfg: ChatVerifierConfig{AudienceType: ChatAudienceEndpointURL}, wantErr: true},
		{name: "no type", cfg: ChatVerifierConfig{Audience: testEndpointURL}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewChatVerifier(tt.cfg)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("NewChatVerifier() error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && v.cfg.KeysURL != tt.wantURL {
				t.Errorf("KeysURL = %q, want %q", v.cfg.KeysURL, tt.wantURL)
			}
		})
	}
}

func FuzzChatToken(f *testing.F) {
	vs := newVerifierSet(f)
	hdr := map[string]any{"alg": "RS256", "kid": "kid-good"}
	valid := map[string]bool{
		signRS256(f, vs.good.priv, hdr, endpointClaims()): true,
		signRS256(f, vs.good.priv, hdr, projectClaims()):  true,
	}
	for tok := range valid {
		f.Add(tok)
		f.Add(tok[:len(tok)-2])
	}
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	f.Add(segment(f, map[string]any{"alg": "none"}) + "." + segment(f, endpointClaims()) + ".")
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImtpZC1nb29kIn0.e30.AAAA")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		if valid[token] {
			return
		}
		for _, v := range []*ChatVerifier{vs.endpoint, vs.project} {
			if claims, err := v.Verify(ctx, "Bearer "+token); err == nil {
				t.Fatalf("Verify() accepted %q with claims %+v", token, claims)
			}
		}
	})
}

func TestChatVerifierConcurrentColdCache(t *testing.T) {
	vs := newVerifierSet(t)
	token := "Bearer " + signRS256(t, vs.good.priv, map[string]any{"alg": "RS256", "kid": "kid-good"}, endpointClaims())
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := vs.endpoint.Verify(context.Background(), token)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify() error = %v", err)
		}
	}
	if got := vs.keys.fetches.Load(); got != 1 {
		t.Errorf("key fetches = %d, want 1", got)
	}
}

func TestRequireChatTokenNeverLogsToken(t *testing.T) {
	vs := newVerifierSet(t)
	var logs strings.Builder
	v, err := NewChatVerifier(ChatVerifierConfig{
		AudienceType: ChatAudienceEndpointURL, Audience: "https://other.example.com/",
		KeysURL: vs.keys.srv.URL + "/jwks", Now: func() time.Time { return testNow },
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	token := signRS256(t, vs.good.priv, map[string]any{"alg": "RS256", "kid": "kid-good"}, endpointClaims())
	parts := strings.Split(token, ".")
	h := RequireChatToken(v, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("next handler called")
	}))
	for _, auth := range []string{"Bearer " + token, "Bearer " + parts[0] + "." + parts[1] + ".!!" + parts[2]} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401", rec.Code)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("rejections were not logged")
	}
	for _, secret := range parts {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains part of the token:\n%s", logs.String())
		}
	}
}

// TestForgedTokensCannotDriveKeyFetches: before any key set was fetched,
// with the key endpoint down, a flood of forged tokens makes keyleak fetch
// at most once a minute; and Prefetch loads the keys at start-up, so the
// first real event needs no fetch.
func TestForgedTokensCannotDriveKeyFetches(t *testing.T) {
	vs := newVerifierSet(t)
	ctx := context.Background()
	forged := "Bearer " + signRS256(t, newTestKey(t, "kid-attacker").priv, map[string]any{"alg": "RS256", "kid": "kid-attacker"}, endpointClaims())
	vs.keys.setDown(true)
	for range 50 {
		if _, err := vs.endpoint.Verify(ctx, forged); err == nil {
			t.Fatal("a forged token was accepted")
		}
	}
	if got := vs.keys.fetches.Load(); got != 1 {
		t.Errorf("50 forged tokens with no keys cached made %d fetches, want 1", got)
	}
	vs.now.Add(int64(61 * time.Second))
	vs.endpoint.Verify(ctx, forged)
	if got := vs.keys.fetches.Load(); got != 2 {
		t.Errorf("after a minute: %d fetches, want 2", got)
	}

	fresh := newVerifierSet(t)
	if err := fresh.endpoint.Prefetch(ctx); err != nil {
		t.Fatalf("prefetch: %v", err)
	}
	good := "Bearer " + signRS256(t, fresh.good.priv, map[string]any{"alg": "RS256", "kid": fresh.good.kid}, endpointClaims())
	if _, err := fresh.endpoint.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	if got := fresh.keys.fetches.Load(); got != 1 {
		t.Errorf("a verification after the prefetch fetched again: %d fetches, want 1", got)
	}
}
