package googlefake

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"time"
)

// Where the fake publishes its signing keys, the same paths Google uses.
const (
	jwksPath = "/oauth2/v3/certs"
	x509Path = "/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com"

	chatIssuer     = "chat@system.gserviceaccount.com"
	tokenLifetime  = time.Hour
	keyCacheMaxAge = 300 // seconds, sent as Cache-Control max-age
	maxReplyBytes  = 1 << 20
	// chatSubject is the numeric ID Google puts in sub/azp of Chat's ID tokens.
	chatSubject = "113772345212311468233"
)

// Mode is the Chat app's authentication audience setting, which decides the
// kind of token Chat sends.
type Mode int

const (
	// ModeEndpointURL sends a Google OIDC ID token whose audience is the URL.
	ModeEndpointURL Mode = iota + 1
	// ModeProjectNumber sends a JWT from chat@system.gserviceaccount.com whose
	// audience is the Cloud project number.
	ModeProjectNumber
)

// EventReply is the bot's answer to an event.
type EventReply struct {
	StatusCode int
	Body       []byte
}

// JWKSURL serves the keys as Google's https://www.googleapis.com/oauth2/v3/certs.
func (s *Server) JWKSURL() string { return s.url + jwksPath }

// X509URL serves the keys as Google's kid→certificate map for chat@system.gserviceaccount.com.
func (s *Server) X509URL() string { return s.url + x509Path }

// RotateKey creates a new signing key and signs with it from now on. Earlier
// keys stay published, as Google keeps the previous key during a rotation.
func (s *Server) RotateKey() error {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	now := s.cfg.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: chatIssuer},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(14 * 24 * time.Hour),
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return fmt.Errorf("create signing certificate: %w", err)
	}
	sum := sha256.Sum256(cert)
	k := signingKey{kid: fmt.Sprintf("%x", sum[:20]), priv: priv, cert: cert}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	return nil
}

func (s *Server) publishedKeys() []signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]signingKey(nil), s.keys...)
}

func (s *Server) serveJWKS(w http.ResponseWriter) {
	var keys []map[string]string
	for _, k := range s.publishedKeys() {
		keys = append(keys, map[string]string{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.kid,
			"n": base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
		})
	}
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(keyCacheMaxAge)+", must-revalidate, no-transform")
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) serveX509(w http.ResponseWriter) {
	certs := make(map[string]string)
	for _, k := range s.publishedKeys() {
		certs[k.kid] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.cert}))
	}
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(keyCacheMaxAge)+", must-revalidate, no-transform")
	writeJSON(w, http.StatusOK, certs)
}

// Claims returns the claims Chat puts in a token for mode and audience.
func (s *Server) Claims(mode Mode, audience string) (map[string]any, error) {
	now := s.cfg.Now()
	claims := map[string]any{
		"aud": audience,
		"iat": now.Unix(),
		"exp": now.Add(tokenLifetime).Unix(),
	}
	switch mode {
	case ModeEndpointURL:
		claims["iss"] = "https://accounts.google.com"
		claims["azp"] = chatSubject
		claims["sub"] = chatSubject
		claims["email"] = chatIssuer
		claims["email_verified"] = true
	case ModeProjectNumber:
		claims["iss"] = chatIssuer
	default:
		return nil, fmt.Errorf("unknown token mode %d", mode)
	}
	return claims, nil
}

// SignToken signs claims with the current key as an RS256 JWT. Tests use it
// to craft tokens Chat would never send (expired, wrong issuer…).
func (s *Server) SignToken(claims map[string]any) (string, error) {
	keys := s.publishedKeys()
	k := keys[len(keys)-1]
	header, err := json.Marshal(map[string]string{"alg": "RS256", "kid": k.kid, "typ": "JWT"})
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Token returns a freshly signed bearer token as Chat sends for mode.
func (s *Server) Token(mode Mode, audience string) (string, error) {
	claims, err := s.Claims(mode, audience)
	if err != nil {
		return "", err
	}
	return s.SignToken(claims)
}

// SendEvent posts event as JSON to target with a freshly signed bearer token,
// as Chat delivers interaction events to an HTTP endpoint.
func (s *Server) SendEvent(ctx context.Context, target, audience string, mode Mode, event any) (EventReply, error) {
	token, err := s.Token(mode, audience)
	if err != nil {
		return EventReply{}, fmt.Errorf("send event: %w", err)
	}
	return s.post(ctx, target, "Bearer "+token, event)
}

// SendUnsignedEvent posts event with the given Authorization header value
// (empty for none): forged, stale or unsigned deliveries.
func (s *Server) SendUnsignedEvent(ctx context.Context, target, authorization string, event any) (EventReply, error) {
	return s.post(ctx, target, authorization, event)
}

func (s *Server) post(ctx context.Context, target, authorization string, event any) (EventReply, error) {
	body, err := json.Marshal(event)
	if err != nil {
		return EventReply{}, fmt.Errorf("send event: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return EventReply{}, fmt.Errorf("send event: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Google-Dynamite")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return EventReply{}, fmt.Errorf("send event to %s: %w", target, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return EventReply{}, fmt.Errorf("send event: read reply: %w", err)
	}
	if len(reply) > maxReplyBytes {
		return EventReply{}, errors.New("send event: reply larger than 1 MiB")
	}
	return EventReply{StatusCode: resp.StatusCode, Body: reply}, nil
}
