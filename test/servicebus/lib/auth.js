'use strict';
// Claims-based security: the put-token requests of the `$cbs` node and the
// claims they leave on a connection.
//
// A SAS token is checked as Service Bus documents it: HMAC-SHA256 with the
// key named by skn over "<sr as written in the token>\n<se>", sr covering
// the audience, se not passed. A JWT (an Entra access token) cannot be
// verified here (the stand-in has no Entra signing keys): it is accepted
// when it is a well-formed JWT whose `aud` is Service Bus's resource and
// whose `exp`/`nbf` hold now. Either way the claim covers the audience of
// the put-token (`name`) and every entity below it, until the token expires.

const crypto = require('crypto');

const SAS_TYPE = 'servicebus.windows.net:sastoken';
const JWT_TYPE = 'jwt';
const JWT_AUDIENCES = new Set(['https://servicebus.azure.net', 'https://servicebus.azure.net/']);

class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// entityPath reduces an audience URI or a link address to a lower-case
// entity path ("q", "q/$management"); host is null for a bare address.
function splitAddress(address) {
  const s = String(address);
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)(\/.*)?$/i.exec(s);
  if (!m) return { host: null, path: trimSlashes(s).toLowerCase() };
  return { host: m[1].toLowerCase(), path: trimSlashes(decodeURIComponent(m[2] || '')).toLowerCase() };
}

function trimSlashes(s) {
  return s.replace(/^\/+|\/+$/g, '');
}

function covers(claimPath, path) {
  return claimPath === '' || path === claimPath || path.startsWith(claimPath + '/');
}

function timingSafeEqual(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function parseSAS(token) {
  const prefix = 'SharedAccessSignature ';
  if (typeof token !== 'string' || !token.startsWith(prefix)) {
    throw new AuthError(401, 'InvalidToken: not a SharedAccessSignature.');
  }
  const fields = {};
  for (const part of token.slice(prefix.length).split('&')) {
    const i = part.indexOf('=');
    if (i > 0) fields[part.slice(0, i)] = part.slice(i + 1);
  }
  for (const f of ['sr', 'sig', 'se', 'skn']) {
    if (!fields[f]) throw new AuthError(401, `InvalidToken: the SharedAccessSignature has no ${f}.`);
  }
  return fields;
}

// checkSAS returns the expiry (ms) of a valid SAS token for audience.
function checkSAS(ns, token, audience, now) {
  const f = parseSAS(token);
  if (f.skn !== ns.keyName) {
    throw new AuthError(401, `InvalidSignature: unknown key name '${decodeURIComponent(f.skn)}'.`);
  }
  const want = crypto.createHmac('sha256', ns.key).update(`${f.sr}\n${f.se}`).digest('base64');
  if (!timingSafeEqual(decodeURIComponent(f.sig), want)) {
    throw new AuthError(401, 'InvalidSignature: the token has an invalid signature.');
  }
  const se = Number(f.se);
  if (!Number.isFinite(se) || se * 1000 <= now) {
    throw new AuthError(401, 'ExpiredToken: the token is expired.');
  }
  const sr = splitAddress(decodeURIComponent(f.sr));
  if (sr.host !== audience.host || !covers(sr.path, audience.path)) {
    throw new AuthError(401, `InvalidAudience: the token's resource ${decodeURIComponent(f.sr)} does not cover the audience.`);
  }
  return se * 1000;
}

function base64url(s) {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

// checkJWT returns the expiry (ms) of a JWT that passes the minimal checks.
function checkJWT(token, now) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  let claims;
  try {
    if (parts.length !== 3) throw new Error('not three parts');
    JSON.parse(base64url(parts[0]));
    claims = JSON.parse(base64url(parts[1]));
  } catch (e) {
    throw new AuthError(401, `InvalidToken: not a JWT (${e.message}).`);
  }
  const aud = [].concat(claims.aud || []);
  if (!aud.some((a) => JWT_AUDIENCES.has(a))) {
    throw new AuthError(401, `InvalidAudience: the JWT's aud ${JSON.stringify(claims.aud)} is not https://servicebus.azure.net.`);
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now) {
    throw new AuthError(401, 'ExpiredToken: the JWT is expired.');
  }
  if (typeof claims.nbf === 'number' && claims.nbf * 1000 > now + 5 * 60 * 1000) {
    throw new AuthError(401, 'InvalidToken: the JWT is not valid yet.');
  }
  return claims.exp * 1000;
}

// putToken checks a put-token request and returns the claim it grants:
// { path, expiresAt }.
function putToken(ns, props, token, now) {
  const type = props.type;
  const name = props.name;
  if (typeof name !== 'string' || name === '') throw new AuthError(400, 'The put-token request has no name (audience).');
  const audience = splitAddress(name);
  if (audience.host !== ns.host) {
    throw new AuthError(401, `InvalidAudience: ${name} is not in namespace ${ns.host}.`);
  }
  let expiresAt;
  if (type === SAS_TYPE) {
    expiresAt = checkSAS(ns, token, audience, now);
  } else if (type === JWT_TYPE) {
    expiresAt = checkJWT(token, now);
  } else {
    throw new AuthError(400, `Unknown token type '${type}'.`);
  }
  return { path: audience.path, expiresAt };
}

// authorized reports whether a claim on the connection covers the entity path.
function authorized(claims, path, now) {
  for (const c of claims) {
    if (c.expiresAt > now && covers(c.path, path)) return true;
  }
  return false;
}

module.exports = { putToken, authorized, splitAddress, AuthError, SAS_TYPE, JWT_TYPE };
