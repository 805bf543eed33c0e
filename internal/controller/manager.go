package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/clusters"
	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
	"github.com/fluxwatch/fluxwatch/internal/notify"
)

// ManagerOptions are the settings of a FluxWatch manager; cmd/fluxwatch
// fills them from flags, tests and the demo set them directly.
type ManagerOptions struct {
	MetricsBindAddress      string
	HealthProbeBindAddress  string
	LeaderElection          bool
	LeaderElectionID        string
	LeaderElectionNS        string
	NoCrossNamespaceRefs    bool
	MaxConcurrentReconciles int
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
	// Kubeconfig says what a remote cluster's kubeconfig may use beyond
	// inline credentials (--insecure-kubeconfig-exec, --insecure-kubeconfig-tls).
	Kubeconfig clusters.KubeconfigPolicy
	// RemoteProbeInterval is how often remote clusters are probed (default 10s).
	RemoteProbeInterval time.Duration
	// WatchLabelSelector restricts the FluxWatches this instance reconciles,
	// so that several instances can split a fleet the way Flux shards its
	// controllers (sharding.fluxcd.io/key). Empty: all of them.
	WatchLabelSelector string
	// SkipNameValidation lets one process build several managers in turn
	// (tests restarting the controller); controller-runtime otherwise refuses
	// a second controller of the same name because of its metrics.
	SkipNameValidation bool
}

// NewScheme returns a scheme with the Kubernetes, Flux and FluxWatch types.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, fluxwatchv1.AddToScheme, fluxstatus.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}

// NewManager builds the manager that bin/fluxwatch runs: caches with the
// Flux transform, health checks, and the FluxWatch controllers. The same
// code runs in the tests and in `make demo`.
func NewManager(ctx context.Context, cfg *rest.Config, o ManagerOptions) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	watchSelector, err := labels.Parse(o.WatchLabelSelector)
	if err != nil {
		return nil, fmt.Errorf("parse --watch-label-selector %q: %w", o.WatchLabelSelector, err)
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = leaderElectionID(o.WatchLabelSelector)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNS,
		// Releasing the lease on shutdown lets the next leader start at once.
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{
			DefaultTransform: fluxstatus.CacheTransform,
			ByObject:         map[client.Object]cache.ByObject{&fluxwatchv1.FluxWatch{}: {Label: watchSelector}},
		},
		Controller: config.Controller{SkipNameValidation: ptr.To(o.SkipNameValidation)},
		Client: client.Options{Cache: &client.CacheOptions{
			// Events are only created, never read: do not cache them.
			DisableFor: []client.Object{&corev1.Event{}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add ready check: %w", err)
	}
	r := &FluxWatchReconciler{
		Client:               mgr.GetClient(),
		Clock:                o.Clock,
		Recorder:             notify.NewRecorder(mgr.GetClient(), o.Clock),
		NoCrossNamespaceRefs: o.NoCrossNamespaceRefs,
	}
	// Kubeconfig Secrets are read with uncached gets of the named Secret:
	// RBAC get only, never a list or watch of Secrets.
	r.Registry = clusters.NewRegistry(mgr.GetAPIReader(), scheme, o.Kubeconfig, clusters.RegistryOptions{
		ProbeInterval: o.RemoteProbeInterval, OnChange: r.remoteChanged})
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		r.Registry.Close()
		return nil
	})); err != nil {
		return nil, fmt.Errorf("add remote cluster registry: %w", err)
	}
	if err := r.SetupWithManager(ctx, mgr, Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}); err != nil {
		return nil, err
	}
	return mgr, nil
}

// leaderElectionID gives each shard its own lease: instances with the same
// selector elect one leader among them, instances of different shards run
// side by side.
func leaderElectionID(selector string) string {
	if selector == "" {
		return "fluxwatch.fluxwatch.dev"
	}
	sum := sha256.Sum256([]byte(selector))
	return "fluxwatch-" + hex.EncodeToString(sum[:4]) + ".fluxwatch.dev"
}
