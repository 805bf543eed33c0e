package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
)

const (
	rev1 = "main@sha1:06a5a13d7f9e2b1c4a8e5f3d2c1b0a9e8d7c6b5a"
	rev2 = "main@sha1:41c0e2b7a9d3f1e5c8b6a4d2f0e9c7b5a3d1f8e6"
	// margin is how late an event may come on a loaded 2-core machine.
	margin = 5 * time.Second
)

var (
	down = metav1.ConditionFalse
	up   = metav1.ConditionTrue
	busy = metav1.ConditionUnknown
)

func kustomizationTarget(name string) fluxwatchv1.Target {
	return fluxwatchv1.Target{Kind: kustomizev1.KustomizationKind, Name: name}
}

func failing(msg string) fluxsim.Status {
	return fluxsim.Status{Ready: fluxsim.Ready(down, meta.HealthCheckFailedReason, msg)}
}

func progressing() fluxsim.Status {
	return fluxsim.Status{Ready: fluxsim.Ready(busy, meta.ProgressingReason, "Reconciliation in progress")}
}

func healthy(rev string) fluxsim.Status {
	return fluxsim.Status{Revision: rev, AttemptedRevision: rev, ObservedGeneration: fluxsim.CurrentGeneration(),
		Ready: fluxsim.Ready(up, meta.ReconciliationSucceededReason, "Applied revision: "+rev)}
}

// newKustomization creates a Kustomization that has been healthy once.
func newKustomization(t *testing.T, ns, name string, dependsOn ...string) *kustomizev1.Kustomization {
	t.Helper()
	k := fluxsim.Kustomization(ns, name, "fleet", 10*time.Minute, dependsOn...)
	mustCreate(t, k)
	mustWrite(t, k, healthy(rev1))
	return k
}

func TestFailureShorterThanPendingForEmitsNothing(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	const pendingFor = 4 * time.Second
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(pendingFor)})
	k := newKustomization(t, ns, "podinfo")

	start := time.Now()
	mustWrite(t, k, failing(fluxsim.HealthCheckFailedMessage))
	eventually(t, margin, "a pending incident in status", func() bool { return getFW(t, fw).Status.Pending == 1 })
	time.Sleep(pendingFor / 2)
	mustWrite(t, k, healthy(rev1))

	never(t, start.Add(pendingFor+2*time.Second), "an event", func() bool {
		return len(events(t, fw, controller.ReasonResourceFailing, controller.ReasonResourceRecovered)) > 0
	})
	got := getFW(t, fw)
	if got.Status.Pending != 0 || got.Status.Firing != 0 || got.Status.Healthy != 1 || len(got.Status.Incidents) != 0 || len(got.Status.Ledger) != 0 {
		t.Errorf("status after a short failure: pending=%d firing=%d healthy=%d incidents=%d ledger=%d; want 0 0 1 0 0",
			got.Status.Pending, got.Status.Firing, got.Status.Healthy, len(got.Status.Incidents), len(got.Status.Ledger))
	}
}

func TestLastingFailureFiresOnceAfterTheWindow(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	const pendingFor = 3 * time.Second
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(pendingFor)})
	k := newKustomization(t, ns, "podinfo")
	eventually(t, margin, "the object tracked", func() bool { return getFW(t, fw).Status.Tracked == 1 })

	// A failing health check as kustomize-controller retries it: False,
	// Unknown while checking, False again. One incident throughout.
	start := time.Now()
	mustWrite(t, k, fluxsim.Status{AttemptedRevision: rev2, Ready: fluxsim.Ready(down, meta.HealthCheckFailedReason, fluxsim.HealthCheckFailedMessage)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			time.Sleep(700 * time.Millisecond)
			s := progressing()
			if i%2 == 1 {
				s = failing(fluxsim.HealthCheckFailedMessage)
			}
			_ = writer.Write(ctx, k, s)
		}
	}()

	fired := func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) > 0 }
	never(t, start.Add(pendingFor-200*time.Millisecond), "ResourceFailing", fired)
	eventually(t, pendingFor+margin, "ResourceFailing", fired)
	time.Sleep(2 * time.Second)
	cancel()

	evs := events(t, fw, controller.ReasonResourceFailing)
	if len(evs) != 1 {
		t.Fatalf("got %d ResourceFailing events, want exactly 1", len(evs))
	}
	e := evs[0]
	if e.Type != "Warning" || e.Annotations[controller.AnnotationReason] != meta.HealthCheckFailedReason || e.Annotations[controller.AnnotationRevision] != rev2 {
		t.Errorf("event = %s %q annotations %v; want a Warning naming HealthCheckFailed and %s", e.Type, e.Message, e.Annotations, rev2)
	}
	for _, want := range []string{"Kustomization " + ns + "/podinfo", "cluster local", "HealthCheckFailed", "Deployment/default/bad-app", rev2, "failing for"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("event message %q does not name %q", e.Message, want)
		}
	}

	got := getFW(t, fw)
	if got.Status.Firing != 1 || got.Status.Pending != 0 || len(got.Status.Incidents) != 1 {
		t.Fatalf("status firing=%d pending=%d incidents=%v; want one firing incident", got.Status.Firing, got.Status.Pending, got.Status.Incidents)
	}
	inc := got.Status.Incidents[0]
	if inc.State != fluxwatchv1.IncidentFiring || inc.Name != "podinfo" || inc.Cluster != "local" || inc.Revision != rev2 || inc.FiringSince == nil {
		t.Errorf("incident = %+v", inc)
	}
	entry, ok := ledgerEntry(got, "Kustomization", ns, "podinfo")
	if !ok || entry.FiringSince == nil {
		t.Fatalf("no firing ledger entry: %+v", got.Status.Ledger)
	}
	if open := entry.FiringSince.Sub(entry.OpenedAt.Time); open < pendingFor {
		t.Errorf("fired %s after the incident opened; want at least pendingFor %s", open, pendingFor)
	}
	if r := readyOf(got); r == nil || r.Status != metav1.ConditionTrue || r.Message != "watching 1 object, 1 firing" {
		t.Errorf("Ready = %+v", r)
	}
	// What `kubectl get fw` prints: the API server's own table.
	row := tableRow(t, got)
	want := []string{"apps", "True", "1", "1", "0", "watching 1 object, 1 firing"}
	for i, w := range want {
		if fmt.Sprint(row[i]) != w {
			t.Errorf("kubectl get fw column %d = %v, want %q (row %v)", i, row[i], w, row)
		}
	}
}

func TestRecoveryAndFlappingInsideKeepFiringFor(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	const keep = 3 * time.Second
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(time.Second), KeepFiringFor: dur(keep)})
	k := newKustomization(t, ns, "podinfo")
	eventually(t, margin, "the object tracked", func() bool { return getFW(t, fw).Status.Tracked == 1 })
	mustWrite(t, k, failing("boom"))
	eventually(t, margin+time.Second, "ResourceFailing", func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) == 1 })

	// Flapping: healthy, a brief failure, healthy, an in-progress blip; all
	// inside keepFiringFor.
	mustWrite(t, k, healthy(rev1))
	time.Sleep(time.Second)
	mustWrite(t, k, failing("boom again"))
	time.Sleep(500 * time.Millisecond)
	recoveredAt := time.Now()
	mustWrite(t, k, healthy(rev1))
	time.Sleep(time.Second)
	mustWrite(t, k, progressing()) // in-progress blips do not reset keepFiringFor
	mustWrite(t, k, healthy(rev1))

	recovered := func() bool { return len(events(t, fw, controller.ReasonResourceRecovered)) > 0 }
	never(t, recoveredAt.Add(keep-300*time.Millisecond), "ResourceRecovered inside keepFiringFor", recovered)
	eventually(t, margin, "ResourceRecovered", recovered)
	time.Sleep(time.Second)
	if n := len(events(t, fw, controller.ReasonResourceRecovered)); n != 1 {
		t.Errorf("got %d ResourceRecovered, want 1", n)
	}
	if n := len(events(t, fw, controller.ReasonResourceFailing)); n != 1 {
		t.Errorf("got %d ResourceFailing, want 1 (flapping must not fire again)", n)
	}
	rec := events(t, fw, controller.ReasonResourceRecovered)[0]
	if rec.Type != "Normal" || !strings.Contains(rec.Message, "recovered after") {
		t.Errorf("recovery event = %s %q", rec.Type, rec.Message)
	}
	if got := getFW(t, fw); got.Status.Firing != 0 || len(got.Status.Ledger) != 0 {
		t.Errorf("after recovery firing=%d ledger=%v", got.Status.Firing, got.Status.Ledger)
	}
}

func TestDependsOnChainOfFiveAlertsOnlyTheRoot(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("chain-*")}, PendingFor: dur(2 * time.Second)})
	chain := []*kustomizationv1Alias{}
	for i := 1; i <= 5; i++ {
		var deps []string
		if i > 1 {
			deps = []string{fmt.Sprintf("chain-%d", i-1)}
		}
		chain = append(chain, newKustomization(t, ns, fmt.Sprintf("chain-%d", i), deps...))
	}
	eventually(t, margin, "five objects tracked", func() bool { return getFW(t, fw).Status.Tracked == 5 })
	// The root fails; every dependent goes DependencyNotReady on its own
	// next reconcile, as kustomize-controller does.
	mustWrite(t, chain[0], failing(fluxsim.HealthCheckFailedMessage))
	for i := 1; i < 5; i++ {
		mustWrite(t, chain[i], fluxsim.Status{Ready: fluxsim.Ready(down, meta.DependencyNotReadyReason, fmt.Sprintf("dependency '%s/chain-%d' is not ready", ns, i))})
	}
	eventually(t, 2*time.Second+margin, "ResourceFailing", func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) > 0 })
	time.Sleep(3 * time.Second)
	evs := events(t, fw, controller.ReasonResourceFailing)
	if len(evs) != 1 || evs[0].Annotations[controller.AnnotationName] != "chain-1" {
		for _, e := range evs {
			t.Logf("event: %s", e.Message)
		}
		t.Fatalf("got %d ResourceFailing events; want exactly one, for the root chain-1", len(evs))
	}
	got := getFW(t, fw)
	if got.Status.Firing != 1 || got.Status.Pending != 0 || got.Status.Healthy != 4 {
		t.Errorf("status firing=%d pending=%d healthy=%d; want 1 0 4 (blocked objects count as healthy)", got.Status.Firing, got.Status.Pending, got.Status.Healthy)
	}
}

type kustomizationv1Alias = kustomizev1.Kustomization

func TestSuspendedAndBrieflyProgressingObjectsEmitNothing(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets:             []fluxwatchv1.Target{kustomizationTarget("*")},
		PendingFor:          dur(time.Second),
		ProgressingDeadline: dur(6 * time.Second),
	})
	suspended := fluxsim.Kustomization(ns, "suspended", "fleet", time.Minute)
	suspended.Spec.Suspend = true
	mustCreate(t, suspended)
	mustWrite(t, suspended, failing("failing, but suspended"))
	slow := newKustomization(t, ns, "slow")
	mustWrite(t, slow, progressing())

	start := time.Now()
	eventually(t, margin, "two tracked", func() bool { return getFW(t, fw).Status.Tracked == 2 })
	never(t, start.Add(4*time.Second), "an event", func() bool { return len(events(t, fw)) > 0 })
	got := getFW(t, fw)
	if got.Status.Suspended != 1 || got.Status.Healthy != 1 || got.Status.Firing+got.Status.Pending != 0 {
		t.Errorf("status suspended=%d healthy=%d firing=%d pending=%d; want 1 1 0 0", got.Status.Suspended, got.Status.Healthy, got.Status.Firing, got.Status.Pending)
	}

	// Beyond the deadline, in progress is a failure too.
	eventually(t, 6*time.Second+margin, "ResourceFailing for the stuck object", func() bool {
		return len(eventsFor(events(t, fw, controller.ReasonResourceFailing), "Kustomization", "slow")) == 1
	})
	e := eventsFor(events(t, fw, controller.ReasonResourceFailing), "Kustomization", "slow")[0]
	if e.Annotations[controller.AnnotationReason] != "ProgressingDeadlineExceeded" {
		t.Errorf("stuck object fired with reason %q", e.Annotations[controller.AnnotationReason])
	}
}

func TestFiringObjectSuspendedOrDeletedEndsWithItsEvent(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(time.Second)})
	a := newKustomization(t, ns, "to-suspend")
	b := newKustomization(t, ns, "to-delete")
	eventually(t, margin, "two tracked", func() bool { return getFW(t, fw).Status.Tracked == 2 })
	mustWrite(t, a, failing("boom"))
	mustWrite(t, b, failing("boom"))
	eventually(t, margin+time.Second, "two ResourceFailing", func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) == 2 })

	a.Spec.Suspend = true
	if err := k8s.Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	eventually(t, margin, "ResourceSuspended and ResourceDeleted", func() bool {
		return len(events(t, fw, controller.ReasonResourceSuspended)) == 1 && len(events(t, fw, controller.ReasonResourceDeleted)) == 1
	})
	s := events(t, fw, controller.ReasonResourceSuspended)[0]
	d := events(t, fw, controller.ReasonResourceDeleted)[0]
	if s.Annotations[controller.AnnotationName] != "to-suspend" || d.Annotations[controller.AnnotationName] != "to-delete" ||
		!strings.Contains(s.Message, "still failing") || !strings.Contains(d.Message, "still failing") {
		t.Errorf("ending events: %q / %q", s.Message, d.Message)
	}
	got := getFW(t, fw)
	if got.Status.Firing != 0 || got.Status.Tracked != 1 || got.Status.Suspended != 1 {
		t.Errorf("status firing=%d tracked=%d suspended=%d; want 0 1 1", got.Status.Firing, got.Status.Tracked, got.Status.Suspended)
	}
}

func TestFixThatAlsoFailsStillFires(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	const pendingFor = 6 * time.Second
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(pendingFor)})
	k := newKustomization(t, ns, "podinfo")
	eventually(t, margin, "tracked", func() bool { return getFW(t, fw).Status.Tracked == 1 })

	mustWrite(t, k, fluxsim.Status{AttemptedRevision: rev1, Ready: fluxsim.Ready(down, meta.ReconciliationFailedReason, "Service/default/broken-svc dry-run failed")})
	time.Sleep(3 * time.Second)
	// A fix is pushed: a new attempt, in progress for 3 s. The clock pauses.
	mustWrite(t, k, fluxsim.Status{AttemptedRevision: rev2, Ready: fluxsim.Ready(busy, meta.ProgressingReason, "Reconciliation in progress")})
	time.Sleep(3 * time.Second)
	secondFailure := time.Now()
	mustWrite(t, k, fluxsim.Status{Ready: fluxsim.Ready(down, meta.ReconciliationFailedReason, "Service/default/broken-svc dry-run failed again")})

	// 3 s of the first attempt + 3 s of the second = pendingFor: it fires
	// about 3 s after the second failure, not 6 s after it.
	fired := func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) > 0 }
	never(t, secondFailure.Add(2500*time.Millisecond), "ResourceFailing before both attempts' failure added up to pendingFor", fired)
	eventually(t, 5*time.Second, "ResourceFailing counting both attempts", fired)
	if elapsed := time.Since(secondFailure); elapsed >= pendingFor {
		t.Errorf("fired %s after the second failure: the first attempt's failure time was not counted", elapsed)
	}
	e := events(t, fw, controller.ReasonResourceFailing)[0]
	if e.Annotations[controller.AnnotationRevision] != rev2 || !strings.Contains(e.Message, "failed again") {
		t.Errorf("event %q should show the latest attempt", e.Message)
	}
}

func TestStaleObjectFails(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(time.Second), StaleAfter: dur(3 * time.Second)})
	k := newKustomization(t, ns, "podinfo")
	eventually(t, margin, "tracked", func() bool { return getFW(t, fw).Status.Tracked == 1 })
	// Nothing writes the status any more: the Flux controller is down.
	eventually(t, 4*time.Second+margin, "ResourceFailing ReconciliationStale", func() bool {
		evs := events(t, fw, controller.ReasonResourceFailing)
		return len(evs) == 1 && evs[0].Annotations[controller.AnnotationReason] == "ReconciliationStale"
	})
	// The controller is back: an interval blink.
	if err := writer.Last(context.Background(), k, fluxsim.KustomizationIntervalBlink(rev1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, margin, "ResourceRecovered", func() bool { return len(events(t, fw, controller.ReasonResourceRecovered)) == 1 })
}

func TestSixtyIncidentsGiveSixtyEvents(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "fleet", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(2 * time.Second)})
	var objs []client.Object
	for i := 0; i < 60; i++ {
		objs = append(objs, newKustomization(t, ns, fmt.Sprintf("app-%02d", i)))
	}
	eventually(t, 30*time.Second, "60 tracked", func() bool { return getFW(t, fw).Status.Tracked == 60 })
	start := time.Now()
	for i, o := range objs {
		mustWrite(t, o, fluxsim.Status{Ready: fluxsim.Ready(down, meta.HealthCheckFailedReason, fmt.Sprintf("health check failed for app-%02d", i))})
	}
	eventually(t, 60*time.Second, "60 ResourceFailing events", func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) >= 60 })
	if took := time.Since(start); took > time.Minute {
		t.Errorf("60 incidents took %s to announce", took)
	}
	time.Sleep(2 * time.Second)
	evs := events(t, fw, controller.ReasonResourceFailing)
	messages := map[string]bool{}
	for _, e := range evs {
		if e.Count != 1 {
			t.Errorf("event %s has count %d: merged", e.Name, e.Count)
		}
		messages[e.Message] = true
	}
	if len(evs) != 60 || len(messages) != 60 {
		t.Errorf("got %d events with %d distinct messages; want 60 and 60", len(evs), len(messages))
	}
	got := getFW(t, fw)
	if got.Status.Firing != 60 || len(got.Status.Incidents) != fluxwatchv1.MaxIncidents || got.Status.IncidentsTruncated != 10 || len(got.Status.Ledger) != 60 {
		t.Errorf("status firing=%d incidents=%d truncated=%d ledger=%d; want 60 50 10 60", got.Status.Firing, len(got.Status.Incidents), got.Status.IncidentsTruncated, len(got.Status.Ledger))
	}
}

// TestDependencyChangeReEvaluatesDependents: Flux writes nothing on a
// dependent's 30 s re-checks, so the FluxWatch must notice the dependency's
// own change. It tracks only "app"; "infra", which app depends on, is not
// tracked, so when infra fails app fails, naming infra as the cause.
func TestDependencyChangeReEvaluatesDependents(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("app")}, PendingFor: dur(time.Hour)})
	infra := newKustomization(t, ns, "infra")
	app := newKustomization(t, ns, "app", "infra")
	// app still says DependencyNotReady from a moment ago; infra is healthy,
	// so app only waits for Flux's next re-check: in progress.
	mustWrite(t, app, fluxsim.Status{Ready: fluxsim.Ready(down, meta.DependencyNotReadyReason, "dependency '"+ns+"/infra' is not ready")})
	eventually(t, margin, "app tracked, no incident", func() bool {
		got := getFW(t, fw)
		return got.Status.Tracked == 1 && got.Status.Healthy == 1
	})

	// Only infra is written.
	mustWrite(t, infra, failing(fluxsim.HealthCheckFailedMessage))
	eventually(t, margin, "app failing because of infra", func() bool {
		got := getFW(t, fw)
		return len(got.Status.Incidents) == 1 && got.Status.Incidents[0].Name == "app" &&
			got.Status.Incidents[0].Reason == "DependencyFailed" && strings.Contains(got.Status.Incidents[0].Message, "infra")
	})
}

// TestInProgressBlinksDoNotWriteStatus: every interval a healthy
// Kustomization passes through Ready=Unknown for a moment; the FluxWatch
// status must not be rewritten for it.
func TestInProgressBlinksDoNotWriteStatus(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{Targets: []fluxwatchv1.Target{kustomizationTarget("*")}})
	k := newKustomization(t, ns, "podinfo")
	eventually(t, margin, "tracked", func() bool { return getFW(t, fw).Status.Tracked == 1 })
	time.Sleep(time.Second)
	before := getFW(t, fw).ResourceVersion
	for i := 0; i < 3; i++ {
		mustLast(t, k, fluxsim.KustomizationIntervalBlink(rev1))
	}
	time.Sleep(2 * time.Second)
	if after := getFW(t, fw).ResourceVersion; after != before {
		t.Errorf("FluxWatch rewritten by in-progress blinks: resourceVersion %s -> %s", before, after)
	}
}

// TestSuspendedFluxWatchEmitsNothingAndReEvaluatesOnResume: while the
// FluxWatch is suspended nothing is announced; on resume everything is
// evaluated again, and an incident that fired before and recovered meanwhile
// ends with its event.
func TestSuspendedFluxWatchEmitsNothingAndReEvaluatesOnResume(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(time.Second)})
	fired := newKustomization(t, ns, "fired")
	later := newKustomization(t, ns, "later")
	eventually(t, margin, "tracked", func() bool { return getFW(t, fw).Status.Tracked == 2 })
	mustWrite(t, fired, failing("boom"))
	eventually(t, margin, "ResourceFailing", func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) == 1 })

	setSuspend := func(v bool) {
		t.Helper()
		cur := getFW(t, fw)
		cur.Spec.Suspend = v
		if err := k8s.Update(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
	}
	setSuspend(true)
	eventually(t, margin, "Ready=False Suspended", func() bool {
		r := readyOf(getFW(t, fw))
		return r != nil && r.Reason == controller.ReasonSuspended
	})
	mustWrite(t, fired, healthy(rev2))
	mustWrite(t, later, failing("boom while suspended"))
	never(t, time.Now().Add(3*time.Second), "an event while suspended", func() bool { return len(events(t, fw)) > 1 })

	setSuspend(false)
	eventually(t, margin, "the recovery announced on resume", func() bool { return len(events(t, fw, controller.ReasonResourceRecovered)) == 1 })
	eventually(t, margin, "the failure during suspension fires after a fresh window", func() bool {
		return len(eventsFor(events(t, fw, controller.ReasonResourceFailing), "Kustomization", "later")) == 1
	})
}
