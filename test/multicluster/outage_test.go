package multicluster_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

// kubeconfigVia rewrites a kubeconfig's server to go through addr.
func kubeconfigVia(t *testing.T, kubeconfig []byte, addr string) []byte {
	t.Helper()
	return editKubeconfig(t, kubeconfig, func(cfg *clientcmdapi.Config) {
		for _, c := range cfg.Clusters {
			u, err := url.Parse(c.Server)
			mustDo(t, err)
			u.Host = addr
			c.Server = u.String()
		}
	})
}

// TestClusterOutage cuts a remote off mid-run: it is disconnected at once,
// announced after pendingFor, its objects neither fire nor end, the two
// other clusters keep alerting on time, and its return is announced once.
func TestClusterOutage(t *testing.T) {
	ctx := context.Background()
	const ns, pendingFor = "outage", 2 * time.Second
	namespace(t, local.Client, ns)
	namespace(t, remote.Client, ns)
	namespace(t, staging.Client, ns)
	lw, lk := kustomization(t, local.Client, ns, "local-app")
	sw, sk := kustomization(t, staging.Client, ns, "staging-app")
	kustomization(t, remote.Client, ns, "remote-app")
	kubeconfigSecret(t, ns, "staging", kubeconfigOf(t, staging))
	u, err := url.Parse(remote.Config.Host)
	mustDo(t, err)
	px, err := testenv.NewProxy(u.Host)
	mustDo(t, err)
	t.Cleanup(px.Cut)
	kubeconfigSecret(t, ns, "prod-eu", kubeconfigVia(t, remoteKubeconfig(t), px.Addr()))
	fw := &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: fluxwatchv1.FluxWatchSpec{
		Targets:    []fluxwatchv1.Target{{Kind: "Kustomization"}},
		PendingFor: &metav1.Duration{Duration: pendingFor},
		Clusters: []fluxwatchv1.Cluster{{Name: "local"},
			{Name: "prod-eu", KubeConfig: &fluxwatchv1.KubeConfigReference{SecretRef: meta.SecretKeyReference{Name: "prod-eu"}}},
			{Name: "staging", KubeConfig: &fluxwatchv1.KubeConfigReference{SecretRef: meta.SecretKeyReference{Name: "staging"}}}},
	}}
	mustDo(t, local.Client.Create(ctx, fw))
	eventually(t, 30*time.Second, "both clusters connected", func() bool {
		got := getFW(t, ns, "fleet")
		return got.Status.Tracked == 3 && got.Status.ClusterSummary == "3/3"
	})

	cut := time.Now()
	px.Cut()
	failing := fluxsim.Status{Ready: fluxsim.Ready(metav1.ConditionFalse, meta.HealthCheckFailedReason, fluxsim.HealthCheckFailedMessage)}
	mustDo(t, lw.Write(ctx, lk, failing))
	mustDo(t, sw.Write(ctx, sk, failing))
	eventually(t, 5*time.Second, "prod-eu disconnected at once", func() bool {
		c, _ := clusterStatus(getFW(t, ns, "fleet"), "prod-eu")
		return !c.Connected && c.Message != ""
	})
	got := getFW(t, ns, "fleet")
	if r := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition); r == nil || r.Reason != controller.ReasonClusterUnreachable || !strings.Contains(r.Message, "prod-eu") {
		t.Errorf("Ready during the outage = %+v", r)
	}
	if got.Status.Tracked != 3 {
		t.Errorf("tracked %d during the outage; the remote object keeps its last known state", got.Status.Tracked)
	}
	// The two other clusters still alert on time.
	eventually(t, pendingFor+5*time.Second, "the local and staging failures fire", func() bool {
		return len(events(t, ns, "fleet", controller.ReasonResourceFailing)) == 2
	})
	for time.Now().Before(cut.Add(pendingFor - 200*time.Millisecond)) {
		if len(events(t, ns, "fleet", controller.ReasonClusterUnreachableEvent)) > 0 {
			t.Fatalf("ClusterUnreachable %s after the cut, before pendingFor %s", time.Since(cut), pendingFor)
		}
		time.Sleep(50 * time.Millisecond)
	}
	eventually(t, pendingFor+5*time.Second, "ClusterUnreachable", func() bool {
		return len(events(t, ns, "fleet", controller.ReasonClusterUnreachableEvent)) == 1
	})
	ev := events(t, ns, "fleet", controller.ReasonClusterUnreachableEvent)[0]
	if ev.Type != "Warning" || ev.Annotations[controller.AnnotationCluster] != "prod-eu" {
		t.Errorf("ClusterUnreachable event = %s %v", ev.Type, ev.Annotations)
	}

	mustDo(t, px.Open())
	eventually(t, 10*time.Second, "ClusterReachable", func() bool {
		return len(events(t, ns, "fleet", controller.ReasonClusterReachable)) == 1
	})
	eventually(t, 5*time.Second, "prod-eu connected again", func() bool {
		c, _ := clusterStatus(getFW(t, ns, "fleet"), "prod-eu")
		return c.Connected
	})
	time.Sleep(pendingFor)
	for reason, want := range map[string]int{controller.ReasonResourceFailing: 2, controller.ReasonClusterUnreachableEvent: 1, controller.ReasonClusterReachable: 1} {
		if n := len(events(t, ns, "fleet", reason)); n != want {
			t.Errorf("%d %s events; want %d", n, reason, want)
		}
	}
	for _, e := range events(t, ns, "fleet", controller.ReasonResourceFailing) {
		if name := e.Annotations[controller.AnnotationName]; name != "local-app" && name != "staging-app" {
			t.Errorf("ResourceFailing for %s; the unreachable cluster's object must not fire", name)
		}
	}
}
