package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Verification of federated assertions by OpenID Connect discovery, as
// Entra does for a federated identity credential: the issuer's
// <issuer>/.well-known/openid-configuration names its jwks_uri, and the
// key whose kid the assertion's header names checks the signature.
// https://openid.net/specs/openid-connect-discovery-1_0.html

// issuerKeys caches each issuer's keys by kid.
type issuerKeys struct {
	mu   sync.Mutex
	byIs map[string]map[string]crypto.PublicKey
}

// errExternalOIDC is Entra's answer when the issuer's discovery document
// or keys cannot be had.
var errExternalOIDC = &tokenError{http.StatusBadRequest, "invalid_request", 50166, "Request to External OIDC endpoint failed."}

// issuerKey returns the issuer's key named kid, fetching the issuer's keys
// when none are cached or kid is not among them (a key rotated in): one
// fetch per unknown kid, never a retry loop.
func (t *Tenant) issuerKey(issuer, kid string) (crypto.PublicKey, *tokenError) {
	t.oidc.mu.Lock()
	defer t.oidc.mu.Unlock()
	if k, ok := t.oidc.byIs[issuer][kid]; ok {
		return k, nil
	}
	keys, err := t.fetchKeys(issuer)
	if err != nil {
		return nil, errExternalOIDC
	}
	if t.oidc.byIs == nil {
		t.oidc.byIs = map[string]map[string]crypto.PublicKey{}
	}
	t.oidc.byIs[issuer] = keys
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The key was not found.]")
}

// fetchKeys reads the issuer's discovery document and then its JWKS. The
// issuer must be https, and the document must name the same issuer.
func (t *Tenant) fetchKeys(issuer string) (map[string]crypto.PublicKey, error) {
	if u, err := url.Parse(issuer); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an https URL", issuer)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := t.getJSON(strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
		return nil, err
	}
	if doc.Issuer != issuer || !strings.HasPrefix(doc.JWKSURI, "https://") {
		return nil, fmt.Errorf("discovery document of %s names issuer %q and jwks_uri %q", issuer, doc.Issuer, doc.JWKSURI)
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Use, N, E, Crv, X, Y string
		} `json:"keys"`
	}
	if err := t.getJSON(doc.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if pub := jwkPublicKey(k.Kty, k.Crv, k.N, k.E, k.X, k.Y); pub != nil {
			keys[k.Kid] = pub
		}
	}
	return keys, nil
}

// getJSON fetches url with Options.HTTPClient and decodes a 200 answer.
func (t *Tenant) getJSON(url string, v any) error {
	resp, err := t.httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.Unmarshal(body, v)
}

// jwkPublicKey decodes an RSA or EC P-256 JWK; nil for any other.
func jwkPublicKey(kty, crv, n, e, x, y string) crypto.PublicKey {
	num := func(s string) (*big.Int, error) {
		b, err := b64.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, errors.New("bad JWK number")
		}
		return new(big.Int).SetBytes(b), nil
	}
	switch kty {
	case "RSA":
		nn, err1 := num(n)
		ee, err2 := num(e)
		if err1 != nil || err2 != nil || !ee.IsInt64() {
			return nil
		}
		return &rsa.PublicKey{N: nn, E: int(ee.Int64())}
	case "EC":
		xb, err1 := b64.DecodeString(x)
		yb, err2 := b64.DecodeString(y)
		if crv != "P-256" || err1 != nil || err2 != nil || len(xb) != 32 || len(yb) != 32 {
			return nil
		}
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, xb...), yb...))
		if err != nil {
			return nil
		}
		return k
	}
	return nil
}
