// Package report is the access report for auditors and sponsors (stint
// report): who outside the company has access, since when, until when,
// approved by whom, and whether they use it. It joins what stint knows (the
// engagements and contractor records of the ledger) with what Entra says
// (the accounts, the groups they are in, their sign-ins), and writes the
// result as JSON, CSV or one self-contained HTML file.
//
// Build is pure: Gather collects an Input (the ledger, a Directory, the
// Conditional Access coverage), Build judges it at Input.Now, and the
// writers only format the Report.
//
// # Rows and flags
//
// One Row per contractor record, and one per ghost account (an account in
// an allow-listed group that no contractor record names, or a ghost the
// reconcile recorded). The flags, each decided by one function (flags.go):
//
//   - ghost: the ghost rows.
//   - drift: Entra was read, and the groups it shows differ from the access
//     keys of the engagements active at Now (a group missing, or one no
//     active engagement justifies). Within a minute of a start or an end
//     a row may show drift the next tick removes; a snapshot says so.
//   - dormant: an engagement is active, sign-ins are known, and there was
//     no sign-in (interactive, non-interactive or successful) since
//     DormantAfter ago; the clock starts no earlier than the active
//     engagement's start, so a newcomer is not dormant on day one.
//     Unknown sign-ins never flag; DormantAfter 0 turns the flag off.
//   - unredeemed: a guest whose invitation is PendingAcceptance, whatever
//     its engagements (an open invitation is access waiting to be taken).
//   - ending-soon: an engagement is active, and every active or pending
//     engagement of the contractor ends within EndingWithin (14 days by
//     default): a follow-up engagement means no lapse to warn of.
//   - signed-in-after-end: a finding of the ledger (Findings).
//   - not-covered: the coverage was read, and the account is in a group no
//     enabled Conditional Access policy requiring MFA targets
//     (policy.Covers: stint's policies or the administrator's).
//
// Account state: "enabled"; "blocked by stint" (disabled, and the contractor
// record says stint disabled it: DisabledByStint); "blocked by an admin"
// (disabled otherwise — Contractor.Blocked alone is not enough: a guest
// stint found already disabled is Blocked without DisabledByStint); "not in
// Entra" (the account was deleted); "no account" (stint has not found or
// invited one yet); "unknown" (Entra was not read).
//
// # What Entra tells today
//
// The Directory that stint report uses (Entra, over engagement.Directory)
// reads the members of every allow-listed group, then each contractor's
// account that is in none of them (one request each). engagement.Directory
// does not read sign-in activity or sponsors yet, so those come back nil:
// the report says "unknown" and never flags dormant on them. Sign-in
// activity needs AuditLog.Read.All and Entra ID P1.
//
// # Formats
//
// JSON is the Report as is (times in RFC 3339, unknown values null). CSV
// has one row per Row, engagements joined with "; ", a UTF-8 byte order
// mark (Excel reads UTF-8 then), times in ISO 8601 (RFC 3339, UTC), and
// every cell that starts with = + - @ tab or carriage return prefixed with
// a quote, so that Excel never reads a name as a formula. HTML is one file
// with inline CSS, JS and SVG and a Content-Security-Policy that forbids
// every fetch (default-src 'none'): summary figures, a timeline of the
// engagements (with a line at Now), and a table that sorts on a header
// click and filters by text and flags (a row shows when it has any of the
// ticked flags). The URL fragment sets the initial view:
// #flag=ghost,dormant&q=text&sort=ends&dir=desc.
//
// The screenshot in testdata/report.png was made from the browser test's
// page (STINT_REPORT_KEEP=DIR go test ./pkg/report -run Browser keeps it):
//
//	chromium --headless --disable-gpu --no-sandbox --hide-scrollbars \
//	  --window-size=1200,800 --screenshot=report.png file://DIR/report.html
package report
