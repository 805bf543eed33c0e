package testenv_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	fluxwatchv1alpha1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// The control plane built by hack/controlplane.sh must report its real
// version: helm's kubeVersion checks and the like read it from discovery.
func TestServerVersion(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.GitVersion, "v1.36.") {
		t.Errorf("server gitVersion = %q, want v1.36.x", v.GitVersion)
	}
	if v.Major != "1" || v.Minor != "36" {
		t.Errorf("server version major.minor = %s.%s, want 1.36", v.Major, v.Minor)
	}
}

// Listing each kind proves its CRD, the generated FluxWatch one included,
// was accepted and is served at the version the code reads.
func TestCRDsServed(t *testing.T) {
	ctx := context.Background()
	for _, list := range []client.ObjectList{
		&fluxwatchv1alpha1.FluxWatchList{},
		&kustomizev1.KustomizationList{},
		&helmv2.HelmReleaseList{},
		&sourcev1.GitRepositoryList{},
		&sourcev1.OCIRepositoryList{},
		&sourcev1.HelmRepositoryList{},
		&sourcev1.HelmChartList{},
		&sourcev1.BucketList{},
		&sourcev1.ExternalArtifactList{},
	} {
		if err := env.Client.List(ctx, list); err != nil {
			t.Errorf("list %T: %v", list, err)
		}
	}
}

func TestPatchStatus(t *testing.T) {
	ctx := context.Background()
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: "default"},
		Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: 10 * time.Minute},
			Path:     "./apps",
			Prune:    true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{
				Kind: "GitRepository",
				Name: "flux-system",
			},
		},
	}
	if err := env.Client.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ks) })

	err := env.PatchStatus(ctx, ks, "kustomize-controller", func() {
		apimeta.SetStatusCondition(&ks.Status.Conditions, metav1.Condition{
			Type:               meta.ReadyCondition,
			Status:             metav1.ConditionFalse,
			Reason:             meta.ReconciliationFailedReason,
			Message:            "kustomize build failed",
			ObservedGeneration: ks.Generation,
		})
		ks.Status.ObservedGeneration = ks.Generation
	})
	if err != nil {
		t.Fatal(err)
	}

	var got kustomizev1.Kustomization
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ks), &got); err != nil {
		t.Fatal(err)
	}
	ready := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
	if ready == nil {
		t.Fatalf("no Ready condition in %+v", got.Status.Conditions)
	}
	if ready.Status != metav1.ConditionFalse || ready.Reason != meta.ReconciliationFailedReason || ready.Message != "kustomize build failed" {
		t.Errorf("Ready = %s/%s %q, want False/%s %q", ready.Status, ready.Reason, ready.Message, meta.ReconciliationFailedReason, "kustomize build failed")
	}
	var owned bool
	for _, mf := range got.ManagedFields {
		if mf.Manager == "kustomize-controller" && mf.Subresource == "status" {
			owned = true
		}
	}
	if !owned {
		t.Errorf("status is not managed by kustomize-controller: %+v", got.ManagedFields)
	}
}

func TestKubeconfigFile(t *testing.T) {
	path, err := env.KubeconfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.ServerVersion(); err != nil {
		t.Errorf("server version through %s: %v", path, err)
	}
}
