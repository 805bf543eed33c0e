package main

import (
	"flag"
	"testing"
)

// TestFlags checks the flags a deployment passes (the Helm chart, the
// kustomize manifests) exist and parse.
func TestFlags(t *testing.T) {
	var o options
	bindFlags(flag.CommandLine, &o)
	args := []string{
		"--kubeconfig=/tmp/kubeconfig",
		"--metrics-bind-address=:9090",
		"--health-probe-bind-address=:9091",
		"--leader-elect",
		"--leader-election-namespace=fluxwatch-system",
		"--no-cross-namespace-refs",
		"--concurrent=2",
		"--watch-label-selector=sharding.fluxcd.io/key in (shard1)",
		"--zap-log-level=debug",
		"--zap-encoder=json",
	}
	if err := flag.CommandLine.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	m := o.manager
	if m.MetricsBindAddress != ":9090" || m.HealthProbeBindAddress != ":9091" || !m.LeaderElection ||
		m.LeaderElectionNS != "fluxwatch-system" || !m.NoCrossNamespaceRefs || m.MaxConcurrentReconciles != 2 ||
		m.WatchLabelSelector != "sharding.fluxcd.io/key in (shard1)" {
		t.Errorf("parsed options = %+v", m)
	}
	if f := flag.CommandLine.Lookup("kubeconfig"); f == nil || f.Value.String() != "/tmp/kubeconfig" {
		t.Errorf("--kubeconfig not registered or not parsed: %v", f)
	}
}
