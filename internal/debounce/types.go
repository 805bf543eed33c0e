// Package debounce owns the incident state machine of FluxWatch: it turns a
// stream of observations of Flux objects into incidents that open, fire and
// end, and tells when the next timer is due. It is plain Go: no Kubernetes
// client, no goroutines, no clock of its own. Every call takes the current
// time, so tests drive it with any sequence of instants and never sleep.
package debounce

import "time"

// State is what an observation says about an object, after the Flux status
// reader has applied the precedence deleted > suspended > stalled > healthy >
// blocked > in progress > failing.
type State string

const (
	// Healthy: Ready=True at the current generation.
	Healthy State = "Healthy"
	// Suspended: spec.suspend is true. Counted, never fires.
	Suspended State = "Suspended"
	// Stalled: Stalled=True. Flux will not retry without a change; fires at once.
	Stalled State = "Stalled"
	// Blocked: waiting on a dependency that is not healthy. Its time never
	// counts toward the pending window.
	Blocked State = "Blocked"
	// InProgress: Ready=Unknown, a superseded health check, Ready=True at an
	// older generation, or no Ready condition yet.
	InProgress State = "InProgress"
	// Failing: Ready=False for any other reason (including a stale object).
	Failing State = "Failing"
)

// Key names one watched object. The engine only compares keys.
type Key struct {
	Cluster   string
	Kind      string
	Namespace string
	Name      string
}

// String renders the key as cluster/kind/namespace/name.
func (k Key) String() string {
	return k.Cluster + "/" + k.Kind + "/" + k.Namespace + "/" + k.Name
}

// Observation is one reading of a Flux object.
type Observation struct {
	State State
	// Reason and Message are Flux's (or the reader's) explanation of State.
	Reason  string
	Message string
	// Revision is the revision the object runs or tries (for the incident).
	Revision string
	// Attempt identifies the object's current attempt: it changes when Flux
	// starts working on a new revision, generation or configuration. A change
	// while an incident is pending pauses that incident's clock.
	Attempt string
	// Version changes whenever Flux writes anything to the object (its
	// resourceVersion). It feeds the staleness check.
	Version string
	// StaleAfter, when positive, makes an object whose Version has not changed
	// for that long Failing with reason ReconciliationStale (unless it is
	// Suspended).
	StaleAfter time.Duration
	// Since is when the object entered its current condition according to
	// Flux (a lastTransitionTime). It is only a fallback for an object the
	// engine has not seen before (after a restart); zero means unknown (now).
	Since time.Time
}

// Policy holds the windows of one FluxWatch.
type Policy struct {
	// PendingFor is how long an incident stays open before it fires.
	PendingFor time.Duration
	// KeepFiringFor is how long a firing incident's object must stay free of
	// Failing/Stalled after it became Healthy before the incident resolves.
	KeepFiringFor time.Duration
	// ProgressingDeadline fires an object that stays InProgress this long.
	ProgressingDeadline time.Duration
}

// Phase is the phase of an open incident.
type Phase string

const (
	Pending Phase = "Pending"
	Firing  Phase = "Firing"
)

// Incident is one open incident: the durable record of an object that failed
// and has not yet recovered. Exported fields are all that is needed to
// restore the engine after a restart (see Engine.Restore).
type Incident struct {
	Key   Key
	Phase Phase
	// OpenedAt is when the object first failed.
	OpenedAt time.Time
	// Counted is the pending time accumulated before RunningSince.
	Counted time.Duration
	// RunningSince is when the pending clock last started; zero while paused
	// (blocked, or in progress on a new attempt).
	RunningSince time.Time
	// FiringSince is when the incident fired; zero while pending.
	FiringSince time.Time
	// HealthySince is when a firing incident's object became healthy; zero
	// when it is not healthy. Used for KeepFiringFor.
	HealthySince time.Time
	// Attempt is the attempt the incident last saw.
	Attempt string
	// Latest failing reason, message and revision.
	Reason   string
	Message  string
	Revision string
}

// TransitionType says what happened to an incident.
type TransitionType string

const (
	// Opened: a new incident, pending. No event.
	Opened TransitionType = "Opened"
	// Fired: the incident fired (Warning ResourceFailing).
	Fired TransitionType = "Fired"
	// Dropped: a pending incident ended; nothing is announced.
	Dropped TransitionType = "Dropped"
	// Recovered: a firing incident ended because the object is healthy.
	Recovered TransitionType = "Recovered"
	// EndedSuspended: a firing incident ended because the object was suspended.
	EndedSuspended TransitionType = "Suspended"
	// EndedDeleted: a firing incident ended because the object was deleted.
	EndedDeleted TransitionType = "Deleted"
	// EndedUnwatched: a firing incident ended because the object is no longer selected.
	EndedUnwatched TransitionType = "Unwatched"
)

// GoneCause says why an object left the engine.
type GoneCause string

const (
	GoneDeleted   GoneCause = "Deleted"
	GoneUnwatched GoneCause = "Unwatched"
)

// Transition is one change of an incident. Incident is a copy taken at the
// transition. Down is how long the object had been failing (for Fired: since
// OpenedAt; for endings: since OpenedAt until At).
type Transition struct {
	Type     TransitionType
	Incident Incident
	At       time.Time
	Down     time.Duration
}
