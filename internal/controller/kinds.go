package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
)

// kindWatcher starts watching a Flux kind once its CRD is installed. A Flux
// kind that is missing must not stall the manager: an informer on a kind the
// API server does not serve never syncs. So the FluxWatch controller watches
// only the kinds it finds at start, and this small controller, which watches
// CustomResourceDefinitions by metadata only, adds the others when they appear.
type kindWatcher struct {
	mu       sync.Mutex
	started  map[string]bool
	mapper   apimeta.RESTMapper
	startFn  func(ctx context.Context, k fluxstatus.Kind) error
	resyncFn func(ctx context.Context)
}

func newKindWatcher(mapper apimeta.RESTMapper) *kindWatcher {
	return &kindWatcher{started: map[string]bool{}, mapper: mapper}
}

// watching reports whether the kind is installed and watched.
func (w *kindWatcher) watching(kind string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started[kind]
}

// installed asks the API server (through the REST mapper) whether the kind
// is served.
func (w *kindWatcher) installed(k fluxstatus.Kind) bool {
	_, err := w.mapper.RESTMapping(schema.GroupKind{Group: k.GroupVersion.Group, Kind: k.Name}, k.GroupVersion.Version)
	return err == nil
}

// ensure starts watching k if it is installed and not watched yet. It
// returns whether k is watched.
func (w *kindWatcher) ensure(ctx context.Context, k fluxstatus.Kind) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started[k.Name] {
		return true, nil
	}
	if !w.installed(k) {
		return false, nil
	}
	if err := w.startFn(ctx, k); err != nil {
		return false, fmt.Errorf("watch %s: %w", k.Name, err)
	}
	w.started[k.Name] = true
	return true, nil
}

// crdName is the CustomResourceDefinition name of a Flux kind, e.g.
// kustomizations.kustomize.toolkit.fluxcd.io.
func crdName(k fluxstatus.Kind) string {
	return strings.ToLower(k.Name) + "s." + k.GroupVersion.Group
}

func kindForCRD(name string) (fluxstatus.Kind, bool) {
	for _, k := range fluxstatus.Kinds() {
		if crdName(k) == name {
			return k, true
		}
	}
	return fluxstatus.Kind{}, false
}

// Reconcile is called for a Flux CRD that was created or changed.
func (w *kindWatcher) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	k, ok := kindForCRD(req.Name)
	if !ok {
		return ctrl.Result{}, nil
	}
	watched, err := w.ensure(ctx, k)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !watched {
		// The CRD exists but is not established (or discovery has not caught
		// up yet): look again shortly.
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	log.FromContext(ctx).Info("watching Flux kind", "kind", k.Name)
	w.resyncFn(ctx)
	return ctrl.Result{}, nil
}

// setup registers the CRD watch with the manager.
func (w *kindWatcher) setup(mgr ctrl.Manager) error {
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	isFluxCRD := predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := kindForCRD(o.GetName())
		return ok
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("fluxkinds").
		For(crd, builder.WithPredicates(isFluxCRD, predicate.Funcs{
			DeleteFunc: func(event.DeleteEvent) bool { return false },
		})).
		Complete(w)
}
