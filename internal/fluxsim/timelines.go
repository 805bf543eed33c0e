package fluxsim

import (
	"context"
	"fmt"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Step is one status write at a time offset in Flux's own time (the times of
// FLUX-STATUS.md); a Player scales it down.
type Step struct {
	At     time.Duration
	Status Status
}

// Timeline is a sequence of status writes recorded from a real Flux
// controller.
type Timeline []Step

const (
	t = metav1.ConditionTrue
	f = metav1.ConditionFalse
	u = metav1.ConditionUnknown
)

func reconciling(reason, message string) metav1.Condition {
	return *Cond(meta.ReconcilingCondition, t, reason, message)
}

// KustomizationBirth is a healthy Kustomization's first reconciliation
// (wait: true): the transient Ready=False/ArtifactFailed at birth, the
// progressing phase, then Ready=True with lastAppliedRevision, and
// observedGeneration in a separate write.
func KustomizationBirth(rev string) Timeline {
	return Timeline{
		{At: 1 * time.Second, Status: Status{Ready: Ready(f, meta.ArtifactFailedReason, "Source artifact not found, retrying in 30s")}},
		{At: 2 * time.Second, Status: Status{AttemptedRevision: rev, Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress"),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Running health checks for revision "+rev+" with a timeout of 1m0s")}}},
		{At: 4 * time.Second, Status: Status{Revision: rev, Ready: Ready(t, meta.ReconciliationSucceededReason, "Applied revision: "+rev),
			Conds: []metav1.Condition{*Cond(meta.HealthyCondition, t, meta.SucceededReason, "Health check passed in 2.01s")}, Remove: []string{meta.ReconcilingCondition}}},
		{At: 4*time.Second + 100*time.Millisecond, Status: Status{ObservedGeneration: CurrentGeneration()}},
	}
}

// KustomizationIntervalBlink is what a healthy Kustomization writes every
// interval: Ready=Unknown for about 0.2 s, then True again.
func KustomizationIntervalBlink(rev string) Timeline {
	return Timeline{
		{At: 0, Status: Status{Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress"), Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Detecting drift for revision "+rev+" with a timeout of 1m0s")}}},
		{At: 200 * time.Millisecond, Status: Status{Ready: Ready(t, meta.ReconciliationSucceededReason, "Applied revision: "+rev), Remove: []string{meta.ReconcilingCondition}}},
	}
}

// HealthCheckFailedMessage is kustomize-controller's message for a
// Deployment that never becomes ready.
const HealthCheckFailedMessage = "health check failed after 1m0.05s: timeout waiting for: [Deployment/default/bad-app status: 'InProgress']"

// KustomizationHealthCheckFailing is a Kustomization whose health check
// times out, retried every interval: Ready is Unknown for 60 s of checks,
// then False/HealthCheckFailed, and so on. observedGeneration stays -1 and
// lastAppliedRevision empty. Stalled never appears.
func KustomizationHealthCheckFailing(rev string, retries int) Timeline {
	tl := Timeline{{At: 1 * time.Second, Status: Status{AttemptedRevision: rev,
		Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress"),
		Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Running health checks for revision "+rev+" with a timeout of 1m0s"), *Cond(meta.HealthyCondition, u, meta.ProgressingReason, "Running health checks")}}}}
	for i := 0; i <= retries; i++ {
		fail := time.Duration(61+121*i) * time.Second
		tl = append(tl, Step{At: fail, Status: Status{
			Ready: Ready(f, meta.HealthCheckFailedReason, HealthCheckFailedMessage),
			Conds: []metav1.Condition{reconciling(meta.ProgressingWithRetryReason, "Detecting drift for revision "+rev+" with a timeout of 1m0s"), *Cond(meta.HealthyCondition, f, meta.HealthCheckFailedReason, HealthCheckFailedMessage)}}})
		if i < retries {
			tl = append(tl, Step{At: fail + 60*time.Second, Status: Status{Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress")}})
		}
	}
	return tl
}

// KustomizationFixed is a fix pushed while a Kustomization fails, with the
// CancelHealthCheckOnNewRevision gate on: HealthCheckCanceled, progressing on
// the new revision, then Ready=True.
func KustomizationFixed(rev string) Timeline {
	return Timeline{
		{At: 0, Status: Status{Ready: Ready(f, meta.HealthCheckCanceledReason, "New reconciliation triggered by GitRepository/flux-system/fleet")}},
		{At: 200 * time.Millisecond, Status: Status{AttemptedRevision: rev, Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress")}},
		{At: 1 * time.Second, Status: Status{Revision: rev, ObservedGeneration: CurrentGeneration(), Ready: Ready(t, meta.ReconciliationSucceededReason, "Applied revision: "+rev),
			Conds: []metav1.Condition{*Cond(meta.HealthyCondition, t, meta.SucceededReason, "Health check passed in 1.2s")}, Remove: []string{meta.ReconcilingCondition}}},
	}
}

// KustomizationDependencyNotReady is a dependent waiting on its dependency:
// Ready=False/DependencyNotReady, no Reconciling condition, status unchanged
// on the 30 s re-checks.
func KustomizationDependencyNotReady(dependency string) Timeline {
	return Timeline{{At: 1 * time.Second, Status: Status{Ready: Ready(f, meta.DependencyNotReadyReason, fmt.Sprintf("dependency '%s' is not ready", dependency))}}}
}

// HelmReleaseRetriesExhausted is a HelmRelease whose install times out, is
// remediated, retried, and stalls with RetriesExceeded (observedGeneration
// is written on stall).
func HelmReleaseRetriesExhausted(chart string) Timeline {
	msg := "Helm install failed for release apps/podinfo with chart podinfo@" + chart + ": context deadline exceeded: resource apps/Deployment/podinfo would exceed context deadline"
	one, two := int64(1), int64(2)
	return Timeline{
		{At: 1 * time.Second, Status: Status{Ready: Ready(f, "SourceNotReady", "HelmChart 'apps/apps-podinfo' is not ready: latest generation of object has not been reconciled"),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Fulfilling prerequisites")}}},
		{At: 2 * time.Second, Status: Status{AttemptedRevision: chart, Ready: Ready(u, meta.ProgressingReason, "Running 'install' action with timeout of 1m0s")}},
		{At: 62 * time.Second, Status: Status{Failures: &one, Ready: Ready(f, helmv2.InstallFailedReason, msg),
			Conds: []metav1.Condition{*Cond(helmv2.RemediatedCondition, t, helmv2.UninstallSucceededReason, "Helm uninstall succeeded"), reconciling(meta.ProgressingWithRetryReason, "retrying")}}},
		{At: 72 * time.Second, Status: Status{Ready: Ready(u, meta.ProgressingReason, "Running 'install' action with timeout of 1m0s")}},
		{At: 133 * time.Second, Status: Status{Failures: &two, ObservedGeneration: CurrentGeneration(),
			Ready:   Ready(f, helmv2.InstallFailedReason, msg),
			Stalled: Cond(meta.StalledCondition, t, "RetriesExceeded", "Failed to install after 1 attempt(s)"),
			Remove:  []string{meta.ReconcilingCondition, helmv2.RemediatedCondition}}},
	}
}

// HelmReleaseFixed is the fix pushed to a stalled HelmRelease: counters
// reset, an upgrade, Ready=True/UpgradeSucceeded, Stalled removed.
func HelmReleaseFixed(chart string) Timeline {
	zero := int64(0)
	return Timeline{
		{At: 0, Status: Status{AttemptedRevision: chart, Failures: &zero, Ready: Ready(u, meta.ProgressingReason, "Running 'upgrade' action with timeout of 1m0s"), Remove: []string{meta.StalledCondition}}},
		{At: 1 * time.Second, Status: Status{Revision: chart, ObservedGeneration: CurrentGeneration(), Ready: Ready(t, helmv2.UpgradeSucceededReason, "Helm upgrade succeeded for release apps/podinfo.v2 with chart podinfo@"+chart),
			Conds: []metav1.Condition{*Cond(helmv2.ReleasedCondition, t, helmv2.UpgradeSucceededReason, "Helm upgrade succeeded")}}},
	}
}

// GitRepositoryAuthFailed is a GitRepository that loses its credentials:
// Ready=False/AuthenticationFailed while ArtifactInStorage stays True (the
// last artifact is still served).
func GitRepositoryAuthFailed() Timeline {
	return Timeline{{At: 0, Status: Status{
		Ready: Ready(f, sourcev1.AuthenticationFailedReason, "failed to checkout and determine revision: unable to clone 'https://git.example.com/fleet.git': authentication required: invalid credentials"),
		Conds: []metav1.Condition{*Cond(sourcev1.FetchFailedCondition, t, sourcev1.AuthenticationFailedReason, "authentication required")}}}}
}

// GitRepositoryHealthy is a GitRepository's first artifact.
func GitRepositoryHealthy(rev string) Timeline {
	return Timeline{
		{At: 0, Status: Status{Ready: Ready(u, meta.ProgressingReason, "building artifact: new upstream revision '"+rev+"'"), Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "building artifact")}}},
		{At: 300 * time.Millisecond, Status: Status{Revision: rev, Ready: Ready(t, meta.SucceededReason, "stored artifact for revision '"+rev+"'"),
			Conds: []metav1.Condition{*Cond(sourcev1.ArtifactInStorageCondition, t, meta.SucceededReason, "stored artifact for revision '"+rev+"'")}, Remove: []string{meta.ReconcilingCondition}}},
		{At: 400 * time.Millisecond, Status: Status{ObservedGeneration: CurrentGeneration()}},
	}
}

// Play writes tl to obj, sleeping between steps: Flux time is divided by
// speedup (60 turns FLUX-STATUS's minutes into seconds). It returns when the
// last step is written or ctx ends.
func (w *Writer) Play(ctx context.Context, obj client.Object, tl Timeline, speedup float64) error {
	start := time.Now()
	for _, s := range tl {
		due := start.Add(time.Duration(float64(s.At) / speedup))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(due)):
		}
		if err := w.Write(ctx, obj, s.Status); err != nil {
			return err
		}
	}
	return nil
}

// Last is the status a timeline ends with, written at once: for tests that
// need the end state, not the story.
func (w *Writer) Last(ctx context.Context, obj client.Object, tl Timeline) error {
	for _, s := range tl {
		if err := w.Write(ctx, obj, s.Status); err != nil {
			return err
		}
	}
	return nil
}

// InvalidManifestMessage is kustomize-controller's dry-run failure for a
// Service with a string port.
const InvalidManifestMessage = "Service/default/broken-svc dry-run failed: failed to create typed patch object (/broken-svc; /v1, Kind=Service): .spec.ports[0].port: expected numeric (int or float), got string"

// KustomizationInvalidManifest is a Kustomization with an invalid manifest:
// Ready=False/ReconciliationFailed at once, retried every interval with a
// brief Ready=Unknown each time. Never Stalled; observedGeneration stays -1.
func KustomizationInvalidManifest(rev string, retries int) Timeline {
	return Shift(KustomizationInvalidManifestEvery(rev, time.Minute, retries), time.Second)
}

// HelmReleaseInstall is a healthy HelmRelease's first install: the
// transient Ready=False/SourceNotReady at birth, the install, then
// Ready=True/InstallSucceeded.
func HelmReleaseInstall(chart string) Timeline {
	return Timeline{
		{At: 1 * time.Second, Status: Status{Ready: Ready(f, "SourceNotReady", "HelmChart 'apps/apps-podinfo' is not ready: latest generation of object has not been reconciled"),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Fulfilling prerequisites")}}},
		{At: 2 * time.Second, Status: Status{AttemptedRevision: chart, Ready: Ready(u, meta.ProgressingReason, "Running 'install' action with timeout of 1m0s")}},
		{At: 3 * time.Second, Status: Status{Revision: chart, ObservedGeneration: CurrentGeneration(),
			Ready: Ready(t, helmv2.InstallSucceededReason, "Helm install succeeded for release apps/podinfo.v1 with chart podinfo@"+chart),
			Conds: []metav1.Condition{*Cond(helmv2.ReleasedCondition, t, helmv2.InstallSucceededReason, "Helm install succeeded")}, Remove: []string{meta.ReconcilingCondition}}},
	}
}

// KustomizationSlowBirth is a Kustomization whose health checks take
// checks long before it becomes Ready (a dependency still applying).
func KustomizationSlowBirth(rev string, checks time.Duration) Timeline {
	return Timeline{
		{At: 1 * time.Second, Status: Status{AttemptedRevision: rev, Ready: Ready(u, meta.ProgressingReason, "Reconciliation in progress"),
			Conds: []metav1.Condition{reconciling(meta.ProgressingReason, "Running health checks for revision "+rev+" with a timeout of 5m0s")}}},
		{At: 1*time.Second + checks, Status: Status{Revision: rev, ObservedGeneration: CurrentGeneration(), Ready: Ready(t, meta.ReconciliationSucceededReason, "Applied revision: "+rev),
			Remove: []string{meta.ReconcilingCondition}}},
	}
}

// KustomizationWaitsFor is a dependent of a dependency that becomes Ready
// at dependencyReady: Ready=False/DependencyNotReady until Flux's next
// dependency re-check (every 30 s), then a normal reconciliation.
func KustomizationWaitsFor(dependency, rev string, dependencyReady time.Duration) Timeline {
	recheck := (dependencyReady/(30*time.Second) + 1) * 30 * time.Second
	tl := KustomizationDependencyNotReady(dependency)
	for _, s := range KustomizationBirth(rev)[1:] {
		s.At += recheck - 2*time.Second
		tl = append(tl, s)
	}
	return tl
}

// Shift delays every step of tl by d.
func Shift(tl Timeline, d time.Duration) Timeline {
	out := make(Timeline, len(tl))
	for i, s := range tl {
		s.At += d
		out[i] = s
	}
	return out
}
