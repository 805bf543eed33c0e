package demo

import (
	"fmt"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
)

// The story's namespaces. apps and sandbox get the labels that the
// namespaceSelectors of the sample FluxWatches named in storyNamespaces
// select; the FluxWatches themselves go to flux-system, next to Flux.
const (
	fluxNamespace    = "flux-system"
	appsNamespace    = "apps"
	sandboxNamespace = "sandbox"
)

// The sample FluxWatches (config/samples/) the story's namespaces belong to.
const (
	productionSample = "production"
	sandboxSample    = "sandbox"
)

// storyNamespaces maps each namespace the story creates to the sample
// FluxWatch that must watch it ("" for none).
var storyNamespaces = []struct{ name, watchedBy string }{
	{fluxNamespace, ""},
	{appsNamespace, productionSample},
	{sandboxNamespace, sandboxSample},
}

// The story, in Flux's own time (the times of FLUX-STATUS.md); the player
// divides every duration by the speedup.
const (
	infraChecks     = 17 * time.Minute // apps/infra's database takes this long to pass its health checks: more than pendingFor, less than progressingDeadline
	badCommitAt     = 10 * time.Minute // sandbox/experiment gets an invalid manifest
	upgradeAt       = 25 * time.Minute // apps/redis gets a chart that never becomes ready
	helmTimeout     = 5 * time.Minute  // apps/redis spec.timeout: each upgrade attempt lasts this long
	failedUpgrades  = 6                // attempts that fail before the fix
	sandboxFixAt    = 50 * time.Minute
	credentialsLost = 80 * time.Minute  // flux-system/fleet's deploy key is revoked
	storyLength     = 105 * time.Minute // long enough for the last failure to pass production's 15m window
)

// Revisions the story's sources produce.
const (
	fleetRev1 = "main@sha1:06a5a13d7f9e2b1c4a8e5f3d2c1b0a9e8d7c6b5a"
	badRev    = "main@sha1:41c0e2b7a9d3f1e5c8b6a4d2f0e9c7b5a3d1f8e6"
	fixRev    = "main@sha1:9d2c4b6e8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e"
	chartGood = "20.1.0"
	chartBad  = "20.2.0"
	chartFix  = "20.2.1"
)

// actor is one Flux object of the story and everything its Flux controller
// writes to it.
type actor struct {
	obj client.Object
	// timeline is every status write during the story, in Flux time from
	// the start of the story.
	timeline fluxsim.Timeline
	// run is what a periodic reconciliation writes once the object is
	// healthy, every interval; with --keep it goes on after the story.
	// Empty for objects whose controller writes nothing on a quiet run (a
	// GitRepository) or that are left failing.
	run      fluxsim.Timeline
	interval time.Duration
	// waitsOn names what the object waits on while Flux reports
	// DependencyNotReady or SourceNotReady, for the summary.
	waitsOn string
}

// beat is one line of narration: what the script makes Flux do at a time.
type beat struct {
	at   time.Duration
	text string
}

// story is the scripted Flux side of the demo.
type story struct {
	actors []*actor
	beats  []beat
	length time.Duration
}

// newStory builds the story. demo turns a Flux duration into the demo's
// (Flux durations divided by the speedup): spec intervals and timeouts are
// written scaled, so that what FluxWatch derives from them (staleAfter) runs
// at the demo's pace too, and the narration quotes the durations you see.
func newStory(demo func(time.Duration) time.Duration) *story {
	d := func(x time.Duration) string { return shortDuration(demo(x)) }
	blink := func(rev string) fluxsim.Timeline { return fluxsim.KustomizationIntervalBlink(rev) }

	fleet := fluxsim.GitRepository(fluxNamespace, "fleet", demo(time.Minute))
	fleetA := &actor{obj: fleet, timeline: fluxsim.Merge(
		fluxsim.Shift(fluxsim.GitRepositoryHealthy(fleetRev1), time.Second),
		fluxsim.Shift(fluxsim.GitRepositoryAuthFailed(), credentialsLost),
	)}

	// A healthy app: the transient ArtifactFailed at birth, then a brief
	// Ready=Unknown on every interval.
	podinfo := kustomization(appsNamespace, "podinfo", demo(time.Minute), 0)
	podinfoBirth := fluxsim.KustomizationBirth(fleetRev1)
	podinfoA := &actor{obj: podinfo, interval: time.Minute, run: blink(fleetRev1), timeline: fluxsim.Merge(
		podinfoBirth,
		fluxsim.Every(blink(fleetRev1), time.Minute, end(podinfoBirth), storyLength),
	)}

	// A dependsOn chain: shop waits on infra, whose health checks take
	// longer than production's pendingFor; shop reports DependencyNotReady
	// all that time and becomes Ready at Flux's next dependency re-check.
	infra := kustomization(appsNamespace, "infra", demo(10*time.Minute), demo(30*time.Minute))
	infraBirth := fluxsim.KustomizationHealthChecks(fleetRev1, infraChecks, 30*time.Minute)
	infraA := &actor{obj: infra, interval: 10 * time.Minute, run: blink(fleetRev1), timeline: fluxsim.Merge(
		infraBirth,
		fluxsim.Every(blink(fleetRev1), 10*time.Minute, end(infraBirth), storyLength),
	)}
	shop := kustomization(appsNamespace, "shop", demo(5*time.Minute), 0, "infra")
	shopBirth := fluxsim.KustomizationWaitsFor(appsNamespace+"/infra", fleetRev1, infraChecks+time.Second)
	shopA := &actor{obj: shop, interval: 5 * time.Minute, run: blink(fleetRev1), waitsOn: "Kustomization apps/infra", timeline: fluxsim.Merge(
		shopBirth,
		fluxsim.Every(blink(fleetRev1), 5*time.Minute, end(shopBirth), storyLength),
	)}

	// A HelmRelease whose upgrade times out on every attempt until a fixed
	// chart is published; its chart comes from an OCIRepository.
	chart := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: "redis"},
		Spec: sourcev1.OCIRepositorySpec{
			URL:       "oci://registry-1.docker.io/bitnamicharts/redis",
			Reference: &sourcev1.OCIRepositoryRef{SemVer: "20.x"},
			Interval:  metav1.Duration{Duration: demo(5 * time.Minute)},
		},
	}
	chartA := &actor{obj: chart, timeline: fluxsim.Merge(
		fluxsim.Shift(fluxsim.OCIRepositoryArtifact(chartGood+"@sha256:5b1c0d2e"), time.Second),
		fluxsim.Shift(fluxsim.OCIRepositoryArtifact(chartBad+"@sha256:8e0f7a31"), upgradeAt-time.Second),
		fluxsim.Shift(fluxsim.OCIRepositoryArtifact(chartFix+"@sha256:c47d9b06"), fixAt()-time.Second),
	)}
	redis := fluxsim.HelmRelease(appsNamespace, "redis", "redis", demo(10*time.Minute))
	redis.Spec.Timeout = &metav1.Duration{Duration: demo(helmTimeout)}
	rollback := helmv2.RollbackRemediationStrategy
	// Retries left: the release keeps retrying (Ready False, Unknown, False…)
	// rather than stalling, which would fire at once.
	redis.Spec.Upgrade = &helmv2.Upgrade{Remediation: &helmv2.UpgradeRemediation{Retries: 10, Strategy: &rollback}}
	redisBirth := fluxsim.HelmReleaseInstalled(appsNamespace, "redis", "OCIRepository 'apps/redis'", "redis", chartGood)
	redisFix := fluxsim.Shift(fluxsim.HelmReleaseUpgraded(appsNamespace, "redis", "redis", chartFix, 30*time.Second), fixAt())
	periodic := fluxsim.HelmReleasePeriodicRun()
	redisA := &actor{obj: redis, interval: 10 * time.Minute, run: periodic, waitsOn: "OCIRepository apps/redis", timeline: fluxsim.Merge(
		redisBirth,
		fluxsim.Every(periodic, 10*time.Minute, end(redisBirth), upgradeAt),
		fluxsim.Shift(fluxsim.HelmReleaseUpgradeFailing(appsNamespace, "redis", "redis", chartGood, chartBad, helmTimeout, failedUpgrades), upgradeAt),
		redisFix,
		fluxsim.Every(periodic, 10*time.Minute, end(redisFix), storyLength),
	)}

	// A sandbox breaks for a while and is fixed: nothing to announce under
	// the sandbox's long window.
	experiment := kustomization(sandboxNamespace, "experiment", demo(5*time.Minute), 0)
	expBirth := fluxsim.Shift(fluxsim.KustomizationApplied(fleetRev1, 2*time.Second), time.Second)
	expBroken := fluxsim.Shift(fluxsim.KustomizationInvalidManifestEvery(badRev, 5*time.Minute, int((sandboxFixAt-badCommitAt)/(5*time.Minute))-1), badCommitAt)
	expFix := fluxsim.Shift(fluxsim.KustomizationApplied(fixRev, 2*time.Second), sandboxFixAt)
	experimentA := &actor{obj: experiment, interval: 5 * time.Minute, run: blink(fixRev), timeline: fluxsim.Merge(
		expBirth,
		fluxsim.Every(blink(fleetRev1), 5*time.Minute, end(expBirth), badCommitAt),
		expBroken,
		expFix,
		fluxsim.Every(blink(fixRev), 5*time.Minute, end(expFix), storyLength),
	)}

	return &story{
		length: storyLength,
		actors: []*actor{fleetA, podinfoA, infraA, shopA, chartA, redisA, experimentA},
		beats: []beat{
			{0, "Flux reconciles the fleet for the first time: GitRepository flux-system/fleet; Kustomizations apps/podinfo, apps/infra, apps/shop (dependsOn infra); HelmRelease apps/redis; Kustomization sandbox/experiment"},
			{time.Second, "apps/podinfo: Ready=False/ArtifactFailed at birth (its source has no artifact yet), Ready a moment later; from now on Ready=Unknown for an instant on every interval (" + d(time.Minute) + ")"},
			{time.Second, "apps/redis: Ready=False/SourceNotReady at birth, then installed (chart " + chartGood + ")"},
			{time.Second, "apps/infra: its database takes " + d(infraChecks) + " to pass the health checks (timeout " + d(30*time.Minute) + "); meanwhile apps/shop reports Ready=False/DependencyNotReady"},
			{badCommitAt, "sandbox/experiment: a bad commit (a Service with a string port): Ready=False/ReconciliationFailed, retried every " + d(5*time.Minute)},
			{infraChecks + time.Second, "apps/infra: Ready; apps/shop goes ahead at Flux's next dependency re-check (" + d(30*time.Second) + ")"},
			{upgradeAt, "apps/redis: chart " + chartBad + " is published: helm upgrade starts (timeout " + d(helmTimeout) + ")"},
			{upgradeAt + helmTimeout, "apps/redis: the upgrade times out: Ready=False/UpgradeFailed, rolled back, retried: Ready stays Unknown " + d(helmTimeout) + " per attempt and False an instant between attempts"},
			{sandboxFixAt, "sandbox/experiment: the fix is pushed and applied"},
			{fixAt(), "apps/redis: chart " + chartFix + " with the fix is published: the upgrade succeeds"},
			{credentialsLost, "flux-system/fleet: its deploy key is revoked: Ready=False/AuthenticationFailed (the last artifact is still served; the Kustomizations stay Ready)"},
			{storyLength, "the story is over"},
		},
	}
}

// fixAt is when apps/redis's fixed chart arrives: in place of the attempt
// after the last failed one (each attempt is the timeout plus 10 s).
func fixAt() time.Duration {
	return upgradeAt + failedUpgrades*(helmTimeout+10*time.Second)
}

// end is the time of a timeline's last step.
func end(tl fluxsim.Timeline) time.Duration {
	if len(tl) == 0 {
		return 0
	}
	return tl[len(tl)-1].At
}

// kustomization is a Kustomization of the fleet repository with the given
// (already scaled) interval and timeout (0: Flux's default, the interval).
func kustomization(namespace, name string, interval, timeout time.Duration, dependsOn ...string) *kustomizev1.Kustomization {
	k := fluxsim.Kustomization(namespace, name, "fleet", interval, dependsOn...)
	k.Spec.SourceRef.Namespace = fluxNamespace
	if timeout > 0 {
		k.Spec.Timeout = &metav1.Duration{Duration: timeout}
	}
	return k
}

// refOf names an object as the summary and the events do: "Kind ns/name".
func refOf(obj client.Object) string {
	return fmt.Sprintf("%s %s/%s", kindOf(obj), obj.GetNamespace(), obj.GetName())
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *kustomizev1.Kustomization:
		return kustomizev1.KustomizationKind
	case *helmv2.HelmRelease:
		return helmv2.HelmReleaseKind
	case *sourcev1.GitRepository:
		return sourcev1.GitRepositoryKind
	case *sourcev1.OCIRepository:
		return sourcev1.OCIRepositoryKind
	}
	return fmt.Sprintf("%T", obj)
}
