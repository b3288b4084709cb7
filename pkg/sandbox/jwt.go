package sandbox

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// The JSON Web Token code the token service needs: RS256 signing of access
// tokens, and verification of RS256, PS256 and ES256 client assertions.
// Standard library only, and only the parts of RFC 7515/7519 used here.

var b64 = base64.RawURLEncoding

// signingKey is the tenant's token-signing key.
type signingKey struct {
	priv *rsa.PrivateKey
	kid  string
}

// signer returns the tenant's signing key, generating it on first use:
// RSA key generation is slow enough that tenants which never issue a token
// should not pay for it.
func (t *Tenant) signer() *signingKey {
	t.keyOnce.Do(func() {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(fmt.Sprintf("sandbox: generate signing key: %v", err))
		}
		sum := sha1.Sum(priv.N.Bytes())
		t.key = &signingKey{priv: priv, kid: b64.EncodeToString(sum[:])}
	})
	return t.key
}

// jwk is the public half of the signing key in JWK form, for jwks_uri.
func (k *signingKey) jwk() map[string]any {
	return map[string]any{
		"kty": "RSA",
		"use": "sig",
		"kid": k.kid,
		"x5t": k.kid,
		"n":   b64.EncodeToString(k.priv.N.Bytes()),
		"e":   b64.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
	}
}

// sign returns a compact RS256 JWT.
func (k *signingKey) sign(claims map[string]any) (string, error) {
	header := map[string]any{"typ": "JWT", "alg": "RS256", "kid": k.kid, "x5t": k.kid}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// jwtHeader is the part of a JOSE header the sandbox reads.
type jwtHeader struct {
	Alg     string `json:"alg"`
	Kid     string `json:"kid"`
	X5t     string `json:"x5t"`
	X5tS256 string `json:"x5t#S256"`
}

// parsedJWT is a decoded but not yet verified token.
type parsedJWT struct {
	header jwtHeader
	claims map[string]any
	input  []byte // the signing input: header.payload
	sig    []byte
}

var errMalformed = errors.New("JWT is not well formed")

// parseJWT decodes a compact JWS without verifying it.
func parseJWT(tok string) (*parsedJWT, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errMalformed
	}
	hb, err1 := b64.DecodeString(parts[0])
	cb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errMalformed
	}
	p := &parsedJWT{input: []byte(parts[0] + "." + parts[1]), sig: sig}
	if json.Unmarshal(hb, &p.header) != nil {
		return nil, errMalformed
	}
	dec := json.NewDecoder(bytes.NewReader(cb))
	dec.UseNumber()
	if dec.Decode(&p.claims) != nil || p.claims == nil {
		return nil, errMalformed
	}
	return p, nil
}

// verify checks the signature with pub, accepting only the algorithms
// listed (the key type must fit the algorithm).
func (p *parsedJWT) verify(pub crypto.PublicKey, algs ...string) error {
	alg := p.header.Alg
	ok := false
	for _, a := range algs {
		ok = ok || a == alg
	}
	if !ok {
		return fmt.Errorf("signing algorithm %q is not accepted", alg)
	}
	sum := sha256.Sum256(p.input)
	switch alg {
	case "RS256", "PS256":
		k, isRSA := pub.(*rsa.PublicKey)
		if !isRSA {
			return fmt.Errorf("%s needs an RSA key", alg)
		}
		if alg == "RS256" {
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], p.sig)
		}
		return rsa.VerifyPSS(k, crypto.SHA256, sum[:], p.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	case "ES256":
		k, isEC := pub.(*ecdsa.PublicKey)
		if !isEC || len(p.sig) != 64 {
			return errors.New("ES256 needs an ECDSA P-256 key and a 64-byte signature")
		}
		r, s := new(big.Int).SetBytes(p.sig[:32]), new(big.Int).SetBytes(p.sig[32:])
		if !ecdsa.Verify(k, sum[:], r, s) {
			return errors.New("signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("signing algorithm %q is not supported", alg)
}

// str returns a string claim.
func (p *parsedJWT) str(name string) string {
	s, _ := p.claims[name].(string)
	return s
}

// audiences returns the aud claim, which may be a string or an array.
func (p *parsedJWT) audiences() []string {
	switch v := p.claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, a := range v {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// time returns a NumericDate claim.
func (p *parsedJWT) time(name string) (time.Time, bool) {
	n, ok := p.claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*float64(time.Second))), true
}

// clockSkew is the tolerance Entra and Graph apply to exp and nbf.
const clockSkew = 5 * time.Minute

// timely reports whether now lies within the token's nbf/exp window
// (with clockSkew). A token without exp is not timely.
func (p *parsedJWT) timely(now time.Time) bool {
	exp, ok := p.time("exp")
	if !ok || now.After(exp.Add(clockSkew)) {
		return false
	}
	if nbf, ok := p.time("nbf"); ok && now.Add(clockSkew).Before(nbf) {
		return false
	}
	return true
}
