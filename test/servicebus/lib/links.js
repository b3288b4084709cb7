'use strict';
// The AMQP side of the stand-in: links as Service Bus answers them.
//
// rhea opens every link the moment its attach arrives and writes the reply
// on the next tick; the handlers below fill in that reply (settle modes,
// terminus, max-message-size, the session filter, link properties) before
// it goes out, refuse a link (attach with a null terminus, then detach with
// the error), or hold it (an accept-next-session that waits for a session).

const { rhea } = require('./tools');
const codec = require('./codec');
const auth = require('./auth');
const management = require('./management');
const { BrokerError } = require('./broker');

const { types } = codec;
const amqpMessage = rhea.message;

const SESSION_FILTER = 'com.microsoft:session-filter';
const SESSION_FILTER_CODE = 0x00000137000000c;
const RAW = Symbol('raw');

// Incoming transfers: rhea would decode every message into JavaScript
// values; keep the encoded bytes instead and decode only what the stand-in
// reads itself (requests to $cbs and $management).
const decodeMessage = amqpMessage.decode;
amqpMessage.decode = (buffer) => ({ [RAW]: buffer });

const debug = process.env.STINT_SB_DEBUG ? (...a) => console.error('[sb]', new Date().toISOString().slice(17, 23), ...a) : () => {};

function address(terminus) {
  return terminus && terminus.address !== undefined && terminus.address !== null ? String(terminus.address) : null;
}

// The node a link address names.
function resolve(broker, addr) {
  const { path } = auth.splitAddress(addr || '');
  if (path === '$cbs') return { kind: 'cbs', path };
  if (path.endsWith('/$management')) {
    const e = broker.entity(path.slice(0, -'/$management'.length));
    return e ? { kind: 'mgmt', path, entity: e } : { kind: 'none', path };
  }
  const e = broker.entity(path);
  return e ? { kind: 'entity', path, entity: e } : { kind: 'none', path };
}

class Links {
  constructor(broker, ns) {
    this.broker = broker;
    this.ns = ns;
  }

  listen(container) {
    container.on('connection_open', (ctx) => this.state(ctx.connection));
    container.on('sender_open', (ctx) => this.guard(() => this.onClientReceiver(ctx.sender)));
    container.on('receiver_open', (ctx) => this.guard(() => this.onClientSender(ctx.receiver)));
    container.on('message', (ctx) => this.guard(() => this.onMessage(ctx)));
    container.on('sender_flow', (ctx) => this.guard(() => this.onFlow(ctx.sender)));
    for (const outcome of ['accepted', 'rejected', 'released', 'modified']) {
      container.on(outcome, (ctx) => this.guard(() => this.onOutcome(ctx.delivery, outcome)));
    }
    container.on('sender_close', (ctx) => this.closed(ctx.sender));
    container.on('receiver_close', (ctx) => this.closed(ctx.receiver));
    container.on('session_close', (ctx) => this.sessionClosed(ctx.session));
    container.on('connection_close', (ctx) => this.connectionClosed(ctx.connection));
    container.on('disconnected', (ctx) => this.connectionClosed(ctx.connection));
    for (const ev of ['error', 'connection_error', 'session_error', 'sender_error', 'receiver_error', 'protocol_error']) {
      container.on(ev, (x) => debug(ev, x && (x.error || x.message || x)));
    }
  }

  guard(fn) {
    try {
      fn();
    } catch (e) {
      console.error('servicebus stand-in: internal error:', e);
    }
  }

  state(conn) {
    if (!conn.sb) conn.sb = { claims: [], replies: new Map(), records: new Set(), byName: new Map() };
    return conn.sb;
  }

  record(link, fields) {
    const st = this.state(link.connection);
    const rec = { link, alive: true, ...fields };
    link.sb = rec;
    st.records.add(rec);
    st.byName.set(link.name, rec);
    return rec;
  }

  // echo answers with the settle modes the client asked for.
  echo(link) {
    const ra = link.remote.attach;
    link.local.attach.snd_settle_mode = ra.snd_settle_mode;
    link.local.attach.rcv_settle_mode = ra.rcv_settle_mode;
    link.local.attach.source = amqpMessageTerminus('source', ra.source);
    link.local.attach.target = amqpMessageTerminus('target', ra.target);
  }

  // refuse answers an attach with a null terminus and detaches with error.
  refuse(link, side, condition, description) {
    debug('refuse', link.name, condition, description);
    link.local.attach[side] = null;
    if (link.sb) link.sb.alive = false;
    if (!link.state.local_open) link.open();
    link.close({ condition, description });
  }

  authorize(link, node, side) {
    const st = this.state(link.connection);
    if (auth.authorized(st.claims, node.path, Date.now())) return true;
    this.refuse(link, side, 'amqp:unauthorized-access',
      `Unauthorized access. No valid claim for '${node.path}' was put on this connection ($cbs put-token).`);
    return false;
  }

  // ---- client senders (our receivers)

  onClientSender(link) {
    this.echo(link);
    const addr = address(link.remote.attach.target);
    const node = resolve(this.broker, addr);
    debug('attach sender', link.name, addr, node.kind);
    switch (node.kind) {
      case 'cbs':
        this.record(link, { kind: 'cbs' });
        return;
      case 'mgmt':
        if (!this.authorize(link, node, 'target')) return;
        this.record(link, { kind: 'mgmt', entity: node.entity });
        return;
      case 'entity':
        if (!this.authorize(link, node, 'target')) return;
        if (node.entity.isDLQ) {
          this.refuse(link, 'target', 'amqp:not-allowed',
            `Messages cannot be sent to the dead-letter queue '${node.entity.name}'; they can only be dead-lettered.`);
          return;
        }
        link.local.attach.max_message_size = node.entity.maxMessageSize;
        this.record(link, { kind: 'sender', entity: node.entity });
        return;
      default:
        this.refuse(link, 'target', 'amqp:not-found', `The messaging entity '${addr}' could not be found.`);
    }
  }

  onMessage(ctx) {
    const link = ctx.receiver;
    const rec = link.sb;
    const d = ctx.delivery;
    if (!rec || !rec.alive) return;
    const raw = ctx.format === undefined ? ctx.message[RAW] : ctx.message;
    if (rec.kind === 'sender') {
      this.onSend(rec, d, raw, ctx.format || 0);
      return;
    }
    d.update(true, amqpMessage.accepted().described());
    if (ctx.format !== undefined) return;
    const request = decodeMessage(raw);
    const reply = rec.kind === 'cbs' ? this.putToken(link.connection, request) : this.manage(link.connection, rec.entity, request);
    this.reply(link.connection, request, rec.kind === 'cbs', reply);
  }

  onSend(rec, d, raw, format) {
    const e = rec.entity;
    if (raw.length > e.maxMessageSize) {
      d.update(true, amqpMessage.rejected({
        error: {
          condition: 'amqp:link:message-size-exceeded',
          description: `The received message (delivery-id:${d.id}, size:${raw.length} bytes) exceeds the limit (${e.maxMessageSize} bytes) currently allowed on the link.`,
        },
      }).described());
      return;
    }
    let outcome;
    try {
      let parts;
      if (format === codec.BATCH_FORMAT) {
        parts = codec.parse(raw).data.map((m) => codec.parse(m));
      } else if (format === 0) {
        parts = [codec.parse(raw)];
      } else {
        throw new BrokerError('amqp:not-implemented', 400, `message format ${format} is not supported`);
      }
      this.broker.enqueue(e, parts);
      outcome = amqpMessage.accepted().described();
    } catch (err) {
      const condition = err instanceof codec.DecodeError ? 'amqp:decode-error' : err.condition || 'amqp:internal-error';
      if (!(err instanceof BrokerError) && !(err instanceof codec.DecodeError)) console.error('servicebus stand-in:', err);
      outcome = amqpMessage.rejected({ error: { condition, description: err.message } }).described();
    }
    d.update(true, outcome);
  }

  putToken(conn, request) {
    const props = request.application_properties || {};
    if (props.operation !== 'put-token') {
      return { status: 400, description: `Unknown $cbs operation '${props.operation}'.` };
    }
    try {
      const claim = auth.putToken(this.ns, props, request.body, Date.now());
      this.state(conn).claims.push(claim);
      return { status: 202, description: 'Accepted' };
    } catch (err) {
      debug('put-token refused', err.message);
      return { status: err.status || 401, description: err.message };
    }
  }

  manage(conn, e, request) {
    const st = this.state(conn);
    const sessionOf = (name) => {
      const r = st.byName.get(name);
      return r && r.receiver && r.receiver.session ? r.receiver.session.id : null;
    };
    try {
      return management.handle(this.broker, e, request, sessionOf);
    } catch (err) {
      if (!(err instanceof BrokerError)) {
        console.error('servicebus stand-in:', err);
        return { status: 500, description: err.message, condition: 'amqp:internal-error' };
      }
      return { status: err.status, description: err.message, condition: err.condition };
    }
  }

  // reply sends a response to the link the request's reply-to names (its
  // link name or its target address) on the same connection.
  reply(conn, request, cbs, { status, description, condition, body }) {
    const link = this.state(conn).replies.get(String(request.reply_to));
    if (!link || !link.sb || !link.sb.alive) {
      debug('no reply link for', request.reply_to);
      return;
    }
    // $cbs answers in kebab case, $management in camel case (the
    // JavaScript SDK reads a peek's 204 from `statusCode` alone).
    const [code, desc, cond] = cbs
      ? ['status-code', 'status-description', 'error-condition']
      : ['statusCode', 'statusDescription', 'errorCondition'];
    const props = { [code]: types.wrap_int(status), [desc]: description };
    if (condition) props[cond] = types.wrap_symbol(condition);
    const msg = { correlation_id: request.message_id, application_properties: props };
    if (body !== undefined) msg.body = body;
    link.send(msg);
  }

  // ---- client receivers (our senders)

  onClientReceiver(link) {
    this.echo(link);
    const ra = link.remote.attach;
    const addr = address(ra.source);
    const node = resolve(this.broker, addr);
    debug('attach receiver', link.name, addr, node.kind);
    if (node.kind === 'cbs' || node.kind === 'mgmt') {
      if (node.kind === 'mgmt' && !this.authorize(link, node, 'source')) return;
      const rec = this.record(link, { kind: 'reply' });
      const st = this.state(link.connection);
      st.replies.set(link.name, link);
      if (address(ra.target)) st.replies.set(address(ra.target), link);
      rec.replyKeys = [link.name, address(ra.target)];
      return;
    }
    if (node.kind !== 'entity') {
      this.refuse(link, 'source', 'amqp:not-found', `The messaging entity '${addr}' could not be found.`);
      return;
    }
    if (!this.authorize(link, node, 'source')) return;
    const e = node.entity;
    const filter = (ra.source && ra.source.filter) || {};
    const wantsSession = Object.prototype.hasOwnProperty.call(filter, SESSION_FILTER);
    if (wantsSession && !e.requiresSession) {
      this.refuse(link, 'source', 'amqp:not-allowed',
        `It is not possible for an entity that does not require sessions ('${e.name}') to create a sessionful receiver.`);
      return;
    }
    if (!wantsSession && e.requiresSession) {
      this.refuse(link, 'source', 'amqp:not-allowed',
        `It is not possible for an entity that requires sessions ('${e.name}') to create a non-sessionful message receiver.`);
      return;
    }
    const rec = this.record(link, { kind: 'receiver', entity: e });
    rec.receiver = this.receiver(rec, ra.snd_settle_mode !== 1);
    if (!wantsSession) {
      this.broker.addReceiver(e, rec.receiver);
      return;
    }
    this.acceptSession(rec, filter[SESSION_FILTER], ra.properties || {});
  }

  // acceptSession holds the attach reply until the broker locks a session
  // for the receiver (or gives up).
  acceptSession(rec, wanted, props) {
    const link = rec.link;
    const e = rec.entity;
    // Undo rhea's immediate open: the reply goes out when a session is locked.
    link.state.local_open = false;
    link.state.open_requests = Math.max(0, link.state.open_requests - 1);
    rec.held = true;
    const described = wanted !== null && typeof wanted === 'object' && wanted.descriptor !== undefined;
    const id = described ? codec.value(wanted) : wanted;
    const timeout = typeof props['com.microsoft:timeout'] === 'number' ? props['com.microsoft:timeout'] : null;
    this.broker.acceptSession(e, rec.receiver, id === null || id === undefined ? null : String(id), timeout, (err, s) => {
      rec.held = false;
      if (!rec.alive) return;
      if (err) {
        this.refuse(link, 'source', err.condition, err.message);
        return;
      }
      // The session id comes back in the source filter, in the form the
      // client used (described, as go-amqp sends it, or plain, as rhea does).
      const value = described
        ? types.described(types.wrap_ulong(SESSION_FILTER_CODE), types.wrap_string(s.id))
        : types.wrap_string(s.id);
      const source = { ...terminusFields(link.remote.attach.source), filter: { [SESSION_FILTER]: value } };
      link.local.attach.source = sourceTerminus(source);
      link.local.attach.properties = { 'com.microsoft:locked-until-utc': codec.ticks(s.lock.until) };
      link.open();
      this.broker.addReceiver(e, rec.receiver);
    });
  }

  receiver(rec, peekLock) {
    const link = rec.link;
    return {
      peekLock,
      session: null,
      alive: () => rec.alive,
      credit: () => {
        if (!rec.alive || !link.is_open() || link.session.outgoing.available() <= 0) return 0;
        return link.credit - unsent(link);
      },
      send: (payload, tag, settled, hex) => {
        const d = link.send(payload, tag, 0);
        d.sb = { hex, entity: rec.entity };
        if (settled) d.settled = true;
      },
      detach: (condition, description) => {
        if (!rec.alive) return;
        rec.alive = false;
        this.broker.removeReceiver(rec.entity, rec.receiver);
        link.close({ condition, description });
      },
    };
  }

  onFlow(link) {
    const rec = link.sb;
    debug('flow', link.name, link.credit);
    if (!rec || rec.kind !== 'receiver' || !rec.alive) return;
    this.broker.pump(rec.entity);
    if (link._draining && rec.receiver.credit() > 0) link.set_drained(true);
  }

  onOutcome(d, outcome) {
    const rec = d.link && d.link.sb;
    if (!rec || rec.kind !== 'receiver' || !d.sb || !d.sb.hex || d.sb.done) return;
    d.sb.done = true;
    const state = d.remote_state || {};
    let how;
    const args = {};
    let echo;
    switch (outcome) {
      case 'accepted':
        how = 'complete';
        echo = amqpMessage.accepted().described();
        break;
      case 'released':
        how = 'release';
        echo = amqpMessage.released().described();
        break;
      case 'modified':
        how = state.undeliverable_here ? 'defer' : 'abandon';
        args.modify = state.message_annotations || undefined;
        echo = amqpMessage.modified({
          delivery_failed: state.delivery_failed, undeliverable_here: state.undeliverable_here,
        }).described();
        break;
      default: {
        // rejected: dead-letter, with the reason and description from the error's info.
        const info = (state.error && state.error.info) || {};
        how = 'deadletter';
        args.reason = info.DeadLetterReason;
        args.description = info.DeadLetterErrorDescription;
        const rest = { ...info };
        delete rest.DeadLetterReason;
        delete rest.DeadLetterErrorDescription;
        args.modify = rest;
        // A bare rejected: an echoed error would be returned to the caller.
        echo = amqpMessage.rejected({}).described();
      }
    }
    debug('settle', d.sb.entity.name, d.sb.hex, how);
    try {
      this.broker.settle(d.sb.entity, d.sb.hex, how, args);
    } catch (err) {
      if (!(err instanceof BrokerError)) console.error('servicebus stand-in:', err);
      echo = amqpMessage.rejected({ error: { condition: err.condition || 'amqp:internal-error', description: err.message } }).described();
    }
    if (!d.remote_settled) {
      d.update(true, echo);
      // The exchange is over (receiver-settle-mode second): let rhea forget it.
      d.remote_settled = true;
    }
  }

  // ---- closing

  closed(link) {
    const rec = link.sb;
    if (!rec) return;
    if (rec.held) {
      debug('detached while waiting for a session', link.name);
      // Detached while waiting for a session: answer the attach, then the
      // detach (rhea will not, as the attach was never answered).
      link.local.attach.source = null;
      link.open();
      link.close();
      setImmediate(() => link.remove());
    }
    this.forget(rec);
  }

  forget(rec) {
    const st = this.state(rec.link.connection);
    st.records.delete(rec);
    if (st.byName.get(rec.link.name) === rec) st.byName.delete(rec.link.name);
    for (const k of rec.replyKeys || []) if (k && st.replies.get(k) === rec.link) st.replies.delete(k);
    const wasAlive = rec.alive;
    rec.alive = false;
    if (rec.kind === 'receiver' && (wasAlive || rec.held)) this.broker.removeReceiver(rec.entity, rec.receiver);
  }

  sessionClosed(session) {
    const st = this.state(session.connection);
    for (const rec of [...st.records]) if (rec.link.session === session) this.forget(rec);
  }

  connectionClosed(conn) {
    if (!conn || !conn.sb) return;
    for (const rec of [...conn.sb.records]) this.forget(rec);
    conn.sb.claims = [];
  }
}

// unsent counts the deliveries rhea holds for a link but has not written:
// rhea lowers link.credit only when it writes a transfer.
function unsent(link) {
  const out = link.session.outgoing;
  let n = 0;
  for (let id = out.next_pending_delivery; id < out.next_delivery_id; id++) {
    const d = out.deliveries.by_id(id);
    if (d && d.link === link) n++;
  }
  return n;
}

function terminusFields(t) {
  return t && t.address !== undefined && t.address !== null ? { address: t.address } : {};
}

// amqpMessageTerminus echoes a client's terminus (its address).
function amqpMessageTerminus(kind, t) {
  if (!t) return null;
  const fields = terminusFields(t);
  return kind === 'source' ? sourceTerminus(fields) : targetTerminus(fields);
}

const terminus = require(require('path').join(require('./tools').modules, 'rhea', 'lib', 'terminus.js'));

function sourceTerminus(fields) {
  return terminus.source(fields).described();
}

function targetTerminus(fields) {
  return terminus.target(fields).described();
}

module.exports = { Links };
