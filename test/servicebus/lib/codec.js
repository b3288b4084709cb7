'use strict';
// AMQP 1.0 message sections, kept as the client encoded them.
//
// rhea decodes messages into JavaScript values and loses AMQP types (an
// int64 application property comes back as an unsigned number, a symbol as
// a string). A broker must hand a message on exactly as it was sent, so the
// stand-in splits the bare message into its encoded sections, reads the few
// fields it needs (message-id, group-id, ttl, ...) and forwards the rest
// byte for byte. Maps it extends (message annotations, application
// properties) are rebuilt from their raw entries plus new ones.

const { rhea } = require('./tools');

const types = rhea.types;

// Section descriptors (AMQP 1.0 messaging, section 3.2).
const SECTION = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
  sequence: 0x76,
  value: 0x77,
  footer: 0x78,
};

const SYMBOLIC = {
  'amqp:header:list': SECTION.header,
  'amqp:delivery-annotations:map': SECTION.deliveryAnnotations,
  'amqp:message-annotations:map': SECTION.messageAnnotations,
  'amqp:properties:list': SECTION.properties,
  'amqp:application-properties:map': SECTION.applicationProperties,
  'amqp:data:binary': SECTION.data,
  'amqp:amqp-sequence:list': SECTION.sequence,
  'amqp:amqp-value:*': SECTION.value,
  'amqp:footer:map': SECTION.footer,
};

// The message format of a Service Bus batch: each data section of the
// envelope holds one encoded message.
const BATCH_FORMAT = 0x80013700;

class DecodeError extends Error {}

// skip returns the offset just past the encoded value that starts at pos.
function skip(buf, pos) {
  if (pos >= buf.length) throw new DecodeError('truncated value');
  const code = buf[pos];
  if (code === 0x00) {
    return skip(buf, skip(buf, pos + 1));
  }
  const width = { 0x4: 0, 0x5: 1, 0x6: 2, 0x7: 4, 0x8: 8, 0x9: 16 }[code >> 4];
  let end;
  if (width !== undefined) {
    end = pos + 1 + width;
  } else if ([0xa, 0xc, 0xe].includes(code >> 4)) {
    end = pos + 2 + buf[pos + 1];
  } else if ([0xb, 0xd, 0xf].includes(code >> 4)) {
    end = pos + 5 + buf.readUInt32BE(pos + 1);
  } else {
    throw new DecodeError(`unknown type code 0x${code.toString(16)}`);
  }
  if (end > buf.length) throw new DecodeError('truncated value');
  return end;
}

function descriptorCode(buf, pos) {
  // A section is 0x00, a descriptor (smallulong, ulong or symbol), a value.
  if (buf[pos] !== 0x00) throw new DecodeError('message section without a descriptor');
  const d = new types.Reader(buf.subarray(pos + 1, skip(buf, pos + 1))).read();
  const v = d.value;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && SYMBOLIC[v] !== undefined) return SYMBOLIC[v];
  throw new DecodeError(`unknown message section ${String(v)}`);
}

function read(buf) {
  return new types.Reader(buf).read();
}

// value returns the plain value of a typed value, null for AMQP null.
function value(t) {
  if (t === undefined || t === null || t.type === undefined || t.type.typecode === 0x40) return null;
  return t.value;
}

// parse splits an encoded message into its sections.
function parse(buf) {
  const m = {
    header: null, // typed list
    messageAnnotations: null, // raw section
    properties: null, // raw section
    applicationProperties: null, // raw section
    body: [], // raw body sections and footer, in order
    data: [], // the contents of the data sections (for batches)
  };
  let pos = 0;
  while (pos < buf.length) {
    const end = skip(buf, pos);
    const raw = buf.subarray(pos, end);
    const code = descriptorCode(buf, pos);
    switch (code) {
      case SECTION.header: m.header = read(raw); break;
      case SECTION.deliveryAnnotations: break; // for this hop only
      case SECTION.messageAnnotations: m.messageAnnotations = raw; break;
      case SECTION.properties: m.properties = raw; break;
      case SECTION.applicationProperties: m.applicationProperties = raw; break;
      case SECTION.data:
        m.body.push(raw);
        m.data.push(value(read(raw)));
        break;
      default: m.body.push(raw);
    }
    pos = end;
  }
  return m;
}

// propertiesFields reads the properties section as a list of typed values.
function propertiesFields(raw) {
  if (!raw) return [];
  return read(raw).value || [];
}

// messageIDKey identifies a message-id of any AMQP type, for duplicate
// detection.
function messageIDKey(t) {
  const v = value(t);
  if (v === null) return null;
  return `${t.type.typecode}:${Buffer.isBuffer(v) ? v.toString('hex') : String(v)}`;
}

// mapEntries splits a raw map section into its entries: the key as a
// string and the raw bytes of key and value.
function mapEntries(raw) {
  if (!raw) return [];
  let pos = skip(raw, 1); // past the descriptor
  const code = raw[pos];
  let count;
  if (code === 0xc1) {
    count = raw[pos + 2];
    pos += 3;
  } else if (code === 0xd1) {
    count = raw.readUInt32BE(pos + 5);
    pos += 9;
  } else if (code === 0x40) {
    return [];
  } else {
    throw new DecodeError('map section is not a map');
  }
  const out = [];
  for (let i = 0; i + 1 < count; i += 2) {
    const keyEnd = skip(raw, pos);
    const end = skip(raw, keyEnd);
    out.push({ key: String(value(read(raw.subarray(pos, keyEnd)))), raw: raw.subarray(pos, end) });
    pos = end;
  }
  return out;
}

function encodeTyped(...values) {
  const w = new types.Writer();
  for (const v of values) w.write(v);
  return w.toBuffer();
}

// entry encodes one map entry; symbol keys for annotations, string keys
// for application properties.
function entry(key, typedValue, symbolKey) {
  return {
    key,
    raw: encodeTyped(symbolKey ? types.wrap_symbol(key) : types.wrap_string(key), typedValue),
  };
}

// mapSection builds a map section from raw entries; a later entry replaces
// an earlier one with the same key.
function mapSection(code, entries) {
  const byKey = new Map();
  for (const e of entries) byKey.set(e.key, e.raw);
  const body = Buffer.concat([...byKey.values()]);
  const head = Buffer.alloc(3 + 9);
  head[0] = 0x00;
  head[1] = 0x53;
  head[2] = code;
  head[3] = 0xd1;
  head.writeUInt32BE(body.length + 4, 4);
  head.writeUInt32BE(byKey.size * 2, 8);
  return Buffer.concat([head, body]);
}

// header encodes a header section.
function header({ durable, priority, ttl, firstAcquirer, deliveryCount }) {
  const list = [
    durable ? types.True() : types.False(),
    types.Ubyte(priority === null || priority === undefined ? 4 : priority),
    ttl === null || ttl === undefined ? types.Null() : types.wrap_uint(ttl),
    firstAcquirer ? types.True() : types.False(),
    types.wrap_uint(deliveryCount),
  ];
  return encodeTyped(types.described(types.wrap_ulong(SECTION.header), types.List32(list)));
}

// wrapValue turns a decoded JavaScript value back into an AMQP value, for
// the few places where the stand-in only has decoded values (the
// properties-to-modify of a settlement).
function wrapValue(v) {
  if (typeof v === 'number' && Number.isInteger(v)) return types.wrap_long(v);
  return types.wrap(v);
}

// .NET ticks: 100 ns since 0001-01-01; they exceed 2^53.
const EPOCH_TICKS = 621355968000000000n;

function ticks(ms) {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(ms) * 10000n + EPOCH_TICKS);
  return types.Long(b);
}

// dotnetGUID converts a UUID (RFC 4122 byte order) to .NET's GUID byte order
// and back (the swap is its own inverse).
function dotnetGUID(uuid) {
  const b = Buffer.from(uuid);
  b[0] = uuid[3]; b[1] = uuid[2]; b[2] = uuid[1]; b[3] = uuid[0];
  b[4] = uuid[5]; b[5] = uuid[4];
  b[6] = uuid[7]; b[7] = uuid[6];
  return b;
}

module.exports = {
  SECTION, BATCH_FORMAT, DecodeError,
  parse, propertiesFields, value, messageIDKey, mapEntries, mapSection, entry,
  header, encodeTyped, wrapValue, ticks, dotnetGUID, types,
};
