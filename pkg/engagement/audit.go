package engagement

// Action names a change in the audit trail. The vocabulary is closed: the
// constants below, and the actions EventAction, EngagementAction and
// SweepAction build from an outcome, a state or a sweep's account line.
// Tests and readers compare these constants, never strings.
type Action string

// The actions.
const (
	// What an event did (see Outcome), or why it did nothing.
	EventApplied           Action = "event.applied"
	EventAppliedOutOfOrder Action = "event.applied_out_of_order"
	EventStale             Action = "event.stale"
	EventDuplicate         Action = "event.duplicate"
	EventRefused           Action = "event.refused"
	EventFailed            Action = "event.failed"

	// Directory changes.
	UserInvited            Action = "user.invited"
	UserFound              Action = "user.found"
	UserGone               Action = "user.gone"
	GroupAdded             Action = "group.added"
	GroupFound             Action = "group.found"
	GroupRemoved           Action = "group.removed"
	GroupUnmanaged         Action = "group.unmanaged"
	AccountEnabled         Action = "account.enabled"
	AccountDisabled        Action = "account.disabled"
	AccountAlreadyDisabled Action = "account.already_disabled"
	AccountGone            Action = "account.gone"
	SessionsRevoked        Action = "sessions.revoked"
	// A settle that took over from one that died.
	SettleTookOver Action = "settle.took_over"

	// Engagements whose applied state moved.
	EngagementPending Action = "engagement.pending"
	EngagementActive  Action = "engagement.active"
	EngagementEnded   Action = "engagement.ended"

	// A sweep's summary line.
	SweepSummary Action = "sweep.summary"

	// Conditional Access policies stint manages (pkg/policy): created or
	// updated by stint policy apply, found changed or deleted by hand by
	// the reconcile, put back by it (STINT_POLICY_DRIFT=repair).
	PolicyCreated  Action = "policy.created"
	PolicyUpdated  Action = "policy.updated"
	PolicyDrift    Action = "policy.drift"
	PolicyRepaired Action = "policy.repaired"

	// What the reconcile's oversight found (pkg/sweep): an engaged
	// contractor with no sign-in for STINT_DORMANT_AFTER, and a successful
	// sign-in after an engagement ended (critical).
	ContractorDormant Action = "contractor.dormant"
	SignedInAfterEnd  Action = "signin.after_end"
)

// EventAction is the action of an event's outcome: EventApplied, …
func EventAction(o Outcome) Action { return Action("event." + string(o)) }

// EngagementAction is the action of an engagement moving to state.
func EngagementAction(s Status) Action { return Action("engagement." + string(s)) }

// SweepAction is the action of a sweep's account line: "sweep.removed",
// "sweep.flagged", …
func SweepAction(account string) Action { return Action("sweep." + account) }
