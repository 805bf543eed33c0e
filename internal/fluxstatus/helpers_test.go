package fluxstatus

import (
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// t0 is when every test object was created.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const (
	rev1 = "main@sha1:3f5d8a0c2b1e4f6a7d9c0b1a2e3f4d5c6b7a8e9f"
	rev2 = "main@sha1:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
)

// at returns a lastTransitionTime s seconds after t0.
func at(s int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(s) * time.Second)) }

func cond(typ string, status metav1.ConditionStatus, reason, msg string, s int) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: at(s)}
}

func ready(status metav1.ConditionStatus, reason, msg string, s int) metav1.Condition {
	return cond(meta.ReadyCondition, status, reason, msg, s)
}

func objMeta(ns, name string, gen int64) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: ns, Name: name, Generation: gen, ResourceVersion: "1001",
		CreationTimestamp: metav1.NewTime(t0),
	}
}

// ks builds a Kustomization with interval 1m and wait: true, as in the
// recorded stories, at generation 1.
func ks(ns, name string, mut ...func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
	k := &kustomizev1.Kustomization{
		ObjectMeta: objMeta(ns, name, 1),
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: time.Minute},
			Path:      "./deploy",
			Prune:     true,
			Wait:      true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
		},
		Status: kustomizev1.KustomizationStatus{ObservedGeneration: -1},
	}
	for _, m := range mut {
		m(k)
	}
	return k
}

func ksConds(c ...metav1.Condition) func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) { k.Status.Conditions = c }
}

// ksReady is a Kustomization that succeeded on rev1 at its generation.
func ksReady() func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Status.ObservedGeneration = k.Generation
		k.Status.LastAppliedRevision = rev1
		k.Status.LastAttemptedRevision = rev1
		k.Status.Conditions = []metav1.Condition{
			ready(metav1.ConditionTrue, meta.ReconciliationSucceededReason, "Applied revision: "+rev1, 5),
			cond(meta.HealthyCondition, metav1.ConditionTrue, meta.SucceededReason, "Health check passed in 2.01s", 5),
		}
	}
}

// ksHealthCheckFailed is the recorded failing health check: never succeeded,
// observedGeneration still -1.
func ksHealthCheckFailed() func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Status.LastAttemptedRevision = rev1
		k.Status.Conditions = []metav1.Condition{
			ready(metav1.ConditionFalse, meta.HealthCheckFailedReason,
				"health check failed after 1m0.05s: timeout waiting for: [Deployment/default/bad-app status: 'InProgress']", 61),
			cond(meta.HealthyCondition, metav1.ConditionFalse, meta.HealthCheckFailedReason,
				"health check failed after 1m0.05s: timeout waiting for: [Deployment/default/bad-app status: 'InProgress']", 61),
			cond(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingWithRetryReason,
				"Detecting drift for revision "+rev1+" with a timeout of 1m0s", 61),
		}
	}
}

// ksDependsOn sets spec.dependsOn (namespace/name or name) and the recorded
// Ready=False/DependencyNotReady of the first dependency.
func ksDependsOn(deps ...meta.DependencyReference) func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = deps
		ns := deps[0].Namespace
		if ns == "" {
			ns = k.Namespace
		}
		k.Status.Conditions = []metav1.Condition{
			ready(metav1.ConditionFalse, meta.DependencyNotReadyReason,
				"dependency '"+ns+"/"+deps[0].Name+"' is not ready", 2),
		}
	}
}

func dep(ns, name string) meta.DependencyReference {
	return meta.DependencyReference{Namespace: ns, Name: name}
}

func suspend() func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) { k.Spec.Suspend = true }
}

// hr builds a HelmRelease from spec.chart (podinfo), at generation 1.
func hr(ns, name string, mut ...func(*helmv2.HelmRelease)) *helmv2.HelmRelease {
	h := &helmv2.HelmRelease{
		ObjectMeta: objMeta(ns, name, 1),
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: 5 * time.Minute},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart:     "podinfo",
				Version:   "6.x",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "podinfo"},
			}},
		},
		Status: helmv2.HelmReleaseStatus{ObservedGeneration: -1, HelmChart: ns + "/" + ns + "-" + name},
	}
	for _, m := range mut {
		m(h)
	}
	return h
}

func hrConds(c ...metav1.Condition) func(*helmv2.HelmRelease) {
	return func(h *helmv2.HelmRelease) { h.Status.Conditions = c }
}

func hrAttempt(chartVersion string) func(*helmv2.HelmRelease) {
	return func(h *helmv2.HelmRelease) {
		h.Status.LastAttemptedRevision = chartVersion
		h.Status.LastAttemptedGeneration = h.Generation
		h.Status.LastAttemptedConfigDigest = "sha256:7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730"
	}
}

// helmChart builds the HelmChart helm-controller creates for a HelmRelease.
func helmChart(ns, name string, conds ...metav1.Condition) *sourcev1.HelmChart {
	return &sourcev1.HelmChart{
		ObjectMeta: objMeta(ns, name, 1),
		Spec: sourcev1.HelmChartSpec{
			Chart:     "podinfo",
			Version:   "6.x",
			Interval:  metav1.Duration{Duration: 5 * time.Minute},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "podinfo"},
		},
		Status: sourcev1.HelmChartStatus{ObservedGeneration: -1, Conditions: conds},
	}
}

func gitRepo(ns, name string, conds ...metav1.Condition) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: objMeta(ns, name, 1),
		Spec: sourcev1.GitRepositorySpec{
			URL:       "http://127.0.0.1:8080/fleet.git",
			Interval:  metav1.Duration{Duration: time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
		Status: sourcev1.GitRepositoryStatus{
			ObservedGeneration: 1,
			Conditions:         conds,
			Artifact: &meta.Artifact{
				Path:     "gitrepository/" + ns + "/" + name + "/3f5d8a0c.tar.gz",
				URL:      "http://source-controller.flux-system.svc.cluster.local./gitrepository/" + ns + "/" + name + "/3f5d8a0c.tar.gz",
				Revision: rev1,
				Digest:   "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
			},
		},
	}
}

// world is a cluster of Flux objects for Resolve.
type world map[Ref]Reading

func newWorld(t *testing.T, objs ...client.Object) world {
	t.Helper()
	w := world{}
	for _, o := range objs {
		r := mustRead(t, o)
		w[r.Ref] = r
	}
	return w
}

func (w world) lookup(r Ref) (Reading, bool) {
	x, ok := w[r]
	return x, ok
}

func mustRead(t *testing.T, o client.Object) Reading {
	t.Helper()
	r, err := Read(o)
	if err != nil {
		t.Fatalf("Read(%T): %v", o, err)
	}
	return r
}

func ksRef(ns, name string) Ref {
	return Ref{Kind: kustomizev1.KustomizationKind, Namespace: ns, Name: name}
}
func hrRef(ns, name string) Ref { return Ref{Kind: helmv2.HelmReleaseKind, Namespace: ns, Name: name} }
