package fluxstatus

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Strip must fit where controller-runtime takes a cache transform.
var _ toolscache.TransformFunc = Strip

var managedFields = []metav1.ManagedFieldsEntry{{
	Manager: "kustomize-controller", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "kustomize.toolkit.fluxcd.io/v1",
	FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:inventory":{}}}`)},
}}

func strip(t *testing.T, obj any) any {
	t.Helper()
	out, err := Strip(obj)
	if err != nil {
		t.Fatalf("Strip(%T): %v", obj, err)
	}
	return out
}

// checkSameReading checks that Read sees the same object after Strip.
func checkSameReading(t *testing.T, before Reading, after any) {
	t.Helper()
	o, ok := after.(client.Object)
	if !ok {
		t.Fatalf("Strip returned %T, not a client.Object", after)
	}
	if got := mustRead(t, o); !reflect.DeepEqual(got, before) {
		t.Errorf("Read after Strip:\n got %+v\nwant %+v", got, before)
	}
}

func TestStripKustomization(t *testing.T) {
	k := ks(nsApps, "web", ksReady(), func(k *kustomizev1.Kustomization) {
		k.Labels = map[string]string{"team": "platform"}
		k.Annotations = map[string]string{
			"kubectl.kubernetes.io/last-applied-configuration": `{"big":"json"}`,
			meta.ReconcileRequestAnnotation:                    "2026-03-01T09:00:00Z",
		}
		k.ManagedFields = managedFields
		k.Spec.DependsOn = []meta.DependencyReference{dep(nsFlux, "infra")}
		k.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Minute}
		k.Spec.Patches = []kustomize.Patch{{Patch: "- op: add\n  path: /metadata/labels/x\n  value: y"}}
		k.Spec.Images = []kustomize.Image{{Name: "podinfo", NewTag: "6.7.1"}}
		k.Spec.Components = []string{"../components/ha"}
		k.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"cluster": "prod"}}
		k.Spec.HealthChecks = []meta.NamespacedObjectKindReference{{Kind: "Deployment", Name: "web", Namespace: nsApps}}
		k.Spec.HealthCheckExprs = []kustomize.CustomHealthCheck{{APIVersion: "v1", Kind: "Pod"}}
		k.Status.Inventory = &kustomizev1.ResourceInventory{}
		for i := range 5000 {
			k.Status.Inventory.Entries = append(k.Status.Inventory.Entries,
				kustomizev1.ResourceRef{ID: fmt.Sprintf("apps_cm-%04d__ConfigMap", i), Version: "v1"})
		}
		k.Status.History = meta.History{{Digest: "sha256:aa", TotalReconciliations: 3}}
	})
	before := mustRead(t, k)
	out := strip(t, k)

	got := out.(*kustomizev1.Kustomization)
	if got.Status.Inventory != nil || got.ManagedFields != nil || got.Annotations != nil {
		t.Errorf("kept inventory (%v), managedFields (%d) or annotations (%d)",
			got.Status.Inventory != nil, len(got.ManagedFields), len(got.Annotations))
	}
	s := got.Spec
	if s.Patches != nil || s.Images != nil || s.Components != nil || s.PostBuild != nil ||
		s.HealthChecks != nil || s.HealthCheckExprs != nil || got.Status.History != nil {
		t.Errorf("kept large fields: %+v, history %v", s, got.Status.History)
	}
	checkSameReading(t, before, out)

	// Stripping a stripped object changes nothing.
	again := got.DeepCopy()
	strip(t, again)
	if !reflect.DeepEqual(again, got) {
		t.Error("Strip is not idempotent")
	}
}

func TestStripHelmRelease(t *testing.T) {
	h := hr(nsApps, "podinfo", hrAttempt("6.7.2"), func(h *helmv2.HelmRelease) {
		h.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "now"}
		h.ManagedFields = managedFields
		h.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"replicaCount":3,"secret":"hunter2"}`)}
		h.Spec.ValuesFrom = []helmv2.ValuesReference{{Kind: "Secret", Name: "podinfo-values"}}
		h.Spec.PostRenderers = []helmv2.PostRenderer{{Kustomize: &helmv2.Kustomize{Images: []kustomize.Image{{Name: "podinfo"}}}}}
		h.Spec.DependsOn = []helmv2.DependencyReference{{Name: "backend"}}
		h.Status.Conditions = []metav1.Condition{ready(metav1.ConditionFalse, helmv2.UpgradeFailedReason, "Helm upgrade failed", 9)}
		hooks := map[string]*helmv2.TestHookStatus{"podinfo-test": {Phase: "Succeeded"}}
		// Out of order on purpose: the latest release is the highest version.
		h.Status.History = helmv2.Snapshots{
			{Version: 2, ChartName: "podinfo", ChartVersion: "6.7.1", Status: "superseded"},
			{Version: 3, ChartName: "podinfo", ChartVersion: "6.7.2", Status: "failed", TestHooks: &hooks},
			{Version: 1, ChartName: "podinfo", ChartVersion: "6.7.0", Status: "superseded"},
		}
		h.Status.Inventory = &helmv2.ResourceInventory{Entries: []helmv2.ResourceRef{{ID: "apps_podinfo_apps_Deployment", Version: "v1"}}}
	})
	before := mustRead(t, h)
	if before.Revision != "6.7.2" {
		t.Fatalf("Revision before Strip = %q, want the latest release's chart version 6.7.2", before.Revision)
	}
	out := strip(t, h)

	got := out.(*helmv2.HelmRelease)
	if got.Spec.Values != nil || got.Spec.ValuesFrom != nil || got.Spec.PostRenderers != nil {
		t.Errorf("kept values (%s), valuesFrom or postRenderers", got.Spec.Values.Raw)
	}
	if got.Status.Inventory != nil || got.ManagedFields != nil || got.Annotations != nil {
		t.Error("kept inventory, managedFields or annotations")
	}
	if len(got.Status.History) != 1 || got.Status.History[0].Version != 3 || got.Status.History[0].TestHooks != nil {
		t.Errorf("history after Strip = %+v, want only release 3 without test hooks", got.Status.History)
	}
	checkSameReading(t, before, out)
}

func TestStripSourcesKeepStatus(t *testing.T) {
	g := gitRepo(nsFlux, "fleet", ready(metav1.ConditionTrue, meta.SucceededReason, "stored", 1))
	g.ManagedFields = managedFields
	g.Annotations = map[string]string{"a": "b"}
	before := mustRead(t, g)
	out := strip(t, g).(*sourcev1.GitRepository)
	if out.ManagedFields != nil || out.Annotations != nil {
		t.Error("GitRepository kept managedFields or annotations")
	}
	checkSameReading(t, before, out)
}

func TestStripPassesOtherObjectsThrough(t *testing.T) {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cm", Annotations: map[string]string{"a": "b"}, ManagedFields: managedFields},
	}
	want := cm.DeepCopy()
	if got := strip(t, cm); got != any(cm) || !reflect.DeepEqual(cm, want) {
		t.Errorf("ConfigMap changed by Strip: %+v", got)
	}

	k := ks(nsFlux, "apps", func(k *kustomizev1.Kustomization) { k.ManagedFields = managedFields })
	tomb := toolscache.DeletedFinalStateUnknown{Key: "flux-system/apps", Obj: k}
	got, ok := strip(t, tomb).(toolscache.DeletedFinalStateUnknown)
	if !ok || got.Key != tomb.Key || got.Obj != any(k) {
		t.Errorf("tombstone not passed through: %+v", got)
	}

	if got := strip(t, nil); got != nil {
		t.Errorf("Strip(nil) = %v", got)
	}
}

// TestCacheTransform: every cached object loses its managed fields (a
// FluxWatch or a Namespace carries them too); Flux objects are stripped;
// labels, which selectors read, stay.
func TestCacheTransform(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps", Labels: map[string]string{"env": "production"}, ManagedFields: managedFields}}
	out, err := CacheTransform(ns)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*corev1.Namespace); got.ManagedFields != nil || got.Labels["env"] != "production" {
		t.Errorf("Namespace after the transform: %+v", got.ObjectMeta)
	}
	k := ks(nsFlux, "apps", func(k *kustomizev1.Kustomization) { k.ManagedFields = managedFields })
	out, err = CacheTransform(k)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*kustomizev1.Kustomization); got.ManagedFields != nil {
		t.Error("Kustomization kept its managed fields")
	}
	tomb := toolscache.DeletedFinalStateUnknown{Key: "flux-system/apps"}
	if out, err := CacheTransform(tomb); err != nil || out.(toolscache.DeletedFinalStateUnknown).Key != tomb.Key {
		t.Errorf("tombstone: %v %v", out, err)
	}
}
