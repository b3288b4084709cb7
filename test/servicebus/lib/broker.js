'use strict';
// The broker: queues, their dead-letter sub-queues, sessions, locks and the
// delivery counts, held in memory.
//
// It knows nothing of AMQP links. A receiver is an object the link layer
// gives it:
//   { peekLock, session, credit(), send(payload, tag, settled, token),
//     alive(), detach(condition, description) }
// The broker calls send() when a message goes out and detach() when it
// takes a session away; the link layer calls the broker when a link opens,
// settles or closes.

const crypto = require('crypto');
const codec = require('./codec');

const { types } = codec;

// Errors a client sees: an AMQP error condition, a management status code.
class BrokerError extends Error {
  constructor(condition, status, description) {
    super(description);
    this.condition = condition;
    this.status = status;
  }
}

const LOCK_LOST = 'com.microsoft:message-lock-lost';
const SESSION_LOCK_LOST = 'com.microsoft:session-lock-lost';

function lockLost() {
  return new BrokerError(LOCK_LOST, 410,
    'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.');
}

function sessionLockLost(id) {
  return new BrokerError(SESSION_LOCK_LOST, 410,
    `The session lock has expired on the session '${id}'. Accept the session again.`);
}

function insertSorted(list, msg) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].seq < msg.seq) lo = mid + 1; else hi = mid;
  }
  if (list[lo] !== msg) list.splice(lo, 0, msg);
}

function removeFrom(list, msg) {
  const i = list.indexOf(msg);
  if (i >= 0) list.splice(i, 1);
}

// entryValue decodes the value of a raw map entry.
function entryValue(e) {
  const r = new types.Reader(e.raw);
  r.read();
  return r.read();
}

class Entity {
  constructor(name, o, parent) {
    this.name = name;
    this.parent = parent || null;
    this.isDLQ = Boolean(parent);
    this.requiresSession = !parent && Boolean(o.requiresSession);
    this.maxDeliveryCount = o.maxDeliveryCount;
    this.lockDuration = o.lockDurationMs;
    this.dupWindow = parent ? 0 : o.duplicateDetectionWindowMs;
    this.maxMessageSize = o.maxMessageSize;
    this.counter = parent ? parent.counter : { next: 1 };
    this.bySeq = new Map();
    this.byToken = new Map();
    this.active = []; // available messages of a non-session entity, by sequence number
    this.sessions = new Map();
    this.receivers = [];
    this.rr = 0;
    this.waiters = [];
    this.dups = new Map();
    this.dirty = false;
    this.dlq = null;
  }
}

class Broker {
  constructor(config) {
    this.entities = new Map();
    this.sessionWait = config.sessionWaitMs;
    for (const q of config.queues) {
      const e = new Entity(q.name, q, null);
      e.dlq = new Entity(`${q.name}/$DeadLetterQueue`, q, e);
      this.entities.set(q.name.toLowerCase(), e);
      this.entities.set(e.dlq.name.toLowerCase(), e.dlq);
    }
  }

  // entity finds a queue or a dead-letter queue by its (case-insensitive) path.
  entity(path) {
    return this.entities.get(path.toLowerCase()) || null;
  }

  now() {
    return Date.now();
  }

  // ---- sending

  // enqueue stores the messages of one transfer (one message, or the
  // messages of a batch); it returns how many were new (duplicates are
  // accepted and dropped).
  enqueue(e, parts) {
    const now = this.now();
    const fresh = [];
    for (const p of parts) {
      const m = this.newMessage(e, p, now);
      if (m) fresh.push(m);
    }
    for (const m of fresh) this.store(e, m, now);
    this.changed(e);
    return fresh.length;
  }

  newMessage(e, p, now) {
    const props = codec.propertiesFields(p.properties);
    const sessionId = codec.value(props[10]);
    if (e.requiresSession && (sessionId === null || sessionId === '')) {
      throw new BrokerError('amqp:not-allowed', 400,
        `The SessionId was not set on a message, and it cannot be sent to the entity '${e.name}'. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.`);
    }
    const idKey = codec.messageIDKey(props[0]);
    if (e.dupWindow > 0 && idKey !== null) {
      for (const [k, until] of e.dups) if (until <= now) e.dups.delete(k);
      if (e.dups.has(idKey)) return null;
      e.dups.set(idKey, now + e.dupWindow);
    }
    const h = p.header ? p.header.value || [] : [];
    const ttl = codec.value(h[2]);
    let scheduledAt = null;
    for (const a of codec.mapEntries(p.messageAnnotations)) {
      if (a.key === 'x-opt-scheduled-enqueue-time') {
        const t = codec.value(entryValue(a));
        if (t instanceof Date) scheduledAt = t.getTime();
      }
    }
    return {
      seq: 0,
      parts: p,
      durable: codec.value(h[0]) === true,
      priority: codec.value(h[1]),
      ttl,
      sessionId: sessionId === null ? null : String(sessionId),
      enqueuedAt: now,
      scheduledAt,
      expiresAt: ttl ? now + ttl : Infinity,
      failures: 0,
      delivered: false,
      state: scheduledAt !== null && scheduledAt > now ? 'scheduled' : 'active',
      lock: null,
      timer: null,
    };
  }

  store(e, m, now) {
    m.seq = e.counter.next++;
    e.bySeq.set(m.seq, m);
    if (e.requiresSession) {
      insertSorted(this.session(e, m.sessionId).msgs, m);
    } else if (m.state === 'active') {
      insertSorted(e.active, m);
    }
    if (m.state === 'scheduled') {
      m.timer = setTimeout(() => this.activate(e, m), m.scheduledAt - now);
    }
  }

  activate(e, m) {
    m.timer = null;
    if (e.bySeq.get(m.seq) !== m || m.state !== 'scheduled') return;
    m.state = 'active';
    if (!e.requiresSession) insertSorted(e.active, m);
    this.changed(e);
  }

  session(e, id) {
    let s = e.sessions.get(id);
    if (!s) {
      s = { id, msgs: [], lock: null, state: null };
      e.sessions.set(id, s);
    }
    return s;
  }

  forgetSessionIfIdle(e, s) {
    if (s.msgs.length === 0 && !s.lock && s.state === null) e.sessions.delete(s.id);
  }

  // ---- delivering

  // changed schedules a pump of the entity: deliveries to receivers with
  // credit and sessions to receivers waiting for one.
  changed(e) {
    if (e.dirty) return;
    e.dirty = true;
    setImmediate(() => {
      e.dirty = false;
      this.serveWaiters(e);
      this.pump(e);
    });
  }

  pump(e) {
    const now = this.now();
    if (e.requiresSession) {
      for (const r of e.receivers) {
        while (r.alive() && r.session && r.credit() > 0) {
          const m = this.firstAvailable(e, r.session, now);
          if (!m) break;
          this.deliver(e, r, m, now);
        }
      }
      return;
    }
    while (e.active.length > 0) {
      const r = this.nextReceiver(e);
      if (!r) return;
      const m = e.active.shift();
      if (m.expiresAt <= now) {
        this.remove(e, m);
        continue;
      }
      this.deliver(e, r, m, now);
    }
  }

  nextReceiver(e) {
    for (let i = 0; i < e.receivers.length; i++) {
      const r = e.receivers[(e.rr + i) % e.receivers.length];
      if (r.alive() && r.credit() > 0) {
        e.rr = (e.rr + i + 1) % e.receivers.length;
        return r;
      }
    }
    return null;
  }

  firstAvailable(e, s, now) {
    for (const m of [...s.msgs]) {
      if (m.state !== 'active' || m.lock) continue;
      if (m.expiresAt <= now) {
        this.remove(e, m);
        continue;
      }
      return m;
    }
    return null;
  }

  deliver(e, r, m, now) {
    const token = crypto.randomBytes(16);
    token[6] = (token[6] & 0x0f) | 0x40;
    token[8] = (token[8] & 0x3f) | 0x80;
    if (!r.peekLock) {
      const payload = this.encode(e, m, {});
      this.remove(e, m);
      r.send(payload, codec.dotnetGUID(token), true, null);
      return;
    }
    const hex = token.toString('hex');
    if (r.session) {
      m.lock = { token, hex, until: r.session.lock.until, receiver: r, session: r.session.lock };
    } else {
      m.lock = { token, hex, until: now + e.lockDuration, receiver: r, session: null };
      m.lock.timer = setTimeout(() => this.messageLockExpired(e, m, hex), e.lockDuration);
    }
    e.byToken.set(hex, m);
    const payload = this.encode(e, m, { lockedUntil: m.lock.until });
    if (process.env.STINT_SB_DEBUG) console.error('[sb]', new Date().toISOString().slice(17, 23), 'deliver', e.name, m.sessionId, m.seq, hex);
    m.delivered = true;
    r.send(payload, codec.dotnetGUID(token), false, hex);
  }

  // encode builds the message as a receiver gets it: the sender's sections
  // plus the broker's header and annotations.
  encode(e, m, { lockedUntil, lockToken }) {
    const p = m.parts;
    const sections = [codec.header({
      durable: m.durable,
      priority: m.priority,
      ttl: m.ttl,
      firstAcquirer: !m.delivered,
      deliveryCount: m.failures,
    })];
    if (lockToken) {
      sections.push(codec.mapSection(codec.SECTION.deliveryAnnotations, [
        codec.entry('x-opt-lock-token', types.Uuid(lockToken), true),
      ]));
    }
    const annotations = codec.mapEntries(p.messageAnnotations).concat([
      codec.entry('x-opt-enqueued-time', types.Timestamp(m.enqueuedAt), true),
      codec.entry('x-opt-sequence-number', types.wrap_long(m.seq), true),
    ]);
    if (lockedUntil !== undefined) {
      annotations.push(codec.entry('x-opt-locked-until', types.Timestamp(lockedUntil), true));
    }
    if (m.state !== 'active') {
      annotations.push(codec.entry('x-opt-message-state', types.wrap_int(m.state === 'deferred' ? 1 : 2), true));
    }
    sections.push(codec.mapSection(codec.SECTION.messageAnnotations, annotations));
    if (p.properties) sections.push(p.properties);
    if (p.applicationProperties) sections.push(p.applicationProperties);
    return Buffer.concat(sections.concat(p.body));
  }

  // ---- settling

  // lockFor finds the message a lock token (hex) locks, or throws lock lost.
  lockFor(e, hex) {
    const m = e.byToken.get(hex);
    if (!m || !m.lock || m.lock.hex !== hex) throw lockLost();
    const now = this.now();
    if (m.lock.session) {
      const s = e.sessions.get(m.sessionId);
      if (!s || s.lock !== m.lock.session || s.lock.until <= now) throw sessionLockLost(m.sessionId);
    } else if (m.lock.until <= now) {
      this.messageLockExpired(e, m, hex);
      throw lockLost();
    }
    return m;
  }

  // settle applies a disposition: 'complete', 'abandon', 'defer',
  // 'deadletter' (with reason, description) or 'release'. modify holds
  // application properties to set.
  settle(e, hex, how, { reason, description, modify } = {}) {
    const m = this.lockFor(e, hex);
    if (how === 'deadletter' && e.isDLQ) {
      throw new BrokerError('amqp:not-allowed', 400, 'A message cannot be dead-lettered from a dead-letter queue.');
    }
    if (modify && Object.keys(modify).length > 0) this.modifyProperties(m, modify);
    switch (how) {
      case 'complete': this.remove(e, m); break;
      case 'release': this.unlock(e, m); break;
      case 'defer':
        this.unlock(e, m);
        if (m.state === 'active') {
          m.state = 'deferred';
          removeFrom(e.active, m);
        }
        break;
      case 'abandon': this.fail(e, m); break;
      case 'deadletter': this.deadLetter(e, m, reason, description); break;
      default: throw new Error(`unknown settlement ${how}`);
    }
    this.changed(e);
  }

  unlock(e, m) {
    if (m.lock) {
      clearTimeout(m.lock.timer);
      e.byToken.delete(m.lock.hex);
      m.lock = null;
    }
    if (!e.requiresSession && m.state === 'active' && e.bySeq.get(m.seq) === m) insertSorted(e.active, m);
  }

  // fail ends a delivery attempt that did not succeed (abandon, lock
  // expiry): the delivery count goes up, and at MaxDeliveryCount the
  // message is dead-lettered.
  fail(e, m) {
    m.failures++;
    if (!e.isDLQ && m.failures >= e.maxDeliveryCount) {
      this.deadLetter(e, m, 'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${e.maxDeliveryCount} delivery attempts.`);
      return;
    }
    this.unlock(e, m);
  }

  messageLockExpired(e, m, hex) {
    if (!m.lock || m.lock.hex !== hex) return;
    this.fail(e, m);
    this.changed(e);
  }

  remove(e, m) {
    if (m.lock) {
      clearTimeout(m.lock.timer);
      e.byToken.delete(m.lock.hex);
      m.lock = null;
    }
    clearTimeout(m.timer);
    m.timer = null;
    e.bySeq.delete(m.seq);
    removeFrom(e.active, m);
    if (e.requiresSession) {
      const s = e.sessions.get(m.sessionId);
      if (s) {
        removeFrom(s.msgs, m);
        this.forgetSessionIfIdle(e, s);
      }
    }
  }

  deadLetter(e, m, reason, description) {
    this.remove(e, m);
    const extra = {};
    if (reason !== undefined && reason !== null) extra.DeadLetterReason = String(reason);
    if (description !== undefined && description !== null) extra.DeadLetterErrorDescription = String(description);
    this.modifyProperties(m, extra);
    m.state = 'active';
    const d = e.dlq;
    d.bySeq.set(m.seq, m);
    insertSorted(d.active, m);
    this.changed(d);
  }

  modifyProperties(m, props) {
    const entries = codec.mapEntries(m.parts.applicationProperties);
    for (const [k, v] of Object.entries(props)) {
      entries.push(codec.entry(k, typeof v === 'string' ? types.wrap_string(v) : codec.wrapValue(v), false));
    }
    m.parts = { ...m.parts, applicationProperties: codec.mapSection(codec.SECTION.applicationProperties, entries) };
  }

  renewMessageLock(e, hex) {
    const m = this.lockFor(e, hex);
    if (m.lock.session) {
      throw new BrokerError('amqp:not-allowed', 400, 'Renewing a message lock is not supported for messages of a session; renew the session lock.');
    }
    clearTimeout(m.lock.timer);
    m.lock.until = this.now() + e.lockDuration;
    m.lock.timer = setTimeout(() => this.messageLockExpired(e, m, hex), e.lockDuration);
    return m.lock.until;
  }

  // ---- receivers and sessions

  addReceiver(e, r) {
    e.receivers.push(r);
    this.changed(e);
  }

  // removeReceiver ends a receiver (its link closed): a session it held is
  // released; the locks of a non-session receiver live on until they expire.
  removeReceiver(e, r) {
    removeFrom(e.receivers, r);
    const w = e.waiters.find((x) => x.receiver === r);
    if (w) {
      removeFrom(e.waiters, w);
      clearTimeout(w.timer);
    }
    if (r.session && r.session.lock && r.session.lock.receiver === r) {
      this.releaseSession(e, r.session);
    }
    this.changed(e);
  }

  // acceptSession locks the named session, or the next session with
  // messages (waiting up to timeoutMs for one), for receiver r; done is
  // called with (error) or (null, session).
  acceptSession(e, r, sessionId, timeoutMs, done) {
    if (sessionId !== null) {
      const s = this.session(e, sessionId);
      if (s.lock) {
        done(new BrokerError('com.microsoft:session-cannot-be-locked', 410,
          `The requested session '${sessionId}' cannot be accepted. It may be locked by another receiver.`));
        return;
      }
      this.lockSession(e, s, r);
      done(null, s);
      return;
    }
    const s = this.nextSession(e);
    if (s) {
      this.lockSession(e, s, r);
      done(null, s);
      return;
    }
    const wait = timeoutMs === null ? this.sessionWait : timeoutMs;
    const w = { receiver: r, done, timer: null };
    w.timer = setTimeout(() => {
      removeFrom(e.waiters, w);
      done(new BrokerError('com.microsoft:timeout', 408,
        `The operation did not complete within the allotted timeout of ${wait} ms: no unlocked session with messages is available.`));
    }, wait);
    e.waiters.push(w);
  }

  serveWaiters(e) {
    while (e.waiters.length > 0) {
      const s = this.nextSession(e);
      if (!s) return;
      const w = e.waiters.shift();
      clearTimeout(w.timer);
      if (!w.receiver.alive()) continue;
      this.lockSession(e, s, w.receiver);
      w.done(null, s);
    }
  }

  nextSession(e) {
    const now = this.now();
    let best = null;
    let bestSeq = Infinity;
    for (const s of [...e.sessions.values()]) {
      if (s.lock) continue;
      const m = this.firstAvailable(e, s, now);
      if (m && m.seq < bestSeq) {
        best = s;
        bestSeq = m.seq;
      }
    }
    return best;
  }

  lockSession(e, s, r) {
    const lock = { receiver: r, until: this.now() + e.lockDuration, timer: null };
    lock.timer = setTimeout(() => this.sessionLockTimer(e, s, lock), e.lockDuration);
    s.lock = lock;
    r.session = s;
  }

  sessionLockTimer(e, s, lock) {
    if (s.lock !== lock) return;
    const left = lock.until - this.now();
    if (left > 0) {
      lock.timer = setTimeout(() => this.sessionLockTimer(e, s, lock), left);
      return;
    }
    this.releaseSession(e, s);
    lock.receiver.detach(SESSION_LOCK_LOST, sessionLockLost(s.id).message);
  }

  // releaseSession unlocks a session; the messages still locked under it
  // count a failed delivery.
  releaseSession(e, s) {
    const lock = s.lock;
    if (!lock) return;
    clearTimeout(lock.timer);
    s.lock = null;
    for (const m of [...s.msgs]) {
      if (m.lock && m.lock.session === lock) this.fail(e, m);
    }
    this.forgetSessionIfIdle(e, s);
    this.changed(e);
  }

  // liveSession returns the session if it is locked and the lock holds.
  liveSession(e, id) {
    const s = e.sessions.get(id);
    if (!s || !s.lock || s.lock.until <= this.now()) throw sessionLockLost(id);
    return s;
  }

  renewSessionLock(e, id) {
    const s = this.liveSession(e, id);
    s.lock.until = this.now() + e.lockDuration;
    for (const m of s.msgs) if (m.lock && m.lock.session === s.lock) m.lock.until = s.lock.until;
    return s.lock.until;
  }

  // ---- management reads

  peek(e, fromSeq, count, sessionId) {
    const seqs = [...e.bySeq.keys()].filter((q) => q >= fromSeq).sort((a, b) => a - b);
    const out = [];
    for (const q of seqs) {
      if (out.length >= count) break;
      const m = e.bySeq.get(q);
      if (sessionId !== null && m.sessionId !== sessionId) continue;
      out.push(this.encode(e, m, { lockedUntil: m.lock ? m.lock.until : undefined }));
    }
    return out;
  }

  // receiveDeferred locks (peek-lock) or removes (receive-and-delete) the
  // deferred messages with the given sequence numbers.
  receiveDeferred(e, seqs, peekLock, sessionId) {
    const found = seqs.map((q) => {
      const m = e.bySeq.get(Number(q));
      if (!m || m.state !== 'deferred' || m.lock || (sessionId !== null && m.sessionId !== sessionId)) {
        throw new BrokerError('com.microsoft:message-not-found', 404,
          `Failed to lock one or more specified messages. The deferred message with sequence number ${q} was not found.`);
      }
      return m;
    });
    const now = this.now();
    return found.map((m) => {
      if (!peekLock) {
        const payload = this.encode(e, m, {});
        this.remove(e, m);
        return { token: null, payload };
      }
      const token = crypto.randomBytes(16);
      token[6] = (token[6] & 0x0f) | 0x40;
      token[8] = (token[8] & 0x3f) | 0x80;
      const hex = token.toString('hex');
      m.lock = { token, hex, until: now + e.lockDuration, receiver: null, session: null };
      m.lock.timer = setTimeout(() => this.messageLockExpired(e, m, hex), e.lockDuration);
      e.byToken.set(hex, m);
      m.delivered = true;
      return { token, payload: this.encode(e, m, { lockedUntil: m.lock.until, lockToken: token }) };
    });
  }

  schedule(e, parts) {
    const now = this.now();
    const out = [];
    for (const p of parts) {
      const m = this.newMessage(e, p, now);
      if (!m) continue;
      this.store(e, m, now);
      out.push(m.seq);
    }
    this.changed(e);
    return out;
  }

  cancelScheduled(e, seqs) {
    for (const q of seqs) {
      const m = e.bySeq.get(Number(q));
      if (m && m.state === 'scheduled') this.remove(e, m);
    }
  }

  sessionState(e, id) {
    return this.liveSession(e, id).state;
  }

  setSessionState(e, id, state) {
    this.liveSession(e, id).state = state;
  }
}

module.exports = { Broker, BrokerError, LOCK_LOST, SESSION_LOCK_LOST };
