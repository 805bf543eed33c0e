package fluxstatus

import (
	"slices"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxwatch/fluxwatch/internal/debounce"
)

const (
	nsFlux = "flux-system"
	nsApps = "apps"
)

// chain returns Kustomizations apps/link1 … apps/linkN, each waiting on the
// next; the last waits on last.
func chain(n int, last meta.DependencyReference) []client.Object {
	var objs []client.Object
	for i := 1; i <= n; i++ {
		next := dep(nsApps, "link"+string(rune('0'+i+1)))
		if i == n {
			next = last
		}
		objs = append(objs, ks(nsApps, "link"+string(rune('0'+i)), ksDependsOn(next)))
	}
	return objs
}

// TestEvaluateResolve runs real Flux condition sets (FLUX-STATUS.md) through
// Evaluate and Resolve. Each name starts with the state it checks, then the
// rule of the semantics that decides it.
func TestEvaluateResolve(t *testing.T) {
	infraFailing := ks(nsFlux, "infra", ksHealthCheckFailed())
	infraHealthy := ks(nsFlux, "infra", ksReady())
	helmChartBuilding := helmChart(nsApps, "apps-podinfo",
		ready(metav1.ConditionUnknown, meta.ProgressingReason, "building artifact", 1),
		cond(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingReason, "building artifact", 1))
	helmChartReady := helmChart(nsApps, "apps-podinfo",
		ready(metav1.ConditionTrue, sourcev1.ChartPullSucceededReason, "pulled 'podinfo' chart with version '6.7.1'", 2),
		cond(sourcev1.ArtifactInStorageCondition, metav1.ConditionTrue, sourcev1.ChartPullSucceededReason, "pulled 'podinfo' chart with version '6.7.1'", 2))
	helmChartReady.Status.ObservedGeneration = 1
	sourceNotReady := hrConds(
		ready(metav1.ConditionFalse, SourceNotReadyReason,
			"HelmChart 'apps/apps-podinfo' is not ready: latest generation of object has not been reconciled", 1),
		cond(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingReason, "Fulfilling prerequisites", 1))

	tests := map[string]struct {
		obj       client.Object
		others    []client.Object // the rest of the cluster
		untracked []Ref           // objects this FluxWatch does not track
		state     debounce.State
		reason    string
		mentions  []string  // what the message must name
		since     time.Time // checked when set
		revision  string    // checked when set
	}{
		// Rule 3: Ready=True at the observed generation.
		"Healthy: Kustomization Ready=True/ReconciliationSucceeded at its generation": {
			obj:   ks(nsFlux, "apps", ksReady()),
			state: debounce.Healthy, reason: meta.ReconciliationSucceededReason,
			mentions: []string{rev1}, since: at(5).Time, revision: rev1,
		},
		"Healthy: GitRepository Ready=True with artifact revision": {
			obj: gitRepo(nsFlux, "fleet",
				ready(metav1.ConditionTrue, meta.SucceededReason, "stored artifact for revision '"+rev1+"'", 1),
				cond(sourcev1.ArtifactInStorageCondition, metav1.ConditionTrue, meta.SucceededReason, "stored artifact for revision '"+rev1+"'", 1)),
			state: debounce.Healthy, reason: meta.SucceededReason, revision: rev1,
		},
		"Healthy: OCI HelmRepository without conditions": {
			obj: &sourcev1.HelmRepository{
				ObjectMeta: objMeta(nsFlux, "podinfo-oci", 1),
				Spec:       sourcev1.HelmRepositorySpec{URL: "oci://ghcr.io/stefanprodan/charts", Type: sourcev1.HelmRepositoryTypeOCI},
			},
			state: debounce.Healthy, reason: ReasonNoStatus, since: t0,
		},
		"Healthy: ExternalArtifact Ready=True (no observedGeneration in the kind)": {
			obj: &sourcev1.ExternalArtifact{
				ObjectMeta: objMeta(nsFlux, "generated", 4),
				Status: sourcev1.ExternalArtifactStatus{
					Artifact:   &meta.Artifact{Revision: "latest@sha256:1c2d"},
					Conditions: []metav1.Condition{ready(metav1.ConditionTrue, meta.SucceededReason, "Artifact is ready", 3)},
				},
			},
			state: debounce.Healthy, reason: meta.SucceededReason, revision: "latest@sha256:1c2d",
		},

		// Rule 1: suspended, whatever the conditions.
		"Suspended: Kustomization with spec.suspend and Ready=False": {
			obj:   ks(nsFlux, "apps", ksHealthCheckFailed(), suspend()),
			state: debounce.Suspended, reason: meta.SuspendedReason, mentions: []string{"suspend"},
		},
		"Suspended: GitRepository with spec.suspend and Ready=True": {
			obj: func() client.Object {
				g := gitRepo(nsFlux, "fleet", ready(metav1.ConditionTrue, meta.SucceededReason, "stored artifact", 1))
				g.Spec.Suspend = true
				return g
			}(),
			state: debounce.Suspended, reason: meta.SuspendedReason,
		},
		"Suspended: HelmRelease with spec.suspend wins over Stalled": {
			obj: hr(nsApps, "podinfo", func(h *helmv2.HelmRelease) { h.Spec.Suspend = true }, hrConds(
				ready(metav1.ConditionFalse, helmv2.InstallFailedReason, "Helm install failed", 133),
				cond(meta.StalledCondition, metav1.ConditionTrue, "RetriesExceeded", "Failed to install after 2 attempt(s)", 133))),
			state: debounce.Suspended, reason: meta.SuspendedReason,
		},

		// Rule 2: Stalled=True.
		"Stalled: HelmRelease RetriesExceeded wins over Ready=False/InstallFailed": {
			obj: hr(nsApps, "podinfo", hrAttempt("6.7.1"), func(h *helmv2.HelmRelease) { h.Status.ObservedGeneration = 1 }, hrConds(
				ready(metav1.ConditionFalse, helmv2.InstallFailedReason,
					"Helm install failed for release apps/podinfo with chart podinfo@6.7.1: context deadline exceeded", 133),
				cond(meta.StalledCondition, metav1.ConditionTrue, "RetriesExceeded", "Failed to install after 2 attempt(s)", 133),
				cond(helmv2.ReleasedCondition, metav1.ConditionFalse, helmv2.InstallFailedReason, "Helm install failed", 133))),
			state: debounce.Stalled, reason: "RetriesExceeded", mentions: []string{"Failed to install after 2 attempt(s)"},
			since: at(133).Time, revision: "6.7.1",
		},
		"Stalled: Kustomization InvalidCELExpression wins over Ready=False": {
			obj: ks(nsFlux, "apps", ksConds(
				ready(metav1.ConditionFalse, meta.InvalidCELExpressionReason, "failed to parse readyExpr: undeclared reference to 'dep'", 1),
				cond(meta.StalledCondition, metav1.ConditionTrue, meta.InvalidCELExpressionReason, "failed to parse readyExpr: undeclared reference to 'dep'", 1))),
			state: debounce.Stalled, reason: meta.InvalidCELExpressionReason, mentions: []string{"readyExpr"},
		},

		// Rule 5: in progress.
		"InProgress: Kustomization Ready=Unknown/Progressing": {
			obj: ks(nsFlux, "apps", ksConds(
				ready(metav1.ConditionUnknown, meta.ProgressingReason, "Reconciliation in progress", 1),
				cond(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingReason, "Running health checks for revision "+rev1+" with a timeout of 1m0s", 1))),
			state: debounce.InProgress, reason: meta.ProgressingReason, since: at(1).Time,
		},
		"InProgress: HelmRelease Ready=Unknown running install": {
			obj: hr(nsApps, "podinfo", hrConds(
				ready(metav1.ConditionUnknown, meta.ProgressingReason, "Running 'install' action with timeout of 1m0s", 2))),
			state: debounce.InProgress, reason: meta.ProgressingReason,
		},
		"InProgress: Kustomization Ready=False/HealthCheckCanceled (new revision supersedes the check)": {
			obj: ks(nsFlux, "apps", ksConds(
				ready(metav1.ConditionFalse, meta.HealthCheckCanceledReason, "New reconciliation triggered by GitRepository/flux-system/fleet", 205))),
			state: debounce.InProgress, reason: meta.HealthCheckCanceledReason,
			mentions: []string{"GitRepository/flux-system/fleet"},
		},
		"InProgress: Kustomization Ready=True at an older generation": {
			obj: ks(nsFlux, "apps", ksReady(), func(k *kustomizev1.Kustomization) {
				k.Generation = 3
				k.Status.ObservedGeneration = 2
			}),
			state: debounce.InProgress, reason: meta.ProgressingReason, mentions: []string{"generation 3"},
		},
		"InProgress: Kustomization Ready=True before observedGeneration is written (-1)": {
			obj:   ks(nsFlux, "apps", ksReady(), func(k *kustomizev1.Kustomization) { k.Status.ObservedGeneration = -1 }),
			state: debounce.InProgress, reason: meta.ProgressingReason,
		},
		"InProgress: Kustomization without conditions (Since = creation)": {
			obj:   ks(nsFlux, "apps"),
			state: debounce.InProgress, reason: meta.ProgressingReason, since: t0,
		},

		// Rule 6: Ready=False for any other reason, never hidden by the
		// generation.
		"Failing: Kustomization ArtifactFailed at birth (the engine's window absorbs it)": {
			obj: ks(nsFlux, "apps", ksConds(
				ready(metav1.ConditionFalse, meta.ArtifactFailedReason, "Source artifact not found, retrying in 30s", 1))),
			state: debounce.Failing, reason: meta.ArtifactFailedReason, mentions: []string{"Source artifact not found"},
		},
		"Failing: Kustomization HealthCheckFailed with observedGeneration -1 is not hidden": {
			obj:   ks(nsFlux, "apps", ksHealthCheckFailed()),
			state: debounce.Failing, reason: meta.HealthCheckFailedReason,
			mentions: []string{"Deployment/default/bad-app"}, since: at(61).Time, revision: rev1,
		},
		"Failing: Kustomization HealthCheckFailed after an earlier success keeps the last good revision": {
			obj: ks(nsFlux, "apps", ksHealthCheckFailed(), func(k *kustomizev1.Kustomization) {
				k.Generation, k.Status.ObservedGeneration = 2, 1
				k.Status.LastAppliedRevision, k.Status.LastAttemptedRevision = rev1, rev2
			}),
			state: debounce.Failing, reason: meta.HealthCheckFailedReason, revision: rev2,
		},
		"Failing: Kustomization ReconciliationFailed (invalid manifest)": {
			obj: ks(nsFlux, "apps", ksConds(
				ready(metav1.ConditionFalse, meta.ReconciliationFailedReason,
					"Service/default/broken-svc dry-run failed: .spec.ports[0].port: expected numeric (int or float), got string", 1),
				cond(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingWithRetryReason, "Reconciliation in progress", 1))),
			state: debounce.Failing, reason: meta.ReconciliationFailedReason, mentions: []string{"Service/default/broken-svc"},
		},
		"Failing: Kustomization BuildFailed": {
			obj: ks(nsFlux, "apps", ksConds(
				ready(metav1.ConditionFalse, meta.BuildFailedReason,
					"kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'missing.yaml'': open /tmp/kustomization-1/deploy/missing.yaml: no such file or directory", 1))),
			state: debounce.Failing, reason: meta.BuildFailedReason, mentions: []string{"missing.yaml"},
		},
		"Failing: Kustomization PruneFailed": {
			obj: ks(nsFlux, "apps", ksConds(
				ready(metav1.ConditionFalse, meta.PruneFailedReason,
					"ConfigMap/default/old-config delete failed: configmaps \"old-config\" is forbidden", 1))),
			state: debounce.Failing, reason: meta.PruneFailedReason, mentions: []string{"ConfigMap/default/old-config"},
		},
		"Failing: HelmRelease InstallFailed": {
			obj: hr(nsApps, "podinfo", hrAttempt("6.7.1"), hrConds(
				ready(metav1.ConditionFalse, helmv2.InstallFailedReason,
					"Helm install failed for release apps/podinfo with chart podinfo@6.7.1: resource Deployment/apps/podinfo not ready: would exceed context deadline", 62),
				cond(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingWithRetryReason, "retrying", 62))),
			state: debounce.Failing, reason: helmv2.InstallFailedReason,
			mentions: []string{"apps/podinfo", "podinfo@6.7.1"}, revision: "6.7.1",
		},
		"Failing: HelmRelease UpgradeFailed": {
			obj: hr(nsApps, "podinfo", hrAttempt("6.7.2"), hrConds(
				ready(metav1.ConditionFalse, helmv2.UpgradeFailedReason,
					"Helm upgrade failed for release apps/podinfo with chart podinfo@6.7.2: cannot patch \"podinfo\" with kind Deployment", 62))),
			state: debounce.Failing, reason: helmv2.UpgradeFailedReason, mentions: []string{"podinfo@6.7.2"},
		},
		"Failing: HelmRelease TestFailed": {
			obj: hr(nsApps, "podinfo", hrAttempt("6.7.1"), hrConds(
				ready(metav1.ConditionFalse, helmv2.TestFailedReason,
					"Helm test failed for release apps/podinfo.v1 with chart podinfo@6.7.1: pod podinfo-grpc-test-x1 failed", 70),
				cond(helmv2.ReleasedCondition, metav1.ConditionTrue, helmv2.InstallSucceededReason, "Helm install succeeded", 60))),
			state: debounce.Failing, reason: helmv2.TestFailedReason, mentions: []string{"podinfo-grpc-test"},
		},
		"Failing: HelmRelease Ready=False/RollbackSucceeded after a failed upgrade": {
			obj: hr(nsApps, "podinfo", hrAttempt("6.7.2"), func(h *helmv2.HelmRelease) { h.Status.ObservedGeneration = 1 }, hrConds(
				ready(metav1.ConditionFalse, helmv2.RollbackSucceededReason,
					"Helm rollback to previous release apps/podinfo.v1 with chart podinfo@6.7.1 succeeded", 90),
				cond(helmv2.RemediatedCondition, metav1.ConditionTrue, helmv2.RollbackSucceededReason, "Helm rollback succeeded", 90),
				cond(helmv2.ReleasedCondition, metav1.ConditionFalse, helmv2.UpgradeFailedReason, "Helm upgrade failed", 89))),
			state: debounce.Failing, reason: helmv2.RollbackSucceededReason, mentions: []string{"rollback"},
		},
		"Failing: GitRepository AuthenticationFailed while ArtifactInStorage=True": {
			obj: gitRepo(nsFlux, "fleet",
				ready(metav1.ConditionFalse, sourcev1.AuthenticationFailedReason,
					"failed to checkout and determine revision: unable to clone 'http://127.0.0.1:8080/fleet.git': authentication required", 300),
				cond(sourcev1.ArtifactInStorageCondition, metav1.ConditionTrue, meta.SucceededReason, "stored artifact for revision '"+rev1+"'", 1),
				cond(sourcev1.FetchFailedCondition, metav1.ConditionTrue, sourcev1.AuthenticationFailedReason, "authentication required", 300)),
			state: debounce.Failing, reason: sourcev1.AuthenticationFailedReason,
			mentions: []string{"authentication required"}, since: at(300).Time, revision: rev1,
		},
		"Failing: GitRepository GitOperationFailed while ArtifactInStorage=True": {
			obj: gitRepo(nsFlux, "fleet",
				ready(metav1.ConditionFalse, sourcev1.GitOperationFailedReason,
					"failed to checkout and determine revision: unable to clone 'http://127.0.0.1:8080/fleet.git': couldn't find remote ref \"refs/heads/main\"", 300),
				cond(sourcev1.ArtifactInStorageCondition, metav1.ConditionTrue, meta.SucceededReason, "stored artifact for revision '"+rev1+"'", 1)),
			state: debounce.Failing, reason: sourcev1.GitOperationFailedReason, mentions: []string{"refs/heads/main"},
		},
		"Failing: HelmRelease SourceNotReady without any known chart source": {
			obj:   hr(nsApps, "podinfo", func(h *helmv2.HelmRelease) { h.Status.HelmChart = "" }, sourceNotReady),
			state: debounce.Failing, reason: SourceNotReadyReason, mentions: []string{"apps/apps-podinfo"},
		},

		// Rule 4 and Resolve: blocked on dependencies.
		"Blocked: Kustomization DependencyNotReady on a tracked failing root": {
			obj:    ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra"))),
			others: []client.Object{infraFailing},
			state:  debounce.Blocked, reason: meta.DependencyNotReadyReason,
			mentions: []string{"Kustomization/flux-system/infra", "Failing", meta.HealthCheckFailedReason}, since: at(2).Time,
		},
		"Failing: DependencyNotReady on an untracked failing root is DependencyFailed": {
			obj:       ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra"))),
			others:    []client.Object{infraFailing},
			untracked: []Ref{ksRef(nsFlux, "infra")},
			state:     debounce.Failing, reason: ReasonDependencyFailed,
			mentions: []string{"Kustomization/flux-system/infra", "not watched", meta.HealthCheckFailedReason, "Deployment/default/bad-app"},
		},
		"Failing: DependencyNotReady on a dependency that does not exist is DependencyNotFound": {
			obj:   ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra"))),
			state: debounce.Failing, reason: ReasonDependencyNotFound,
			mentions: []string{"dependency Kustomization/flux-system/infra does not exist"},
		},
		"Failing: dependency namespace defaults to the object's (DependencyNotFound names apps/db)": {
			obj:    ks(nsApps, "web", ksDependsOn(dep(nsFlux, "infra"), dep("", "db"))),
			others: []client.Object{infraHealthy},
			state:  debounce.Failing, reason: ReasonDependencyNotFound, mentions: []string{"Kustomization/apps/db"},
		},
		"InProgress: DependencyNotReady while every dependency is Healthy (Flux re-checks in 30s)": {
			obj:    ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra"))),
			others: []client.Object{infraHealthy},
			state:  debounce.InProgress, reason: meta.DependencyNotReadyReason,
			mentions: []string{"Kustomization/flux-system/infra", "ready", "re-check"},
		},
		"Blocked: dependency in progress is waited on even when untracked": {
			obj: ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra"))),
			others: []client.Object{ks(nsFlux, "infra", ksConds(
				ready(metav1.ConditionUnknown, meta.ProgressingReason, "Reconciliation in progress", 1)))},
			untracked: []Ref{ksRef(nsFlux, "infra")},
			state:     debounce.Blocked, reason: meta.DependencyNotReadyReason, mentions: []string{"Kustomization/flux-system/infra", "InProgress"},
		},
		"Failing: DependencyNotReady on a suspended dependency": {
			obj:    ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra"))),
			others: []client.Object{ks(nsFlux, "infra", ksHealthCheckFailed(), suspend())},
			state:  debounce.Failing, reason: meta.DependencyNotReadyReason,
			mentions: []string{"Kustomization/flux-system/infra", "suspended"},
		},
		"Blocked: chain of five to a tracked failing root names the direct dependency and the root": {
			obj:    ks(nsApps, "apps", ksDependsOn(dep(nsApps, "link1"))),
			others: append(chain(5, dep(nsFlux, "infra")), infraFailing),
			state:  debounce.Blocked, reason: meta.DependencyNotReadyReason,
			mentions: []string{"waiting for Kustomization/apps/link1", "root: Kustomization/flux-system/infra", "Failing"},
		},
		"Failing: chain of five to an untracked failing root is DependencyFailed naming the root": {
			obj:       ks(nsApps, "apps", ksDependsOn(dep(nsApps, "link1"))),
			others:    append(chain(5, dep(nsFlux, "infra")), infraFailing),
			untracked: []Ref{ksRef(nsFlux, "infra")},
			state:     debounce.Failing, reason: ReasonDependencyFailed,
			mentions: []string{"Kustomization/flux-system/infra", meta.HealthCheckFailedReason},
		},
		"Failing: chain of five ending in a missing object, blamed on untracked link5": {
			obj:       ks(nsApps, "apps", ksDependsOn(dep(nsApps, "link1"))),
			others:    chain(5, dep(nsFlux, "gone")),
			untracked: []Ref{ksRef(nsApps, "link5")},
			state:     debounce.Failing, reason: ReasonDependencyFailed,
			mentions: []string{"Kustomization/apps/link5", ReasonDependencyNotFound, "Kustomization/flux-system/gone"},
		},
		"Blocked: chain ending in a missing object named by tracked link5 (link5 alerts)": {
			obj:    ks(nsApps, "apps", ksDependsOn(dep(nsApps, "link1"))),
			others: chain(5, dep(nsFlux, "gone")),
			state:  debounce.Blocked, reason: meta.DependencyNotReadyReason,
			mentions: []string{"Kustomization/apps/link1", "root: Kustomization/apps/link5"},
		},
		"Failing: chain ending in a suspended object, blamed on untracked link2": {
			obj:       ks(nsApps, "apps", ksDependsOn(dep(nsApps, "link1"))),
			others:    append(chain(2, dep(nsFlux, "infra")), ks(nsFlux, "infra", suspend())),
			untracked: []Ref{ksRef(nsApps, "link2")},
			state:     debounce.Failing, reason: ReasonDependencyFailed,
			mentions: []string{"Kustomization/apps/link2", "Kustomization/flux-system/infra is suspended"},
		},
		"Failing: DependencyCycle through the object itself": {
			obj:    ks(nsApps, "a", ksDependsOn(dep(nsApps, "b"))),
			others: []client.Object{ks(nsApps, "b", ksDependsOn(dep(nsApps, "a")))},
			state:  debounce.Failing, reason: ReasonDependencyCycle,
			mentions: []string{"Kustomization/apps/a -> Kustomization/apps/b -> Kustomization/apps/a"},
		},
		"Failing: DependencyCycle of an object on itself": {
			obj:   ks(nsApps, "a", ksDependsOn(dep(nsApps, "a"))),
			state: debounce.Failing, reason: ReasonDependencyCycle, mentions: []string{"Kustomization/apps/a"},
		},
		"Failing: cycle further down, untracked, is DependencyFailed": {
			obj: ks(nsApps, "x", ksDependsOn(dep(nsApps, "a"))),
			others: []client.Object{
				ks(nsApps, "a", ksDependsOn(dep(nsApps, "b"))),
				ks(nsApps, "b", ksDependsOn(dep(nsApps, "a"))),
			},
			untracked: []Ref{ksRef(nsApps, "a"), ksRef(nsApps, "b")},
			state:     debounce.Failing, reason: ReasonDependencyFailed, mentions: []string{ReasonDependencyCycle},
		},
		"Blocked: cycle further down with a tracked member (it alerts itself)": {
			obj: ks(nsApps, "x", ksDependsOn(dep(nsApps, "a"))),
			others: []client.Object{
				ks(nsApps, "a", ksDependsOn(dep(nsApps, "b"))),
				ks(nsApps, "b", ksDependsOn(dep(nsApps, "a"))),
			},
			untracked: []Ref{ksRef(nsApps, "b")},
			state:     debounce.Blocked, reason: meta.DependencyNotReadyReason, mentions: []string{"Kustomization/apps/a"},
		},
		"Blocked: HelmRelease DependencyNotReady on another HelmRelease": {
			obj: hr(nsApps, "frontend", func(h *helmv2.HelmRelease) {
				h.Spec.DependsOn = []helmv2.DependencyReference{{Name: "backend"}}
			}, hrConds(ready(metav1.ConditionFalse, helmv2.DependencyNotReadyReason, "dependency 'apps/backend' is not ready", 1))),
			others: []client.Object{hr(nsApps, "backend", hrConds(
				ready(metav1.ConditionFalse, helmv2.InstallFailedReason, "Helm install failed for release apps/backend", 62)))},
			state: debounce.Blocked, reason: helmv2.DependencyNotReadyReason, mentions: []string{"HelmRelease/apps/backend", helmv2.InstallFailedReason},
		},
		"Blocked: HelmRelease SourceNotReady while its HelmChart is building": {
			obj:    hr(nsApps, "podinfo", sourceNotReady),
			others: []client.Object{helmChartBuilding},
			state:  debounce.Blocked, reason: SourceNotReadyReason, mentions: []string{"HelmChart/apps/apps-podinfo", "InProgress"},
		},
		"InProgress: HelmRelease SourceNotReady while its HelmChart is ready": {
			obj:    hr(nsApps, "podinfo", sourceNotReady),
			others: []client.Object{helmChartReady},
			state:  debounce.InProgress, reason: SourceNotReadyReason, mentions: []string{"HelmChart/apps/apps-podinfo", "ready"},
		},
		"Failing: HelmRelease SourceNotReady on an untracked failing OCIRepository chartRef": {
			obj: hr(nsApps, "podinfo", func(h *helmv2.HelmRelease) {
				h.Spec.Chart = nil
				h.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "podinfo"}
				h.Status.HelmChart = ""
			}, hrConds(ready(metav1.ConditionFalse, SourceNotReadyReason,
				"OCIRepository 'apps/podinfo' is not ready: failed to pull artifact", 1))),
			others: []client.Object{&sourcev1.OCIRepository{
				ObjectMeta: objMeta(nsApps, "podinfo", 1),
				Status: sourcev1.OCIRepositoryStatus{ObservedGeneration: -1, Conditions: []metav1.Condition{
					ready(metav1.ConditionFalse, sourcev1.OCIPullFailedReason, "failed to pull artifact from 'oci://ghcr.io/stefanprodan/charts/podinfo': unauthorized", 1)}}},
			},
			untracked: []Ref{{Kind: sourcev1.OCIRepositoryKind, Namespace: nsApps, Name: "podinfo"}},
			state:     debounce.Failing, reason: ReasonDependencyFailed,
			mentions: []string{"OCIRepository/apps/podinfo", sourcev1.OCIPullFailedReason, "unauthorized"},
		},
		"Failing: HelmRelease SourceNotReady on a HelmChart that does not exist": {
			obj:   hr(nsApps, "podinfo", sourceNotReady),
			state: debounce.Failing, reason: ReasonDependencyNotFound, mentions: []string{"HelmChart/apps/apps-podinfo"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := mustRead(t, tc.obj)
			w := newWorld(t, tc.others...)
			tracked := func(ref Ref) bool {
				if _, ok := w[ref]; !ok && ref != r.Ref {
					t.Errorf("tracked(%s) asked about an object that does not exist", ref)
				}
				return !slices.Contains(tc.untracked, ref)
			}
			got := Resolve(r, w.lookup, tracked)
			t.Logf("%s/%s: %s", got.State, got.Reason, got.Message)
			if got.State != tc.state || got.Reason != tc.reason {
				t.Fatalf("got %s/%s (%q), want %s/%s", got.State, got.Reason, got.Message, tc.state, tc.reason)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(got.Message, m) {
					t.Errorf("message %q does not mention %q", got.Message, m)
				}
			}
			if !tc.since.IsZero() && !got.Since.Equal(tc.since) {
				t.Errorf("Since = %s, want %s", got.Since, tc.since)
			}
			if tc.revision != "" && got.Revision != tc.revision {
				t.Errorf("Revision = %q, want %q", got.Revision, tc.revision)
			}
			if got.Version != r.ResourceVersion || got.Attempt != r.Attempt || got.StaleAfter != 0 {
				t.Errorf("Version/Attempt/StaleAfter = %q/%q/%s, want %q/%q/0",
					got.Version, got.Attempt, got.StaleAfter, r.ResourceVersion, r.Attempt)
			}
		})
	}
}

// TestEvaluateWaitingOn checks what a Blocked verdict says it waits on.
func TestEvaluateWaitingOn(t *testing.T) {
	k := ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra"), dep("", "db")))
	v := Evaluate(mustRead(t, k))
	want := []Ref{ksRef(nsFlux, "infra"), ksRef(nsApps, "db")}
	if v.State != debounce.Blocked || !slices.Equal(v.WaitingOn, want) {
		t.Errorf("Kustomization: got %s waiting on %v, want Blocked on %v", v.State, v.WaitingOn, want)
	}

	h := hr(nsApps, "podinfo", hrConds(ready(metav1.ConditionFalse, SourceNotReadyReason, "HelmChart 'apps/apps-podinfo' is not ready", 1)))
	v = Evaluate(mustRead(t, h))
	want = []Ref{{Kind: sourcev1.HelmChartKind, Namespace: nsApps, Name: "apps-podinfo"}}
	if v.State != debounce.Blocked || !slices.Equal(v.WaitingOn, want) {
		t.Errorf("HelmRelease: got %s waiting on %v, want Blocked on %v", v.State, v.WaitingOn, want)
	}

	// A status written before dependsOn was removed: nothing to wait on.
	k = ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra")), func(k *kustomizev1.Kustomization) { k.Spec.DependsOn = nil })
	if v := Evaluate(mustRead(t, k)); v.State != debounce.InProgress {
		t.Errorf("DependencyNotReady without dependsOn: got %s, want InProgress", v.State)
	}

	// Only Kustomization and HelmRelease wait on dependencies; a source
	// with that reason is failing.
	g := gitRepo(nsFlux, "fleet", ready(metav1.ConditionFalse, meta.DependencyNotReadyReason, "odd", 1))
	if v := Evaluate(mustRead(t, g)); v.State != debounce.Failing {
		t.Errorf("GitRepository DependencyNotReady: got %s, want Failing", v.State)
	}
}

// TestResolveChainTooLong checks that Resolve stops on a chain longer than
// MaxDependencyDepth instead of walking it all.
func TestResolveChainTooLong(t *testing.T) {
	w := world{}
	name := func(i int) string { return "k" + strings.Repeat("x", i) }
	for i := 1; i <= MaxDependencyDepth+5; i++ {
		w[ksRef(nsApps, name(i))] = mustRead(t, ks(nsApps, name(i), ksDependsOn(dep(nsApps, name(i+1)))))
	}
	lookups := 0
	lookup := func(r Ref) (Reading, bool) { lookups++; return w.lookup(r) }
	got := Resolve(w[ksRef(nsApps, name(1))], lookup, func(Ref) bool { return true })
	if got.State != debounce.Failing || got.Reason != ReasonDependencyChainTooLong {
		t.Fatalf("got %s/%s (%q), want Failing/%s", got.State, got.Reason, got.Message, ReasonDependencyChainTooLong)
	}
	if lookups > MaxDependencyDepth+1 {
		t.Errorf("%d lookups, want at most %d", lookups, MaxDependencyDepth+1)
	}
}

// TestSinceOfANewGeneration: Ready=True at an older generation is in
// progress since an unknown moment; its days-old lastTransitionTime must not
// reach the engine, or a restart would fire the progressing deadline at once.
func TestSinceOfANewGeneration(t *testing.T) {
	k := ks("apps", "podinfo", ksConds(ready(metav1.ConditionTrue, meta.ReconciliationSucceededReason, "Applied revision: "+rev1, -86400)))
	k.Generation, k.Status.ObservedGeneration = 2, 1
	v := Evaluate(mustRead(t, k))
	if v.State != "InProgress" || !v.Since.IsZero() {
		t.Errorf("Ready=True at an older generation: state %s since %v; want InProgress since unknown (zero)", v.State, v.Since)
	}
	// The same object at its current generation is healthy since that time.
	k.Status.ObservedGeneration = 2
	if v := Evaluate(mustRead(t, k)); v.State != "Healthy" || !v.Since.Equal(at(-86400).Time) {
		t.Errorf("current generation: state %s since %v", v.State, v.Since)
	}
}
