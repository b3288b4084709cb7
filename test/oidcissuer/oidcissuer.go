// Package oidcissuer is the token-issuing half of the stand-ins for
// identity providers that Entra trusts through an app's federated identity
// credential (AWS STS, a managed identity's platform): an RSA signing key
// and the OpenID Connect discovery document and key set that publish it,
// the way Entra finds an issuer's keys.
//
//	keys, err := oidcissuer.New()
//	mux.HandleFunc("GET /.well-known/", keys.Discovery(issuerURL))
//	tok, err := keys.Sign(map[string]any{"iss": issuerURL, "sub": subject, ...})
//
// Faithful: RS256 compact JWTs with a kid header; discovery at
// /.well-known/openid-configuration naming jwks_uri
// (/.well-known/jwks.json), whose keys carry kty, use, alg, kid, n and e.
// Simplified: one key at a time (Rotate replaces it and stops publishing
// the old one).
package oidcissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"sync"
)

var b64 = base64.RawURLEncoding

// Keys is an issuer's signing key. Safe for concurrent use.
type Keys struct {
	mu  sync.Mutex
	key *rsa.PrivateKey
	kid string
}

// New makes an issuer with a fresh key.
func New() (*Keys, error) {
	k := &Keys{}
	if err := k.Rotate(); err != nil {
		return nil, err
	}
	return k, nil
}

// Rotate replaces the signing key; the old one is no longer published.
func (k *Keys) Rotate() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("oidcissuer: signing key: %w", err)
	}
	sum := sha256.Sum256(key.N.Bytes())
	k.mu.Lock()
	defer k.mu.Unlock()
	k.key, k.kid = key, hex.EncodeToString(sum[:8])
	return nil
}

// Sign returns claims as a compact RS256 JWT.
func (k *Keys) Sign(claims map[string]any) (string, error) {
	k.mu.Lock()
	key, kid := k.key, k.kid
	k.mu.Unlock()
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid})
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// Discovery serves the discovery document and the key set of the issuer
// at issuer (its URL, the iss of its tokens); other paths are not found.
func (k *Keys) Discovery(issuer string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			writeJSON(w, map[string]any{"issuer": issuer, "jwks_uri": issuer + "/.well-known/jwks.json",
				"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
				"id_token_signing_alg_values_supported": []string{"RS256"}})
		case "/.well-known/jwks.json":
			k.mu.Lock()
			pub, kid := k.key.PublicKey, k.kid
			k.mu.Unlock()
			writeJSON(w, map[string]any{"keys": []any{map[string]any{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
				"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}}})
		default:
			http.NotFound(w, r)
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
