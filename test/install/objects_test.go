package install_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

const (
	crdName      = "fluxwatches.fluxwatch.dev"
	fluxWatchGV  = "fluxwatch.dev/v1alpha1"
	fieldManager = "fluxwatch-install-test"
)

// decode splits a multi-document YAML stream into objects, skipping empty
// documents.
func decode(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decode manifest: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// render runs `helm template` and decodes its output.
func render(t *testing.T, release, namespace string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out := mustHelm(t, append([]string{"template", release, chartDir, "--namespace", namespace}, args...)...)
	return decode(t, out)
}

// valuesFile writes values to a file for helm's -f.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// only keeps the objects of one kind.
func only(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the object of that kind and name, failing if there is none.
func one(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	t.Fatalf("no %s %q among the rendered objects", kind, name)
	return nil
}

// into converts an unstructured object into a typed one.
func into(t *testing.T, u *unstructured.Unstructured, typed any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		t.Fatalf("convert %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// dryRunApply sends every object to the API server as a server-side apply
// with dryRun=All and strict field validation: the API server validates each
// one (schema, unknown fields, CEL rules, admission) and stores nothing.
// Namespaces are created for real first, so that the namespaced objects
// have somewhere to go.
func dryRunApply(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" {
			ensureNamespace(t, ns, nil)
		}
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := k8s.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s %s: %v", gvk.Kind, o.GetName(), err)
			continue
		}
		var ri dynamic.ResourceInterface = dc.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dc.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		data, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			DryRun: []string{metav1.DryRunAll}, FieldManager: fieldManager, Force: ptr.To(true), FieldValidation: "Strict"})
		if err != nil {
			t.Errorf("server-side dry run of %s %s/%s: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
}

// createAll creates the objects for real, as an admin.
func createAll(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" {
			ensureNamespace(t, ns, nil)
		}
		if err := k8s.Create(context.Background(), o.DeepCopy()); err != nil {
			t.Fatalf("create %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

func ensureNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	ns.SetLabels(labels)
	if err := k8s.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// readYAML reads one YAML document from a file of the repository.
func readYAML(t *testing.T, rel string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(bytes.TrimPrefix(data, []byte("---\n")), into); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// ensureFluxWatchCRD installs the generated FluxWatch CRD if a test removed
// it, and waits until it is served.
func ensureFluxWatchCRD(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: crdName}, crd); apierrors.IsNotFound(err) {
		readYAML(t, "config/crd/bases/fluxwatch.dev_fluxwatches.yaml", crd)
		if err := k8s.Create(ctx, crd); err != nil {
			t.Fatalf("create the FluxWatch CRD: %v", err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the FluxWatch API to be served", func() (bool, error) {
		served, _, err := fluxWatchServed()
		return served, err
	})
}

// deleteFluxWatchCRD deletes the FluxWatch CRD (and so every FluxWatch) and
// waits until the API server no longer serves or lists it: a cluster where
// FluxWatch was never installed.
func deleteFluxWatchCRD(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	crd.Name = crdName
	if err := k8s.Delete(ctx, crd); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete the FluxWatch CRD: %v", err)
	}
	waitFor(t, 60*time.Second, "the FluxWatch CRD to be gone", func() (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Name: crdName}, &apiextensionsv1.CustomResourceDefinition{})
		if apierrors.IsNotFound(err) {
			_, gone, err := fluxWatchServed()
			return gone, err
		}
		return false, err
	})
}

// fluxWatchServed says whether discovery lists the FluxWatch kind, both as
// helm sees it (aggregated discovery, .Capabilities.APIVersions) and on the
// group version's own endpoint: "yes" only when both do, "no" only when
// neither does; the API server updates them one after the other.
func fluxWatchServed() (served, gone bool, err error) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		return false, false, err
	}
	var inAggregated, inGroupVersion bool
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return false, false, err
	}
	for _, l := range lists {
		for _, r := range l.APIResources {
			inAggregated = inAggregated || l.GroupVersion == fluxWatchGV && r.Kind == "FluxWatch"
		}
	}
	list, err := dc.ServerResourcesForGroupVersion(fluxWatchGV)
	if err != nil && !apierrors.IsNotFound(err) {
		return false, false, err
	}
	if err == nil {
		for _, r := range list.APIResources {
			inGroupVersion = inGroupVersion || r.Kind == "FluxWatch"
		}
	}
	return inAggregated && inGroupVersion, !inAggregated && !inGroupVersion, nil
}

// waitFor polls cond every 100 ms until it is true, fails or times out.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustJSON(v any) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(data)
}

// createNamespaceFrom creates the rendered Namespace for real, or gives an
// existing one its labels.
func createNamespaceFrom(t *testing.T, ns *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(ns.GroupVersionKind())
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns.GetName()}, live); apierrors.IsNotFound(err) {
		createAll(t, []*unstructured.Unstructured{ns})
		return
	} else if err != nil {
		t.Fatal(err)
	}
	before := live.DeepCopy()
	l := live.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range ns.GetLabels() {
		l[k] = v
	}
	live.SetLabels(l)
	if err := k8s.Patch(ctx, live, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
}

// createReal creates obj for real; one that exists already is fine.
func createReal(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// dryRunCreate has the API server validate and admit obj without storing it.
func dryRunCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj, client.DryRunAll); err != nil {
		t.Errorf("server-side dry run of %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}
