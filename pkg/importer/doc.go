// Package importer turns a list of contractors — today's list, at go-live
// — into the events an HR system would have sent: one
// engagement.started event per row, put on the queue the webhook puts
// events on, so that the worker applies them like any other and the audit
// trail names their source (Source, "stint/import").
//
// # The list
//
// CSV (a header row, then a contractor a row; UTF-8, a byte-order mark
// allowed; ';' as the separator when the header has ';' and no ',', as
// spreadsheets save CSV in some locales) or JSON lines (one object a
// line), told apart by the first character. The columns, named without
// regard to case: email (required), end (required), name, company,
// sponsor (an email), access, start, engagementId. An unknown column is
// refused, not ignored: a misspelt "acess" would otherwise grant the
// default access without a word. Access keys are separated by ';' or '|'
// in CSV (by '|' alone with ';' as the separator) and are an array in
// JSON lines; none means STINT_DEFAULT_ACCESS, as in an event. Each must
// be a key of the allow-list (STINT_GROUPS).
//
// start and end are ISO dates (2027-02-28) or RFC 3339 times with their
// zone. A date is a day in the import's zone (UTC unless told): a start
// from its first second, an end to its last, 23:59:59, as the event
// format's own samples write "until the end of that day". No start means
// from the moment the row is first imported. An end already past is
// refused: an engagement that ended has nothing to import.
//
// # Bad rows
//
// Every row is checked before anything is written, and each bad row gives
// one Problem, "row N, column C: why" (the first problem found in it): rows
// are numbered as a spreadsheet shows them, the header being row 1 (blank
// rows count; a quoted value spanning lines does not), and in JSON lines
// they are the line numbers. A row's event is built and then run through
// event.Parse and the webhook's own checks (configured access keys, a time
// not ahead of the clock), so a row that passes is one the webhook would
// accept. Two rows for one engagement are refused on the second: without
// an engagementId that means one row per contractor. With any bad row,
// nothing is imported.
//
// # The same list twice applies once
//
// A row's event id is a digest of what the row says (EventID), so the
// same row always makes the same id, and a corrected row a new one. Its
// engagement id is the row's engagementId, else a digest of the email
// (EngagementID): one engagement per contractor, which a corrected row
// updates (its event is newer) rather than duplicates. Give the HR
// system's engagement ids when there are some: its later extended and
// ended events then apply to the imported engagements.
//
// An event's time orders it among the engagement's events and is part of
// what it says, so it cannot be "now" on every run: a second run would
// make a different event under the same id, which the queues and the
// worker refuse as a reused id. The time a row is first imported is kept
// in the ledger (a mark, MarkPrefix + event id) and used again on every
// later import of that row, so that re-running the import makes the very
// same events: the embedded queue takes each once (it remembers what it
// accepted), Service Bus is given the same message id
// (engagement.DedupID), and the worker treats any that come again as
// duplicates. Enqueue also skips the events the ledger has handled.
//
// # Nothing half-applied
//
// All rows are checked (against the ledger too) before the first write;
// then the marks are kept, then the events queued. The embedded queue
// (SQLite or PostgreSQL) takes the whole list in one transaction: all of
// it or none. Service Bus takes one event at a time, so a failure while
// queueing there can leave some events queued and others not; the error
// says how many, and since a re-run makes the same events, importing the
// list again queues only the rest. Entra is changed by the
// worker alone, event by event, as for the webhook's.
//
// # Dry run
//
// Planner.Preview reads Entra (the allow-listed groups' members, and each
// row's account, a few lookups at a time) and the ledger, and says what
// the import would change: the invitations (no account has the email),
// the additions to groups (an account lacks a group of its row), the
// removals (a row imported for the first time replaces an engagement of
// the same id that granted more), the addresses several accounts share
// (stint never guesses), and the members of the allow-listed groups that
// neither an active row of the list nor an active engagement justifies,
// judged as the reconcile judges them (engagement.ClassifyMember), against
// the ledger as the import would leave it. It writes nothing.
package importer
