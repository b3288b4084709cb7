// Package model is a model check of stint's access promise: nobody holds
// access that no active engagement justifies, and no active contractor
// lacks it, whatever the interleaving of events, ticks, reconciles,
// retries, crashes and administrators' hands.
//
// It is a seeded, randomized simulation that drives the real code and
// compares where it ends with an independent oracle: one actor at a time
// (on SQLite by default), or with the worker, the tick and the reconcile
// running at once (on DynamoDB by default; see "Actors at once").
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
// a Backend:
//
//   - SQLite: the SQLite ledger with the embedded queue in its file, as
//     `stint serve` has them;
//   - DynamoDB: the DynamoDB ledger (pkg/ledger/dynamo) in a fresh table
//     of dynalite (test/dynalite, one server per test process, the table
//     deleted after the run), with the embedded queue in a SQLite file of
//     its own. Production on AWS has SQS there; see "What is simplified"
//     for why the simulation cannot use it.
//
// # The simulation
//
// Everything random is drawn from one seed: the scenario from a PCG stream
// (math/rand/v2) in a fixed order, the rest (faults, crashes, lost
// acknowledgements) by hashing the seed with the identity of the decision.
// One actor acting at a time, a seed is a run (TestSeedReproducesRun);
// with the actors at once it is a scenario, and the interleaving differs
// from run to run.
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
// # Actors at once
//
// In the concurrent mode (Options.Concurrent; the default on DynamoDB) the
// random phase is cut into windows of two hours of simulated time, from
// the first step of each. A window's sends and administrators' actions
// happen first, one at a time and in order; then the clock is set to the
// window's last drain, tick or reconcile and stands still while they all
// run at once, in goroutines, until the last is done:
//
//   - its drains are four workers, each taking the next visible message,
//     handling it, and acknowledging or rescheduling it, as the host's
//     workers do (the host's one receiver leases a message for each idle
//     worker in one Receive: the same as those workers each taking one in
//     turn); the queue keeps one contractor's messages in order, so
//     workers handle different contractors;
//   - each tick (two hours hold about four) runs with its normal
//     parallelism, eight contractors at a time; ticks overlap, and the
//     sweep's lease lets one run while the others find it held and skip,
//     or run after it;
//   - the reconcile, when the window has one.
//
// Each actor starts a random moment, up to 40 ms of real time, after the
// window opens, so which one reaches a contractor first varies. The
// worker waits up to 2 s of real time for a contractor another settle
// holds (Handler.ClaimWait; the tick and the reconcile leave such a
// contractor to the holder, as in production): a held claim here is
// nearly always a live settle's, which ends in moments. The figures count
// the deliveries that found their contractor claimed and waited, then
// applied their event, or gave up and were retried — by what held the
// claim then: a settle still running, a unit that had crashed, or one that
// had ended without releasing it (a take-over that fails leaves its claim
// to expire) — the contractors a sweep found claimed, and the ledger
// writes lost to another writer (a conflict on a version), so a run shows
// how much its actors met.
//
// Faults, crashes and lost acknowledgements are kept, decided as in the
// sequential mode (how many such requests came before now depends on the
// interleaving, so which request a fault lands on varies between runs). A
// crash kills its unit of work only: one delivery (the other workers go
// on, as other Lambda invocations would), or a whole tick with all its
// parallel settles, or a reconcile. A claim the dead unit held stays held
// until the clock passes its end, so for the rest of the window (the clock
// stands still): a worker that meets it waits 2 s and is retried; the
// next window takes the claim over. The settling phase is the same as in
// the sequential mode — one actor at a time, with the tick's parallelism
// and the claim wait of this mode — so that the world is judged after it
// has come to rest.
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
//   - One actor at a time (the sequential mode): no concurrency between
//     the worker, the tick (which settles one contractor at a time here,
//     not eight) and the reconcile. A crash kills only the unit in hand;
//     the claim it held on its contractor lasts until the fake clock
//     passes its end (its unit's time, 10 s in the random phase, plus
//     5 s), and the worker does not
//     wait in real time for a claim (ClaimWait -1): a held claim here is
//     always a dead unit's.
//   - Actors at once (the concurrent mode): they run at once only within
//     a window, on a clock that stands still, so a live settle's claim
//     never expires under it and no lease or backoff passes while they
//     run; a message sent during a window waits for its end (up to two
//     hours), and so does a due start or end. Administrators never act
//     while stint's actors run (an administrator who disables an account
//     between stint's read and its PATCH is a known limitation in the
//     README, not checked). Graph requests pass the wire one at a time
//     (see wire), so the items of one $batch are never interleaved with
//     another request. The settling phase runs one actor at a time.
//     Shrinking a break found this way is best effort: a re-run may
//     interleave otherwise.
//   - No SQS: on DynamoDB the queue is still the embedded one, in a file of
//     its own. The SQS client (pkg/queue/sqs) against test/sqsfake would
//     run on the wall clock, which the simulation cannot move: the fake's
//     five-minute deduplication window spans a whole run, so every
//     duplicate sent "a day later" and every dead letter replayed would be
//     dropped as a duplicate; and a message that failed or whose
//     acknowledgement was lost would come back after a visibility timeout
//     in real time, bearing no relation to the claims, leases and backoffs
//     stint keeps on the simulation's clock (one second of real time is
//     hours of simulated time). The worker is driven as the host drives it
//     (Handler.Process per message), not through the Lambda batch entry.
//   - The first Graph requests, with which stint reads every group at
//     start, meet no fault.
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
// `make test` runs TestModel: N=300 on SQLite, one actor at a time, for a
// fixed seed and for a random one, which it prints; and
// TestModelConcurrentDynamoDB: N=150 on DynamoDB with the actors at once,
// for the same fixed seed and another random one. It fails if the
// concurrent run's actors never met (no claim found held, no write lost).
// `make model N=10000 SEED=…` runs the large one (TestModelLarge, skipped
// otherwise) and prints its figures; BACKEND=dynamodb runs it on DynamoDB
// with the actors at once, CONCURRENT=1 or 0 chooses the mode on either
// backend; ONLY=c17,b3
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
