package fluxsim

import (
	"fmt"
	"sort"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The timelines below serve `make demo` (internal/demo). They are the
// FLUX-STATUS.md sequences of timelines.go with what a story needs as
// parameters: object names, chart versions, timeouts and intervals.

// KustomizationHealthChecks is a Kustomization's first reconciliation when
// its health checks take checks (a database that needs minutes to
// bootstrap): Ready=Unknown and Healthy=Unknown while they run, then
// Ready=True with lastAppliedRevision, and observedGeneration in a separate
// write. No Ready=False on the way: a slow dependency is in progress, not
// failing.
func KustomizationHealthChecks(rev string, checks, timeout time.Duration) Timeline {
	return Timeline{
		{At: 1 * time.Second, Status: Status{AttemptedRevision: rev, Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress"),
			Conds: []metav1.Condition{
				reconciling(meta.ProgressingReason, "Running health checks for revision "+rev+" with a timeout of "+timeout.String()),
				*Cond(meta.HealthyCondition, u, meta.ProgressingReason, "Running health checks"),
			}}},
		{At: 1*time.Second + checks, Status: Status{Revision: rev, Ready: Ready(t, meta.ReconciliationSucceededReason, "Applied revision: "+rev),
			Conds:  []metav1.Condition{*Cond(meta.HealthyCondition, t, meta.SucceededReason, "Health check passed in "+checks.String())},
			Remove: []string{meta.ReconcilingCondition}}},
		{At: 1*time.Second + checks + 100*time.Millisecond, Status: Status{ObservedGeneration: CurrentGeneration()}},
	}
}

// KustomizationInvalidManifestEvery is KustomizationInvalidManifest retried
// every interval instead of every minute: Ready=False/ReconciliationFailed,
// then on each retry a brief Ready=Unknown and False again. It starts at 0.
func KustomizationInvalidManifestEvery(rev string, interval time.Duration, retries int) Timeline {
	var tl Timeline
	for i := 0; i <= retries; i++ {
		at := time.Duration(i) * interval
		if i > 0 {
			tl = append(tl, Step{At: at - 200*time.Millisecond, Status: Status{Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress")}})
		}
		tl = append(tl, Step{At: at, Status: Status{AttemptedRevision: rev,
			Ready: Ready(f, meta.ReconciliationFailedReason, InvalidManifestMessage),
			Conds: []metav1.Condition{reconciling(meta.ProgressingWithRetryReason, "Detecting drift for revision "+rev+" with a timeout of 1m0s")}}})
	}
	return tl
}

// KustomizationApplied is a new revision applied to a Kustomization (a fix
// pushed to one that failed, or a plain new commit): Ready=Unknown on the
// new revision, then Ready=True after took.
func KustomizationApplied(rev string, took time.Duration) Timeline {
	return Timeline{
		{At: 0, Status: Status{AttemptedRevision: rev, Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress"),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Building manifests for revision "+rev+" with a timeout of 1m0s")}}},
		{At: took, Status: Status{Revision: rev, ObservedGeneration: CurrentGeneration(), Ready: Ready(t, meta.ReconciliationSucceededReason, "Applied revision: "+rev),
			Remove: []string{meta.ReconcilingCondition}}},
	}
}

// OCIRepositoryArtifact is source-controller storing a new artifact of an
// OCIRepository (first fetch or a new tag): Ready=Unknown while building,
// then Ready=True with ArtifactInStorage, observedGeneration after.
func OCIRepositoryArtifact(rev string) Timeline {
	return Timeline{
		{At: 0, Status: Status{Ready: Ready(u, meta.ProgressingReason, "building artifact: new revision '"+rev+"'"),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "building artifact")}}},
		{At: 300 * time.Millisecond, Status: Status{Revision: rev, Ready: Ready(t, meta.SucceededReason, "stored artifact for digest '"+rev+"'"),
			Conds:  []metav1.Condition{*Cond(sourcev1.ArtifactInStorageCondition, t, meta.SucceededReason, "stored artifact for digest '"+rev+"'")},
			Remove: []string{meta.ReconcilingCondition}}},
		{At: 400 * time.Millisecond, Status: Status{ObservedGeneration: CurrentGeneration()}},
	}
}

// HelmReleaseInstalled is HelmReleaseInstall for any release: the
// transient Ready=False/SourceNotReady at birth while its chart source
// (e.g. "OCIRepository 'apps/redis'") has no artifact yet, the install,
// then Ready=True/InstallSucceeded.
func HelmReleaseInstalled(namespace, name, source, chart, version string) Timeline {
	return Timeline{
		{At: 1 * time.Second, Status: Status{Ready: Ready(f, "SourceNotReady", source+" is not ready: latest generation of object has not been reconciled"),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Fulfilling prerequisites")}}},
		{At: 2 * time.Second, Status: Status{AttemptedRevision: version, Ready: Ready(u, meta.ProgressingReason, "Running 'install' action with timeout of 5m0s")}},
		{At: 3 * time.Second, Status: Status{Revision: version, ObservedGeneration: CurrentGeneration(),
			Ready:  Ready(t, helmv2.InstallSucceededReason, fmt.Sprintf("Helm install succeeded for release %s/%s.v1 with chart %s@%s", namespace, name, chart, version)),
			Conds:  []metav1.Condition{*Cond(helmv2.ReleasedCondition, t, helmv2.InstallSucceededReason, "Helm install succeeded")},
			Remove: []string{meta.ReconcilingCondition}}},
	}
}

// HelmReleasePeriodicRun is what helm-controller writes on a periodic run
// of a healthy release: a brief Reconciling=True; Ready stays True (unlike
// a Kustomization's).
func HelmReleasePeriodicRun() Timeline {
	return Timeline{
		{At: 0, Status: Status{Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Fulfilling prerequisites")}}},
		{At: 200 * time.Millisecond, Status: Status{Remove: []string{meta.ReconcilingCondition}}},
	}
}

// HelmReleaseUpgradeFailing is an upgrade from version from to version to
// that times out on every attempt, as helm-controller runs it with upgrade
// remediation (rollback) and retries left: Ready=Unknown for the whole
// timeout of each attempt, then Ready=False/UpgradeFailed with
// Remediated=True/RollbackSucceeded, and the next attempt 10 s later. Ready
// is False only a few percent of the time and Stalled never appears while
// retries remain. attempts attempts fail; the timeline starts at 0.
func HelmReleaseUpgradeFailing(namespace, name, chart, from, to string, timeout time.Duration, attempts int) Timeline {
	running := fmt.Sprintf("Running 'upgrade' action with timeout of %s", timeout)
	failed := fmt.Sprintf("Helm upgrade failed for release %s/%s with chart %s@%s: context deadline exceeded: resource %s/StatefulSet/%s would exceed context deadline",
		namespace, name, chart, to, namespace, name)
	rollback := fmt.Sprintf("Helm rollback to previous release %s/%s.v1 with chart %s@%s succeeded", namespace, name, chart, from)
	var tl Timeline
	at := time.Duration(0)
	for i := 1; i <= attempts; i++ {
		tl = append(tl, Step{At: at, Status: Status{AttemptedRevision: to, Ready: Ready(u, meta.ProgressingReason, running),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, running)}}})
		at += timeout
		n := int64(i)
		tl = append(tl, Step{At: at, Status: Status{Failures: &n, Ready: Ready(f, helmv2.UpgradeFailedReason, failed),
			Conds: []metav1.Condition{
				*Cond(helmv2.ReleasedCondition, f, helmv2.UpgradeFailedReason, failed),
				*Cond(helmv2.RemediatedCondition, t, helmv2.RollbackSucceededReason, rollback),
				reconciling(meta.ProgressingWithRetryReason, "retrying"),
			}}})
		at += 10 * time.Second
	}
	return tl
}

// HelmReleaseUpgraded is a successful upgrade to version (for instance the
// fix of a failing one): failure counters reset, the upgrade runs for took,
// Ready=True/UpgradeSucceeded, Remediated and Stalled removed.
func HelmReleaseUpgraded(namespace, name, chart, version string, took time.Duration) Timeline {
	zero := int64(0)
	running := "Running 'upgrade' action with timeout of 5m0s"
	return Timeline{
		{At: 0, Status: Status{AttemptedRevision: version, Failures: &zero, Ready: Ready(u, meta.ProgressingReason, running),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, running)}, Remove: []string{meta.StalledCondition}}},
		{At: took, Status: Status{Revision: version, ObservedGeneration: CurrentGeneration(),
			Ready:  Ready(t, helmv2.UpgradeSucceededReason, fmt.Sprintf("Helm upgrade succeeded for release %s/%s.v3 with chart %s@%s", namespace, name, chart, version)),
			Conds:  []metav1.Condition{*Cond(helmv2.ReleasedCondition, t, helmv2.UpgradeSucceededReason, "Helm upgrade succeeded")},
			Remove: []string{meta.ReconcilingCondition, helmv2.RemediatedCondition}}},
	}
}

// intervalJitter is a fixed sequence within Flux's ±5% interval jitter, so
// that a story replays the same way every time.
var intervalJitter = []float64{0.03, -0.04, 0.01, 0.05, -0.02, -0.05, 0.02, -0.01, 0.04, -0.03}

// Every repeats run once per interval (with Flux's ±5% jitter) after from,
// for as long as a whole run fits before until: the periodic reconciliations
// of a healthy object.
func Every(run Timeline, interval, from, until time.Duration) Timeline {
	var out Timeline
	if interval <= 0 || len(run) == 0 {
		return out
	}
	last := run[len(run)-1].At
	at := from
	for i := 0; ; i++ {
		at += interval + time.Duration(float64(interval)*intervalJitter[i%len(intervalJitter)])
		if at+last >= until {
			return out
		}
		out = append(out, Shift(run, at)...)
	}
}

// Merge combines timelines into one ordered by time; steps at the same
// instant keep their order of appearance.
func Merge(tls ...Timeline) Timeline {
	var out Timeline
	for _, tl := range tls {
		out = append(out, tl...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}
