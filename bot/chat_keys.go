package bot

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// key returns the public key for kid. The key set is fetched when the cache
// has expired, or when kid is unknown, at most once a minute either way,
// whether earlier fetches failed or not and whether any keys are cached:
// forged tokens cannot make keyleak fetch more often. While the key
// endpoint fails, the cached keys stay in use.
func (v *ChatVerifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k := v.fromCache(kid); k != nil {
		return k, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	// Another request may have fetched while this one waited.
	if k := v.fromCache(kid); k != nil {
		return k, nil
	}
	v.mu.Lock()
	recent := !v.lastFetch.IsZero() && v.cfg.Now().Sub(v.lastFetch) < chatKeysRefetchEvery
	v.mu.Unlock()
	if recent {
		return nil, ErrChatTokenUnknownKey
	}
	if err := v.refresh(ctx); err != nil {
		if k := v.cached(kid); k != nil {
			v.cfg.Logger.WarnContext(ctx, "chat signing keys refresh failed, using cached keys", "error", err)
			return k, nil
		}
		return nil, fmt.Errorf("%w: %w", ErrChatTokenUnknownKey, err)
	}
	k := v.cached(kid)
	if k == nil {
		return nil, ErrChatTokenUnknownKey
	}
	return k, nil
}

// fromCache returns kid's key when the cache may answer: the key is known,
// and the cache has not expired or was fetched less than a minute ago.
func (v *ChatVerifier) fromCache(kid string) *rsa.PublicKey {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.cfg.Now()
	k := v.keys[kid]
	if k != nil && (now.Before(v.expires) || now.Sub(v.lastFetch) < chatKeysRefetchEvery) {
		return k
	}
	return nil
}

// Prefetch fetches the key set now, at start-up, so that the first real
// event does not wait for it and a broken key URL shows at once.
func (v *ChatVerifier) Prefetch(ctx context.Context) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	return v.refresh(ctx)
}

func (v *ChatVerifier) cached(kid string) *rsa.PublicKey {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keys[kid]
}

func (v *ChatVerifier) refresh(ctx context.Context) error {
	v.mu.Lock()
	v.lastFetch = v.cfg.Now()
	v.mu.Unlock()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.KeysURL, nil)
	if err != nil {
		return fmt.Errorf("fetch chat signing keys: %w", err)
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch chat signing keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch chat signing keys: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, chatKeysMaxBytes+1))
	if err != nil {
		return fmt.Errorf("read chat signing keys: %w", err)
	}
	if len(body) > chatKeysMaxBytes {
		return errors.New("read chat signing keys: too large")
	}
	var keys map[string]*rsa.PublicKey
	if v.cfg.AudienceType == ChatAudienceEndpointURL {
		keys, err = parseJWKS(body)
	} else {
		keys, err = parseX509Map(body)
	}
	if err != nil {
		return fmt.Errorf("parse chat signing keys: %w", err)
	}
	v.mu.Lock()
	v.keys = keys
	v.expires = v.cfg.Now().Add(maxAge(resp.Header.Get("Cache-Control")))
	v.mu.Unlock()
	return nil
}

// maxAge reads max-age from a Cache-Control header, defaulting to an hour.
func maxAge(cacheControl string) time.Duration {
	for _, d := range strings.Split(cacheControl, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(name, "max-age") {
			continue
		}
		secs, err := strconv.Atoi(strings.Trim(val, `"`))
		if err != nil || secs <= 0 {
			return chatKeysDefaultTTL
		}
		if secs > int(chatKeysMaxTTL/time.Second) {
			return chatKeysMaxTTL // and no overflow of a Duration
		}
		return time.Duration(secs) * time.Second
	}
	return chatKeysDefaultTTL
}

// parseJWKS reads the RSA signing keys of a JSON Web Key Set.
func parseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey)
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Alg != "" && k.Alg != "RS256") || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("jwks: key %q: bad modulus or exponent", k.Kid)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if err := checkRSAKey(pub); err != nil {
			return nil, fmt.Errorf("jwks: key %q: %w", k.Kid, err)
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no RSA signing keys")
	}
	return keys, nil
}

// parseX509Map reads a {"kid": "-----BEGIN CERTIFICATE-----…"} document.
func parseX509Map(body []byte) (map[string]*rsa.PublicKey, error) {
	var certs map[string]string
	if err := json.Unmarshal(body, &certs); err != nil {
		return nil, fmt.Errorf("x509 map: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey)
	for kid, p := range certs {
		block, _ := pem.Decode([]byte(p))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("x509 map: key %q: no PEM certificate", kid)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("x509 map: key %q: %w", kid, err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("x509 map: key %q: not an RSA key", kid)
		}
		if err := checkRSAKey(pub); err != nil {
			return nil, fmt.Errorf("x509 map: key %q: %w", kid, err)
		}
		keys[kid] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("x509 map: no certificates")
	}
	return keys, nil
}

func checkRSAKey(pub *rsa.PublicKey) error {
	if pub.N.BitLen() < chatMinKeyBits {
		return fmt.Errorf("rsa key of %d bits, want at least %d", pub.N.BitLen(), chatMinKeyBits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return errors.New("bad rsa exponent")
	}
	return nil
}
