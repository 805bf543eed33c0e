// Command fluxwatch runs the FluxWatch controller: flags and wiring only.
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fluxwatch/fluxwatch/internal/controller"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var o controller.ManagerOptions
	flag.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080", "The address the metrics endpoint binds to; \"0\" disables it.")
	flag.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "The address the health probe endpoint binds to.")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false, "Enable leader election, so that only one replica is active at a time.")
	flag.StringVar(&o.LeaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election lease (default: the pod's namespace).")
	flag.BoolVar(&o.NoCrossNamespaceRefs, "no-cross-namespace-refs", false, "Refuse FluxWatch targets outside the FluxWatch's own namespace (multi-tenancy lockdown, as Flux's flag of the same name).")
	flag.IntVar(&o.MaxConcurrentReconciles, "concurrent", 4, "The number of FluxWatches reconciled in parallel.")
	showVersion := flag.Bool("version", false, "Print the version and exit.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	if *showVersion {
		fmt.Println(version)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "unable to load a kubeconfig")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	mgr, err := controller.NewManager(ctx, cfg, o)
	if err != nil {
		log.Error(err, "unable to set up the manager")
		os.Exit(1)
	}
	log.Info("starting fluxwatch", "version", version)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}
