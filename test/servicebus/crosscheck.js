'use strict';
// A second, independent client against the stand-in: Microsoft's
// JavaScript SDK (@azure/service-bus) does what stint does with Service Bus
// and prints what it saw, one JSON object per line, for servicebus_test.go
// to check.
//
//   node crosscheck.js '<connection string>' <session queue>

const { tool } = require('./lib/tools');

const { ServiceBusClient } = tool('@azure/service-bus');

function report(step, fields) {
  process.stdout.write(`${JSON.stringify({ step, ...fields })}\n`);
}

function describe(m) {
  return {
    body: m.body,
    messageId: m.messageId,
    sessionId: m.sessionId,
    deliveryCount: m.deliveryCount,
    sequenceNumber: m.sequenceNumber === undefined ? null : m.sequenceNumber.toNumber(),
    applicationProperties: m.applicationProperties || {},
    deadLetterReason: m.deadLetterReason === undefined ? null : m.deadLetterReason,
    deadLetterErrorDescription: m.deadLetterErrorDescription === undefined ? null : m.deadLetterErrorDescription,
    lockedUntil: m.lockedUntilUtc ? m.lockedUntilUtc.toISOString() : null,
  };
}

async function main() {
  const [connectionString, queue] = process.argv.slice(2);
  const client = new ServiceBusClient(connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 10000 } });
  try {
    const sender = client.createSender(queue);
    await sender.sendMessages([
      { body: 'one', messageId: 'js-1', sessionId: 'js', applicationProperties: { n: 1 } },
      { body: 'two', messageId: 'js-2', sessionId: 'js', applicationProperties: { n: 2 } },
      { body: 'three', messageId: 'js-3', sessionId: 'js', applicationProperties: { n: 3 } },
    ]);
    await sender.sendMessages({ body: 'one again', messageId: 'js-1', sessionId: 'js' });
    report('sent', {});

    try {
      await sender.sendMessages({ body: 'x'.repeat(300 * 1024), messageId: 'js-big', sessionId: 'js' });
      report('too-large', { error: null });
    } catch (err) {
      report('too-large', { error: err.code || err.name, message: err.message });
    }

    const receiver = await client.acceptNextSession(queue, { maxAutoLockRenewalDurationInMs: 0 });
    report('accepted', { sessionId: receiver.sessionId, lockedUntil: receiver.sessionLockedUntilUtc.toISOString() });

    let got = await receiver.receiveMessages(3, { maxWaitTimeInMs: 3000 });
    report('received', { messages: got.map(describe) });
    const [one, two, three] = got;
    await receiver.completeMessage(one);
    report('completed', { messageId: one.messageId });

    await receiver.abandonMessage(two);
    got = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
    report('redelivered', { messages: got.map(describe) });
    await receiver.deadLetterMessage(got[0], { deadLetterReason: 'Invalid', deadLetterErrorDescription: 'the event failed validation' });
    report('deadlettered', { messageId: got[0].messageId });
    await receiver.completeMessage(three);

    const renewed = await receiver.renewSessionLock();
    report('renewed', { lockedUntil: renewed.toISOString() });
    await receiver.close();

    const dlq = client.createReceiver(queue, { subQueueType: 'deadLetter' });
    const peeked = await dlq.peekMessages(10);
    report('peeked', { messages: peeked.map(describe) });
    got = await dlq.receiveMessages(10, { maxWaitTimeInMs: 3000 });
    for (const m of got) await dlq.completeMessage(m);
    report('dlq-received', { messages: got.map(describe) });
    const after = await dlq.peekMessages(10);
    report('dlq-after', { count: after.length });
    await dlq.close();

    // The SDK sends its operation timeout as com.microsoft:timeout.
    const quick = new ServiceBusClient(connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 1500 } });
    try {
      const none = await quick.acceptNextSession(queue, { maxAutoLockRenewalDurationInMs: 0 });
      report('no-session', { error: null, sessionId: none.sessionId });
    } catch (err) {
      report('no-session', { error: err.code || err.name, message: err.message });
    } finally {
      await quick.close();
    }
  } finally {
    await client.close();
  }
  report('done', {});
}

main().catch((err) => {
  report('failed', { error: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
