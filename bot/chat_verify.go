package bot

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ChatAudienceType is how the Chat app's authentication audience is configured
// in the Google Cloud console, which decides the kind of bearer token Google
// Chat attaches to every request it sends to keyleak.
type ChatAudienceType int

const (
	// ChatAudienceEndpointURL: the token is a Google-signed OIDC ID token whose
	// audience is the app's HTTP endpoint URL.
	ChatAudienceEndpointURL ChatAudienceType = iota + 1
	// ChatAudienceProjectNumber: the token is a JWT signed by
	// chat@system.gserviceaccount.com whose audience is the Cloud project number.
	ChatAudienceProjectNumber
)

// Google's published values for the two token kinds, and the verifier's limits.
const (
	ChatServiceAccount   = "chat@system.gserviceaccount.com"
	DefaultChatJWKSURL   = "https://www.googleapis.com/oauth2/v3/certs"
	DefaultChatX509URL   = "https://www.googleapis.com/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com"
	ChatTokenClockSkew   = 30 * time.Second
	chatKeysDefaultTTL   = time.Hour
	chatKeysMaxTTL       = 24 * time.Hour
	chatKeysRefetchEvery = time.Minute
	chatKeysMaxBytes     = 1 << 20
	chatTokenMaxBytes    = 16 << 10
	chatEventMaxBytes    = 1 << 20
	chatMinKeyBits       = 2048
)

// Reasons a Chat bearer token is rejected. Check them with errors.Is.
var (
	ErrChatTokenMissing     = errors.New("chat token: missing bearer token")
	ErrChatTokenMalformed   = errors.New("chat token: malformed")
	ErrChatTokenAlgorithm   = errors.New("chat token: algorithm not allowed")
	ErrChatTokenUnknownKey  = errors.New("chat token: unknown signing key")
	ErrChatTokenSignature   = errors.New("chat token: bad signature")
	ErrChatTokenExpired     = errors.New("chat token: expired")
	ErrChatTokenNotYetValid = errors.New("chat token: not yet valid")
	ErrChatTokenAudience    = errors.New("chat token: wrong audience")
	ErrChatTokenIssuer      = errors.New("chat token: wrong issuer")
	ErrChatTokenEmail       = errors.New("chat token: wrong or unverified email")
)

// ChatVerifierConfig configures a ChatVerifier.
type ChatVerifierConfig struct {
	// AudienceType selects the token kind; required.
	AudienceType ChatAudienceType
	// Audience is the endpoint URL or the project number, as configured for
	// the Chat app; required.
	Audience string
	// KeysURL overrides where signing keys are fetched: a JWKS document for
	// ChatAudienceEndpointURL, a kid→X.509 PEM map for ChatAudienceProjectNumber.
	KeysURL string
	// HTTPClient fetches the keys; a client with a 10 s timeout when nil.
	HTTPClient *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger records rejections (never the token); slog.DiscardHandler when nil.
	Logger *slog.Logger
}

// ChatClaims are the verified claims of a Chat bearer token.
type ChatClaims struct {
	Issuer        string
	Subject       string
	Audience      string
	Email         string
	EmailVerified bool
	IssuedAt      time.Time
	Expiry        time.Time
	KeyID         string
}

// ChatVerifier authenticates Google Chat's inbound requests. It is safe for
// concurrent use.
type ChatVerifier struct {
	cfg     ChatVerifierConfig
	fetchMu sync.Mutex // serialises key fetches

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	expires   time.Time // when the cached key set must be refreshed
	lastFetch time.Time // last fetch attempt, to rate-limit unknown-kid refetches
}

// NewChatVerifier checks cfg and returns a verifier. Keys are fetched lazily.
func NewChatVerifier(cfg ChatVerifierConfig) (*ChatVerifier, error) {
	switch cfg.AudienceType {
	case ChatAudienceEndpointURL:
		if cfg.KeysURL == "" {
			cfg.KeysURL = DefaultChatJWKSURL
		}
	case ChatAudienceProjectNumber:
		if cfg.KeysURL == "" {
			cfg.KeysURL = DefaultChatX509URL
		}
	default:
		return nil, fmt.Errorf("new chat verifier: unknown audience type %d", cfg.AudienceType)
	}
	if cfg.Audience == "" {
		return nil, errors.New("new chat verifier: audience is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &ChatVerifier{cfg: cfg}, nil
}

type chatContextKey struct{}

// ChatClaimsFromContext returns the claims RequireChatToken verified.
func ChatClaimsFromContext(ctx context.Context) (ChatClaims, bool) {
	c, ok := ctx.Value(chatContextKey{}).(ChatClaims)
	return c, ok
}

// RequireChatToken passes to next only requests carrying a valid Chat bearer
// token, with the verified claims in the request context and the body capped.
// Anything else gets 401 with a generic body; the body is not read.
func RequireChatToken(v *ChatVerifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := v.Verify(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			v.cfg.Logger.WarnContext(r.Context(), "chat request rejected", "error", err)
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), chatContextKey{}, claims))
		r.Body = http.MaxBytesReader(w, r.Body, chatEventMaxBytes)
		next.ServeHTTP(w, r)
	})
}

// Verify checks the value of an Authorization header ("Bearer <jwt>").
func (v *ChatVerifier) Verify(ctx context.Context, authorization string) (ChatClaims, error) {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return ChatClaims{}, ErrChatTokenMissing
	}
	if len(token) > chatTokenMaxBytes {
		return ChatClaims{}, fmt.Errorf("%w: token too long", ErrChatTokenMalformed)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return ChatClaims{}, fmt.Errorf("%w: want three non-empty parts", ErrChatTokenMalformed)
	}
	var header struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return ChatClaims{}, fmt.Errorf("%w: header: %w", ErrChatTokenMalformed, err)
	}
	if header.Alg != "RS256" {
		return ChatClaims{}, ErrChatTokenAlgorithm
	}
	if header.Crit != nil {
		return ChatClaims{}, fmt.Errorf("%w: critical header extensions", ErrChatTokenMalformed)
	}
	if header.Kid == "" {
		return ChatClaims{}, fmt.Errorf("%w: no key ID", ErrChatTokenUnknownKey)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return ChatClaims{}, fmt.Errorf("%w: signature encoding", ErrChatTokenMalformed)
	}
	key, err := v.key(ctx, header.Kid)
	if err != nil {
		return ChatClaims{}, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return ChatClaims{}, ErrChatTokenSignature
	}
	var raw struct {
		Iss           string          `json:"iss"`
		Sub           string          `json:"sub"`
		Aud           json.RawMessage `json:"aud"`
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
		Exp           *json.Number    `json:"exp"`
		Iat           *json.Number    `json:"iat"`
		Nbf           *json.Number    `json:"nbf"`
	}
	if err := decodeSegment(parts[1], &raw); err != nil {
		return ChatClaims{}, fmt.Errorf("%w: claims: %w", ErrChatTokenMalformed, err)
	}
	claims := ChatClaims{Issuer: raw.Iss, Subject: raw.Sub, Email: raw.Email, KeyID: header.Kid}
	if claims.Expiry, err = numericDate(raw.Exp); err != nil {
		return ChatClaims{}, fmt.Errorf("%w: exp: %w", ErrChatTokenMalformed, err)
	}
	if claims.IssuedAt, err = numericDate(raw.Iat); err != nil {
		return ChatClaims{}, fmt.Errorf("%w: iat: %w", ErrChatTokenMalformed, err)
	}
	notBefore := claims.IssuedAt
	if raw.Nbf != nil {
		if notBefore, err = numericDate(raw.Nbf); err != nil {
			return ChatClaims{}, fmt.Errorf("%w: nbf: %w", ErrChatTokenMalformed, err)
		}
	}
	now := v.cfg.Now()
	if !now.Before(claims.Expiry.Add(ChatTokenClockSkew)) {
		return ChatClaims{}, ErrChatTokenExpired
	}
	if now.Add(ChatTokenClockSkew).Before(claims.IssuedAt) || now.Add(ChatTokenClockSkew).Before(notBefore) {
		return ChatClaims{}, ErrChatTokenNotYetValid
	}
	if !audienceMatches(raw.Aud, v.cfg.Audience) {
		return ChatClaims{}, ErrChatTokenAudience
	}
	claims.Audience = v.cfg.Audience
	switch v.cfg.AudienceType {
	case ChatAudienceEndpointURL:
		if claims.Issuer != "https://accounts.google.com" && claims.Issuer != "accounts.google.com" {
			return ChatClaims{}, ErrChatTokenIssuer
		}
		claims.EmailVerified = isTrue(raw.EmailVerified)
		if claims.Email != ChatServiceAccount || !claims.EmailVerified {
			return ChatClaims{}, ErrChatTokenEmail
		}
	case ChatAudienceProjectNumber:
		if claims.Issuer != ChatServiceAccount {
			return ChatClaims{}, ErrChatTokenIssuer
		}
	}
	return claims, nil
}

// decodeSegment decodes one base64url JWT segment holding a JSON object.
func decodeSegment(seg string, dst any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return errors.New("bad base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return errors.New("bad json")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data")
	}
	return nil
}

// numericDate reads a required JWT NumericDate (seconds since the epoch).
func numericDate(n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, errors.New("missing")
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, errors.New("not a valid time")
	}
	return time.Unix(int64(f), 0), nil
}

// audienceMatches accepts aud as a string equal to want, or an array holding want.
func audienceMatches(aud json.RawMessage, want string) bool {
	var one string
	if err := json.Unmarshal(aud, &one); err == nil {
		return one == want
	}
	var many []string
	if err := json.Unmarshal(aud, &many); err != nil {
		return false
	}
	for _, a := range many {
		if a == want {
			return true
		}
	}
	return false
}

// isTrue accepts the boolean true or, as some Google tokens carry it, the string "true".
func isTrue(raw json.RawMessage) bool {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == "true"
}
