'use strict';
// The `<entity>/$management` node: request/response operations on an
// entity, as Service Bus's AMQP management protocol defines them. Each
// handler returns { status, description, condition?, body? }.

const codec = require('./codec');
const { BrokerError } = require('./broker');

const { types } = codec;

function ok(body) {
  return { status: 200, description: 'OK', body };
}

function badRequest(description) {
  throw new BrokerError('amqp:invalid-field', 400, description);
}

function toNumber(v, field) {
  if (typeof v === 'number') return v;
  if (Buffer.isBuffer(v) && v.length === 8) return Number(v.readBigInt64BE());
  if (v && typeof v === 'object' && typeof v.value === 'number') return v.value;
  return badRequest(`${field} is missing or not a number.`);
}

function list(v, field) {
  if (Array.isArray(v)) return v;
  return badRequest(`${field} is missing or not a list.`);
}

function token(v) {
  if (Buffer.isBuffer(v) && v.length === 16) return v.toString('hex');
  return badRequest('a lock token is not a UUID.');
}

const DISPOSITIONS = {
  completed: 'complete',
  abandoned: 'abandon',
  suspended: 'deadletter',
  defered: 'defer',
  deferred: 'defer',
};

// handle runs one management request against entity e. sessionOf maps an
// associated-link-name to the session its receiver holds (or null).
function handle(broker, e, request, sessionOf) {
  const props = request.application_properties || {};
  const body = request.body && typeof request.body === 'object' && !Buffer.isBuffer(request.body) ? request.body : {};
  const linkSession = props['associated-link-name'] ? sessionOf(props['associated-link-name']) : null;
  const sessionId = body['session-id'] !== undefined && body['session-id'] !== null
    ? String(body['session-id']) : linkSession;

  switch (props.operation) {
    case 'com.microsoft:renew-lock': {
      const until = list(body['lock-tokens'], 'lock-tokens').map((t) => broker.renewMessageLock(e, token(t)));
      return ok({ expirations: types.wrap_array(until, types.Timestamp.typecode) });
    }
    case 'com.microsoft:renew-session-lock': {
      if (sessionId === null) badRequest('session-id is missing.');
      return ok({ expiration: new Date(broker.renewSessionLock(e, sessionId)) });
    }
    case 'com.microsoft:peek-message': {
      const from = toNumber(body['from-sequence-number'], 'from-sequence-number');
      const count = toNumber(body['message-count'], 'message-count');
      const found = broker.peek(e, from, count, sessionId);
      if (found.length === 0) return { status: 204, description: 'No Content' };
      return ok({ messages: found.map((m) => ({ message: m })) });
    }
    case 'com.microsoft:receive-by-sequence-number': {
      const seqs = list(body['sequence-numbers'], 'sequence-numbers').map((q) => toNumber(q, 'sequence-numbers'));
      const peekLock = toNumber(body['receiver-settle-mode'] === undefined ? 1 : body['receiver-settle-mode'], 'receiver-settle-mode') === 1;
      const got = broker.receiveDeferred(e, seqs, peekLock, sessionId);
      return ok({
        messages: got.map((g) => (g.token ? { 'lock-token': types.Uuid(g.token), message: g.payload } : { message: g.payload })),
      });
    }
    case 'com.microsoft:update-disposition': {
      const how = DISPOSITIONS[body['disposition-status']];
      if (!how) badRequest(`unknown disposition-status ${body['disposition-status']}.`);
      for (const t of list(body['lock-tokens'], 'lock-tokens')) {
        broker.settle(e, token(t), how, {
          reason: body['deadletter-reason'],
          description: body['deadletter-description'],
          modify: body['properties-to-modify'] || undefined,
        });
      }
      return ok({});
    }
    case 'com.microsoft:schedule-message': {
      const parts = list(body.messages, 'messages').map((m) => {
        if (!m || !Buffer.isBuffer(m.message)) badRequest('a scheduled message has no encoded message.');
        return codec.parse(m.message);
      });
      const seqs = broker.schedule(e, parts);
      return ok({ 'sequence-numbers': types.wrap_array(seqs, types.Long.typecode) });
    }
    case 'com.microsoft:cancel-scheduled-message': {
      broker.cancelScheduled(e, list(body['sequence-numbers'], 'sequence-numbers').map((q) => toNumber(q, 'sequence-numbers')));
      return ok({});
    }
    case 'com.microsoft:get-session-state': {
      if (sessionId === null) badRequest('session-id is missing.');
      const state = broker.sessionState(e, sessionId);
      return ok({ 'session-state': state === null ? null : state });
    }
    case 'com.microsoft:set-session-state': {
      if (sessionId === null) badRequest('session-id is missing.');
      const state = body['session-state'];
      broker.setSessionState(e, sessionId, state === undefined || state === null ? null : Buffer.from(state));
      return ok({});
    }
    default:
      throw new BrokerError('amqp:not-implemented', 501,
        `The operation '${props.operation}' is not implemented by the Service Bus stand-in.`);
  }
}

module.exports = { handle };
