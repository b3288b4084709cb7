// Package notify tells people what stint found or did: expiry reminders to
// the sponsor, an engagement ended, a ghost found, drift found, policy
// drift, a dormant contractor, a sign-in after the end.
//
// # The outbox
//
// A Notification is first written to an Outbox, which keeps it in the
// ledger as a mark ("notify/<id>", the id hashed when long), with its
// delivery state. Writing it is cheap and durable: the tick or the
// reconcile adds what it found and moves on; a Sender delivers later, and
// a crash, a restart or an unreachable receiver loses nothing. `stint
// notify list` shows the outbox.
//
// # Delivery guarantees
//
// At least once, deduplicated by id. Outbox.Add skips an id it holds
// already, so a reminder the caller names "reminder/<engagement>/<14d>"
// goes out once per engagement and threshold, across restarts and
// replicas. Every attempt of one notification carries the same id (the
// CloudEvents id and the webhook-id header), so a receiver that saw it
// already can drop a repeat: a delivery whose answer was lost is sent
// again.
//
// Add reads, then writes; Flush reads an entry, sends it, then records the
// outcome. Neither is atomic against another replica doing the same at
// the same time: both are meant to run under the tick's or the
// reconcile's lease (engagement.Ledger.Lease), which serialises them.
// Outside a lease two replicas could both add an id (one notification,
// recorded twice, sent at least once) or both send it (twice, the same
// id: the receiver dedupes).
//
// A failed delivery (a network error, 408, 429, 5xx) is retried with
// exponential backoff, 1m, 2m, 4m … capped at 1h, for MaxAttempts
// attempts (about 24 hours), then given up with an error log line; a 429's
// Retry-After is honoured. Any other answer outside 2xx (400, 401, 404,
// 410 Gone …) is not going to change by itself: the notification is given
// up at once, with a log line saying why. Entries that were sent or given
// up are pruned 90 days later (Retention); a caller must not add the same
// id again after that, or it is sent again.
//
// # Formats
//
// config.Notify.Format chooses the body:
//
//   - cloudevents (the default): a CloudEvents 1.0 event in structured mode
//     (Content-Type application/cloudevents+json), source "stint", type one
//     of the dev.stint.* types below, subject the contractor (or the
//     policy), data a small JSON object (Data). Signed with Standard
//     Webhooks (webhook-id = the notification id, webhook-timestamp,
//     webhook-signature) using config.Notify.Secret, through pkg/webhook.
//   - teams: a Microsoft Teams Workflows webhook ("When a Teams webhook
//     request is received"): a message with one Adaptive Card (1.4)
//     attachment, the text and a fact set.
//   - slack: a Slack incoming webhook: text, and blocks with the same text
//     and the facts.
//
// Teams and Slack bodies are signed too when a secret is set (the
// receivers ignore the headers).
//
// Nothing here logs or stores the secret, a signature, or the URL: Teams
// Workflows and Slack URLs carry their own credential (a sig parameter, a
// token path), so log lines name the receiver's host only.
package notify
