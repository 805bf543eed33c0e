package debounce

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	ksApps    = Key{Cluster: "prod", Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}
	ksInfra   = Key{Cluster: "prod", Kind: "Kustomization", Namespace: "flux-system", Name: "infra"}
	hrPodinfo = Key{Cluster: "prod", Kind: "HelmRelease", Namespace: "podinfo", Name: "podinfo"}
)

const (
	revA = "main@sha1:1f3c9e2"
	revB = "main@sha1:7a40d18"
)

// Observations as the Flux status reader would produce them from the
// sequences in FLUX-STATUS.md. Attempt is the revision Flux works on.

func progressing(attempt string) Observation {
	return Observation{State: InProgress, Reason: "Progressing", Message: "Reconciliation in progress", Revision: attempt, Attempt: attempt}
}

func healthCheckFailed(attempt string) Observation {
	return Observation{State: Failing, Reason: "HealthCheckFailed",
		Message:  "health check failed after 1m0.05s: timeout waiting for: [Deployment/default/bad-app status: 'InProgress']",
		Revision: attempt, Attempt: attempt}
}

func reconciliationFailed(attempt string) Observation {
	return Observation{State: Failing, Reason: "ReconciliationFailed",
		Message:  "Service/default/broken-svc dry-run failed: .spec.ports[0].port: expected numeric (int or float), got string",
		Revision: attempt, Attempt: attempt}
}

func succeeded(attempt string) Observation {
	return Observation{State: Healthy, Reason: "ReconciliationSucceeded", Message: "Applied revision: " + attempt, Revision: attempt, Attempt: attempt}
}

func dependencyNotReady(attempt string) Observation {
	return Observation{State: Blocked, Reason: "DependencyNotReady", Message: "dependency 'flux-system/infra' is not ready", Revision: attempt, Attempt: attempt}
}

func suspended() Observation {
	return Observation{State: Suspended, Reason: "Suspended"}
}

func withVersion(o Observation, v string, staleAfter time.Duration) Observation {
	o.Version = v
	o.StaleAfter = staleAfter
	return o
}

type opKind int

const (
	opObserve opKind = iota
	opGone
	opAdvance
	opRestart
	opSetPolicy
	opDeadline
	opNoDeadline
	opState
)

// op is one step of a scenario at base+at. Transitions it produces must
// match want exactly.
type op struct {
	at     time.Duration
	kind   opKind
	key    Key
	obs    Observation
	cause  GoneCause
	policy Policy
	state  State
	want   []want
}

type want struct {
	typ     TransitionType
	key     Key // zero: the op's key
	reason  string
	message string // checked when set
	down    time.Duration
	counted time.Duration // checked for Fired
}

func observe(at time.Duration, o Observation, w ...want) op {
	return op{at: at, kind: opObserve, key: ksApps, obs: o, want: w}
}
func advance(at time.Duration, w ...want) op { return op{at: at, kind: opAdvance, want: w} }
func gone(at time.Duration, c GoneCause, w ...want) op {
	return op{at: at, kind: opGone, key: ksApps, cause: c, want: w}
}
func restart() op                       { return op{kind: opRestart} }
func setPolicy(p Policy) op             { return op{kind: opSetPolicy, policy: p} }
func deadline(at time.Duration) op      { return op{at: at, kind: opDeadline} }
func noDeadline() op                    { return op{kind: opNoDeadline} }
func stateIs(s State) op                { return op{kind: opState, key: ksApps, state: s} }
func (o op) on(k Key) op                { o.key = k; return o }
func opened(reason string) want         { return want{typ: Opened, reason: reason} }
func dropped(down time.Duration) want   { return want{typ: Dropped, down: down} }
func recovered(down time.Duration) want { return want{typ: Recovered, down: down} }
func fired(reason string, down, counted time.Duration) want {
	return want{typ: Fired, reason: reason, down: down, counted: counted}
}
func (w want) on(k Key) want { w.key = k; return w }

type openWant struct {
	key    Key
	phase  Phase
	reason string
}

type scenario struct {
	name   string
	policy Policy
	ops    []op
	open   []openWant // Incidents() at the end, newest first
}

func runScenario(t *testing.T, sc scenario) {
	t.Helper()
	e := New(sc.policy)
	policy := sc.policy
	for i, o := range sc.ops {
		now := base.Add(o.at)
		var got []Transition
		switch o.kind {
		case opObserve:
			got = e.Observe(now, o.key, o.obs)
		case opGone:
			got = e.Gone(now, o.key, o.cause)
		case opAdvance:
			got = e.Advance(now)
		case opRestart:
			restored := New(policy)
			restored.Restore(e.Incidents())
			e = restored
		case opSetPolicy:
			policy = o.policy
			e.SetPolicy(policy)
		case opDeadline:
			d, ok := e.NextDeadline()
			if !ok || !d.Equal(now) {
				t.Fatalf("op %d: NextDeadline = %v, %v; want %v", i, offset(d), ok, o.at)
			}
		case opNoDeadline:
			if d, ok := e.NextDeadline(); ok {
				t.Fatalf("op %d: NextDeadline = %v; want none", i, offset(d))
			}
		case opState:
			if s, ok := e.State(o.key); !ok || s != o.state {
				t.Fatalf("op %d: State(%v) = %q, %v; want %q", i, o.key, s, ok, o.state)
			}
		}
		checkTransitions(t, fmt.Sprintf("op %d at %v", i, o.at), now, o.key, got, o.want)
	}
	var open []openWant
	for _, inc := range e.Incidents() {
		open = append(open, openWant{key: inc.Key, phase: inc.Phase, reason: inc.Reason})
	}
	if !slices.Equal(open, sc.open) {
		t.Fatalf("open incidents = %+v; want %+v", open, sc.open)
	}
}

func checkTransitions(t *testing.T, where string, now time.Time, k Key, got []Transition, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%s: got %d transitions %s; want %d", where, len(got), describe(got), len(wants))
	}
	for i, w := range wants {
		g := got[i]
		wk := w.key
		if wk == (Key{}) {
			wk = k
		}
		if wk == (Key{}) {
			wk = ksApps
		}
		bad := g.Type != w.typ || g.Incident.Key != wk || !g.At.Equal(now) || g.Down != w.down ||
			(w.reason != "" && g.Incident.Reason != w.reason) ||
			(w.message != "" && g.Incident.Message != w.message) ||
			(w.typ == Fired && (g.Incident.Counted != w.counted || g.Incident.Phase != Firing || !g.Incident.FiringSince.Equal(now)))
		if bad {
			t.Fatalf("%s: transition %d = %s; want %+v", where, i, describe(got[i:i+1]), w)
		}
	}
}

func describe(ts []Transition) string {
	var b strings.Builder
	for _, tr := range ts {
		fmt.Fprintf(&b, "[%s %s at=%v down=%v reason=%q counted=%v msg=%q]", tr.Type, tr.Incident.Key.Name,
			offset(tr.At), tr.Down, tr.Incident.Reason, tr.Incident.Counted, tr.Incident.Message)
	}
	return b.String()
}

func offset(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(base)
}

const (
	s  = time.Second
	m  = time.Minute
	ns = time.Nanosecond
)

func TestFluxSequences(t *testing.T) {
	scenarios := []scenario{
		{
			// Ready is False half the time and Unknown the other half: a
			// Prometheus `for: 5m` on Ready=False restarts every minute and
			// never fires. The retries are one incident.
			name:   "kustomization health check failing on every retry fires once after pendingFor",
			policy: Policy{PendingFor: 5 * m, ProgressingDeadline: 10 * m},
			ops: []op{
				observe(1*s, progressing(revA)),
				observe(61*s, healthCheckFailed(revA), opened("HealthCheckFailed")),
				observe(121*s, progressing(revA)),
				observe(182*s, healthCheckFailed(revA)),
				observe(242*s, progressing(revA)),
				deadline(361 * s),
				observe(303*s, healthCheckFailed(revA)),
				advance(361*s - ns),
				advance(361*s, fired("HealthCheckFailed", 300*s, 300*s)),
				observe(363*s, progressing(revA)),
				observe(423*s, healthCheckFailed(revA)),
				observe(483*s, progressing(revA)),
				advance(20 * m),
			},
			open: []openWant{{ksApps, Firing, "HealthCheckFailed"}},
		},
		{
			name:   "transient ArtifactFailed at birth then healthy fires nothing",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(1*s, Observation{State: Failing, Reason: "ArtifactFailed", Message: "Source artifact not found, retrying in 30s"}, opened("ArtifactFailed")),
				observe(2*s, progressing(revA)),
				observe(3*s, succeeded(revA), dropped(2*s)),
				noDeadline(),
				advance(time.Hour),
			},
		},
		{
			name:   "healthy kustomization passing through Unknown every interval never fires",
			policy: Policy{PendingFor: 5 * m, ProgressingDeadline: 10 * m},
			ops: func() []op {
				ops := []op{observe(1*s, progressing(revA)), observe(3*s, succeeded(revA))}
				for i := 1; i <= 30; i++ {
					at := time.Duration(i) * 60 * s
					ops = append(ops, observe(at, progressing(revA)), observe(at+200*time.Millisecond, succeeded(revA)), advance(at+30*s))
				}
				return append(ops, noDeadline())
			}(),
		},
		{
			name:   "fix pushed inside the window then healthy is dropped and never fires",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(1*s, progressing(revA)),
				observe(61*s, healthCheckFailed(revA), opened("HealthCheckFailed")),
				observe(121*s, progressing(revA)),
				observe(150*s, progressing(revB)),
				noDeadline(),
				// A running clock would have fired here.
				advance(361 * s),
				observe(390*s, succeeded(revB), dropped(329*s)),
				advance(time.Hour),
			},
		},
		{
			name:   "fix that fails too fires with both failures counted but not the fix's progress",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				observe(60*s, progressing(revA)),
				observe(60*s+200*time.Millisecond, reconciliationFailed(revA)),
				observe(120*s, progressing(revB)),
				noDeadline(),
				observe(180*s, healthCheckFailed(revB)),
				deadline(360 * s),
				advance(360*s - ns),
				advance(360*s, fired("HealthCheckFailed", 360*s, 5*m)),
			},
			open: []openWant{{ksApps, Firing, "HealthCheckFailed"}},
		},
		{
			name:   "time blocked on a dependency is not counted",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				observe(60*s, dependencyNotReady(revA)),
				noDeadline(),
				advance(30 * m),
				observe(40*m, reconciliationFailed(revA)),
				deadline(44 * m),
				advance(44*m - ns),
				advance(44*m, fired("ReconciliationFailed", 44*m, 5*m)),
			},
			open: []openWant{{ksApps, Firing, "ReconciliationFailed"}},
		},
		{
			name:   "helmrelease retries exceeded is stalled and fires at once, fix recovers",
			policy: Policy{PendingFor: 10 * m},
			ops: []op{
				observe(1*s, Observation{State: Failing, Reason: "SourceNotReady", Message: "HelmChart 'podinfo/podinfo-podinfo' is not ready: latest generation of object has not been reconciled"}, opened("SourceNotReady")).on(hrPodinfo),
				observe(2*s, Observation{State: InProgress, Reason: "Progressing", Message: "Running 'install' action with timeout of 1m0s", Attempt: "6.7.0"}).on(hrPodinfo),
				observe(62*s, Observation{State: Failing, Reason: "InstallFailed", Message: "Helm install failed: context deadline exceeded", Attempt: "6.7.0"}).on(hrPodinfo),
				observe(72*s, Observation{State: InProgress, Reason: "Progressing", Message: "Running 'install' action with timeout of 1m0s", Attempt: "6.7.0"}).on(hrPodinfo),
				// 1s before the chart went ready, then 62s..133s of the same attempt.
				observe(133*s, Observation{State: Stalled, Reason: "RetriesExceeded", Message: "Failed to install after 1 attempt(s)", Attempt: "6.7.0"}, fired("RetriesExceeded", 132*s, 72*s)).on(hrPodinfo),
				observe(205*s, Observation{State: InProgress, Reason: "Progressing", Message: "Running 'upgrade' action with timeout of 1m0s", Attempt: "6.7.1"}).on(hrPodinfo),
				observe(206*s, Observation{State: Healthy, Reason: "UpgradeSucceeded", Attempt: "6.7.1"}, recovered(205*s)).on(hrPodinfo),
			},
		},
		{
			name:   "stalled object with no incident opens and fires in the same call",
			policy: Policy{PendingFor: 10 * m},
			ops: []op{
				observe(0, Observation{State: Stalled, Reason: "RetriesExceeded"}, opened("RetriesExceeded"), fired("RetriesExceeded", 0, 0)).on(hrPodinfo),
			},
			open: []openWant{{hrPodinfo, Firing, "RetriesExceeded"}},
		},
		{
			name:   "in progress beyond the progressing deadline fires",
			policy: Policy{PendingFor: 5 * m, ProgressingDeadline: 30 * m},
			ops: []op{
				observe(0, Observation{State: InProgress, Reason: "Progressing", Message: "Running 'install' action with timeout of 1h0m0s", Attempt: "6.7.0"}).on(hrPodinfo),
				deadline(30 * m),
				advance(30*m - ns),
				advance(30*m,
					want{typ: Opened, key: hrPodinfo, reason: ReasonProgressingDeadline},
					want{typ: Fired, key: hrPodinfo, reason: ReasonProgressingDeadline,
						message: "in progress for longer than 30m0s: Progressing: Running 'install' action with timeout of 1h0m0s"}),
				observe(31*m, Observation{State: InProgress, Attempt: "6.7.0"}).on(hrPodinfo),
				observe(32*m, Observation{State: Healthy, Reason: "InstallSucceeded", Attempt: "6.7.0"}, recovered(2*m)).on(hrPodinfo),
			},
		},
		{
			name:   "progressing deadline counts from Flux's transition time on first sight",
			policy: Policy{PendingFor: 5 * m, ProgressingDeadline: 30 * m},
			ops: []op{
				observe(0, func() Observation { o := progressing(revA); o.Since = base.Add(-25 * m); return o }()),
				deadline(5 * m),
				observe(1*m, progressing(revA)),
				advance(5*m, opened(ReasonProgressingDeadline), fired(ReasonProgressingDeadline, 0, 0)),
			},
			open: []openWant{{ksApps, Firing, ReasonProgressingDeadline}},
		},
		{
			name:   "a Since in the future counts from now",
			policy: Policy{ProgressingDeadline: 30 * m},
			ops: []op{
				observe(0, func() Observation { o := progressing(revA); o.Since = base.Add(time.Hour); return o }()),
				deadline(30 * m),
			},
		},
		{
			name:   "a fix stuck in progress on a pending incident fires at the progressing deadline",
			policy: Policy{PendingFor: time.Hour, ProgressingDeadline: 10 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				observe(1*m, progressing(revB)),
				deadline(11 * m),
				advance(11*m, fired(ReasonProgressingDeadline, 11*m, 1*m)),
			},
			open: []openWant{{ksApps, Firing, ReasonProgressingDeadline}},
		},
		{
			name:   "in-progress and blocked blips during keepFiringFor do not reset it",
			policy: Policy{PendingFor: 1 * m, KeepFiringFor: 10 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				advance(1*m, fired("ReconciliationFailed", 1*m, 1*m)),
				observe(2*m, succeeded(revB)),
				deadline(12 * m),
				observe(3*m, progressing(revB)),
				observe(3*m+200*time.Millisecond, succeeded(revB)),
				observe(4*m, dependencyNotReady(revB)),
				observe(5*m, succeeded(revB)),
				deadline(12 * m),
				advance(12*m - ns),
				advance(12*m, recovered(2*m)),
			},
		},
		{
			name:   "failing during keepFiringFor restarts it",
			policy: Policy{PendingFor: 1 * m, KeepFiringFor: 10 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				advance(1*m, fired("ReconciliationFailed", 1*m, 1*m)),
				observe(2*m, succeeded(revB)),
				observe(5*m, healthCheckFailed(revB)),
				noDeadline(),
				observe(6*m, succeeded(revB)),
				deadline(16 * m),
				advance(12 * m),
				advance(16*m, recovered(6*m)),
			},
		},
		{
			name:   "keepFiringFor zero recovers on the first healthy observation",
			policy: Policy{PendingFor: 1 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				advance(1*m, fired("ReconciliationFailed", 1*m, 1*m)),
				observe(2*m, succeeded(revB), recovered(2*m)),
			},
		},
		{
			name:   "pendingFor zero fires at once",
			policy: Policy{},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed"), fired("ReconciliationFailed", 0, 0)),
			},
			open: []openWant{{ksApps, Firing, "ReconciliationFailed"}},
		},
		{
			name:   "suspending a firing object ends its incident and resuming starts a fresh window",
			policy: Policy{PendingFor: 1 * m, KeepFiringFor: 10 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				advance(1*m, fired("ReconciliationFailed", 1*m, 1*m)),
				observe(2*m, suspended(), want{typ: EndedSuspended, down: 2 * m}),
				advance(time.Hour),
				observe(2*time.Hour, reconciliationFailed(revA), opened("ReconciliationFailed")),
				deadline(2*time.Hour + 1*m),
			},
			open: []openWant{{ksApps, Pending, "ReconciliationFailed"}},
		},
		{
			name:   "suspending a pending object drops its incident",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				observe(1*m, suspended(), dropped(1*m)),
				advance(time.Hour),
			},
		},
		{
			name:   "deleting a firing object ends its incident as deleted",
			policy: Policy{PendingFor: 1 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				advance(1*m, fired("ReconciliationFailed", 1*m, 1*m)),
				gone(3*m, GoneDeleted, want{typ: EndedDeleted, down: 3 * m}),
				gone(4*m, GoneDeleted),
				noDeadline(),
			},
		},
		{
			name:   "unselecting a firing object ends its incident as unwatched",
			policy: Policy{PendingFor: 1 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				advance(1*m, fired("ReconciliationFailed", 1*m, 1*m)),
				gone(3*m, GoneUnwatched, want{typ: EndedUnwatched, down: 3 * m}),
			},
		},
		{
			name:   "deleting or unselecting a pending object drops its incident",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")).on(ksInfra),
				gone(1*m, GoneDeleted, dropped(1*m)),
				gone(2*m, GoneUnwatched, dropped(2*m)).on(ksInfra),
				noDeadline(),
				advance(time.Hour),
			},
		},
		{
			name:   "an object whose status Flux stopped writing goes stale and fires",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, withVersion(succeeded(revA), "101", 25*m)),
				// A resync that brings the same resourceVersion is not a write.
				observe(20*m, withVersion(succeeded(revA), "101", 25*m)),
				deadline(25 * m),
				advance(25*m - ns),
				stateIs(Healthy),
				advance(25*m, want{typ: Opened, reason: ReasonStale,
					message: "no status update from the Flux controller for 25m0s; is the controller running?"}),
				stateIs(Failing),
				deadline(30 * m),
				advance(30*m, fired(ReasonStale, 5*m, 5*m)),
				observe(31*m, withVersion(succeeded(revA), "102", 25*m), recovered(6*m)),
				stateIs(Healthy),
				deadline(56 * m),
			},
		},
		{
			name:   "a stale object that gets a status write before pendingFor is dropped",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, withVersion(progressing(revA), "101", 25*m)),
				advance(25*m, opened(ReasonStale)),
				observe(27*m, withVersion(succeeded(revA), "102", 25*m), dropped(2*m)),
			},
		},
		{
			name:   "suspended and blocked objects never go stale",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, withVersion(suspended(), "101", 25*m)),
				observe(0, withVersion(dependencyNotReady(revA), "201", 25*m)).on(ksInfra),
				noDeadline(),
				advance(48 * time.Hour),
				stateIs(Suspended),
			},
		},
		{
			name:   "transitions of one call are ordered by key",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")).on(ksInfra),
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")).on(hrPodinfo),
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				// "prod/HelmRelease/…" sorts before "prod/Kustomization/…".
				advance(5*m,
					fired("ReconciliationFailed", 5*m, 5*m).on(hrPodinfo),
					fired("ReconciliationFailed", 5*m, 5*m).on(ksApps),
					fired("ReconciliationFailed", 5*m, 5*m).on(ksInfra)),
			},
			open: []openWant{
				{hrPodinfo, Firing, "ReconciliationFailed"},
				{ksApps, Firing, "ReconciliationFailed"},
				{ksInfra, Firing, "ReconciliationFailed"},
			},
		},
		{
			name:   "a shorter pendingFor applies to an incident already pending",
			policy: Policy{PendingFor: 10 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				deadline(10 * m),
				setPolicy(Policy{PendingFor: 2 * m}),
				deadline(2 * m),
				advance(2*m, fired("ReconciliationFailed", 2*m, 2*m)),
				setPolicy(Policy{PendingFor: time.Hour}),
				advance(3 * m),
			},
			open: []openWant{{ksApps, Firing, "ReconciliationFailed"}},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { runScenario(t, sc) })
	}
}

func TestRestore(t *testing.T) {
	scenarios := []scenario{
		{
			name:   "a restored firing incident is not announced again",
			policy: Policy{PendingFor: 1 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				advance(1*m, fired("ReconciliationFailed", 1*m, 1*m)),
				restart(),
				observe(3*m, reconciliationFailed(revA)),
				advance(4 * m),
				observe(5*m, succeeded(revB), recovered(5*m)),
			},
		},
		{
			name:   "a restored paused incident keeps the time it counted",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				observe(2*m, progressing(revB)),
				restart(),
				noDeadline(),
				observe(10*m, healthCheckFailed(revB)),
				deadline(13 * m),
				advance(13*m - ns),
				advance(13*m, fired("HealthCheckFailed", 13*m, 5*m)),
			},
			open: []openWant{{ksApps, Firing, "HealthCheckFailed"}},
		},
		{
			name:   "a restored running incident counts the time the controller was down",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				restart(),
				deadline(5 * m),
				advance(5*m, fired("ReconciliationFailed", 5*m, 5*m)),
			},
			open: []openWant{{ksApps, Firing, "ReconciliationFailed"}},
		},
		{
			name:   "a restored incident whose window elapsed while down fires on the next observation",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				restart(),
				observe(20*m, reconciliationFailed(revA), fired("ReconciliationFailed", 20*m, 20*m)),
			},
			open: []openWant{{ksApps, Firing, "ReconciliationFailed"}},
		},
		{
			name:   "an incident resolved while the controller was down is recovered on the next observation",
			policy: Policy{PendingFor: 1 * m, KeepFiringFor: 10 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				advance(1*m, fired("ReconciliationFailed", 1*m, 1*m)),
				observe(2*m, succeeded(revB)),
				restart(),
				observe(30*m, succeeded(revB), recovered(2*m)),
			},
		},
		{
			name:   "a restored pending incident of an object now healthy is dropped",
			policy: Policy{PendingFor: 5 * m},
			ops: []op{
				observe(0, reconciliationFailed(revA), opened("ReconciliationFailed")),
				restart(),
				observe(1*m, succeeded(revB), dropped(1*m)),
			},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { runScenario(t, sc) })
	}
}

func TestRestoreReplacesState(t *testing.T) {
	e := New(Policy{PendingFor: 5 * m})
	e.Observe(base, ksInfra, reconciliationFailed(revA))
	e.Restore([]Incident{{Key: ksApps, Phase: Firing, OpenedAt: base, FiringSince: base, Reason: "HealthCheckFailed"}})
	if got := e.Keys(); !slices.Equal(got, []Key{ksApps}) {
		t.Fatalf("Keys() = %v; want only the restored key", got)
	}
	if s, ok := e.State(ksApps); ok {
		t.Fatalf("State of a restored key not yet observed = %q; want unknown", s)
	}
	if got := e.Advance(base.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("Advance after Restore = %s; want nothing", describe(got))
	}
}

// scheduled builds an engine with one timer running, the instant it is due
// and the transition it is due to produce.
type scheduled struct {
	name  string
	build func() *Engine
	due   time.Duration
	want  TransitionType
}

func TestNextDeadlineIsExact(t *testing.T) {
	cases := []scheduled{
		{"pending window", func() *Engine {
			e := New(Policy{PendingFor: 5 * m})
			e.Observe(base, ksApps, reconciliationFailed(revA))
			e.Observe(base.Add(1*m), ksApps, progressing(revB))
			e.Observe(base.Add(3*m), ksApps, healthCheckFailed(revB))
			return e
		}, 7 * m, Fired},
		{"progressing deadline", func() *Engine {
			e := New(Policy{PendingFor: 5 * m, ProgressingDeadline: 30 * m})
			e.Observe(base, ksApps, progressing(revA))
			return e
		}, 30 * m, Opened},
		{"staleness", func() *Engine {
			e := New(Policy{PendingFor: 5 * m})
			e.Observe(base, ksApps, withVersion(succeeded(revA), "7", 25*m))
			return e
		}, 25 * m, Opened},
		{"keepFiringFor", func() *Engine {
			e := New(Policy{PendingFor: 1 * m, KeepFiringFor: 10 * m})
			e.Observe(base, ksApps, reconciliationFailed(revA))
			e.Advance(base.Add(1 * m))
			e.Observe(base.Add(90*s), ksApps, succeeded(revB))
			return e
		}, 90*s + 10*m, Recovered},
		{"earliest of several keys", func() *Engine {
			e := New(Policy{PendingFor: 5 * m, ProgressingDeadline: 30 * m})
			e.Observe(base, ksApps, progressing(revA))
			e.Observe(base.Add(1*m), ksInfra, reconciliationFailed(revA))
			e.Observe(base.Add(2*m), hrPodinfo, withVersion(succeeded(revA), "7", 10*m))
			return e
		}, 6 * m, Fired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, ok := c.build().NextDeadline()
			if want := base.Add(c.due); !ok || !d.Equal(want) {
				t.Fatalf("NextDeadline = %v, %v; want %v", offset(d), ok, c.due)
			}
			early := c.build()
			before := early.Incidents()
			if got := early.Advance(d.Add(-ns)); len(got) != 0 || !slices.Equal(early.Incidents(), before) {
				t.Fatalf("Advance 1ns before the deadline = %s; want nothing", describe(got))
			}
			got := c.build().Advance(d)
			if len(got) == 0 || got[0].Type != c.want {
				t.Fatalf("Advance at the deadline = %s; want %s", describe(got), c.want)
			}
		})
	}
}

func TestNextDeadlineNothingScheduled(t *testing.T) {
	e := New(Policy{PendingFor: 5 * m, KeepFiringFor: 10 * m, ProgressingDeadline: 30 * m})
	if _, ok := e.NextDeadline(); ok {
		t.Fatal("empty engine has a deadline")
	}
	e.Observe(base, ksApps, succeeded(revA))
	e.Observe(base, ksInfra, dependencyNotReady(revA))
	e.Observe(base, hrPodinfo, Observation{State: Stalled, Reason: "RetriesExceeded"})
	if d, ok := e.NextDeadline(); ok {
		t.Fatalf("healthy, blocked and firing-but-stalled objects have deadline %v", offset(d))
	}
}

func TestIncidentsNewestFirst(t *testing.T) {
	e := New(Policy{PendingFor: time.Hour})
	e.Observe(base.Add(1*m), ksInfra, reconciliationFailed(revA))
	e.Observe(base.Add(2*m), ksApps, reconciliationFailed(revA))
	e.Observe(base.Add(2*m), hrPodinfo, reconciliationFailed(revA))
	var got []Key
	for _, inc := range e.Incidents() {
		got = append(got, inc.Key)
	}
	// hrPodinfo and ksApps opened together: "prod/HelmRelease/…" < "prod/Kustomization/…".
	if want := []Key{hrPodinfo, ksApps, ksInfra}; !slices.Equal(got, want) {
		t.Fatalf("Incidents() keys = %v; want %v", got, want)
	}
}

func TestKeysAndState(t *testing.T) {
	e := New(Policy{PendingFor: time.Hour})
	e.Observe(base, ksInfra, succeeded(revA))
	e.Observe(base, ksApps, progressing(revA))
	e.Observe(base, hrPodinfo, suspended())
	e.Gone(base, ksInfra, GoneDeleted)
	if got, want := e.Keys(), []Key{hrPodinfo, ksApps}; !slices.Equal(got, want) {
		t.Fatalf("Keys() = %v; want %v", got, want)
	}
	if s, ok := e.State(ksApps); !ok || s != InProgress {
		t.Fatalf("State(apps) = %q, %v; want InProgress", s, ok)
	}
	if _, ok := e.State(ksInfra); ok {
		t.Fatal("State of a gone key is known")
	}
}

func TestNoPanicOnDegenerateInput(t *testing.T) {
	var zero Engine
	zero.Advance(time.Time{})
	zero.Gone(time.Time{}, Key{}, "")
	zero.Observe(time.Time{}, Key{}, Observation{})
	zero.NextDeadline()

	e := New(Policy{PendingFor: -time.Hour, KeepFiringFor: -time.Hour, ProgressingDeadline: -time.Hour})
	e.Restore([]Incident{{Key: ksApps, Phase: "bogus", Counted: -time.Hour, RunningSince: base}})
	got := e.Observe(base.Add(-time.Hour), ksApps, Observation{State: "Weird", StaleAfter: -1})
	if len(got) != 1 || got[0].Type != Fired || got[0].Incident.Counted != 0 {
		t.Fatalf("negative pendingFor with a running clock = %s; want an immediate Fired", describe(got))
	}
	e.Observe(base.Add(-2*time.Hour), ksApps, succeeded(revA))
	e.Observe(base.Add(-3*time.Hour), ksApps, progressing(revA))
	e.Advance(time.Time{})
	e.Advance(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
}
