package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// signJWT builds a compact JWS by hand, the way a client library would.
func signJWT(tb testing.TB, alg string, key crypto.Signer, header, claims map[string]any) string {
	tb.Helper()
	header["alg"] = alg
	header["typ"] = "JWT"
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), sum[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(tb testing.TB, tok string) map[string]any {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("token %q is not a JWS", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func selfSigned(tb testing.TB, key *rsa.PrivateKey) *x509.Certificate {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "stint-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func TestTokenWithSecret(t *testing.T) {
	f := newFixture(t, "User.Read.All", "GroupMember.ReadWrite.All")
	// MSAL sends the OpenID Connect scopes along with the resource's.
	r := f.postForm(t, "/"+f.ten.Domain()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {testAppID},
		"client_secret": {testSecret}, "scope": {f.srv.URL + "/.default openid offline_access profile"},
	})
	wantStatus(t, r, http.StatusOK)
	if got := r.str("token_type"); got != "Bearer" {
		t.Errorf("token_type = %q, want Bearer", got)
	}
	for _, k := range []string{"expires_in", "ext_expires_in"} {
		if got := r.get(k); got != 3599.0 {
			t.Errorf("%s = %v, want 3599", k, got)
		}
	}
	claims := claimsOf(t, r.str("access_token"))
	want := map[string]any{
		"aud":   f.srv.URL,
		"iss":   f.srv.URL + "/" + f.ten.TenantID() + "/v2.0",
		"tid":   f.ten.TenantID(),
		"appid": testAppID,
		"azp":   testAppID,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	roles, _ := claims["roles"].([]any)
	if len(roles) != 2 || roles[0] != "User.Read.All" || roles[1] != "GroupMember.ReadWrite.All" {
		t.Errorf("roles = %v, want [User.Read.All GroupMember.ReadWrite.All]", claims["roles"])
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3599 {
		t.Errorf("exp - iat = %v, want 3599", exp-iat)
	}
	if _, ok := claims["nbf"]; !ok {
		t.Error("no nbf claim")
	}
}

func TestAccessTokenVerifiesWithJWKS(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	cfg := f.call(t, http.MethodGet, "/"+f.ten.TenantID()+"/v2.0/.well-known/openid-configuration", nil)
	keys := f.call(t, http.MethodGet, cfg.str("jwks_uri"), nil)
	wantStatus(t, keys, http.StatusOK)
	k := keys.list("keys")[0].(map[string]any)
	n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
	e, _ := base64.RawURLEncoding.DecodeString(k["e"].(string))
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	parts := strings.Split(f.token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("access token does not verify with the published key: %v", err)
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t)
	ten := "/" + f.ten.TenantID() + "/oauth2/v2.0/token"
	good := func() url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {testAppID},
			"client_secret": {testSecret}, "scope": {f.srv.URL + "/.default"}}
	}
	tests := []struct {
		name   string
		path   string
		edit   func(url.Values)
		status int
		err    string
		code   float64
	}{
		{"wrong secret", ten, func(v url.Values) { v.Set("client_secret", "guess") }, 401, "invalid_client", 7000215},
		{"no credential", ten, func(v url.Values) { v.Del("client_secret") }, 401, "invalid_client", 7000218},
		{"unknown app", ten, func(v url.Values) { v.Set("client_id", "99999999-0000-0000-0000-000000000000") }, 400, "unauthorized_client", 700016},
		{"scope without /.default", ten, func(v url.Values) { v.Set("scope", f.srv.URL+"/User.Read.All") }, 400, "invalid_scope", 1002012},
		{"two resources", ten, func(v url.Values) { v.Set("scope", f.srv.URL+"/.default https://other.example/.default") }, 400, "invalid_scope", 1002012},
		{"only OpenID scopes", ten, func(v url.Values) { v.Set("scope", "openid profile") }, 400, "invalid_scope", 1002012},
		{"no scope", ten, func(v url.Values) { v.Del("scope") }, 400, "invalid_request", 900144},
		{"no grant type", ten, func(v url.Values) { v.Del("grant_type") }, 400, "invalid_request", 900144},
		{"password grant", ten, func(v url.Values) { v.Set("grant_type", "password") }, 400, "unsupported_grant_type", 70003},
		{"resource of another host", ten, func(v url.Values) { v.Set("scope", "https://graph.microsoft.com/.default") }, 400, "invalid_resource", 500011},
		{"unknown tenant", "/fabrikam.onmicrosoft.com/oauth2/v2.0/token", func(url.Values) {}, 400, "invalid_request", 90002},
		{"bad assertion type", ten, func(v url.Values) {
			v.Del("client_secret")
			v.Set("client_assertion", "a.b.c")
			v.Set("client_assertion_type", "urn:other")
		}, 400, "invalid_request", 90014},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := good()
			tt.edit(form)
			r := f.postForm(t, tt.path, form)
			wantStatus(t, r, tt.status)
			if got := r.str("error"); got != tt.err {
				t.Errorf("error = %q, want %q", got, tt.err)
			}
			if codes := r.list("error_codes"); len(codes) != 1 || codes[0] != tt.code {
				t.Errorf("error_codes = %v, want [%v]", r.get("error_codes"), tt.code)
			}
			desc := r.str("error_description")
			if !strings.HasPrefix(desc, "AADSTS") {
				t.Errorf("error_description = %q, want an AADSTS code first", desc)
			}
			if strings.Contains(string(r.raw), testSecret) || strings.Contains(string(r.raw), "guess") {
				t.Errorf("the answer echoes the secret: %s", r.raw)
			}
			for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
				if r.str(k) == "" {
					t.Errorf("%s is missing: %s", k, r.raw)
				}
			}
		})
	}
}

func TestTokenAcceptsGzipForm(t *testing.T) {
	f := newFixture(t)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testAppID},
		"client_secret": {testSecret}, "scope": {f.srv.URL + "/.default"}}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/"+f.ten.TenantID()+"/oauth2/v2.0/token",
		strings.NewReader(string(gzipped(t, []byte(form.Encode())))))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Content-Encoding", "gzip")
	r := f.do(t, req)
	wantStatus(t, r, http.StatusOK)
	if r.str("access_token") == "" {
		t.Errorf("no access_token: %s", r.raw)
	}
}

func TestTokenWithCertificateAssertion(t *testing.T) {
	f := newFixture(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	cert := selfSigned(t, key)
	const certApp = "c0c0c0c0-0000-4000-8000-000000000001"
	f.ten.AddApp(App{ClientID: certApp, Certificate: cert, Permissions: []string{"User.Read.All"}})
	s1 := sha1.Sum(cert.Raw)
	s256 := sha256.Sum256(cert.Raw)
	endpoint := f.srv.URL + "/" + f.ten.TenantID() + "/oauth2/v2.0/token"
	claims := func(edit func(map[string]any)) map[string]any {
		now := time.Now()
		c := map[string]any{"aud": endpoint, "iss": certApp, "sub": certApp, "jti": newGUID(),
			"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	tests := []struct {
		name      string
		alg       string
		key       *rsa.PrivateKey
		header    map[string]any
		claims    map[string]any
		status    int
		errorCode float64
	}{
		{"RS256 with x5t", "RS256", key, map[string]any{"x5t": base64.RawURLEncoding.EncodeToString(s1[:])}, claims(nil), 200, 0},
		{"PS256 with x5t#S256", "PS256", key, map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(s256[:])}, claims(nil), 200, 0},
		{"RS256 without thumbprint", "RS256", key, map[string]any{}, claims(nil), 200, 0},
		{"PS256 with x5t#S256 in standard base64, as MSAL sends it", "PS256", key, map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(s256[:])}, claims(nil), 200, 0},
		{"signed by another key", "RS256", other, map[string]any{}, claims(nil), 401, 700027},
		{"thumbprint of another cert", "RS256", key, map[string]any{"x5t": base64.RawURLEncoding.EncodeToString(make([]byte, 20))}, claims(nil), 401, 700027},
		{"expired", "RS256", key, map[string]any{}, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), 401, 700024},
		{"audience is not the token endpoint", "RS256", key, map[string]any{}, claims(func(c map[string]any) { c["aud"] = "https://example.com/token" }), 401, 50027},
		{"subject is another app", "RS256", key, map[string]any{}, claims(func(c map[string]any) { c["sub"] = testAppID }), 401, 700021},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.postForm(t, "/"+f.ten.TenantID()+"/oauth2/v2.0/token", url.Values{
				"grant_type": {"client_credentials"}, "client_id": {certApp}, "scope": {f.srv.URL + "/.default"},
				"client_assertion_type": {jwtBearer}, "client_assertion": {signJWT(t, tt.alg, tt.key, tt.header, tt.claims)},
			})
			wantStatus(t, r, tt.status)
			if tt.status == 200 {
				if got := claimsOf(t, r.str("access_token"))["appid"]; got != certApp {
					t.Errorf("appid = %v, want %s", got, certApp)
				}
				return
			}
			if codes := r.list("error_codes"); len(codes) != 1 || codes[0] != tt.errorCode {
				t.Errorf("error_codes = %v, want [%v]", r.get("error_codes"), tt.errorCode)
			}
		})
	}
}

func TestTokenWithFederatedAssertion(t *testing.T) {
	f := newFixture(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const fedApp = "fed00000-0000-4000-8000-000000000002"
	const issuer, subject, audience = "https://sts.amazonaws.com", "arn:aws:iam::123456789012:role/stint", "api://AzureADTokenExchange"
	f.ten.AddApp(App{ClientID: fedApp, Permissions: []string{"User.Read.All"},
		Federated: []FederatedCredential{{Issuer: issuer, Subject: subject, Audience: audience, Key: &key.PublicKey}}})
	assertion := func(sub string) string {
		now := time.Now()
		return signJWT(t, "ES256", key, map[string]any{}, map[string]any{"iss": issuer, "sub": sub, "aud": audience,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	}
	tests := []struct {
		name   string
		sub    string
		status int
	}{
		{"matching credential", subject, 200},
		{"other subject", "arn:aws:iam::123456789012:role/other", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.postForm(t, "/"+f.ten.TenantID()+"/oauth2/v2.0/token", url.Values{
				"grant_type": {"client_credentials"}, "client_id": {fedApp}, "scope": {f.srv.URL + "/.default"},
				"client_assertion_type": {jwtBearer}, "client_assertion": {assertion(tt.sub)},
			})
			wantStatus(t, r, tt.status)
			if tt.status != 200 && !strings.HasPrefix(r.str("error_description"), "AADSTS700213") {
				t.Errorf("error_description = %q, want AADSTS700213", r.str("error_description"))
			}
		})
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	f := newFixture(t)
	for _, seg := range []string{f.ten.TenantID(), f.ten.Domain()} {
		t.Run(seg, func(t *testing.T) {
			r := f.call(t, http.MethodGet, "/"+seg+"/v2.0/.well-known/openid-configuration", nil)
			wantStatus(t, r, http.StatusOK)
			want := map[string]string{
				"issuer":                 f.srv.URL + "/" + f.ten.TenantID() + "/v2.0",
				"token_endpoint":         f.srv.URL + "/" + f.ten.TenantID() + "/oauth2/v2.0/token",
				"authorization_endpoint": f.srv.URL + "/" + f.ten.TenantID() + "/oauth2/v2.0/authorize",
				"jwks_uri":               f.srv.URL + "/" + f.ten.TenantID() + "/discovery/v2.0/keys",
			}
			for k, v := range want {
				if got := r.str(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if r.str("tenant_region_scope") == "" {
				t.Error("tenant_region_scope is missing")
			}
		})
	}
	t.Run("unknown tenant", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/fabrikam.example/v2.0/.well-known/openid-configuration", nil)
		wantStatus(t, r, http.StatusBadRequest)
		for _, k := range []string{"error", "error_description", "timestamp", "trace_id", "correlation_id"} {
			if r.str(k) == "" {
				t.Errorf("%s is missing: %s", k, r.raw)
			}
		}
		if codes := r.list("error_codes"); len(codes) != 1 || codes[0] != 90002.0 {
			t.Errorf("error_codes = %v, want [90002]", r.get("error_codes"))
		}
	})
}

func TestInstanceDiscovery(t *testing.T) {
	f := newFixture(t)
	host := strings.TrimPrefix(f.srv.URL, "https://")
	r := f.call(t, http.MethodGet, "/common/discovery/instance?api-version=1.1&authorization_endpoint="+
		url.QueryEscape(f.srv.URL+"/"+f.ten.TenantID()+"/oauth2/v2.0/authorize"), nil)
	wantStatus(t, r, http.StatusOK)
	if got, want := r.str("tenant_discovery_endpoint"), f.srv.URL+"/"+f.ten.TenantID()+"/v2.0/.well-known/openid-configuration"; got != want {
		t.Errorf("tenant_discovery_endpoint = %q, want %q", got, want)
	}
	md := r.list("metadata")
	if len(md) != 1 {
		t.Fatalf("metadata = %v, want one entry", r.get("metadata"))
	}
	m := md[0].(map[string]any)
	if m["preferred_network"] != host || m["preferred_cache"] != host {
		t.Errorf("metadata = %v, want host %s", m, host)
	}
}

func TestPermissionsAreFixedWhenTheTokenIsIssued(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	old := f.token
	f.ten.SetPermissions(testAppID, "GroupMember.Read.All")
	g := f.ten.AddGroup(Group{DisplayName: "g"})

	wantStatus(t, f.callWith(t, old, http.MethodGet, "/v1.0/users", nil), http.StatusOK)
	wantError(t, f.callWith(t, old, http.MethodGet, "/v1.0/groups/"+g.ID, nil), http.StatusForbidden, "Authorization_RequestDenied")

	fresh := f.getToken(t, testAppID, testSecret)
	wantError(t, f.callWith(t, fresh, http.MethodGet, "/v1.0/users", nil), http.StatusForbidden, "Authorization_RequestDenied")
	wantStatus(t, f.callWith(t, fresh, http.MethodGet, "/v1.0/groups/"+g.ID, nil), http.StatusOK)
}
