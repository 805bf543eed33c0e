package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fluxcd/pkg/runtime/predicates"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
)

// dependentsIndex indexes Kustomizations and HelmReleases by the objects
// they wait on (spec.dependsOn and a HelmRelease's chart source), as
// "Kind/namespace/name". Flux writes no status on its dependency re-checks,
// so a dependency's change is what must re-evaluate the dependents.
const dependentsIndex = ".fluxwatch.dependsOn"

// Options of the FluxWatch controller.
type Options struct {
	// MaxConcurrentReconciles of the FluxWatch controller.
	MaxConcurrentReconciles int
}

// SetupWithManager registers the FluxWatch controller, the Flux kinds that
// are installed, and the watcher that adds the others when they appear.
func (r *FluxWatchReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	r.kinds = newKindWatcher(mgr.GetRESTMapper())
	resync := make(chan event.GenericEvent, 64)
	r.resync = resync

	c, err := ctrl.NewControllerManagedBy(mgr).
		For(&fluxwatchv1.FluxWatch{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicates.ReconcileRequestedPredicate{}))).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.fluxWatchesForNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WatchesRawSource(source.Channel(resync, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}).
		Build(r)
	if err != nil {
		return fmt.Errorf("build FluxWatch controller: %w", err)
	}
	r.ctrl = c

	r.kinds.startFn = func(ctx context.Context, k fluxstatus.Kind) error {
		obj := k.NewObject()
		if k.Name == "Kustomization" || k.Name == "HelmRelease" {
			if err := mgr.GetFieldIndexer().IndexField(ctx, obj, dependentsIndex, indexDependencies); err != nil {
				return fmt.Errorf("index %s dependencies: %w", k.Name, err)
			}
		}
		return c.Watch(source.Kind(mgr.GetCache(), obj, handler.EnqueueRequestsFromMapFunc(r.fluxWatchesForObject)))
	}
	r.kinds.resyncFn = func(ctx context.Context) {
		list := &fluxwatchv1.FluxWatchList{}
		if err := r.List(ctx, list); err != nil {
			log.FromContext(ctx).Error(err, "list FluxWatches to re-evaluate")
			return
		}
		for i := range list.Items {
			select {
			case resync <- event.GenericEvent{Object: &list.Items[i]}:
			case <-ctx.Done():
				return
			}
		}
	}
	// The kinds installed now are watched from the start, so the first
	// reconciles already see them (and no FluxWatch says CRDNotFound for a
	// moment after every restart).
	for _, k := range fluxstatus.Kinds() {
		if _, err := r.kinds.ensure(ctx, k); err != nil {
			return err
		}
	}
	return r.kinds.setup(mgr)
}

func indexDependencies(o client.Object) []string {
	reading, err := fluxstatus.Read(o)
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range reading.DependsOn {
		out = append(out, d.String())
	}
	if reading.ChartSource != nil {
		out = append(out, reading.ChartSource.String())
	}
	return out
}

// fluxWatchesForObject maps a Flux object change to the FluxWatches that
// track it or track anything that depends on it, directly or down a chain.
func (r *FluxWatchReconciler) fluxWatchesForObject(ctx context.Context, obj client.Object) []reconcile.Request {
	reading, err := fluxstatus.Read(obj)
	if err != nil {
		return nil
	}
	affected := []fluxstatus.Reading{reading}
	seen := map[fluxstatus.Ref]bool{reading.Ref: true}
	for i := 0; i < len(affected) && i < 1024; i++ {
		for _, dep := range r.dependents(ctx, affected[i].Ref) {
			if !seen[dep.Ref] {
				seen[dep.Ref] = true
				affected = append(affected, dep)
			}
		}
	}
	return r.fluxWatchesSelecting(ctx, affected)
}

// dependents lists the Kustomizations and HelmReleases waiting on ref.
func (r *FluxWatchReconciler) dependents(ctx context.Context, ref fluxstatus.Ref) []fluxstatus.Reading {
	var out []fluxstatus.Reading
	for _, name := range []string{"Kustomization", "HelmRelease"} {
		k, _ := fluxstatus.KindByName(name)
		if !r.kinds.watching(name) {
			continue
		}
		list := k.NewList()
		if err := r.List(ctx, list, client.MatchingFields{dependentsIndex: ref.String()}); err != nil {
			continue
		}
		_ = eachObject(list, func(o client.Object) {
			if rd, err := fluxstatus.Read(o); err == nil {
				out = append(out, rd)
			}
		})
	}
	return out
}

func (r *FluxWatchReconciler) fluxWatchesSelecting(ctx context.Context, readings []fluxstatus.Reading) []reconcile.Request {
	list := &fluxwatchv1.FluxWatchList{}
	if err := r.List(ctx, list); err != nil {
		return nil
	}
	nsLabels := namespaceLabels(ctx, r.Client)
	var reqs []reconcile.Request
	for i := range list.Items {
		fw := &list.Items[i]
		targets, err := compileTargets(fw)
		if err != nil {
			// Reconcile it: that is where an invalid spec is reported.
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(fw)})
			continue
		}
		if selectsAny(targets, readings, nsLabels) || r.hasEngineKeys(fw, readings) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(fw)})
		}
	}
	return reqs
}

func selectsAny(targets []target, readings []fluxstatus.Reading, nsLabels func(string) (labels.Set, bool)) bool {
	for _, t := range targets {
		for _, rd := range readings {
			if t.matches(rd.Kind, rd.Namespace, rd.Name, rd.Labels, nsLabels) {
				return true
			}
		}
	}
	return false
}

// hasEngineKeys reports whether the FluxWatch's engine knows one of the
// objects: a relabelled object that left the selection must still reach the
// FluxWatch that tracked it, to end its incident.
func (r *FluxWatchReconciler) hasEngineKeys(fw *fluxwatchv1.FluxWatch, readings []fluxstatus.Reading) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	we, ok := r.engines[client.ObjectKeyFromObject(fw)]
	if !ok {
		return false
	}
	for _, rd := range readings {
		if we.keys[keyOf(LocalCluster, rd.Ref)] {
			return true
		}
	}
	return false
}

// fluxWatchesForNamespace re-evaluates the FluxWatches that select
// namespaces by label when a namespace's labels change.
func (r *FluxWatchReconciler) fluxWatchesForNamespace(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &fluxwatchv1.FluxWatchList{}
	if err := r.List(ctx, list); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		for _, t := range list.Items[i].Spec.Targets {
			if t.NamespaceSelector != nil {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
				break
			}
		}
	}
	return reqs
}
