package install_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
)

const (
	releaseNS = "fluxwatch-upgrade"
	sandboxNS = "sandbox-upgrade"
	// A printer column the next chart version adds to the CRD.
	healthyColumn = "    - jsonPath: .status.healthy\n      name: Healthy\n      type: integer\n"
	columnAnchor  = "    - jsonPath: .status.conditions[?(@.type==\"Ready\")].message\n"
	crdFile       = "fluxwatch.dev_fluxwatches.yaml"
)

func watchValues(productionPendingFor string, withSandbox bool) string {
	v := `
watches:
  - name: production
    spec:
      targets:
        - kind: Kustomization
          namespaceSelector: {matchLabels: {env: production}}
      pendingFor: ` + productionPendingFor + "\n"
	if withSandbox {
		v += `  - name: sandbox
    namespace: ` + sandboxNS + `
    spec:
      targets:
        - kind: Kustomization
          namespace: "*"
      pendingFor: 2h
`
	}
	return v
}

// TestHelmInstallAndUpgrade proves the CRD placement chosen in
// templates/crds.yaml with the real helm against the local control plane:
// the two usual placements fail, this one makes a first install with watches
// on a cluster without the CRD work, and an upgrade that changes the CRD
// changes it while the FluxWatches (and their status) stay the same objects.
func TestHelmInstallAndUpgrade(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { ensureFluxWatchCRD(t) })
	ensureNamespace(t, sandboxNS, nil)
	v1 := valuesFile(t, watchValues("15m", true))

	t.Run("CRD and FluxWatches both plain templates: the first install fails", func(t *testing.T) {
		deleteFluxWatchCRD(t)
		plain := copyChart(t, plainWatches)
		out, err := helm(t, "install", "plain", plain, "-n", "plain-templates", "--create-namespace", "-f", v1)
		if err == nil || !strings.Contains(out, `no matches for kind "FluxWatch" in version "fluxwatch.dev/v1alpha1"`) {
			t.Fatalf("helm install with the CRD and FluxWatches in templates/ on a cluster without the CRD: want it to fail with no matches for kind FluxWatch; got %v\n%s", err, out)
		}
	})

	t.Run("CRD in crds/: helm upgrade leaves the CRD unchanged", func(t *testing.T) {
		deleteFluxWatchCRD(t)
		mustHelm(t, "install", "crds-dir", copyChart(t, crdsDir), "-n", "crds-dir", "--create-namespace", "-f", v1)
		mustHelm(t, "upgrade", "crds-dir", copyChart(t, crdsDir, addPrinterColumn), "-n", "crds-dir", "-f", v1)
		if hasColumn(t, "Healthy") {
			t.Fatalf("helm upgraded a CRD kept in crds/: the premise of the chart's placement is wrong")
		}
		mustHelm(t, "uninstall", "crds-dir", "-n", "crds-dir")
	})

	deleteFluxWatchCRD(t)
	var uids map[string]types.UID
	t.Run("first install with watches on a cluster without the CRD", func(t *testing.T) {
		mustHelm(t, "install", "fluxwatch", chartDir, "-n", releaseNS, "--create-namespace", "-f", v1)
		uids = fluxWatchUIDs(t)
		if len(uids) != 2 {
			t.Fatalf("FluxWatches after the first install: %v; want production and sandbox", uids)
		}
		prod := getFluxWatch(t, releaseNS, "production")
		if prod.Labels["app.kubernetes.io/managed-by"] != "Helm" || prod.Annotations["meta.helm.sh/release-name"] != "fluxwatch" || prod.Annotations["meta.helm.sh/release-namespace"] != releaseNS {
			t.Errorf("FluxWatch metadata = %v %v; want helm's ownership metadata, for the next upgrade to adopt it", prod.Labels, prod.Annotations)
		}
		if n := fluxWatchesInRelease(t); n != 0 {
			t.Errorf("the first install's manifest holds %d FluxWatches; they were meant to be post-install hooks", n)
		}

		// The durable incident record the controller would have written.
		before := prod.DeepCopy()
		prod.Status.Tracked, prod.Status.Firing = 1, 1
		prod.Status.Ledger = []fluxwatchv1.LedgerEntry{{Object: "local/Kustomization/apps/podinfo", State: fluxwatchv1.IncidentFiring,
			OpenedAt: metav1.NewMicroTime(time.Now().Add(-time.Hour)), Reason: "HealthCheckFailed"}}
		if err := k8s.Status().Patch(ctx, prod, client.MergeFrom(before)); err != nil {
			t.Fatalf("write status: %v", err)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("the upgrade that adopts the FluxWatches refuses to lose a change", func(t *testing.T) {
		for values, want := range map[string]string{
			watchValues("20m", true):  "FluxWatch " + releaseNS + "/production was created by the first install (a post-install hook) with another spec",
			watchValues("15m", false): "FluxWatch " + sandboxNS + "/sandbox was created by the first install (a post-install hook) and is no longer listed",
		} {
			out, err := helm(t, "upgrade", "fluxwatch", chartDir, "-n", releaseNS, "-f", valuesFile(t, values))
			if err == nil || !strings.Contains(out, want) {
				t.Errorf("helm upgrade changing the watches of the install: want it to fail saying %q; got %v\n%s", want, err, out)
			}
		}
		assertSameFluxWatches(t, uids, "production", "sandbox")
	})

	t.Run("upgrade whose CRD gained a printer column", func(t *testing.T) {
		mustHelm(t, "upgrade", "fluxwatch", copyChart(t, addPrinterColumn), "-n", releaseNS, "-f", v1)
		if !hasColumn(t, "Healthy") {
			t.Errorf("helm upgrade did not add the printer column to the CRD")
		}
		assertSameFluxWatches(t, uids, "production", "sandbox")
		prod := getFluxWatch(t, releaseNS, "production")
		if prod.Status.Firing != 1 || len(prod.Status.Ledger) != 1 || prod.Status.Ledger[0].Object != "local/Kustomization/apps/podinfo" {
			t.Errorf("production status after the upgrade = %s; want the incident record kept", mustJSON(prod.Status))
		}
		if n := fluxWatchesInRelease(t); n != 2 {
			t.Errorf("after the upgrade the release's manifest holds %d FluxWatches; want both, adopted", n)
		}
	})

	t.Run("upgrade back to this chart with a changed watch and one removed", func(t *testing.T) {
		mustHelm(t, "upgrade", "fluxwatch", chartDir, "-n", releaseNS, "-f", valuesFile(t, watchValues("20m", false)))
		if hasColumn(t, "Healthy") {
			t.Errorf("the CRD kept a printer column the chart no longer has")
		}
		assertSameFluxWatches(t, uids, "production")
		prod := getFluxWatch(t, releaseNS, "production")
		if prod.Spec.PendingFor == nil || prod.Spec.PendingFor.Duration != 20*time.Minute {
			t.Errorf("production pendingFor = %v; want 20m from the upgrade's values", prod.Spec.PendingFor)
		}
		if prod.Status.Firing != 1 || len(prod.Status.Ledger) != 1 {
			t.Errorf("production status = %s; want the incident record kept", mustJSON(prod.Status))
		}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: sandboxNS, Name: "sandbox"}, &fluxwatchv1.FluxWatch{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("the FluxWatch removed from the values still exists: %v", err)
		}
	})

	t.Run("uninstall keeps the CRD; a new install adopts what is there", func(t *testing.T) {
		mustHelm(t, "uninstall", "fluxwatch", "-n", releaseNS)
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: crdName}, crd); err != nil || crd.DeletionTimestamp != nil {
			t.Fatalf("helm uninstall deleted the CRD (err %v): every FluxWatch would go with it", err)
		}
		// The CRD is there now: the FluxWatches are ordinary resources of
		// the install, in its manifest.
		mustHelm(t, "install", "fluxwatch", chartDir, "-n", releaseNS, "-f", v1)
		if n := fluxWatchesInRelease(t); n != 2 {
			t.Errorf("an install where the CRD exists has %d FluxWatches in its manifest; want 2", n)
		}
		mustHelm(t, "uninstall", "fluxwatch", "-n", releaseNS)
	})
}

// fluxWatchesInRelease counts the FluxWatches of the release's manifest
// (hooks are not in it).
func fluxWatchesInRelease(t *testing.T) int {
	t.Helper()
	return len(only(decode(t, mustHelm(t, "get", "manifest", "fluxwatch", "-n", releaseNS)), "FluxWatch"))
}

func getFluxWatch(t *testing.T, ns, name string) *fluxwatchv1.FluxWatch {
	t.Helper()
	fw := &fluxwatchv1.FluxWatch{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, fw); err != nil {
		t.Fatalf("get FluxWatch %s/%s: %v", ns, name, err)
	}
	return fw
}

func fluxWatchUIDs(t *testing.T) map[string]types.UID {
	t.Helper()
	list := &fluxwatchv1.FluxWatchList{}
	if err := k8s.List(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	uids := map[string]types.UID{}
	for _, fw := range list.Items {
		uids[fw.Name] = fw.UID
	}
	return uids
}

// assertSameFluxWatches: the named FluxWatches are the objects of the first
// install, never recreated.
func assertSameFluxWatches(t *testing.T, first map[string]types.UID, names ...string) {
	t.Helper()
	now := fluxWatchUIDs(t)
	for _, n := range names {
		if now[n] == "" || now[n] != first[n] {
			t.Errorf("FluxWatch %s has UID %q, was %q: it was recreated or deleted", n, now[n], first[n])
		}
	}
}

func hasColumn(t *testing.T, name string) bool {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: crdName}, crd); err != nil {
		t.Fatal(err)
	}
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// copyChart copies the chart into a temporary directory and applies the
// edits to the copy.
func copyChart(t *testing.T, edits ...func(t *testing.T, dir string)) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "fluxwatch")
	err := filepath.WalkDir(chartDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chartDir, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(t, dst)
	}
	return dst
}

func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// addPrinterColumn makes the next chart version: its CRD gains a column.
func addPrinterColumn(t *testing.T, dir string) {
	path := filepath.Join(dir, "files", "crds", crdFile)
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(dir, "crds", crdFile)
	}
	editFile(t, path, columnAnchor, healthyColumn+columnAnchor)
	editFile(t, filepath.Join(dir, "Chart.yaml"), "version: 0.1.0", "version: 0.1.1")
}

// plainWatches renders the FluxWatches as ordinary resources always, as a
// chart that ignores the first-install problem would.
func plainWatches(t *testing.T, dir string) {
	path := filepath.Join(dir, "templates", "watches.yaml")
	editFile(t, path, `{{- $served := include "fluxwatch.apiServed" . }}`, `{{- $served := "true" }}`)
	editFile(t, path, `{{- $adopting := and $served (include "fluxwatch.adoptsWatches" .) }}`, `{{- $adopting := "" }}`)
}

// crdsDir moves the CRD into crds/, helm's special directory, with plain
// FluxWatches: the other usual placement.
func crdsDir(t *testing.T, dir string) {
	plainWatches(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "crds"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "files", "crds", crdFile), filepath.Join(dir, "crds", crdFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "templates", "crds.yaml")); err != nil {
		t.Fatal(err)
	}
}
