'use strict';
// The Azure Service Bus stand-in: an AMQP 1.0 server on rhea that answers
// as Service Bus does (see README.md). Started by the Go package beside it:
//
//   node server.js '<config JSON>'
//
// It listens on 127.0.0.1 (port 0 unless the config names one), prints
// "listening 127.0.0.1:<port>" and runs until its standard input closes
// (its parent ended) or it is killed. Messages are held in memory only.
//
// The config: { keyName, key, port?, idleTimeoutMs?, sessionWaitMs?,
//   tlsKey?, tlsCert? (PEM: listen for amqps instead of amqp),
//   queues: [{ name, requiresSession, maxDeliveryCount, lockDurationMs,
//              duplicateDetectionWindowMs, maxMessageSize }] }

const { rhea } = require('./lib/tools');
const { Broker } = require('./lib/broker');
const { Links } = require('./lib/links');

function main() {
  const config = JSON.parse(process.argv[2] || '{}');
  const broker = new Broker({ queues: config.queues || [], sessionWaitMs: config.sessionWaitMs || 60000 });
  const ns = { host: null, keyName: config.keyName, key: config.key };
  const links = new Links(broker, ns);

  const container = rhea.create_container({ id: 'servicebus-stand-in' });
  container.sasl_server_mechanisms.enable_anonymous();
  links.listen(container);

  const tls = config.tlsKey ? { transport: 'tls', key: config.tlsKey, cert: config.tlsCert } : {};
  const server = container.listen({
    ...tls,
    host: '127.0.0.1',
    port: config.port || 0,
    require_sasl: true,
    // Frames go out as written (no Nagle): a burst of transfers must not
    // wait for the client's delayed ACK.
    noDelay: true,
    idle_time_out: config.idleTimeoutMs || 60000,
    sender_options: { treat_modified_as_released: false, autosettle: true },
    receiver_options: { autoaccept: false, credit_window: 1000 },
  });
  server.on('listening', () => {
    const { port } = server.address();
    ns.host = `127.0.0.1:${port}`;
    process.stdout.write(`listening 127.0.0.1:${port}\n`);
  });
  server.on('error', (err) => {
    console.error('servicebus stand-in:', err.message);
    process.exit(1);
  });

  // End with the parent: the Go side holds our standard input open.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

main();
