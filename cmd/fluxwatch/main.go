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

// options are the command line settings.
type options struct {
	manager     controller.ManagerOptions
	zap         zap.Options
	showVersion bool
}

// bindFlags registers every flag on fs. --kubeconfig is registered on the
// default flag set by controller-runtime and read by ctrl.GetConfig.
func bindFlags(fs *flag.FlagSet, o *options) {
	m := &o.manager
	fs.StringVar(&m.MetricsBindAddress, "metrics-bind-address", ":8080", "The address the metrics endpoint binds to; \"0\" disables it.")
	fs.StringVar(&m.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "The address the health probe endpoint binds to.")
	fs.BoolVar(&m.LeaderElection, "leader-elect", false, "Enable leader election, so that only one replica is active at a time.")
	fs.StringVar(&m.LeaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election lease (default: the pod's namespace).")
	fs.BoolVar(&m.NoCrossNamespaceRefs, "no-cross-namespace-refs", false, "Refuse FluxWatch targets outside the FluxWatch's own namespace (multi-tenancy lockdown, as Flux's flag of the same name).")
	fs.StringVar(&m.WatchLabelSelector, "watch-label-selector", "", "Reconcile only the FluxWatches matching this label selector, e.g. 'sharding.fluxcd.io/key in (shard1)' (sharding; each selector has its own leader-election lease).")
	fs.BoolVar(&m.Kubeconfig.AllowExec, "insecure-kubeconfig-exec", false, "Allow exec and auth-provider plugins and file paths in remote clusters' kubeconfigs (the controller would run them).")
	fs.BoolVar(&m.Kubeconfig.AllowInsecureTLS, "insecure-kubeconfig-tls", false, "Allow insecure-skip-tls-verify in remote clusters' kubeconfigs.")
	fs.IntVar(&m.MaxConcurrentReconciles, "concurrent", 4, "The number of FluxWatches reconciled in parallel.")
	fs.BoolVar(&o.showVersion, "version", false, "Print the version and exit.")
	o.zap.BindFlags(fs)
}

func main() {
	var o options
	bindFlags(flag.CommandLine, &o)
	flag.Parse()

	if o.showVersion {
		fmt.Println(version)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap)))
	log := ctrl.Log.WithName("setup")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "unable to load a kubeconfig")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	mgr, err := controller.NewManager(ctx, cfg, o.manager)
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
