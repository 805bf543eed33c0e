package multicluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
)

// TestZZRemoteWithoutFluxCRDs (last: it removes a CRD from the staging
// cluster) checks a remote missing a Flux kind is reported, not waited on.
func TestZZRemoteWithoutFluxCRDs(t *testing.T) {
	ctx := context.Background()
	const ns = "degraded"
	namespace(t, local.Client, ns)
	namespace(t, staging.Client, ns)
	kubeconfigSecret(t, ns, "staging", kubeconfigOf(t, staging))
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "kustomizations.kustomize.toolkit.fluxcd.io"}}
	mustDo(t, staging.Client.Delete(ctx, crd))
	mustDo(t, local.Client.Create(ctx, &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: fluxwatchv1.FluxWatchSpec{
		Targets: []fluxwatchv1.Target{{Kind: "Kustomization"}, {Kind: "GitRepository"}},
		Clusters: []fluxwatchv1.Cluster{{Name: "staging",
			KubeConfig: &fluxwatchv1.KubeConfigReference{SecretRef: meta.SecretKeyReference{Name: "staging"}}}},
	}}))
	eventually(t, 30*time.Second, "the missing kind reported", func() bool {
		got := getFW(t, ns, "fleet")
		c, _ := clusterStatus(got, "staging")
		r := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
		return c.Connected && strings.Contains(c.Message, "Kustomization") &&
			r != nil && r.Reason == controller.ReasonCRDNotFound && strings.Contains(r.Message, "Kustomization")
	})
}
