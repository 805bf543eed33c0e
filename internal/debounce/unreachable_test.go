package debounce

import (
	"testing"
	"time"
)

func types(ts []Transition) []TransitionType {
	var out []TransitionType
	for _, t := range ts {
		out = append(out, t.Type)
	}
	return out
}

// TestUnreachableClusterStopsItsClocks: while a cluster cannot be read, its
// objects neither open, fire nor end incidents, their pending clocks stop,
// and the other clusters go on.
func TestUnreachableClusterStopsItsClocks(t *testing.T) {
	other := Key{Cluster: "dev", Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}
	e := New(Policy{PendingFor: 10 * time.Minute})
	at := func(d time.Duration) time.Time { return base.Add(d) }

	e.Observe(at(0), ksApps, healthCheckFailed(revA))
	e.Observe(at(0), other, healthCheckFailed(revA))
	// prod is lost after 4 minutes of failure.
	e.SetReachable(at(4*time.Minute), "prod", false)
	if e.Reachable("prod") || !e.Reachable("dev") {
		t.Fatal("reachability not recorded per cluster")
	}
	if next, ok := e.NextDeadline(); !ok || !next.Equal(at(10*time.Minute)) {
		t.Errorf("NextDeadline = %v %v; want dev's window end only", next, ok)
	}
	// Far past both windows: only the reachable cluster fires.
	got := e.Advance(at(30 * time.Minute))
	if len(got) != 1 || got[0].Type != Fired || got[0].Incident.Key != other {
		t.Fatalf("transitions while prod is unreachable = %+v; want dev's Fired only", got)
	}
	// An observation of the lost cluster (its last known state) changes nothing.
	if got := e.Observe(at(31*time.Minute), ksApps, succeeded(revA)); len(got) != 0 {
		t.Errorf("observing an unreachable cluster's object gave %v", types(got))
	}

	// prod is back at 40m: 4 minutes were counted, 6 remain.
	e.SetReachable(at(40*time.Minute), "prod", true)
	if got := e.Advance(at(45*time.Minute + 59*time.Second)); len(got) != 0 {
		t.Fatalf("fired %v before the 6 remaining minutes", types(got))
	}
	if next, _ := e.NextDeadline(); !next.Equal(at(46 * time.Minute)) {
		t.Errorf("NextDeadline after the outage = %v; want 46m", next.Sub(base))
	}
	got = e.Advance(at(46 * time.Minute))
	if len(got) != 1 || got[0].Type != Fired || got[0].Incident.Key != ksApps {
		t.Fatalf("after the outage: %+v; want prod's Fired", got)
	}
}

// TestUnreachableClusterNeitherResolves: a firing incident whose object was
// last seen healthy (inside keepFiringFor) does not resolve while its
// cluster is unreachable; keepFiringFor resumes after.
func TestUnreachableClusterNeitherResolves(t *testing.T) {
	e := New(Policy{PendingFor: time.Minute, KeepFiringFor: 5 * time.Minute})
	at := func(d time.Duration) time.Time { return base.Add(d) }
	e.Observe(at(0), ksApps, healthCheckFailed(revA))
	e.Advance(at(time.Minute))
	e.Observe(at(2*time.Minute), ksApps, succeeded(revA)) // healthy since 2m
	e.SetReachable(at(3*time.Minute), "prod", false)
	if got := e.Advance(at(time.Hour)); len(got) != 0 {
		t.Fatalf("resolved while unreachable: %v", types(got))
	}
	e.SetReachable(at(time.Hour), "prod", true)
	// 1 of the 5 minutes was spent before the outage.
	if got := e.Advance(at(time.Hour + 4*time.Minute - time.Nanosecond)); len(got) != 0 {
		t.Fatalf("resolved early: %v", types(got))
	}
	if got := e.Advance(at(time.Hour + 4*time.Minute)); len(got) != 1 || got[0].Type != Recovered {
		t.Fatalf("want Recovered 4 minutes after the outage, got %v", types(got))
	}
}

// TestUnreachableTwiceKeepsTheFirstLoss: marking a lost cluster lost again
// does not move when it was lost.
func TestUnreachableTwiceKeepsTheFirstLoss(t *testing.T) {
	e := New(Policy{PendingFor: 10 * time.Minute})
	at := func(d time.Duration) time.Time { return base.Add(d) }
	e.Observe(at(0), ksApps, healthCheckFailed(revA))
	e.SetReachable(at(2*time.Minute), "prod", false)
	e.SetReachable(at(5*time.Minute), "prod", false)
	e.SetReachable(at(7*time.Minute), "prod", true)
	if next, _ := e.NextDeadline(); !next.Equal(at(15 * time.Minute)) {
		t.Errorf("NextDeadline = %v; want 15m (2m counted before a 5m outage)", next.Sub(base))
	}
}
