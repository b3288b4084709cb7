package sandbox

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The token service: the slice of the Microsoft identity platform (v2.0
// endpoints) that azidentity and MSAL use for the client-credentials grant.

const (
	jwtBearer     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	tokenLifetime = 3599 * time.Second
)

func (t *Tenant) serveIdentity(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, At: t.now().UTC()}
	// Journal as the answer starts, so a client that has it finds it there.
	sw := &statusWriter{ResponseWriter: w, onStatus: func(status int) {
		rec.Status = status
		t.record(rec)
	}}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i := range segs {
		segs[i] = strings.ToLower(segs[i])
	}
	switch {
	case len(segs) == 3 && segs[0] == "common" && segs[1] == "discovery" && segs[2] == "instance":
		t.instanceDiscovery(sw, r)
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		t.openIDConfiguration(sw, r, segs[0])
	case len(segs) == 4 && segs[1] == "discovery" && segs[2] == "v2.0" && segs[3] == "keys":
		t.keys(sw, r, segs[0])
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
		t.token(sw, r, segs[0], &rec)
	case len(segs) == 1 && segs[0] == "redeem":
		t.redeem(sw, r)
	default:
		http.NotFound(sw, r)
	}
	sw.once.Do(func() { sw.onStatus(http.StatusOK) })
}

// knownTenant reports whether a path segment names this tenant, by id or
// by domain.
func (t *Tenant) knownTenant(seg string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.EqualFold(seg, t.dir.TenantID) || strings.EqualFold(seg, t.dir.Domain)
}

func (t *Tenant) issuer(base string) string { return base + "/" + t.TenantID() + "/v2.0" }

// instanceDiscovery answers MSAL's authority validation the way Entra does
// for an authority it knows: this host is its own only alias.
func (t *Tenant) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	tenant := "common"
	if u, err := url.Parse(r.URL.Query().Get("authorization_endpoint")); err == nil {
		if seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); seg != "" {
			tenant = seg
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": base + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []any{map[string]any{
			"preferred_network": r.Host,
			"preferred_cache":   r.Host,
			"aliases":           []string{r.Host},
		}},
	})
}

func (t *Tenant) openIDConfiguration(w http.ResponseWriter, r *http.Request, seg string) {
	if !t.knownTenant(seg) {
		t.aadError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(seg))
		return
	}
	base := baseURL(r)
	root := base + "/" + t.TenantID()
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        root + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              root + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                t.issuer(base),
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"authorization_endpoint":                root + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         root + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  root + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "roles", "appid", "azp"},
		"kerberos_endpoint":                     root + "/kerberos",
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   r.Host,
		"cloud_graph_host_name":                 r.Host,
		"msgraph_host":                          r.Host,
	})
}

func (t *Tenant) keys(w http.ResponseWriter, r *http.Request, seg string) {
	if !t.knownTenant(seg) {
		t.aadError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(seg))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{t.signer().jwk()}})
}

func tenantNotFound(seg string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", seg)
}

// tokenError is an Entra error answer.
type tokenError struct {
	status int
	err    string
	code   int
	desc   string
}

func invalidClient(code int, desc string) *tokenError {
	return &tokenError{http.StatusUnauthorized, "invalid_client", code, desc}
}

func missingParam(name string) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_request", 900144,
		fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

// token serves the token endpoint; it notes the client id asked for in
// the journal entry.
func (t *Tenant) token(w http.ResponseWriter, r *http.Request, seg string, rec *Request) {
	if e := t.issueToken(w, r, seg, rec); e != nil {
		t.aadError(w, r, e.status, e.err, e.code, e.desc)
	}
}

func (t *Tenant) issueToken(w http.ResponseWriter, r *http.Request, seg string, rec *Request) *tokenError {
	if r.Method != http.MethodPost {
		return &tokenError{http.StatusBadRequest, "invalid_request", 900561,
			fmt.Sprintf("The endpoint only accepts POST requests. Received a %s request.", r.Method)}
	}
	body, err := readBody(r)
	if err != nil {
		return &tokenError{http.StatusBadRequest, "invalid_request", 90013, "Invalid input received from the user."}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return &tokenError{http.StatusBadRequest, "invalid_request", 90013, "Invalid input received from the user."}
	}
	if !t.knownTenant(seg) {
		return &tokenError{http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(seg)}
	}
	basicID, basicSecret, hasBasic := r.BasicAuth()
	if hasBasic {
		basicID, _ = url.QueryUnescape(basicID)
		basicSecret, _ = url.QueryUnescape(basicSecret)
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		clientID = basicID
	}
	rec.AppID = clientID
	switch grant := form.Get("grant_type"); grant {
	case "":
		return missingParam("grant_type")
	case "client_credentials":
	default:
		return &tokenError{http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)}
	}
	if clientID == "" {
		return missingParam("client_id")
	}
	scope := form.Get("scope")
	if scope == "" {
		return missingParam("scope")
	}
	// MSAL adds the OpenID Connect scopes to every request; Entra ignores
	// them in this grant.
	scopes := slices.DeleteFunc(strings.Fields(scope), func(s string) bool {
		switch strings.ToLower(s) {
		case "openid", "profile", "offline_access", "email":
			return true
		}
		return false
	})
	if len(scopes) != 1 || !strings.HasSuffix(scopes[0], "/.default") {
		return &tokenError{http.StatusBadRequest, "invalid_scope", 1002012,
			fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
	}
	app, ok := t.app(clientID)
	if !ok {
		return &tokenError{http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, t.Domain())}
	}
	secret := form.Get("client_secret")
	if secret == "" && hasBasic {
		secret = basicSecret
	}
	acr, e := t.authenticateClient(r, form, app, secret)
	if e != nil {
		return e
	}
	base := baseURL(r)
	resource := strings.TrimSuffix(scopes[0], "/.default")
	if !sameOrigin(resource, base) {
		return &tokenError{http.StatusBadRequest, "invalid_resource", 500011,
			fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, t.Domain())}
	}
	now := t.now()
	spID := servicePrincipalID(t.TenantID(), app.ClientID)
	claims := map[string]any{
		"aud":      resource,
		"iss":      t.issuer(base),
		"iat":      now.Unix(),
		"nbf":      now.Unix(),
		"exp":      now.Add(tokenLifetime).Unix(),
		"appid":    app.ClientID,
		"appidacr": acr,
		"azp":      app.ClientID,
		"azpacr":   acr,
		"idp":      t.issuer(base),
		"idtyp":    "app",
		"oid":      spID,
		"sub":      spID,
		"tid":      t.TenantID(),
		"uti":      b64.EncodeToString([]byte(newGUID()))[:22],
		"ver":      "2.0",
	}
	if len(app.Permissions) > 0 {
		claims["roles"] = slices.Clone(app.Permissions)
	}
	tok, err := t.signer().sign(claims)
	if err != nil {
		return &tokenError{http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token."}
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(tokenLifetime / time.Second),
		"ext_expires_in": int(tokenLifetime / time.Second),
		"access_token":   tok,
	})
	return nil
}

// authenticateClient checks the client's credential and returns the
// authentication method reference for the token: "1" for a secret, "2"
// for an assertion.
func (t *Tenant) authenticateClient(r *http.Request, form url.Values, app App, secret string) (string, *tokenError) {
	assertion := form.Get("client_assertion")
	switch {
	case secret != "" && assertion != "":
		return "", &tokenError{http.StatusBadRequest, "invalid_request", 90014,
			"Only one of 'client_secret' and 'client_assertion' may be presented."}
	case secret != "":
		if app.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.Secret)) != 1 {
			return "", invalidClient(7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.ClientID))
		}
		return "1", nil
	case assertion == "":
		return "", invalidClient(7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	if form.Get("client_assertion_type") != jwtBearer {
		return "", &tokenError{http.StatusBadRequest, "invalid_request", 90014,
			"The required field 'client_assertion_type' is missing from the credential or is not '" + jwtBearer + "'."}
	}
	p, err := parseJWT(assertion)
	if err != nil {
		return "", invalidClient(50027, "JWT token is invalid or malformed.")
	}
	if iss := p.str("iss"); iss != app.ClientID {
		return "2", t.checkFederated(p, app)
	}
	return "2", t.checkCertificate(r, p, app)
}

// checkCertificate validates a client assertion signed with the app's
// certificate (https://learn.microsoft.com/entra/identity-platform/certificate-credentials).
func (t *Tenant) checkCertificate(r *http.Request, p *parsedJWT, app App) *tokenError {
	notFound := invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The key was not found.]")
	cert := app.Certificate
	if cert == nil {
		return notFound
	}
	s1, s256 := sha1.Sum(cert.Raw), sha256.Sum256(cert.Raw)
	if h := p.header.X5t; h != "" && !thumbprintIs(h, s1[:]) {
		return notFound
	}
	if h := p.header.X5tS256; h != "" && !thumbprintIs(h, s256[:]) {
		return notFound
	}
	if p.verify(cert.PublicKey, "RS256", "PS256") != nil {
		return invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]")
	}
	if p.str("sub") != app.ClientID {
		return invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
	}
	if p.str("jti") == "" {
		return invalidClient(50027, "JWT token is invalid or malformed. [Reason - The jti claim is missing.]")
	}
	base := baseURL(r)
	okAud := false
	for _, aud := range p.audiences() {
		okAud = okAud || sameOrigin(aud, base+"/"+t.TenantID()+"/oauth2/v2.0/token") ||
			sameOrigin(aud, base+"/"+t.Domain()+"/oauth2/v2.0/token") ||
			sameOrigin(aud, base+r.URL.Path)
	}
	if !okAud {
		return invalidClient(50027, "JWT token is invalid or malformed. [Reason - The audience is not this token endpoint.]")
	}
	if !p.timely(t.now()) {
		return invalidClient(700024, "Client assertion is not within its valid time range.")
	}
	return nil
}

// thumbprintIs reports whether an x5t header holds sum. RFC 7515 says
// base64url, but Microsoft's own MSAL sends standard base64 with padding,
// and Entra accepts it; so does the sandbox.
func thumbprintIs(h string, sum []byte) bool {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(h); err == nil && bytes.Equal(b, sum) {
			return true
		}
	}
	return false
}

// checkFederated validates an assertion from another issuer against the
// app's federated identity credentials. Matching is exact and
// case-sensitive, as Entra documents.
func (t *Tenant) checkFederated(p *parsedJWT, app App) *tokenError {
	iss, sub := p.str("iss"), p.str("sub")
	var byIss []FederatedCredential
	for _, f := range app.Federated {
		if f.Issuer == iss {
			byIss = append(byIss, f)
		}
	}
	const hint = " Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion."
	if len(byIss) == 0 {
		return invalidClient(700211, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'.", iss)+hint)
	}
	var bySub []FederatedCredential
	for _, f := range byIss {
		if f.Subject == sub {
			bySub = append(bySub, f)
		}
	}
	if len(bySub) == 0 {
		return invalidClient(700213, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'.", sub)+hint)
	}
	auds := p.audiences()
	var match *FederatedCredential
	for i, f := range bySub {
		if slices.Contains(auds, f.Audience) {
			match = &bySub[i]
			break
		}
	}
	if match == nil {
		return invalidClient(700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'.", strings.Join(auds, ","))+hint)
	}
	key := match.Key
	if key == nil {
		var e *tokenError
		if key, e = t.issuerKey(match.Issuer, p.header.Kid); e != nil {
			return e
		}
	}
	if p.verify(key, "RS256", "ES256") != nil {
		return invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]")
	}
	if !p.timely(t.now()) {
		return invalidClient(700024, "Client assertion is not within its valid time range.")
	}
	return nil
}

// servicePrincipalID derives a stable object id for an app's service
// principal in this tenant.
func servicePrincipalID(tenantID, clientID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(tenantID + "/" + clientID)))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// aadError writes an error the way the Entra token service does.
func (t *Tenant) aadError(w http.ResponseWriter, r *http.Request, status int, errCode string, code int, desc string) {
	now := t.now().UTC()
	trace := newGUID()
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = newGUID()
	}
	ts := now.Format("2006-01-02 15:04:05Z")
	writeJSON(w, status, map[string]any{
		"error": errCode,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			code, desc, trace, corr, ts),
		"error_codes":    []int{code},
		"timestamp":      ts,
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      baseURL(r) + "/error?code=" + fmt.Sprint(code),
	})
}

// redeem stands in for the invitation redemption page: visiting an
// inviteRedeemUrl accepts the invitation and redirects to inviteRedirectUrl.
func (t *Tenant) redeem(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("rd")
	t.mu.Lock()
	var inv *Invitation
	for i := range t.dir.invitations {
		if t.dir.invitations[i].ID == id {
			inv = &t.dir.invitations[i]
		}
	}
	var target string
	if inv != nil {
		target = inv.RedirectURL
		if u := t.dir.findUser(inv.InvitedUserID); u != nil && u.ExternalUserState == "PendingAcceptance" {
			u.ExternalUserState = "Accepted"
			t.dir.noteUser(u)
		}
	}
	t.mu.Unlock()
	switch {
	case inv == nil:
		http.Error(w, "unknown invitation", http.StatusNotFound)
	case target == "":
		_, _ = io.WriteString(w, "invitation accepted\n")
	default:
		http.Redirect(w, r, target, http.StatusFound)
	}
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(v))
}
