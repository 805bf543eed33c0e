package multicluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
)

// withToken replaces every user's credentials of a kubeconfig by a token.
func withToken(t *testing.T, kubeconfig []byte, token string) []byte {
	t.Helper()
	return editKubeconfig(t, kubeconfig, func(cfg *clientcmdapi.Config) {
		for _, u := range cfg.AuthInfos {
			u.ClientCertificateData, u.ClientKeyData, u.Token = nil, nil, token
		}
	})
}

// TestCredentialRotation rotates the kubeconfig Secret: credentials the
// remote refuses disconnect it at once with a message saying so, and good
// ones connect it again, with no incident announced meanwhile.
func TestCredentialRotation(t *testing.T) {
	ctx := context.Background()
	const ns = "rotation"
	namespace(t, local.Client, ns)
	namespace(t, remote.Client, ns)
	kustomization(t, remote.Client, ns, "podinfo")
	good := remoteKubeconfig(t)
	kubeconfigSecret(t, ns, "prod-eu", good)
	mustDo(t, local.Client.Create(ctx, &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: fluxwatchv1.FluxWatchSpec{
		Targets:    []fluxwatchv1.Target{{Kind: "Kustomization"}},
		PendingFor: &metav1.Duration{Duration: time.Hour},
		Clusters: []fluxwatchv1.Cluster{{Name: "prod-eu",
			KubeConfig: &fluxwatchv1.KubeConfigReference{SecretRef: meta.SecretKeyReference{Name: "prod-eu"}}}},
	}}))
	connected := func(want bool) func() bool {
		return func() bool {
			c, ok := clusterStatus(getFW(t, ns, "fleet"), "prod-eu")
			return ok && c.Connected == want
		}
	}
	eventually(t, 30*time.Second, "prod-eu connected", connected(true))

	rotate := func(kubeconfig []byte) {
		t.Helper()
		secret := &corev1.Secret{}
		mustDo(t, local.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-eu"}, secret))
		secret.Data["value"] = kubeconfig
		mustDo(t, local.Client.Update(ctx, secret))
		// The controller reads the Secret on every reconcile (it may only
		// get Secrets, not watch them); ask for one, as `flux reconcile` does.
		fw := getFW(t, ns, "fleet")
		patch := client.MergeFrom(fw.DeepCopy())
		if fw.Annotations == nil {
			fw.Annotations = map[string]string{}
		}
		fw.Annotations[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
		mustDo(t, local.Client.Patch(ctx, fw, patch))
	}

	rotate(withToken(t, good, "revoked-token"))
	eventually(t, 15*time.Second, "prod-eu disconnected: credentials refused", func() bool {
		c, _ := clusterStatus(getFW(t, ns, "fleet"), "prod-eu")
		return !c.Connected && strings.Contains(c.Message, "refused the kubeconfig's credentials")
	})

	rotate(good)
	eventually(t, 15*time.Second, "prod-eu connected with the rotated credentials", connected(true))
	if got := getFW(t, ns, "fleet"); got.Status.Tracked != 1 || got.Status.Firing+got.Status.Pending != 0 {
		t.Errorf("after rotation: tracked %d, firing %d, pending %d", got.Status.Tracked, got.Status.Firing, got.Status.Pending)
	}
	if n := len(events(t, ns, "fleet", controller.ReasonResourceFailing)); n != 0 {
		t.Errorf("%d ResourceFailing during a rotation", n)
	}
}
