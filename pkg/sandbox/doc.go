// Package sandbox is an in-memory Microsoft Entra tenant that speaks the
// Entra token service (v2.0 endpoints) and Microsoft Graph v1.0 over real
// HTTP(S), so that the real msgraph-sdk-go and azidentity code can be
// tested on a machine with no tenant. It is faithful to Microsoft's
// documented wire behaviour (see graph-facts.md in the project), never to
// one client; it uses only the standard library.
//
//	ten := sandbox.New(sandbox.Options{})
//	ten.AddApp(sandbox.App{ClientID: id, Secret: secret, Permissions: []string{"User.Read.All"}})
//	srv, err := ten.StartTLS("127.0.0.1:0")
//	// authority host: srv.URL; Graph base URL: srv.URL + "/v1.0";
//	// token scope: srv.URL + "/.default"; trust: ten.CAPool() or
//	// ten.WriteCA(path) and SSL_CERT_FILE=path.
//
// # Saved state
//
// Save and Load write and read the directory as one JSON snapshot.
// PersistTo(path) keeps a tenant on disk while it serves, as stint serve
// does: every Graph request that may change it (any method but GET and
// HEAD under /v1.0) is written down before it is answered, so a client
// that got an answer can count on the change surviving a crash of the
// process, as it can with Entra. LoadFile(path) restarts from what was
// written.
//
// A write must not cost more as the tenant grows, so it does not save the
// tenant: it appends one record to a journal of changes beside the
// snapshot (path+".journal"; not the request journal above) holding what
// the request changed — users, policies and apps whole (each is small),
// memberships added or removed and invitations made as changes (a group
// of 10,000 members is not rewritten to add one). Once the journal is
// more than twice the snapshot's size (and 256 KiB), the next write folds
// it into a new snapshot: writes cost the same, amortised, at any size,
// and a restart replays at most twice the snapshot. A compaction replaces
// the snapshot, then the journal, each atomically (a temporary file
// renamed); the journal's first line names the snapshot it follows by its
// SHA-256, so after a crash between the two the old journal, whose
// changes the new snapshot holds, is ignored, as is a journal beside a
// snapshot put back by hand. Writes are serialised in the order their
// changes were made, so the files never go back to an older state.
// Records are handed to the operating system, not synced to the disk: a
// power cut may lose the last writes, and may leave the last record torn,
// which LoadFile leaves out; a damaged record before it is an error
// naming the record and its offset. Changes made directly, as an
// administrator in the portal (AddUser, AddMember, SetAccountEnabled, …),
// are written with the next Graph write, or by Persist. The files are
// readable by their owner only (0600).
//
// A journal was chosen over keeping the tenant in SQLite because the
// snapshot stays Save's plain JSON, which tests and operators read and
// edit, and the package keeps to the standard library. Each change is
// noted where it is made (changes.go); group properties, which no note
// covers, are compared with the copy last written at each write: there
// are few groups, and each is a small flat value.
//
// # Faithful
//
//   - Token service: instance discovery, openid-configuration (by tenant id
//     or domain, every URL on the request's scheme and host), JWKS, and the
//     client-credentials grant with a client secret (post or basic), a
//     certificate assertion (RS256 or PS256, x5t / x5t#S256 optional) or a
//     federated assertion (RS256 or ES256) whose iss, sub and aud match a
//     federated identity credential exactly, signed by the credential's
//     fixed key or, as Entra does, by the issuer's key its kid names, found
//     by OpenID Connect discovery (<issuer>/.well-known/openid-configuration,
//     then its jwks_uri; https only; keys cached per issuer and fetched
//     again once for a kid not yet seen). Federated refusals: AADSTS700211
//     (issuer), 700213 (subject), 700212 (audience), 700027 (key not found,
//     or signature not matching), 700024 (outside exp/nbf), and 400
//     invalid_request AADSTS50166 "Request to External OIDC endpoint
//     failed." when the discovery document or keys cannot be had. Errors carry error,
//     error_description starting with the AADSTS code, error_codes,
//     timestamp, trace_id and correlation_id, and never echo a secret.
//     Access tokens are RS256 JWTs with aud, iss, tid, appid, azp, roles,
//     iat, nbf, exp; roles are fixed when the token is issued. As Entra
//     does, the token endpoint ignores the OpenID Connect scopes MSAL adds
//     (openid, profile, offline_access) and accepts an x5t / x5t#S256 in
//     standard base64, which is what MSAL sends, as well as base64url.
//   - Graph authentication (401 InvalidAuthenticationToken) and the
//     application permissions the Graph reference lists for each operation
//     (403 Authorization_RequestDenied). Every error body has code, message
//     and innerError with date, request-id and client-request-id; every
//     answer sends request-id and client-request-id headers, echoing the
//     caller's client-request-id.
//   - Request bodies labelled Content-Encoding: gzip are gunzipped on every
//     route; one that is not gzip gets 400 BadRequest "Invalid Data.".
//   - Users: list with $filter, $select, $top (1–999, default 100), $count
//     and absolute @odata.nextLink paging; get by id or (percent-encoded)
//     userPrincipalName; the default property set, with userType,
//     accountEnabled, externalUserState, otherMails and createdDateTime only
//     on $select; PATCH of accountEnabled, displayName and
//     employeeLeaveDateTime with the permission each needs;
//     revokeSignInSessions; checkMemberGroups (up to 20 group ids, a user
//     and a group permission together; direct membership, as groups do
//     not nest here); invitations creating guests with
//     alias_domain#EXT#@domain UPNs.
//   - Groups: get with $select; add members with $ref (any host in the
//     @odata.id, directoryObjects or users) or members@odata.bind (up to 20,
//     all or none); remove with /members/{id}/$ref; list members, also cast
//     to microsoft.graph.user or graph.user, paging quickly over any number
//     of members. The already-a-member and not-a-member errors are Graph's,
//     word for word. Role-assignable groups also need
//     RoleManagement.ReadWrite.Directory.
//   - $filter: eq, in, startsWith, the otherMails/any lambda, and, or, not,
//     parentheses, doubled quotes, case-insensitive names and values; ne,
//     not, endsWith and eq null only as advanced queries (ConsistencyLevel:
//     eventual and $count=true), with Graph's documented error otherwise.
//     $count=true without ConsistencyLevel is silently ignored, as
//     documented.
//   - $batch: at most 20 requests, unique ids (case-insensitive), relative
//     urls, Content-Type required with a body, dependsOn with 424 for
//     dependents of a failed request; each item goes through the same
//     faults, throttling, routing and permission checks as a direct
//     request.
//   - Throttling, when enabled: the identity-and-access token bucket of
//     resource units per app and tenant, refilled continuously over 10 s,
//     and the write bucket over 150 s, with the documented costs (GET users
//     2, GET groups/{id}/members 3, anything else 1; $select −1, $expand +1,
//     $top under 20 −1; at least 1) and headers (x-ms-resource-unit,
//     x-ms-throttle-limit-percentage above 0.8; on 429 Retry-After,
//     x-ms-throttle-scope and x-ms-throttle-information). Retry-After is the
//     computed wait in seconds, fractional when it is ("0.7", "2.128"). A
//     write is one request: a PATCH of members@odata.bind is one write
//     for its 20 members, a $batch one per item. Throttle.WritesSpent
//     starts the apps at their write ceiling; ThrottleUsage reports what
//     each app was charged (writes, resource units) and refused (429s).
//   - Sign-in activity: signInActivity (lastSignInDateTime, interactive
//     sign-ins, failures included; lastNonInteractiveSignInDateTime, also
//     failures included; lastSuccessfulSignInDateTime) only when named in
//     $select, on a user and on lists ("id in (…)" filters included);
//     absent for a user who never signed in. It needs AuditLog.Read.All
//     (403 Authorization_RequestDenied) and a tenant with Entra ID P1
//     (Options.NoPremium, SetPremium: 403
//     Authentication_RequestFromNonPremiumTenantOrB2CTenant "Neither tenant
//     is B2C or tenant doesn't have premium license", the answer reported
//     from Graph). With it selected a page holds at most 120 users; a
//     larger $top is capped, not refused, as the user-list reference says.
//     Tests script sign-ins with Tenant.SignIn.
//   - The sign-in log, GET /auditLogs/signIns (and /auditLogs/signIns/{id}):
//     AuditLog.Read.All and P1 as above; newest first; $top 1–1000,
//     default 1000; $filter on userId, userPrincipalName and appId (eq)
//     and createdDateTime (eq, ge, gt, le, lt, an unquoted DateTimeOffset),
//     joined with and; absolute @odata.nextLink paging whose skip token
//     names the last entry answered, so entries logged meanwhile do not
//     shift the pages. Entries carry id, createdDateTime, userId,
//     userPrincipalName, userDisplayName, appId, appDisplayName,
//     ipAddress, isInteractive and status (errorCode 0 for a success;
//     50126 and its reason for a scripted failure without one).
//   - The reports' throttle: 5 requests per 10 s per app (ReportsLimit,
//     on by default, tests may lower, raise or remove it), a bucket
//     refilled continuously; over it, 429 TooManyRequests with Retry-After
//     the wait in seconds. Not charged to the identity-and-access buckets.
//   - Sponsors: GET /users/{id}/sponsors (User.Read.All) as a
//     directoryObject collection of users and groups, each with its
//     @odata.type; POST /invitations takes invitedUserSponsors (directory
//     objects by id, users or groups, at most 5; an unknown id or a sixth
//     is 400 and nothing is created) with User.Invite.All alone. Tests set
//     sponsors with SetSponsors.
//   - Conditional Access policies at /identity/conditionalAccess/policies:
//     list, get, create (201 with the policy: a GUID id, createdDateTime,
//     modifiedDateTime and templateId null, the collections the service
//     fills in as []), update (PATCH, 204, modifiedDateTime set) and delete
//     (204); 404 Request_ResourceNotFound for an unknown id; in $batch too.
//     Permissions as the reference lists them for applications: reading
//     needs Policy.Read.All (Policy.ReadWrite.ConditionalAccess alone does
//     not read); create and update need Policy.ReadWrite.ConditionalAccess
//     and Policy.Read.All (or Application.Read.All in its place), the
//     documented "known permissions issue"; delete needs
//     Policy.ReadWrite.ConditionalAccess and Policy.Read.All. Bodies are
//     checked against the v1.0 types: an unknown property at any depth
//     (names are case-sensitive), a value of the wrong type or a value
//     outside a documented enumeration (state, clientAppTypes, platforms,
//     risk levels, builtInControls, sign-in frequency type, interval and
//     authentication type, persistent browser mode, guest or external user
//     types) is 400. A policy needs displayName, state, conditions with
//     clientAppTypes, an application rule and a user rule, and a grant or
//     session control, as "Create conditionalAccessPolicy" says; grant
//     controls need an operator (AND or OR) and a control; passwordChange
//     needs mfa with AND and userRiskLevels. The SDK's @odata.type
//     annotations are accepted; external tenants are answered with their
//     derived type. With EnableConditionalAccessThrottle, the documented
//     limit of one request per second per tenant, all apps together, with
//     429s that carry no Retry-After; these requests are not charged to the
//     identity-and-access buckets. A Fault without RetryAfter gives the same
//     kind of 429 on demand.
//
// # Simplified
//
//   - Only users, groups (users as members; no nesting, owners or
//     transitive members), invitations and Conditional Access policies
//     exist. Users are created with
//     AddUser or by invitation, and deleted only by DeleteUser (for good:
//     Entra's 30 days of restorable deleted users are not modelled).
//   - Properties the sandbox does not model are unknown to it: $select
//     answers 400 as for a property Graph lacks, PATCH answers 400
//     Request_BadRequest "Property 'x' is not supported by the sandbox
//     tenant." rather than pretending to store it.
//   - No $orderby, $search, $expand, $skip or ge/le comparisons: 400
//     Request_UnsupportedQuery.
//   - Known resources answer 405 "Specified HTTP method is not allowed for
//     the request target." for methods the sandbox does not implement, even
//     where Graph has them (POST /users, GET /groups); unknown segments
//     answer 400 "Resource not found for the segment '…'.".
//   - There are no sign-in sessions: revokeSignInSessions records
//     User.SessionsRevokedAt (guests included: the call succeeds for them
//     although Graph cannot revoke their home-tenant sessions). Nothing
//     signs in but what a test scripts with SignIn, and a sign-in is
//     recorded whatever the account's state (blocked, revoked).
//   - signInActivity carries the three times only, not the
//     last…RequestId properties, and cannot be filtered on. Graph's own,
//     harsher limit on reading it (reported, not documented) is not
//     modelled. The "in" operator takes any number of values (Graph: 15).
//   - The sign-in log: only the properties listed above (no location,
//     device, Conditional Access or risk details); no $select, $orderby
//     or functions in $filter; /auditLogs/directoryAudits does not exist.
//     The log is not part of snapshots (users' signInActivity is).
//   - Sponsors: no paging, no $select or $expand, no POST or DELETE of
//     /sponsors/$ref; re-inviting an existing guest leaves its sponsors
//     as they are; without invitedUserSponsors a guest has no sponsor
//     (Entra stamps the inviter; for an app, unconfirmed what).
//   - The invitation-manager limit (150 requests per 5 s) and the
//     tenant-wide write limits are not modelled; only the per app+tenant
//     buckets are.
//   - Responses are never compressed.
//   - Conditional Access: the list has no query options ($filter, $top,
//     $select, … answer 400 Request_UnsupportedQuery) and no paging. The
//     policy properties modelled are displayName, state, conditions
//     (applications, users with guests or external users, clientAppTypes,
//     platforms, locations, sign-in, user and service principal risk
//     levels), grantControls (authenticationStrength by id only) and
//     sessionControls (signInFrequency, persistentBrowser); the v1.0
//     properties not modelled (description, devices, clientApplications,
//     cloudAppSecurity, …) accept only null and are never answered.
//     Referenced ids (groups, users, roles, applications, locations,
//     authentication strengths) are not checked against the directory.
//     Policies are not enforced: nothing signs in. The Conditional Access
//     limit is off until EnableConditionalAccessThrottle, like the
//     resource-unit buckets, so that tests not about throttling need not
//     wait a second between calls; a test of the client's back-off turns
//     it on, or injects a Fault.
//
// # Choices where Microsoft's behaviour is undocumented or unconfirmed
//
//   - The sign-in log needs AuditLog.Read.All alone: older versions of
//     the reference listed Directory.Read.All too, as a known issue. The
//     permission is checked before the licence. A refused $filter or $top
//     on the log answers 400 BadRequest with a message naming the clause.
//   - Re-inviting an existing external user (a guest, or any user with an
//     externalUserState) answers 201 with that user's id and changes
//     nothing, unless resetRedemption is true (then the user is
//     PendingAcceptance again); status is "Completed" when the user had
//     accepted. Invitations() records it with Reused set.
//   - Inviting an address held (as mail, userPrincipalName or otherMails)
//     by an internal member answers 400 BadRequest "The invited user
//     already exists in the directory as objectID: {id}." Graph's message
//     goes on after the id; match the prefix.
//   - An unknown $select property answers 400 BadRequest "Could not find a
//     property named 'x' on type 'microsoft.graph.user'." (the OData
//     library's answer).
//   - $top outside 1–999 answers 400 Request_UnsupportedQuery "Invalid page
//     size specified: 'n'. Must be between 1 and 999 inclusive."
//   - A malformed $skiptoken answers 400 Directory_ExpiredPageToken. Skip
//     tokens resume after the last object answered, not at an offset, so
//     paging stays right while members are added or removed; the last page
//     carries no nextLink.
//   - $filter on group members always needs the advanced query
//     parameters. A syntax error answers 400 BadRequest "Invalid filter
//     clause: …".
//   - DELETE /groups/{gid}/members/{uid} without /$ref would delete the
//     user object in Graph; the sandbox answers 405 to every method there
//     and changes nothing.
//   - members@odata.bind with more than 20 URLs, or naming a member twice,
//     answers 400 Request_BadRequest and adds no one; naming one already
//     a member answers Graph's already-a-member 400, and one that does
//     not exist 404 Request_ResourceNotFound naming it (as POST
//     members/$ref does), adding no one either.
//   - For a role-assignable group the group is looked up (404) before the
//     extra RoleManagement.ReadWrite.Directory check (403).
//   - Writing employeeLeaveDateTime needs User-LifeCycleInfo.ReadWrite.All
//     and a user-read permission; reading it needs
//     User-LifeCycleInfo.Read.All or .ReadWrite.All; guests may have one.
//   - Every @odata.context names the sandbox's own service root, including
//     revokeSignInSessions' (Graph documents
//     https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean): an OData
//     context URL belongs to the service that answered, and the documented
//     one names graph.microsoft.com only because that is where Graph
//     answers. The $batch envelope has none.
//   - $batch items run one at a time, dependencies first; responses are
//     listed in reverse order of execution, so clients must correlate by
//     id. The envelope is not charged to the throttling buckets; its items
//     are. A dependent of a failed item is answered 424 (code
//     FailedDependency) without running and is not journaled. A Drop fault
//     on an item closes the envelope's connection after the items before
//     it ran.
//   - Fault answers use Graph's codes: 429 TooManyRequests "Please retry
//     again later." (the throttling body), 503 serviceNotAvailable, 504
//     UnknownError, other 5xx generalException.
//   - SetLatency delays each request on the wire once (a $batch envelope
//     once, not per item).
//   - x-ms-resource-unit and the other throttling headers are sent only
//     while throttling is enabled. x-ms-throttle-limit-percentage is the
//     fraction of the fuller bucket in use after the request, to two
//     decimals. A throttled request is not charged.
//   - The token service issues tokens only for this server's own origin as
//     the client addressed it (scope "<origin>/.default"); any other
//     resource, https://graph.microsoft.com included, answers 400
//     invalid_resource AADSTS500011, since its token could not be used
//     here. "common" and "organizations" are not tenants here.
//   - Every client-authentication failure answers 401 invalid_client
//     (Entra answers 400 for some); an unknown client id answers 400
//     unauthorized_client AADSTS700016. A certificate assertion's aud must
//     be the token endpoint (by tenant id or domain) and it must carry jti.
//     exp and nbf are checked with Entra's five minutes of clock skew, on
//     assertions and access tokens alike.
//   - Guests seeded with AddUser without an ExternalUserState are
//     "Accepted"; invited ones start "PendingAcceptance". A GET of an
//     invitation's inviteRedeemUrl (served by the sandbox at /redeem)
//     accepts it and redirects to inviteRedirectUrl.
//   - The journal records a dropped connection with Status 0, and a $batch
//     envelope after its items.
//   - Conditional Access PATCH merges: a complex value in the body is
//     merged property by property into the stored one, at any depth, while
//     collections, strings and null replace what was stored. The reference
//     says properties not in the body keep their values, and its own
//     example patches conditions with signInRiskLevels alone, which only
//     works if the applications and users already set are kept. External
//     tenants of another kind (all versus enumerated) replace the stored
//     ones whole. The merged policy is checked as a whole; a refused PATCH
//     changes nothing.
//   - Read-only properties in a body (id, createdDateTime,
//     modifiedDateTime, templateId) and property annotations are accepted
//     and ignored, so a client may send back what it read.
//   - A sign-in frequency without authenticationType or frequencyInterval
//     is stored with primaryAndSecondaryAuthentication and timeBased (the
//     service fills these in; tools comparing policies report it as
//     drift). An enabled timeBased frequency needs a value of at least 1
//     and a type; an enabled persistent browser needs a mode.
//   - Refusals of a policy body answer 400 BadRequest with a message naming
//     the property; the unknown-property message is the OData library's.
//     Graph's own wording for Conditional Access refusals is not
//     documented.
//   - Conditional Access @odata.context is
//     "$metadata#identity/conditionalAccess/policies" (with "/$entity" for
//     one policy): the documented examples show "#conditionalAccess/…",
//     from before the API moved under /identity.
//   - A 429 of the Conditional Access limit has the throttling body and no
//     x-ms-throttle headers (none are documented for it); a throttled
//     request is not counted. The limit is a bucket refilled continuously
//     at the rate given, holding one second's worth.
package sandbox
