package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
)

// TestRestartLosesAndRepeatsNothing stops the controller mid-window and
// after firing: the window keeps its start, a fired incident is not
// announced again, and one that resolved while it was down is resolved with
// its event.
func TestRestartLosesAndRepeatsNothing(t *testing.T) {
	ns := newNamespace(t, nil)
	const pendingFor = 5 * time.Second
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(pendingFor)})
	k := newKustomization(t, ns, "podinfo")

	stop := startController(t, controller.ManagerOptions{})
	eventually(t, margin, "tracked", func() bool { return getFW(t, fw).Status.Tracked == 1 })
	start := time.Now()
	mustWrite(t, k, failing(fluxsim.HealthCheckFailedMessage))
	eventually(t, margin, "pending incident", func() bool { return getFW(t, fw).Status.Pending == 1 })
	stop() // mid-window

	time.Sleep(time.Second)
	stop = startController(t, controller.ManagerOptions{})
	fired := func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) > 0 }
	never(t, start.Add(pendingFor-200*time.Millisecond), "ResourceFailing", fired)
	eventually(t, margin, "ResourceFailing", fired)
	// Kept its start: it fired about pendingFor after the failure, not
	// pendingFor after the restart.
	if since := time.Since(start); since > pendingFor+3*time.Second {
		t.Errorf("fired %s after the failure; the window restarted with the controller", since)
	}
	stop() // after firing

	// Restarting while it still fails announces nothing again.
	stop = startController(t, controller.ManagerOptions{})
	time.Sleep(3 * time.Second)
	if n := len(events(t, fw, controller.ReasonResourceFailing)); n != 1 {
		t.Fatalf("got %d ResourceFailing after a restart, want 1", n)
	}
	stop()

	// It recovers while nobody watches.
	mustWrite(t, k, healthy(rev2))
	startController(t, controller.ManagerOptions{})
	eventually(t, margin, "ResourceRecovered", func() bool { return len(events(t, fw, controller.ReasonResourceRecovered)) == 1 })
	time.Sleep(time.Second)
	if f, r := len(events(t, fw, controller.ReasonResourceFailing)), len(events(t, fw, controller.ReasonResourceRecovered)); f != 1 || r != 1 {
		t.Errorf("after three restarts: %d ResourceFailing, %d ResourceRecovered; want 1 and 1", f, r)
	}
}

func TestCrossNamespaceRefsRefused(t *testing.T) {
	startController(t, controller.ManagerOptions{NoCrossNamespaceRefs: true})
	ns := newNamespace(t, nil)
	other := newNamespace(t, nil)
	newKustomization(t, ns, "own")
	newKustomization(t, other, "foreign")
	fw := newFluxWatch(t, ns, "apps", fluxwatchv1.FluxWatchSpec{Targets: []fluxwatchv1.Target{
		kustomizationTarget("*"),
		{Kind: "Kustomization", Namespace: other},
	}})
	eventually(t, margin, "Ready=False AccessDenied", func() bool {
		r := readyOf(getFW(t, fw))
		return r != nil && r.Status == metav1.ConditionFalse && r.Reason == controller.ReasonAccessDenied
	})
	got := getFW(t, fw)
	if got.Status.Tracked != 1 {
		t.Errorf("tracked %d; want 1 (the own namespace is still watched)", got.Status.Tracked)
	}
	if r := readyOf(got); !strings.Contains(r.Message, other) || !strings.Contains(r.Message, "--no-cross-namespace-refs") {
		t.Errorf("Ready message %q should name the refused namespace and the flag", r.Message)
	}
	eventually(t, margin, "a Warning AccessDenied event", func() bool {
		evs := events(t, fw, controller.ReasonAccessDenied)
		return len(evs) == 1 && evs[0].Type == "Warning"
	})
}

func TestNothingSelectedSaysSo(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	fw := newFluxWatch(t, ns, "empty", fluxwatchv1.FluxWatchSpec{Targets: []fluxwatchv1.Target{kustomizationTarget("nothing-*")}})
	eventually(t, margin, "NothingSelected", func() bool {
		r := readyOf(getFW(t, fw))
		return r != nil && r.Reason == controller.ReasonNothingSelected && r.Message == "no Flux object matches the targets"
	})
	eventually(t, margin, "a Warning event", func() bool { return len(events(t, fw, controller.ReasonNothingSelected)) == 1 })
}

// TestMissingCRD removes a Flux CRD, checks the FluxWatch that targets it
// says CRDNotFound while the rest keeps working, and that the kind is picked
// up once the CRD is installed again.
func TestMissingCRD(t *testing.T) {
	ctx := context.Background()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	name := "externalartifacts.source.toolkit.fluxcd.io"
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, crd); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the CRD gone", func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, &apiextensionsv1.CustomResourceDefinition{}))
	})

	startController(t, controller.ManagerOptions{})
	ns := newNamespace(t, nil)
	newKustomization(t, ns, "podinfo")
	fw := newFluxWatch(t, ns, "artifacts", fluxwatchv1.FluxWatchSpec{Targets: []fluxwatchv1.Target{
		{Kind: sourcev1.ExternalArtifactKind}, kustomizationTarget("*")}})
	eventually(t, margin, "CRDNotFound", func() bool {
		r := readyOf(getFW(t, fw))
		return r != nil && r.Reason == controller.ReasonCRDNotFound && strings.Contains(r.Message, "ExternalArtifact")
	})
	if got := getFW(t, fw); got.Status.Tracked != 1 {
		t.Errorf("tracked %d; the Kustomization target must still be watched", got.Status.Tracked)
	}

	reinstall := readCRD(t, "source.toolkit.fluxcd.io_externalartifacts.yaml")
	if err := k8s.Create(ctx, reinstall); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "Ready=True once the CRD is back", func() bool {
		r := readyOf(getFW(t, fw))
		return r != nil && r.Status == metav1.ConditionTrue
	})
	// And objects of the new kind are watched, status changes included.
	art := &sourcev1.ExternalArtifact{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "generated"}}
	mustCreate(t, art)
	eventually(t, margin, "the new kind tracked", func() bool { return getFW(t, fw).Status.Tracked == 2 })
}

func readCRD(t *testing.T, file string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	dir := os.Getenv("FLUXWATCH_FLUX_CRDS")
	if dir == "" {
		matches, _ := filepath.Glob(filepath.Join("..", "..", "bin", "flux-crds", "*", file))
		if len(matches) == 0 {
			t.Fatalf("no %s: run make test", file)
		}
		dir = filepath.Dir(matches[len(matches)-1])
	}
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(raw, crd); err != nil {
		t.Fatal(err)
	}
	return crd
}

// TestReplayFixtures replays the timelines recorded from real Flux
// controllers (FLUX-STATUS.md), sped up 60 times, and checks that each ends
// as its row of the README's semantics table says.
func TestReplayFixtures(t *testing.T) {
	startController(t, controller.ManagerOptions{})
	const speedup = 60 // one Flux minute is one second here
	type play struct {
		object   client.Object
		timeline fluxsim.Timeline
	}
	type fixture struct {
		name  string
		plays []play
		// pendingFor of the FluxWatch (in test time).
		pendingFor time.Duration
		// fires names the one object that must get a ResourceFailing, with
		// reason; empty when the story must emit nothing.
		fires, reason string
	}
	ks := func(name string, deps ...string) client.Object {
		return fluxsim.Kustomization("", name, "fleet", time.Minute, deps...)
	}
	fixtures := []fixture{
		{name: "healthy: transient ArtifactFailed at birth", pendingFor: 2 * time.Second,
			plays: []play{{ks("ok"), fluxsim.KustomizationBirth(rev1)}}},
		{name: "healthy: HelmRelease install with transient SourceNotReady", pendingFor: 2 * time.Second,
			plays: []play{{fluxsim.HelmRelease("", "ok", "podinfo", time.Minute), fluxsim.HelmReleaseInstall("6.5.0")}}},
		{name: "failing: health check alternating False and Unknown", pendingFor: 2 * time.Second, fires: "bad", reason: meta.HealthCheckFailedReason,
			plays: []play{{ks("bad"), fluxsim.KustomizationHealthCheckFailing(rev1, 2)}}},
		{name: "failing: invalid manifest retried every interval", pendingFor: 2 * time.Second, fires: "broken", reason: meta.ReconciliationFailedReason,
			plays: []play{{ks("broken"), fluxsim.KustomizationInvalidManifest(rev1, 3)}}},
		{name: "stalled: HelmRelease exhausting its retries fires before pendingFor", pendingFor: time.Hour, fires: "stuck", reason: "RetriesExceeded",
			plays: []play{{fluxsim.HelmRelease("", "stuck", "podinfo", time.Minute), fluxsim.HelmReleaseRetriesExhausted("6.5.0")}}},
		{name: "failing: GitRepository losing its credentials", pendingFor: 2 * time.Second, fires: "fleet", reason: sourcev1.AuthenticationFailedReason,
			plays: []play{{fluxsim.GitRepository("", "fleet", time.Minute), append(fluxsim.GitRepositoryHealthy(rev1), fluxsim.Shift(fluxsim.GitRepositoryAuthFailed(), 30*time.Second)...)}}},
		{name: "in progress then healthy: fix pushed mid-check", pendingFor: 2 * time.Second,
			plays: []play{{ks("fixed"), append(fluxsim.KustomizationHealthCheckFailing(rev1, 0)[:1], fluxsim.Shift(fluxsim.KustomizationFixed(rev2), 30*time.Second)...)}}},
		// app waits about a second (57 Flux seconds) on infra, longer than
		// pendingFor: blocked time must not count.
		{name: "blocked: dependsOn chain healing by itself", pendingFor: 500 * time.Millisecond,
			plays: []play{
				{ks("infra"), fluxsim.KustomizationSlowBirth(rev1, 40*time.Second)},
				{ks("app", "infra"), fluxsim.KustomizationWaitsFor("infra", rev1, 41*time.Second)},
			}},
	}
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t, nil)
			var targets []fluxwatchv1.Target
			for _, p := range fx.plays {
				p.object.SetNamespace(ns)
				targets = append(targets, fluxwatchv1.Target{Kind: kindOf(t, p.object), Name: p.object.GetName()})
			}
			fw := newFluxWatch(t, ns, "replay", fluxwatchv1.FluxWatchSpec{Targets: targets, PendingFor: dur(fx.pendingFor)})
			errs := make(chan error, len(fx.plays))
			for _, p := range fx.plays {
				mustCreate(t, p.object)
				go func() { errs <- writer.Play(context.Background(), p.object, p.timeline, speedup) }()
			}
			for range fx.plays {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if fx.fires != "" {
				eventually(t, fx.pendingFor+margin, "ResourceFailing", func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) > 0 })
			}
			// Long enough for a second, wrong event to show.
			time.Sleep(min(fx.pendingFor, 3*time.Second) + time.Second)
			evs := events(t, fw, controller.ReasonResourceFailing)
			if fx.fires == "" {
				if len(evs) != 0 {
					t.Fatalf("fired %q; this story must emit nothing", evs[0].Message)
				}
				return
			}
			if len(evs) != 1 || evs[0].Annotations[controller.AnnotationName] != fx.fires || evs[0].Annotations[controller.AnnotationReason] != fx.reason {
				for _, e := range evs {
					t.Logf("event: %s", e.Message)
				}
				t.Fatalf("got %d ResourceFailing; want one, for %s with reason %s", len(evs), fx.fires, fx.reason)
			}
		})
	}
}

func kindOf(t *testing.T, obj client.Object) string {
	t.Helper()
	gvks, _, err := env.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		t.Fatalf("kind of %T: %v", obj, err)
	}
	return gvks[0].Kind
}

// TestShardsSplitTheFluxWatches runs two instances side by side, as Flux
// shards its controllers: each reconciles only the FluxWatches its
// --watch-label-selector matches, so every incident is announced once.
func TestShardsSplitTheFluxWatches(t *testing.T) {
	startController(t, controller.ManagerOptions{WatchLabelSelector: "sharding.fluxcd.io/key=shard1"})
	startController(t, controller.ManagerOptions{WatchLabelSelector: "!sharding.fluxcd.io/key"})
	ns := newNamespace(t, nil)
	k := newKustomization(t, ns, "podinfo")
	spec := fluxwatchv1.FluxWatchSpec{Targets: []fluxwatchv1.Target{kustomizationTarget("*")}, PendingFor: dur(time.Second)}
	sharded := &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sharded",
		Labels: map[string]string{"sharding.fluxcd.io/key": "shard1"}}, Spec: spec}
	if err := k8s.Create(context.Background(), sharded); err != nil {
		t.Fatal(err)
	}
	plain := newFluxWatch(t, ns, "plain", spec)
	mustWrite(t, k, failing("boom"))
	for _, fw := range []*fluxwatchv1.FluxWatch{sharded, plain} {
		eventually(t, margin+time.Second, "ResourceFailing on "+fw.Name, func() bool { return len(events(t, fw, controller.ReasonResourceFailing)) > 0 })
	}
	time.Sleep(2 * time.Second)
	for _, fw := range []*fluxwatchv1.FluxWatch{sharded, plain} {
		if n := len(events(t, fw, controller.ReasonResourceFailing)); n != 1 {
			t.Errorf("%s: %d ResourceFailing; want 1 (one shard reconciles it)", fw.Name, n)
		}
	}
}
