package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fluxwatch/fluxwatch/internal/controller"
)

// testSpeedup plays the story three times faster than `make demo` (105 Flux
// minutes in 35 s; pendingFor 15m becomes 5 s), which keeps a margin of
// seconds on every window on a loaded two-core machine.
const testSpeedup = 180

// TestDemo runs `make demo` headless (the plain output, for a pipe or a log)
// on its own control plane and checks its summary, the part a person reads:
// the HelmRelease and the GitRepository are alerted once each, the
// HelmRelease recovers once, and the healthy app and the dependsOn chain are
// not alerted but listed as noise, with the reason. The summary is computed
// from the Events FluxWatch emitted, so this checks FluxWatch, not the demo's
// prose.
func TestDemo(t *testing.T) {
	log.SetLogger(logr.Discard())
	var out bytes.Buffer
	start := time.Now()
	err := Run(context.Background(), Options{Out: &out, Speedup: testSpeedup, SamplesDir: "../../config/samples"})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
		}
	})
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	t.Logf("the demo took %s", time.Since(start).Round(time.Second))
	text := out.String()
	if strings.Contains(text, "\x1b[") {
		t.Errorf("headless output contains ANSI escapes")
	}

	alerted := section(t, text, headingAlerted)
	failing := linesWith(alerted, controller.ReasonResourceFailing)
	if len(failing) != 2 || len(linesWith(failing, "HelmRelease apps/redis ")) != 1 || len(linesWith(failing, "GitRepository flux-system/fleet ")) != 1 {
		t.Errorf("ResourceFailing events %q; want one for HelmRelease apps/redis and one for GitRepository flux-system/fleet, nothing else", failing)
	}
	recovered := linesWith(alerted, controller.ReasonResourceRecovered)
	if len(recovered) != 1 || len(linesWith(recovered, "HelmRelease apps/redis ")) != 1 {
		t.Errorf("ResourceRecovered events %q; want one, for HelmRelease apps/redis", recovered)
	}
	for _, reason := range []string{"UpgradeFailed", "AuthenticationFailed"} {
		if len(linesWith(alerted, "has been failing for", reason)) != 1 {
			t.Errorf("no alert message names %s:\n%s", reason, strings.Join(alerted, "\n"))
		}
	}
	for _, quiet := range []string{"Kustomization apps/podinfo", "Kustomization apps/shop", "Kustomization apps/infra"} {
		if got := linesWith(alerted, quiet); len(got) > 0 {
			t.Errorf("%s was alerted: %q", quiet, got)
		}
	}

	suppressed := section(t, text, headingSuppressed)
	for _, want := range []struct{ object, why string }{
		{"Kustomization apps/podinfo: ArtifactFailed at birth", "healed inside pendingFor"},
		{"Kustomization apps/shop: waited", "on Kustomization apps/infra (DependencyNotReady)"},
		{"Kustomization apps/shop: waited", "blocked time never counts"},
		{"Ready=Unknown on healthy objects", "Kustomization apps/podinfo"},
	} {
		if len(linesWith(suppressed, want.object, want.why)) != 1 {
			t.Errorf("the suppressed noise does not list %q with %q:\n%s", want.object, want.why, strings.Join(suppressed, "\n"))
		}
	}
}

// section returns the lines under a heading of the summary, up to the next
// blank line.
func section(t *testing.T, text, heading string) []string {
	t.Helper()
	_, after, ok := strings.Cut(text, heading+"\n")
	if !ok {
		t.Fatalf("no %q in the output", heading)
	}
	body, _, _ := strings.Cut(after, "\n\n")
	return strings.Split(body, "\n")
}

// linesWith returns the lines that contain every one of subs.
func linesWith(lines []string, subs ...string) []string {
	var out []string
	for _, l := range lines {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}
