package fluxstatus

import (
	"errors"
	"reflect"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestKinds(t *testing.T) {
	want := []string{"Kustomization", "HelmRelease", "GitRepository", "OCIRepository",
		"HelmRepository", "HelmChart", "Bucket", "ExternalArtifact"}
	kinds := Kinds()
	if len(kinds) != len(want) {
		t.Fatalf("Kinds() has %d kinds, want %d", len(kinds), len(want))
	}
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatalf("AddToScheme: %v", err)
	}
	for i, k := range kinds {
		if k.Name != want[i] {
			t.Errorf("Kinds()[%d] = %s, want %s", i, k.Name, want[i])
		}
		if got, ok := KindByName(k.Name); !ok || got.Name != k.Name || got.GroupVersion != k.GroupVersion {
			t.Errorf("KindByName(%s) = %v, %v", k.Name, got.Name, ok)
		}
		// The typed object and list are registered under the kind's GVK.
		for _, o := range []runtime.Object{k.NewObject(), k.NewList()} {
			gvks, _, err := s.ObjectKinds(o)
			if err != nil || len(gvks) != 1 {
				t.Errorf("%s: scheme kinds of %T: %v, %v", k.Name, o, gvks, err)
				continue
			}
			wantGVK := k.GroupVersionKind()
			if _, isList := o.(client.ObjectList); isList {
				wantGVK.Kind += "List"
			}
			if gvks[0] != wantGVK {
				t.Errorf("%s: %T registered as %s, want %s", k.Name, o, gvks[0], wantGVK)
			}
		}
		// Read accepts every kind's object and names the kind.
		o := k.NewObject()
		o.SetNamespace("ns")
		o.SetName("n")
		r, err := Read(o)
		if err != nil || r.Ref != (Ref{Kind: k.Name, Namespace: "ns", Name: "n"}) {
			t.Errorf("Read(empty %s) = %v, %v", k.Name, r.Ref, err)
		}
	}
	if _, ok := KindByName("ConfigMap"); ok {
		t.Error("KindByName(ConfigMap) found a kind")
	}
	kinds[0].Name = "changed"
	if Kinds()[0].Name != "Kustomization" {
		t.Error("Kinds() returns the package's own slice")
	}
}

func TestRefString(t *testing.T) {
	if got := ksRef("flux-system", "infra").String(); got != "Kustomization/flux-system/infra" {
		t.Errorf("String() = %q", got)
	}
}

func TestReadRejectsOtherObjects(t *testing.T) {
	_, err := Read(&corev1.ConfigMap{})
	if !errors.Is(err, ErrUnsupportedObject) {
		t.Errorf("Read(ConfigMap) error = %v, want ErrUnsupportedObject", err)
	}
}

func TestReadFields(t *testing.T) {
	labels := map[string]string{"team": "platform"}
	tests := map[string]struct {
		obj  client.Object
		want Reading
	}{
		"Kustomization": {
			obj: ks(nsApps, "web", ksReady(), func(k *kustomizev1.Kustomization) {
				k.Labels = labels
				k.Generation, k.Status.ObservedGeneration = 2, 2
				k.Status.LastAttemptedRevision = rev2
				k.Spec.DependsOn = []meta.DependencyReference{dep(nsFlux, "infra"), dep("", "db")}
				k.Spec.Interval = metav1.Duration{Duration: 10 * time.Minute}
			}),
			want: Reading{
				Ref: ksRef(nsApps, "web"), Labels: labels, Generation: 2, ObservedGeneration: 2, HasObservedGeneration: true,
				Revision: rev1, AttemptedRevision: rev2, Attempt: "rev=" + rev2 + ";gen=2",
				DependsOn: []Ref{ksRef(nsFlux, "infra"), ksRef(nsApps, "db")},
				// No spec.timeout: GetTimeout is interval - 30s.
				Interval: 10 * time.Minute, Timeout: 9*time.Minute + 30*time.Second,
			},
		},
		"Kustomization with spec.timeout": {
			obj: ks(nsApps, "web", func(k *kustomizev1.Kustomization) { k.Spec.Timeout = &metav1.Duration{Duration: 3 * time.Minute} }),
			want: Reading{
				Ref: ksRef(nsApps, "web"), Generation: 1, ObservedGeneration: -1, HasObservedGeneration: true,
				Attempt: "rev=;gen=1", Interval: time.Minute, Timeout: 3 * time.Minute,
			},
		},
		"HelmRelease from spec.chart": {
			obj: hr(nsApps, "podinfo", hrAttempt("6.7.2"), func(h *helmv2.HelmRelease) {
				h.Spec.DependsOn = []helmv2.DependencyReference{{Name: "backend"}, {Namespace: "data", Name: "redis"}}
				h.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Minute}
				h.Status.History = helmv2.Snapshots{
					{Version: 2, ChartName: "podinfo", ChartVersion: "6.7.1", Status: "deployed"},
					{Version: 1, ChartName: "podinfo", ChartVersion: "6.7.0", Status: "superseded"},
				}
			}),
			want: Reading{
				Ref: hrRef(nsApps, "podinfo"), Generation: 1, ObservedGeneration: -1, HasObservedGeneration: true,
				Revision: "6.7.1", AttemptedRevision: "6.7.2",
				Attempt:     "rev=6.7.2;attemptedGen=1;config=sha256:7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730;gen=1",
				DependsOn:   []Ref{hrRef(nsApps, "backend"), hrRef("data", "redis")},
				ChartSource: &Ref{Kind: sourcev1.HelmChartKind, Namespace: nsApps, Name: "apps-podinfo"},
				Interval:    5 * time.Minute, Timeout: 2 * time.Minute,
			},
		},
		"HelmRelease from spec.chartRef, default timeout": {
			obj: hr(nsApps, "podinfo", func(h *helmv2.HelmRelease) {
				h.Spec.Chart = nil
				h.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "podinfo"}
				h.Status.HelmChart = ""
			}),
			want: Reading{
				Ref: hrRef(nsApps, "podinfo"), Generation: 1, ObservedGeneration: -1, HasObservedGeneration: true,
				Attempt:     "rev=;attemptedGen=0;config=;gen=1",
				ChartSource: &Ref{Kind: sourcev1.OCIRepositoryKind, Namespace: nsApps, Name: "podinfo"},
				Interval:    5 * time.Minute, Timeout: 5 * time.Minute,
			},
		},
		"GitRepository": {
			obj: gitRepo(nsFlux, "fleet", ready(metav1.ConditionTrue, meta.SucceededReason, "stored", 1)),
			want: Reading{
				Ref: Ref{Kind: sourcev1.GitRepositoryKind, Namespace: nsFlux, Name: "fleet"}, Generation: 1,
				ObservedGeneration: 1, HasObservedGeneration: true, Revision: rev1, Attempt: "gen=1",
				Ready: &metav1.Condition{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: meta.SucceededReason, Message: "stored", LastTransitionTime: at(1)},
			},
		},
		"OCIRepository": {
			obj: &sourcev1.OCIRepository{ObjectMeta: objMeta(nsFlux, "manifests", 3), Spec: sourcev1.OCIRepositorySpec{Suspend: true},
				Status: sourcev1.OCIRepositoryStatus{ObservedGeneration: 3, Artifact: &meta.Artifact{Revision: "v1.2.0@sha256:ab12"}}},
			want: Reading{
				Ref: Ref{Kind: sourcev1.OCIRepositoryKind, Namespace: nsFlux, Name: "manifests"}, Generation: 3,
				ObservedGeneration: 3, HasObservedGeneration: true, Suspended: true, Revision: "v1.2.0@sha256:ab12", Attempt: "gen=3",
			},
		},
		"HelmRepository of type oci": {
			obj: &sourcev1.HelmRepository{ObjectMeta: objMeta(nsFlux, "charts", 1), Spec: sourcev1.HelmRepositorySpec{Type: sourcev1.HelmRepositoryTypeOCI}},
			want: Reading{
				Ref: Ref{Kind: sourcev1.HelmRepositoryKind, Namespace: nsFlux, Name: "charts"}, Generation: 1,
				HasObservedGeneration: true, NoConditionsIsHealthy: true, Attempt: "gen=1",
			},
		},
		"HelmChart": {
			obj: func() client.Object {
				c := helmChart(nsApps, "apps-podinfo", cond(meta.StalledCondition, metav1.ConditionTrue, "InvalidChartReference", "invalid chart reference", 4))
				c.Status.Artifact = &meta.Artifact{Revision: "6.7.1"}
				return c
			}(),
			want: Reading{
				Ref: Ref{Kind: sourcev1.HelmChartKind, Namespace: nsApps, Name: "apps-podinfo"}, Generation: 1,
				ObservedGeneration: -1, HasObservedGeneration: true, Revision: "6.7.1", Attempt: "gen=1",
				Stalled: &metav1.Condition{Type: meta.StalledCondition, Status: metav1.ConditionTrue, Reason: "InvalidChartReference", Message: "invalid chart reference", LastTransitionTime: at(4)},
			},
		},
		"Bucket": {
			obj: &sourcev1.Bucket{ObjectMeta: objMeta(nsFlux, "bucket", 2),
				Status: sourcev1.BucketStatus{ObservedGeneration: 1, Artifact: &meta.Artifact{Revision: "sha256:ff00"}}},
			want: Reading{
				Ref: Ref{Kind: sourcev1.BucketKind, Namespace: nsFlux, Name: "bucket"}, Generation: 2,
				ObservedGeneration: 1, HasObservedGeneration: true, Revision: "sha256:ff00", Attempt: "gen=2",
			},
		},
		"ExternalArtifact has no observedGeneration": {
			obj: &sourcev1.ExternalArtifact{ObjectMeta: objMeta(nsFlux, "generated", 5),
				Status: sourcev1.ExternalArtifactStatus{Artifact: &meta.Artifact{Revision: "latest@sha256:1c2d"}}},
			want: Reading{
				Ref: Ref{Kind: sourcev1.ExternalArtifactKind, Namespace: nsFlux, Name: "generated"}, Generation: 5,
				Revision: "latest@sha256:1c2d", Attempt: "gen=5",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := mustRead(t, tc.obj)
			tc.want.ResourceVersion = "1001"
			tc.want.Created = t0
			// Conditions are compared field by field where the case sets
			// them; elsewhere only their presence matters.
			if tc.want.Ready == nil {
				tc.want.Ready = got.Ready
			}
			if tc.want.Stalled == nil {
				tc.want.Stalled = got.Stalled
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Read:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestReadCopies checks that a Reading shares nothing with the object it was
// read from, which may be a cache object.
func TestReadCopies(t *testing.T) {
	k := ks(nsFlux, "apps", ksReady(), func(k *kustomizev1.Kustomization) { k.Labels = map[string]string{"a": "1"} })
	r := mustRead(t, k)
	k.Labels["a"] = "2"
	k.Status.Conditions[0].Reason = "changed"
	if r.Labels["a"] != "1" || r.Ready.Reason != meta.ReconciliationSucceededReason {
		t.Errorf("Reading follows changes to the object: labels %v, Ready reason %s", r.Labels, r.Ready.Reason)
	}
}

// TestAttempt checks when the attempt identity changes: on a new attempted
// revision, a new generation and (HelmRelease) a new configuration; and that
// it does not change on a status write that starts no new attempt.
func TestAttempt(t *testing.T) {
	attempt := func(o client.Object) string { return mustRead(t, o).Attempt }

	base := ks(nsFlux, "apps", ksHealthCheckFailed())
	same := base.DeepCopy()
	same.ResourceVersion = "2002"
	same.Status.Conditions[0].Status = metav1.ConditionUnknown
	newRev := base.DeepCopy()
	newRev.Status.LastAttemptedRevision = rev2
	newGen := base.DeepCopy()
	newGen.Generation = 2
	if attempt(same) != attempt(base) {
		t.Error("Kustomization: attempt changed on a status write of the same attempt")
	}
	if attempt(newRev) == attempt(base) {
		t.Error("Kustomization: attempt unchanged on a new lastAttemptedRevision")
	}
	if attempt(newGen) == attempt(base) {
		t.Error("Kustomization: attempt unchanged on a new generation")
	}

	h := hr(nsApps, "podinfo", hrAttempt("6.7.1"))
	hSame := h.DeepCopy()
	hSame.Status.Failures = 2
	for name, mut := range map[string]func(*helmv2.HelmRelease){
		"lastAttemptedRevision":     func(h *helmv2.HelmRelease) { h.Status.LastAttemptedRevision = "6.7.2" },
		"lastAttemptedGeneration":   func(h *helmv2.HelmRelease) { h.Status.LastAttemptedGeneration = 2 },
		"lastAttemptedConfigDigest": func(h *helmv2.HelmRelease) { h.Status.LastAttemptedConfigDigest = "sha256:0000" },
		"generation":                func(h *helmv2.HelmRelease) { h.Generation = 2 },
	} {
		changed := h.DeepCopy()
		mut(changed)
		if attempt(changed) == attempt(h) {
			t.Errorf("HelmRelease: attempt unchanged on a new %s", name)
		}
	}
	if attempt(hSame) != attempt(h) {
		t.Error("HelmRelease: attempt changed on a status write of the same attempt")
	}

	g := gitRepo(nsFlux, "fleet")
	gNewArtifact := g.DeepCopy()
	gNewArtifact.Status.Artifact.Revision = rev2
	gNewGen := g.DeepCopy()
	gNewGen.Generation = 2
	if attempt(gNewArtifact) != attempt(g) {
		t.Error("GitRepository: attempt changed on a new artifact revision")
	}
	if attempt(gNewGen) == attempt(g) {
		t.Error("GitRepository: attempt unchanged on a new generation")
	}
}

func TestDefaultStaleAfter(t *testing.T) {
	tests := map[string]struct {
		obj  client.Object
		want time.Duration
	}{
		"Kustomization: 2 × 1m + timeout 30s (interval - 30s, at least 30s)": {
			obj: ks(nsFlux, "apps", ksReady()), want: 2*time.Minute + 30*time.Second,
		},
		"Kustomization failing: 2 × 10m + timeout 5m": {
			obj: ks(nsFlux, "apps", ksHealthCheckFailed(), func(k *kustomizev1.Kustomization) {
				k.Spec.Interval = metav1.Duration{Duration: 10 * time.Minute}
				k.Spec.Timeout = &metav1.Duration{Duration: 5 * time.Minute}
			}),
			want: 25 * time.Minute,
		},
		"HelmRelease: 2 × 5m + default timeout 5m": {
			obj: hr(nsApps, "podinfo"), want: 15 * time.Minute,
		},
		"GitRepository: disabled (periodic runs write nothing)": {
			obj: gitRepo(nsFlux, "fleet", ready(metav1.ConditionTrue, meta.SucceededReason, "stored", 1)), want: 0,
		},
		"HelmChart: disabled": {obj: helmChart(nsApps, "apps-podinfo"), want: 0},
		"Kustomization suspended: disabled": {
			obj: ks(nsFlux, "apps", ksReady(), suspend()), want: 0,
		},
		"Kustomization DependencyNotReady: disabled (re-checks write nothing)": {
			obj: ks(nsApps, "apps", ksDependsOn(dep(nsFlux, "infra"))), want: 0,
		},
		"HelmRelease SourceNotReady: disabled": {
			obj: hr(nsApps, "podinfo", hrConds(ready(metav1.ConditionFalse, SourceNotReadyReason, "HelmChart not ready", 1))), want: 0,
		},
		"HelmRelease Stalled: disabled (Flux does not retry)": {
			obj: hr(nsApps, "podinfo", hrConds(cond(meta.StalledCondition, metav1.ConditionTrue, "RetriesExceeded", "Failed to install after 2 attempt(s)", 1))), want: 0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := DefaultStaleAfter(mustRead(t, tc.obj)); got != tc.want {
				t.Errorf("DefaultStaleAfter = %s, want %s", got, tc.want)
			}
		})
	}
}
