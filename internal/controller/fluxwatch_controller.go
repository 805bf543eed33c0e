package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fluxcd/pkg/apis/meta"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/clusters"
	"github.com/fluxwatch/fluxwatch/internal/debounce"
	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
	"github.com/fluxwatch/fluxwatch/internal/notify"
)

// +kubebuilder:rbac:groups=fluxwatch.dev,resources=fluxwatches,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=fluxwatch.dev,resources=fluxwatches/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kustomize.toolkit.fluxcd.io,resources=kustomizations,verbs=get;list;watch
// +kubebuilder:rbac:groups=helm.toolkit.fluxcd.io,resources=helmreleases,verbs=get;list;watch
// +kubebuilder:rbac:groups=source.toolkit.fluxcd.io,resources=gitrepositories;ocirepositories;helmrepositories;helmcharts;buckets;externalartifacts,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch

// LocalCluster is the cluster name of the objects in the controller's own cluster.
const LocalCluster = fluxwatchv1.LocalCluster

// FluxWatchReconciler reconciles FluxWatch objects.
type FluxWatchReconciler struct {
	client.Client
	// Clock is the time source of every window; tests inject a fake one.
	Clock clock.PassiveClock
	// Recorder writes the events.
	Recorder *notify.Recorder
	// NoCrossNamespaceRefs refuses targets outside the FluxWatch's namespace.
	NoCrossNamespaceRefs bool

	// Registry holds the remote clusters' caches.
	Registry *clusters.Registry

	kinds  *kindWatcher
	ctrl   controller.Controller
	resync chan event.GenericEvent

	mu      sync.Mutex
	engines map[types.NamespacedName]*watchEngine
	// remoteOwners and remoteKinds route remote caches' events to the
	// FluxWatches reading them.
	remoteOwners map[*clusters.Remote]map[types.NamespacedName]bool
	remoteKinds  map[*clusters.Remote]map[string]bool
}

// watchEngine is the in-memory engine of one FluxWatch. It is only a cache
// of what status.ledger and the Flux objects say: it is dropped whenever it
// may disagree with the status (a failed patch), and rebuilt from there.
type watchEngine struct {
	uid    types.UID
	engine *debounce.Engine
	// keys is a copy of the engine's keys for the watch handlers, which run
	// on other goroutines than the reconcile that owns the engine.
	keys map[debounce.Key]bool
}

// Reconcile reads the FluxWatch, evaluates its targets, and writes one status
// patch followed by the events of the incidents that changed.
func (r *FluxWatchReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	fw := &fluxwatchv1.FluxWatch{}
	if err := r.Get(ctx, req.NamespacedName, fw); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			r.setRemoteOwner(req.NamespacedName, nil)
			r.Registry.Release(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get FluxWatch: %w", err)
	}

	original := fw.DeepCopy()
	var events []notify.Event
	defer func() {
		if err := r.finalize(ctx, original, fw, events); err != nil {
			retErr = errors.Join(retErr, err)
			result = ctrl.Result{}
		}
	}()

	result, events, retErr = r.reconcile(ctx, fw)
	return result, retErr
}

// finalize patches the status if it changed and, once the patch is stored,
// records the events. Events go after the patch: if the patch fails the
// engine is dropped, the next attempt rebuilds it from the unchanged status
// and finds the same transitions again, so nothing is announced twice.
func (r *FluxWatchReconciler) finalize(ctx context.Context, original, fw *fluxwatchv1.FluxWatch, events []notify.Event) error {
	if !equality.Semantic.DeepEqual(original.Status, fw.Status) {
		if err := r.Status().Patch(ctx, fw, client.MergeFrom(original)); err != nil {
			r.forget(client.ObjectKeyFromObject(fw))
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("patch FluxWatch status: %w", err)
		}
	}
	var errs []error
	for _, e := range events {
		if err := r.Recorder.Record(ctx, fw, e); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// The incidents are already recorded in status; retrying the
		// reconcile would not bring the events back. Say so in the log.
		log.FromContext(ctx).Error(errors.Join(errs...), "events lost")
	}
	return nil
}

// reconcile is the work: select, observe, advance, summarise.
func (r *FluxWatchReconciler) reconcile(ctx context.Context, fw *fluxwatchv1.FluxWatch) (ctrl.Result, []notify.Event, error) {
	now := r.Clock.Now()
	key := client.ObjectKeyFromObject(fw)
	fw.Status.ObservedGeneration = fw.Generation
	if v, ok := meta.ReconcileAnnotationValue(fw.GetAnnotations()); ok {
		fw.Status.LastHandledReconcileAt = v
	}

	if fw.Spec.Suspend {
		// Nothing is emitted while suspended; on resume the engine is rebuilt
		// from the ledger and everything is evaluated again.
		r.forget(key)
		r.setReady(fw, now, metav1.ConditionFalse, ReasonSuspended, "watching is suspended")
		return ctrl.Result{}, nil, nil
	}

	targets, err := compileTargets(fw)
	if err != nil {
		ev := r.setReady(fw, now, metav1.ConditionFalse, ReasonInvalidSpec, err.Error())
		return ctrl.Result{}, ev, nil
	}
	srcs := r.clusterSources(ctx, fw)
	sels := make([]selection, len(srcs))
	for i := range srcs {
		if !srcs[i].connected {
			continue
		}
		sel, err := r.selectObjects(ctx, fw, targets, srcs[i])
		if err != nil {
			if srcs[i].remote == nil {
				return ctrl.Result{}, nil, err
			}
			// A remote that fails a read is unreachable for this round; the
			// other clusters go on.
			srcs[i].connected, srcs[i].reason, srcs[i].message = false, ReasonClusterUnreachable, err.Error()
			continue
		}
		sels[i] = sel
	}

	engine := r.engineFor(fw)
	var transitions []debounce.Transition
	current := map[debounce.Key]string{}
	attempted := map[debounce.Key]string{}
	selected := map[debounce.Key]bool{}
	byName := map[string]clusterSource{}
	for i, src := range srcs {
		byName[src.name] = src
		engine.SetReachable(now, src.name, src.connected)
		if !src.connected {
			continue
		}
		sel := sels[i]
		lookup := r.dependencyLookup(ctx, src, sel)
		tracked := func(ref fluxstatus.Ref) bool { _, ok := sel.readings[ref]; return ok }
		for _, ref := range sel.sortedRefs() {
			reading := sel.readings[ref]
			obs := fluxstatus.Resolve(reading, lookup, tracked)
			obs.Attempt = attemptDigest(obs.Attempt)
			obs.StaleAfter = staleAfter(fw, reading)
			k := keyOf(src.name, ref)
			selected[k] = true
			current[k] = reading.Revision
			attempted[k] = obs.Revision
			transitions = append(transitions, engine.Observe(now, k, obs)...)
		}
	}
	for _, k := range engine.Keys() {
		if selected[k] {
			continue
		}
		src, listed := byName[k.Cluster]
		if listed && !src.connected {
			continue // last known state: an unreachable cluster's objects are not gone
		}
		cause := debounce.GoneUnwatched
		if listed && !r.exists(ctx, src, k) {
			cause = debounce.GoneDeleted
		}
		transitions = append(transitions, engine.Gone(now, k, cause)...)
	}
	transitions = append(transitions, engine.Advance(now)...)
	r.rememberKeys(key, engine.Keys())

	// The rollout view: every object on every cluster, reachable or not.
	open := map[debounce.Key]debounce.Incident{}
	for _, inc := range engine.Incidents() {
		open[inc.Key] = inc
	}
	ro := rollout{}
	shown := previousRevisions(fw.Status.Revisions)
	for _, k := range engine.Keys() {
		state, reason := stateOf(engine, open, k)
		rev, last := attempted[k], shown[k]
		switch {
		case byName[k.Cluster].remote != nil && !byName[k.Cluster].connected:
			state, rev = "Unknown", last.Revision // its last known revision
		case state == string(debounce.InProgress) && rev == last.Revision && last.State != "":
			// Flux passes through Ready=Unknown on every interval: the view
			// changes (and status is written) only for a new revision.
			state, reason = last.State, last.Reason
		}
		ro.add(k, rev, state, reason)
	}

	var events []notify.Event
	for _, t := range transitions {
		if e, ok := incidentEvent(t, current[t.Incident.Key]); ok {
			events = append(events, e)
		}
		if e, ok := ro.failedEvent(t); ok {
			events = append(events, e)
		}
	}
	var readyEvents []notify.Event
	fw.Status.Revisions, fw.Status.RevisionsTruncated, readyEvents = ro.status(fw.Status.Revisions)
	events = append(events, readyEvents...)
	events = append(events, r.summarise(fw, now, engine, srcs, sels)...)

	result := ctrl.Result{}
	next, ok := engine.NextDeadline()
	for _, c := range fw.Status.Clusters {
		if !c.Connected && !c.Alerted && c.LastSyncTime != nil {
			if due := c.LastSyncTime.Add(fw.GetPendingFor()); !ok || due.Before(next) {
				next, ok = due, true
			}
		}
	}
	if ok {
		// The exact instant the next window ends: no polling.
		result.RequeueAfter = max(next.Sub(now), time.Millisecond)
	}
	return result, events, nil
}

// summarise writes counts, incidents, the ledger and the Ready condition, and
// returns the Warning event of a Ready condition that just turned bad.
func (r *FluxWatchReconciler) summarise(fw *fluxwatchv1.FluxWatch, now time.Time, engine *debounce.Engine, srcs []clusterSource, sels []selection) []notify.Event {
	st := &fw.Status
	var sel selection // what all clusters have in common to report
	perCluster := map[string]int32{}
	for _, k := range engine.Keys() {
		perCluster[k.Cluster]++
	}
	prev := map[string]fluxwatchv1.ClusterStatus{}
	for _, c := range st.Clusters {
		prev[c.Name] = c
	}
	st.Clusters = nil
	st.Tracked = 0
	var clusterEvents []notify.Event
	var unreachable []clusterSource
	for i, src := range srcs {
		tracked := int32(len(sels[i].readings))
		if !src.connected {
			tracked = perCluster[src.name] // their last known state
			unreachable = append(unreachable, src)
		}
		st.Tracked += tracked
		for _, d := range sels[i].denied {
			sel.denied = appendUnique(sel.denied, d)
		}
		for _, m := range sels[i].missingKinds {
			sel.missingKinds = appendUnique(sel.missingKinds, m)
		}
		cs := fluxwatchv1.ClusterStatus{Name: src.name, Connected: src.connected, Tracked: tracked, Message: src.message}
		p, known := prev[src.name]
		if known && p.Connected == cs.Connected && p.LastSyncTime != nil {
			cs.LastSyncTime, cs.Alerted = p.LastSyncTime, p.Alerted
		} else {
			t := metav1.NewTime(now)
			cs.LastSyncTime = &t
		}
		clusterEvents = append(clusterEvents, clusterEvent(fw, &cs, p, now)...)
		st.Clusters = append(st.Clusters, cs)
	}
	st.ClusterSummary = clusterSummary(srcs)
	st.Suspended, st.Pending, st.Firing = 0, 0, 0
	for _, k := range engine.Keys() {
		if s, ok := engine.State(k); ok && s == debounce.Suspended {
			st.Suspended++
		}
	}
	incidents := engine.Incidents()
	for _, inc := range incidents {
		if inc.Phase == debounce.Firing {
			st.Firing++
		} else {
			st.Pending++
		}
	}
	st.Healthy = max(st.Tracked-st.Suspended-st.Pending-st.Firing, 0)
	st.Incidents, st.IncidentsTruncated = toShown(incidents)
	st.Ledger, st.LedgerTruncated = toLedger(incidents)

	return append(clusterEvents, r.readyFromSelection(fw, now, sel, unreachable)...)
}

// readyFromSelection sets the Ready condition from what selecting the
// targets found, in order of precedence.
func (r *FluxWatchReconciler) readyFromSelection(fw *fluxwatchv1.FluxWatch, now time.Time, sel selection, unreachable []clusterSource) []notify.Event {
	st := &fw.Status
	if len(unreachable) > 0 && len(sel.denied) == 0 && len(sel.missingKinds) == 0 {
		var parts []string
		for _, u := range unreachable {
			parts = append(parts, fmt.Sprintf("cluster %s: %s", u.name, u.message))
		}
		return r.setReady(fw, now, metav1.ConditionFalse, unreachable[0].reason, fmt.Sprintf(
			"%s; watching %s", strings.Join(parts, "; "), summary(st)))
	}
	switch {
	case len(sel.denied) > 0:
		return r.setReady(fw, now, metav1.ConditionFalse, ReasonAccessDenied, fmt.Sprintf(
			"cross-namespace targets are disabled (--no-cross-namespace-refs): %s refused; watching %s",
			strings.Join(sel.denied, ", "), summary(st)))
	case len(sel.missingKinds) > 0:
		return r.setReady(fw, now, metav1.ConditionFalse, ReasonCRDNotFound, fmt.Sprintf(
			"the %s CRD is not installed; watching %s", strings.Join(sel.missingKinds, ", "), summary(st)))
	case st.Tracked == 0:
		return r.setReady(fw, now, metav1.ConditionTrue, ReasonNothingSelected, "no Flux object matches the targets")
	default:
		return r.setReady(fw, now, metav1.ConditionTrue, ReasonSucceeded, summary(st))
	}
}

func summary(st *fluxwatchv1.FluxWatchStatus) string {
	noun := "objects"
	if st.Tracked == 1 {
		noun = "object"
	}
	s := fmt.Sprintf("watching %d %s, %d firing", st.Tracked, noun, st.Firing)
	if st.Pending > 0 {
		s += fmt.Sprintf(", %d pending", st.Pending)
	}
	return s
}

// setReady sets the Ready condition and returns a Warning event when it
// turns to a problem it was not already reporting.
func (r *FluxWatchReconciler) setReady(fw *fluxwatchv1.FluxWatch, now time.Time, status metav1.ConditionStatus, reason, message string) []notify.Event {
	prev := apimeta.FindStatusCondition(fw.Status.Conditions, meta.ReadyCondition)
	apimeta.SetStatusCondition(&fw.Status.Conditions, metav1.Condition{
		Type:               meta.ReadyCondition,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: fw.Generation,
		LastTransitionTime: metav1.NewTime(now),
	})
	problem := reason != ReasonSucceeded && reason != ReasonSuspended
	if !problem || (prev != nil && prev.Reason == reason && prev.ObservedGeneration == fw.Generation) {
		return nil
	}
	return []notify.Event{{Type: corev1.EventTypeWarning, Reason: reason, Message: message}}
}

// engineFor returns the FluxWatch's engine, rebuilding it from the ledger
// when there is none in memory (first reconcile, restart, after an error).
func (r *FluxWatchReconciler) engineFor(fw *fluxwatchv1.FluxWatch) *debounce.Engine {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.engines == nil {
		r.engines = map[types.NamespacedName]*watchEngine{}
	}
	key := client.ObjectKeyFromObject(fw)
	policy := debounce.Policy{
		PendingFor:          fw.GetPendingFor(),
		KeepFiringFor:       fw.GetKeepFiringFor(),
		ProgressingDeadline: fw.GetProgressingDeadline(),
	}
	if we, ok := r.engines[key]; ok && we.uid == fw.UID {
		we.engine.SetPolicy(policy)
		return we.engine
	}
	e := debounce.New(policy)
	e.Restore(fromLedger(fw.Status.Ledger, fw.Status.Incidents))
	r.engines[key] = &watchEngine{uid: fw.UID, engine: e}
	return e
}

func (r *FluxWatchReconciler) rememberKeys(key types.NamespacedName, keys []debounce.Key) {
	set := make(map[debounce.Key]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if we, ok := r.engines[key]; ok {
		we.keys = set
	}
}

func (r *FluxWatchReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.engines, key)
}

// dependencyLookup reads dependencies (tracked or not) from the cluster's
// cache, memoised for one reconcile.
func (r *FluxWatchReconciler) dependencyLookup(ctx context.Context, src clusterSource, sel selection) func(fluxstatus.Ref) (fluxstatus.Reading, bool) {
	memo := map[fluxstatus.Ref]*fluxstatus.Reading{}
	return func(ref fluxstatus.Ref) (fluxstatus.Reading, bool) {
		if rd, ok := sel.readings[ref]; ok {
			return rd, true
		}
		if rd, ok := memo[ref]; ok {
			if rd == nil {
				return fluxstatus.Reading{}, false
			}
			return *rd, true
		}
		memo[ref] = nil
		obj, ok := getFlux(ctx, src, ref.Kind, ref.Namespace, ref.Name)
		if !ok {
			return fluxstatus.Reading{}, false
		}
		rd, err := fluxstatus.Read(obj)
		if err != nil {
			return fluxstatus.Reading{}, false
		}
		memo[ref] = &rd
		return rd, true
	}
}

// getFlux reads one Flux object from a cluster's cache; false when it does
// not exist or its kind is not watched there.
func getFlux(ctx context.Context, src clusterSource, kind, namespace, name string) (client.Object, bool) {
	k, ok := fluxstatus.KindByName(kind)
	if !ok || !src.watching(kind) {
		return nil, false
	}
	obj := k.NewObject()
	if err := src.reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		return nil, false
	}
	return obj, true
}

func (r *FluxWatchReconciler) exists(ctx context.Context, src clusterSource, k debounce.Key) bool {
	_, ok := getFlux(ctx, src, k.Kind, k.Namespace, k.Name)
	return ok
}

func keyOf(cluster string, ref fluxstatus.Ref) debounce.Key {
	return debounce.Key{Cluster: cluster, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}
}

// staleAfter is spec.staleAfter when set ("0s" disables), else the object's
// own default (2 × interval + timeout for Kustomizations and HelmReleases).
func staleAfter(fw *fluxwatchv1.FluxWatch, reading fluxstatus.Reading) time.Duration {
	if d, ok := fw.GetStaleAfter(); ok {
		if fluxstatus.DefaultStaleAfter(reading) == 0 {
			return 0 // sources write no status on a quiet run: never stale
		}
		return d
	}
	return fluxstatus.DefaultStaleAfter(reading)
}
