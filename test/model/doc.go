// Package model is a model check of stint's access promise: nobody holds
// access that no active engagement justifies, and no active contractor
// lacks it, whatever the interleaving of events, ticks, reconciles,
// retries, crashes and administrators' hands.
//
// It is a seeded, randomized, sequential simulation that drives the real
// code and compares where it ends with an independent oracle.
//
// # What runs
//
// stint as the one-machine host wires it: the worker (worker.Handler, each
// message through Handler.Process), the tick and the reconcile
// (sweep.Sweeper.Run), the embedded queue (pkg/queue/embedded) in the
// SQLite ledger's file (pkg/ledger/sqlite), and the Graph adapter
// (pkg/entra, msgraph-sdk-go and azidentity) against the sandbox tenant
// (pkg/sandbox) over HTTPS with the tenant's own CA. Every part of stint
// reads one fake clock, which only the simulation moves: leases, backoffs
// and grace periods pass without sleeping. The ledger and queue come from
// a Backend (SQLite now; DynamoDB, with the worker, tick and reconcile
// concurrent, is to come).
//
// # The simulation
//
// Everything random is drawn from one seed: the scenario from a PCG stream
// (math/rand/v2) in a fixed order, the rest (faults, crashes, lost
// acknowledgements) by hashing the seed with the identity of the decision.
// One actor acts at a time, so a seed is a run (TestSeedReproducesRun).
//
// The scenario (Generate) has N contractors: 15 % with a Member account
// already in the tenant, 15 % with a Guest account (invitation accepted),
// the rest unknown to the tenant (stint invites them); 30 % of the existing
// accounts already sit in one managed group. 70 % have one engagement,
// 20 % two and 10 % three, overlapping. There are N/20 bystanders (employee
// accounts no engagement concerns), half of them in a managed group. Three
// access keys map to three groups; the default access is
// "contractor-access".
//
// Each engagement has a started event (its startsAt absent, in the past,
// or days ahead; its access listed or left to the default), zero to two
// extensions (new end, sometimes new access or a moved start, sometimes
// at the same time as the start), in 35 % an ended event (without endsAt,
// with a future one, or a past one; sometimes at the same time as an
// earlier event), after which 30 % are reopened by a later extension; 3 %
// lose their started event (never granted). Events are recorded over 14
// days of simulated time.
//
// The timeline interleaves, by simulated time:
//
//   - sends: the webhook's acceptance of an event (it must parse; it is
//     enqueued with the event id as deduplication id and the contractor key
//     as group), 60 % within 5 minutes of the event's time, 30 % within 6
//     hours, 10 % up to 2 days late, so events of one engagement arrive out
//     of order; 10 % are sent a second time up to a day later;
//   - drains, every 2–10 minutes: every message visible in the queue is
//     handed to the worker, one at a time, and acknowledged, or rescheduled
//     with the queue's backoff (or the Retry-After Graph asked for) when it
//     failed; a message dead-lettered stays there until the settling phase;
//   - ticks every 10–45 minutes and reconciles every 4–10 hours, with a
//     ghost grace of 2 hours;
//   - administrators' actions, 0.4 per contractor, near the target's
//     engagements: add an account to a managed group (a contractor's, 60 %,
//     or a bystander's), remove one from a group, disable an enabled
//     account, convert a guest to a member, delete an account. An action
//     that does not apply at that moment (no account, already a member, not
//     enabled, not a guest) is skipped and counted.
//
// During this random phase:
//
//   - 8 % of Graph requests fail: 429 with Retry-After 12 (the adapter's
//     single retry would pass the unit's 10 s deadline, so it surfaces as
//     a transient failure carrying the wait), 429 or 503 with Retry-After 0
//     (retried at once by the SDK), 503 with Retry-After 12, 500 (not
//     retried), or a dropped connection; items inside a $batch fail at half
//     that rate, with 500 or a connection dropped after the items before
//     them ran. A fault is decided by hashing the seed with what the
//     request does, in the simulation's names ("POST add c17 to vpn"), and
//     how many such requests came before: one person's faults do not move
//     when other people are left out or visited in another order;
//   - a unit of work (a delivery, a tick, a reconcile) crashes after the
//     k-th effect concerning one person (a Graph request answered, its
//     answer lost; or a ledger write committed): 5 % of deliveries, 2 % per
//     person a sweep acts on. From there the process is dead: nothing more
//     reaches the tenant or the ledger, and the message is neither
//     acknowledged nor rescheduled; its lease (60 s) ends and it comes back;
//   - 4 % of deliveries lose their acknowledgement: the message comes back
//     when its lease ends and is handled again (a duplicate).
//
// Then the settling phase: faults off, no more crashes or lost
// acknowledgements. Each round moves the clock past every lease, queue
// backoff and tick backoff (the longest is an hour): the first round to
// two hours past the random phase, each next one an hour and a minute
// later. A round replays every dead letter (an operator would, once the
// cause is fixed), drains the queue, runs tick, reconcile with ghost grace
// 0, and tick, and drains again. The phase ends after the first clean
// round — no delivery or sweep failed, every sweep completed, the queue is
// empty — and the world is judged at that round's time; after six rounds
// that are not clean (stint keeps failing somewhere), it is judged as it
// is. Engagements that start or end while the clock moves are handled by
// the round's own tick; the oracle judges at the final time.
//
// # The oracle
//
// Written from the README ("The event", "The engagement rules"), not from
// pkg/engagement: it calls nothing in stint but the event types. From the
// accepted events alone (those the queue took, each id once), per
// engagement (Fold):
//
//   - events are ordered by time, then ended over extended over started,
//     then by id;
//   - each field is set by the newest event that speaks of it: the start
//     by a started event (its startsAt, else its time) or an extended or
//     ended event carrying startsAt; the end by every event (an ended
//     event without endsAt ends at its time; an ended event's endsAt is
//     taken as it is, even later than the current end); the access by a
//     started event (its access, else the default) or an extended event
//     that lists access — one that lists none does not speak of access;
//   - only a started event grants;
//   - active from the start until the end, when granted; live while
//     granted and not yet ended (active, or still to come).
//
// Per contractor (Expect), at the settling time: the wanted access is the
// union of the access of the active engagements; the contractor is live
// when any engagement is.
//
// # The invariants
//
// Accounts belong to a person when they hold the person's address (mail,
// other mail, or the guest UPN Entra makes from it). Checked on the
// tenant after settling, on the Graph requests as they left, and on the
// audit trail:
//
//  1. No one in a managed group without an active engagement granting that
//     group: every member of every managed group is an account of a
//     contractor whose wanted access has the group's key. (Ghosts are
//     removed by the final reconcile with grace 0, so none may remain.)
//  2. Every contractor with wanted access has exactly one account, and
//     that account's managed groups are exactly the wanted access.
//  3. An account an administrator disabled is never enabled by stint: no
//     PATCH accountEnabled=true for it leaves stint after the
//     administrator's action (an attempt counts, whether or not a fault
//     then stopped it), and it is disabled at the end. (Administrators
//     never enable accounts in the simulation.)
//  4. a. A guest account with no engagement left is blocked: at the end,
//     every Guest account of a contractor who is not live, and which stint
//     resolved for that contractor during the run (a lookup answered it,
//     or an invitation created it), is disabled. An account stint never
//     resolved is not judged: when the ended event arrives before the
//     started one, stint never looks the person up (the README's "never
//     invited" decision; for an existing guest, never found), and a guest
//     deleted and never resolved again has nothing to block. A guest that
//     stint blocked and an administrator later converted is a member at
//     the end and not judged by 4a; whether stint was right to block it is
//     judged by 4b at the moment it did.
//     b. A member is never disabled by stint: no PATCH accountEnabled=false
//     leaves stint for an account whose userType is Member at that moment
//     (read from the tenant as the request is sent, so a conversion before
//     it counts and one after it does not).
//  5. No invitation for an existing user: at the moment each POST
//     /invitations leaves stint, no user holds the invited address.
//  6. Every accepted event id has exactly one audit line event.applied,
//     event.applied_out_of_order or event.stale, and at most one
//     event.duplicate line per delivery after its first. An event left in
//     the dead letters after settling breaks this, with its reason.
//  7. An active contractor can sign in: the account of a contractor with
//     wanted access is enabled unless an administrator disabled it — also
//     when stint blocked it in a unit of work that then crashed (stint
//     writes its intention before the PATCH, and a settle that takes over
//     reads the account from Entra).
//
// # What is simplified
//
//   - One process, one actor at a time: no concurrency between the worker,
//     the tick (which settles one contractor at a time here, not eight)
//     and the reconcile (the SQLite backend; the concurrent
//     DynamoDB run is to come). A crash kills only the unit in hand; the
//     claim it held on its contractor lasts until the fake clock passes
//     its end (2 min 5 s), and the worker does not wait in real time for a
//     claim (ClaimWait -1): a held claim here is always a dead unit's.
//   - The webhook's signature check is not exercised: sends go straight to
//     the queue after parsing, as the webhook enqueues them.
//   - Administrators never enable an account, never convert a member to a
//     guest, and never add other addresses to accounts; guests never
//     redeem invitations (redemption changes nothing stint checks).
//   - Graph faults come from the sandbox (its Fault injection), decided by
//     the harness per request; the sandbox's throttling model is off. A
//     dropped GET on a reused connection is retried by net/http itself, so
//     such a drop is absorbed without stint seeing it.
//   - A crash falls between two effects: after a Graph request the tenant
//     answered (the answer is lost) or after a ledger write committed;
//     never inside the tenant or inside a ledger transaction.
//   - The reconcile visits people in map order (stint's choice). A $batch
//     is identified by its items whatever their order, so this does not
//     move faults; but with more than 20 re-adds for one group in one run,
//     which people share a batch (and a fault decided for the whole batch)
//     can differ between two runs of a seed, and so can which person's
//     effect a reconcile's crash lands on when several are due in it.
//   - Sign-in sessions are not modelled (the sandbox records revocations
//     only), so "a member's sessions are revoked" is not checked.
//
// # Running it
//
// `make test` runs TestModel: N=300 for a fixed seed and for a random one,
// which it prints. `make model N=10000 SEED=…` runs the large one
// (TestModelLarge, skipped otherwise) and prints its figures; ONLY=c17,b3
// keeps only those people and DROP=12,40 leaves steps out, which is how a
// shrunk break is re-run; TRACE=1 prints the whole history, SHRINK=5m
// bounds shrinking (0: none), VIOLATIONS=file writes every violation (the
// STINT_MODEL_* variables underneath are listed on TestModelLarge).
//
// On a violation the test fails, lists every violation by invariant, and
// shrinks the first of each invariant: the people concerned alone
// (usually enough), else a delta-debugging search over people, then each
// of their steps that the break does not need; it prints the seed, the
// re-run command, and the shrunk run's history as lines.
package model
