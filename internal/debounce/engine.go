package debounce

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

const (
	// ReasonStale is the reason of an object whose status Flux has not
	// written for longer than its StaleAfter.
	ReasonStale = "ReconciliationStale"
	// ReasonProgressingDeadline is the reason of an object that stayed
	// InProgress for longer than the policy's ProgressingDeadline.
	ReasonProgressingDeadline = "ProgressingDeadlineExceeded"
)

// tracker is what the engine remembers about one key.
type tracker struct {
	key Key
	// observed is false for a key that only has a restored incident so far:
	// its state is unknown until the first Observe.
	observed bool
	obs      Observation
	// versionSeenAt is when obs.Version last changed.
	versionSeenAt time.Time
	// inProgressSince is when the object entered InProgress; zero otherwise.
	inProgressSince time.Time
	// stale is the staleness computed by the last evaluation of this key.
	// NextDeadline and State have no clock, so they read it from here.
	stale bool
	inc   *Incident
}

// Engine is the incident state machine of one FluxWatch. It is not safe for
// concurrent use; the caller serialises calls.
type Engine struct {
	policy   Policy
	trackers map[Key]*tracker
	// unreachable maps a cluster that cannot be read to when it was lost.
	unreachable map[string]time.Time
}

// New returns an engine with no keys.
func New(p Policy) *Engine {
	return &Engine{policy: p, trackers: map[Key]*tracker{}}
}

// SetPolicy replaces the policy. Incidents keep what they have counted; only
// later evaluations use the new windows.
func (e *Engine) SetPolicy(p Policy) {
	e.policy = p
}

// Restore replaces the engine's state with the given open incidents, as read
// back from the durable record after a restart. Their keys are known (Keys)
// but have no state until their first Observe. A running pending clock keeps
// its RunningSince, so the time the controller was down counts; a firing
// incident stays firing and is not announced again.
func (e *Engine) Restore(incidents []Incident) {
	e.trackers = map[Key]*tracker{}
	for _, in := range incidents {
		inc := in
		if inc.Phase != Firing {
			inc.Phase = Pending
		}
		// A negative count can only come from a corrupted record; treating
		// it as nothing counted errs on the side of firing later, not earlier.
		inc.Counted = max(inc.Counted, 0)
		e.trackers[inc.Key] = &tracker{key: inc.Key, inc: &inc}
	}
}

// SetReachable records whether cluster can be read at now. While it cannot,
// its objects keep their last known state and incidents: nothing of theirs
// opens, fires or ends, and every clock of theirs (pending windows,
// progressing deadlines, staleness, keepFiringFor) stops. When the cluster is
// back, each clock resumes where it stopped: an outage of the watcher's view
// is neither a failure nor a recovery of what it watches.
func (e *Engine) SetReachable(now time.Time, cluster string, reachable bool) {
	lost, wasLost := e.unreachable[cluster]
	switch {
	case !reachable && !wasLost:
		if e.unreachable == nil {
			e.unreachable = map[string]time.Time{}
		}
		e.unreachable[cluster] = now
	case reachable && wasLost:
		delete(e.unreachable, cluster)
		gap := since(now, lost)
		for _, t := range e.trackers {
			if t.key.Cluster == cluster {
				t.shift(gap)
			}
		}
	}
}

// Reachable reports whether cluster is readable (clusters are reachable
// until SetReachable says otherwise).
func (e *Engine) Reachable(cluster string) bool {
	_, lost := e.unreachable[cluster]
	return !lost
}

// shift moves every running clock of t forward by d.
func (t *tracker) shift(d time.Duration) {
	later := func(at *time.Time) {
		if !at.IsZero() {
			*at = at.Add(d)
		}
	}
	later(&t.versionSeenAt)
	later(&t.inProgressSince)
	if t.inc != nil {
		later(&t.inc.RunningSince)
		later(&t.inc.HealthySince)
	}
}

// Observe records an observation of k at now and applies what is due for k.
// An observation of an unreachable cluster's object is ignored: it cannot
// be read, so any observation of it is the last known one.
func (e *Engine) Observe(now time.Time, k Key, o Observation) []Transition {
	if !e.Reachable(k.Cluster) {
		return nil
	}
	t := e.tracker(k)
	if !t.observed {
		t.versionSeenAt = now
		if o.State == InProgress {
			t.inProgressSince = now
			// After a restart the object may have been in progress long
			// before we saw it; Flux's lastTransitionTime says since when.
			if !o.Since.IsZero() && !o.Since.After(now) {
				t.inProgressSince = o.Since
			}
		}
	} else {
		if o.Version != t.obs.Version {
			t.versionSeenAt = now
		}
		switch {
		case o.State != InProgress:
			t.inProgressSince = time.Time{}
		case t.obs.State != InProgress:
			t.inProgressSince = now
		}
	}
	t.observed = true
	t.obs = o
	return e.evaluate(now, t)
}

// Gone forgets k: the object was deleted or is no longer selected. A pending
// incident is dropped; a firing one ends with the cause. Timers that were due
// but not yet applied are not applied: the object is gone, so what it would
// have become no longer matters.
func (e *Engine) Gone(now time.Time, k Key, c GoneCause) []Transition {
	t, ok := e.trackers[k]
	if !ok {
		return nil
	}
	delete(e.trackers, k)
	if t.inc == nil {
		return nil
	}
	inc := *t.inc
	if inc.Phase != Firing {
		return []Transition{{Type: Dropped, Incident: inc, At: now, Down: since(now, inc.OpenedAt)}}
	}
	typ := EndedDeleted
	if c == GoneUnwatched {
		typ = EndedUnwatched
	}
	return []Transition{{Type: typ, Incident: inc, At: now, Down: since(now, inc.OpenedAt)}}
}

// Advance applies everything due at now for every key.
func (e *Engine) Advance(now time.Time) []Transition {
	var out []Transition
	for _, k := range e.Keys() {
		out = append(out, e.evaluate(now, e.trackers[k])...)
	}
	return out
}

// NextDeadline is the earliest instant at which Advance would produce a
// transition or change a state; false when no timer is running.
func (e *Engine) NextDeadline() (time.Time, bool) {
	var next time.Time
	found := false
	consider := func(t time.Time) {
		if !found || t.Before(next) {
			next, found = t, true
		}
	}
	p := e.policy
	for _, t := range e.trackers {
		if !e.Reachable(t.key.Cluster) {
			continue
		}
		inc := t.inc
		if inc != nil && inc.Phase != Firing && !inc.RunningSince.IsZero() {
			consider(inc.RunningSince.Add(max(pendingFor(p)-inc.Counted, 0)))
		}
		if inc != nil && inc.Phase == Firing && !inc.HealthySince.IsZero() {
			consider(inc.HealthySince.Add(keepFiringFor(p)))
		}
		if !t.observed || t.stale {
			continue
		}
		if t.progressingDeadlineApplies(p) {
			consider(t.inProgressSince.Add(p.ProgressingDeadline))
		}
		if canGoStale(t.obs) {
			consider(t.versionSeenAt.Add(t.obs.StaleAfter))
		}
	}
	return next, found
}

// Incidents returns copies of the open incidents, newest first.
func (e *Engine) Incidents() []Incident {
	var out []Incident
	for _, t := range e.trackers {
		if t.inc != nil {
			out = append(out, *t.inc)
		}
	}
	slices.SortFunc(out, func(a, b Incident) int {
		if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
			return c
		}
		return compareKeys(a.Key, b.Key)
	})
	return out
}

// State is the effective state of k as of its last evaluation: a stale
// object reports Failing. It is false for an unknown key and for a restored
// key that has not been observed yet.
func (e *Engine) State(k Key) (State, bool) {
	t, ok := e.trackers[k]
	if !ok || !t.observed {
		return "", false
	}
	return t.effective().State, true
}

// Keys lists every observed or restored key not yet gone, sorted by String.
func (e *Engine) Keys() []Key {
	keys := make([]Key, 0, len(e.trackers))
	for k := range e.trackers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

func (e *Engine) tracker(k Key) *tracker {
	if e.trackers == nil {
		e.trackers = map[Key]*tracker{}
	}
	t, ok := e.trackers[k]
	if !ok {
		t = &tracker{key: k}
		e.trackers[k] = t
	}
	return t
}

// evaluate brings t up to date at now: first what the current state implies,
// then the timers. Calling it again at the same instant changes nothing,
// which is what lets Advance evaluate every key on every call.
func (e *Engine) evaluate(now time.Time, t *tracker) []Transition {
	if !e.Reachable(t.key.Cluster) {
		return nil
	}
	ev := evaluation{now: now, t: t, p: e.policy}
	if t.observed {
		t.stale = isStale(now, t)
		ev.react()
	}
	ev.timers()
	return ev.out
}

// evaluation is one pass over one tracker at one instant.
type evaluation struct {
	now time.Time
	t   *tracker
	p   Policy
	out []Transition
}

func (ev *evaluation) react() {
	o := ev.t.effective()
	inc := ev.t.inc
	switch {
	case inc == nil:
		switch o.State {
		case Failing:
			ev.open(o.Reason, o.Message, o)
		case Stalled:
			ev.open(o.Reason, o.Message, o)
			ev.fire()
		case InProgress:
			if ev.progressingOverdue() {
				reason, msg := ev.progressingReason(o)
				ev.open(reason, msg, o)
				ev.fire()
			}
		}

	case inc.Phase != Firing:
		switch o.State {
		case Failing:
			if inc.RunningSince.IsZero() {
				inc.RunningSince = ev.now
			}
			setCause(inc, o.Reason, o.Message, o)
			inc.Attempt = o.Attempt
		case Stalled:
			setCause(inc, o.Reason, o.Message, o)
			inc.Attempt = o.Attempt
			ev.fire()
		case InProgress:
			// A new attempt is Flux trying a fix: its time in progress is
			// not failure, but whatever failed before still counts if the
			// fix fails too. A retry of the same attempt is the same
			// failure going on (False → Unknown → False), so the clock runs.
			if o.Attempt != inc.Attempt {
				ev.pause()
				inc.Attempt = o.Attempt
			}
			if ev.progressingOverdue() {
				reason, msg := ev.progressingReason(o)
				setCause(inc, reason, msg, o)
				ev.fire()
			}
		case Blocked:
			ev.pause()
		case Healthy, Suspended:
			ev.end(Dropped, since(ev.now, inc.OpenedAt))
		}

	default:
		switch o.State {
		case Failing, Stalled:
			setCause(inc, o.Reason, o.Message, o)
			inc.HealthySince = time.Time{}
		case Healthy:
			if inc.HealthySince.IsZero() {
				inc.HealthySince = ev.now
			}
		case Suspended:
			ev.end(EndedSuspended, since(ev.now, inc.OpenedAt))
		}
	}
}

// timers applies the pending window and keepFiringFor; they need no
// observation, so they also run for restored keys not yet observed.
func (ev *evaluation) timers() {
	inc := ev.t.inc
	if inc == nil {
		return
	}
	if inc.Phase != Firing {
		if !inc.RunningSince.IsZero() && addSat(inc.Counted, since(ev.now, inc.RunningSince)) >= pendingFor(ev.p) {
			ev.fire()
		}
		return
	}
	if !inc.HealthySince.IsZero() && since(ev.now, inc.HealthySince) >= keepFiringFor(ev.p) {
		ev.end(Recovered, since(inc.HealthySince, inc.OpenedAt))
	}
}

func (ev *evaluation) open(reason, msg string, o Observation) {
	inc := &Incident{
		Key:          ev.t.key,
		Phase:        Pending,
		OpenedAt:     ev.now,
		RunningSince: ev.now,
		Attempt:      o.Attempt,
	}
	setCause(inc, reason, msg, o)
	ev.t.inc = inc
	ev.emit(Opened, 0)
}

func (ev *evaluation) fire() {
	inc := ev.t.inc
	// Freezing the clock keeps in the record how much pending time was
	// counted when the incident fired.
	ev.pause()
	inc.Phase = Firing
	inc.FiringSince = ev.now
	ev.emit(Fired, since(ev.now, inc.OpenedAt))
}

func (ev *evaluation) pause() {
	inc := ev.t.inc
	if inc.RunningSince.IsZero() {
		return
	}
	inc.Counted = addSat(inc.Counted, since(ev.now, inc.RunningSince))
	inc.RunningSince = time.Time{}
}

func (ev *evaluation) end(typ TransitionType, down time.Duration) {
	ev.emit(typ, down)
	ev.t.inc = nil
}

func (ev *evaluation) emit(typ TransitionType, down time.Duration) {
	ev.out = append(ev.out, Transition{Type: typ, Incident: *ev.t.inc, At: ev.now, Down: down})
}

func (ev *evaluation) progressingOverdue() bool {
	t := ev.t
	return t.progressingDeadlineApplies(ev.p) && since(ev.now, t.inProgressSince) >= ev.p.ProgressingDeadline
}

func (ev *evaluation) progressingReason(o Observation) (string, string) {
	msg := fmt.Sprintf("in progress for longer than %s", ev.p.ProgressingDeadline)
	if o.Reason != "" {
		msg += ": " + o.Reason
	}
	if o.Message != "" {
		msg += ": " + o.Message
	}
	return ReasonProgressingDeadline, msg
}

// progressingDeadlineApplies says whether the progressing deadline can still
// fire t: it is InProgress (and not stale, which makes it Failing) and its
// incident, if any, has not fired yet.
func (t *tracker) progressingDeadlineApplies(p Policy) bool {
	return p.ProgressingDeadline > 0 &&
		t.obs.State == InProgress && !t.stale &&
		!t.inProgressSince.IsZero() &&
		(t.inc == nil || t.inc.Phase != Firing)
}

// effective is the last observation with staleness applied.
func (t *tracker) effective() Observation {
	o := t.obs
	if t.stale {
		o.State = Failing
		o.Reason = ReasonStale
		o.Message = fmt.Sprintf("no status update from the Flux controller for %s; is the controller running?", o.StaleAfter)
	}
	return o
}

// canGoStale says whether o is subject to the staleness check. Flux writes
// nothing to a suspended, stalled or blocked object, so silence there is
// expected.
func canGoStale(o Observation) bool {
	if o.StaleAfter <= 0 {
		return false
	}
	switch o.State {
	case Healthy, InProgress, Failing:
		return true
	}
	return false
}

func isStale(now time.Time, t *tracker) bool {
	return canGoStale(t.obs) && since(now, t.versionSeenAt) >= t.obs.StaleAfter
}

func setCause(inc *Incident, reason, msg string, o Observation) {
	inc.Reason = reason
	inc.Message = msg
	inc.Revision = o.Revision
}

func pendingFor(p Policy) time.Duration    { return max(p.PendingFor, 0) }
func keepFiringFor(p Policy) time.Duration { return max(p.KeepFiringFor, 0) }

// since is now - t, never negative: a caller whose clock went backwards
// gets "no time passed" rather than negative windows.
func since(now, t time.Time) time.Duration {
	return max(now.Sub(t), 0)
}

// addSat adds two non-negative durations without overflowing.
func addSat(a, b time.Duration) time.Duration {
	if s := a + b; s >= a {
		return s
	}
	return time.Duration(1<<63 - 1)
}

// compareKeys orders keys by String, then field by field so that distinct
// keys with the same rendering still sort deterministically.
func compareKeys(a, b Key) int {
	return cmp.Or(
		cmp.Compare(a.String(), b.String()),
		cmp.Compare(a.Cluster, b.Cluster),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Name, b.Name),
	)
}
