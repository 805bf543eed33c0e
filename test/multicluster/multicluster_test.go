// Package multicluster tests FluxWatch reading remote clusters through
// kubeconfig Secrets: three local control planes in one process, "local"
// (where the controller and the FluxWatches live), "prod-eu" and "staging".
package multicluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

var local, remote, staging *testenv.Env

func TestMain(m *testing.M) {
	log.SetLogger(logr.Discard())
	var err error
	if local, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if remote, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = local.Stop()
		os.Exit(1)
	}
	if staging, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = remote.Stop()
		_ = local.Stop()
		os.Exit(1)
	}
	mgr, err := controller.NewManager(context.Background(), local.Config, controller.ManagerOptions{
		MetricsBindAddress: "0", HealthProbeBindAddress: "0", SkipNameValidation: true, RemoteProbeInterval: 300 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stop := testenv.Run(context.Background(), mgr)
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	_ = staging.Stop()
	_ = remote.Stop()
	_ = local.Stop()
	os.Exit(code)
}

const rev = "main@sha1:06a5a13d7f9e2b1c4a8e5f3d2c1b0a9e8d7c6b5a"

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func namespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	mustDo(t, client.IgnoreAlreadyExists(c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})))
}

// kustomization creates a healthy Kustomization on a cluster.
func kustomization(t *testing.T, c client.Client, ns, name string) (*fluxsim.Writer, client.Object) {
	t.Helper()
	w := &fluxsim.Writer{Client: c}
	k := fluxsim.Kustomization(ns, name, "fleet", time.Minute)
	mustDo(t, w.Create(context.Background(), k))
	mustDo(t, w.Write(context.Background(), k, fluxsim.Status{Revision: rev, AttemptedRevision: rev, ObservedGeneration: fluxsim.CurrentGeneration(),
		Ready: fluxsim.Ready(metav1.ConditionTrue, meta.ReconciliationSucceededReason, "Applied revision: "+rev)}))
	return w, k
}

func kubeconfigSecret(t *testing.T, ns, name string, data []byte) {
	t.Helper()
	mustDo(t, local.Client.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"value": data}}))
}

func remoteKubeconfig(t *testing.T) []byte {
	t.Helper()
	return kubeconfigOf(t, remote)
}

func kubeconfigOf(t *testing.T, env *testenv.Env) []byte {
	t.Helper()
	file, err := env.KubeconfigFile()
	mustDo(t, err)
	data, err := os.ReadFile(file)
	mustDo(t, err)
	return data
}

// editKubeconfig returns kubeconfig changed by edit.
func editKubeconfig(t *testing.T, kubeconfig []byte, edit func(*clientcmdapi.Config)) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	mustDo(t, err)
	edit(cfg)
	out, err := clientcmd.Write(*cfg)
	mustDo(t, err)
	return out
}

func getFW(t *testing.T, ns, name string) *fluxwatchv1.FluxWatch {
	t.Helper()
	fw := &fluxwatchv1.FluxWatch{}
	mustDo(t, local.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, fw))
	return fw
}

func events(t *testing.T, ns, fw, reason string) []corev1.Event {
	t.Helper()
	list := &corev1.EventList{}
	mustDo(t, local.Client.List(context.Background(), list, client.InNamespace(ns)))
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Name == fw && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func clusterStatus(fw *fluxwatchv1.FluxWatch, name string) (fluxwatchv1.ClusterStatus, bool) {
	for _, c := range fw.Status.Clusters {
		if c.Name == name {
			return c, true
		}
	}
	return fluxwatchv1.ClusterStatus{}, false
}

// TestRemoteFailureNamesItsCluster: the same Kustomization on two clusters,
// failing on the remote one only, gives one ResourceFailing naming that
// cluster, then one ResourceRecovered.
func TestRemoteFailureNamesItsCluster(t *testing.T) {
	ctx := context.Background()
	const ns = "apps"
	namespace(t, local.Client, ns)
	namespace(t, remote.Client, ns)
	kustomization(t, local.Client, ns, "podinfo")
	rw, rk := kustomization(t, remote.Client, ns, "podinfo")
	kubeconfigSecret(t, ns, "prod-eu-kubeconfig", remoteKubeconfig(t))
	fw := &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: fluxwatchv1.FluxWatchSpec{
		Targets:    []fluxwatchv1.Target{{Kind: "Kustomization"}},
		PendingFor: &metav1.Duration{Duration: time.Second},
		Clusters: []fluxwatchv1.Cluster{
			{Name: "local"},
			{Name: "prod-eu", KubeConfig: &fluxwatchv1.KubeConfigReference{SecretRef: meta.SecretKeyReference{Name: "prod-eu-kubeconfig"}}},
		},
	}}
	mustDo(t, local.Client.Create(ctx, fw))

	eventually(t, 30*time.Second, "both clusters connected, one object on each", func() bool {
		got := getFW(t, ns, "fleet")
		l, _ := clusterStatus(got, "local")
		p, _ := clusterStatus(got, "prod-eu")
		return got.Status.Tracked == 2 && l.Connected && l.Tracked == 1 && p.Connected && p.Tracked == 1 && got.Status.ClusterSummary == "2/2"
	})
	if r := apimeta.FindStatusCondition(getFW(t, ns, "fleet").Status.Conditions, meta.ReadyCondition); r == nil || r.Status != metav1.ConditionTrue {
		t.Fatalf("Ready = %+v", r)
	}

	mustDo(t, rw.Write(ctx, rk, fluxsim.Status{Ready: fluxsim.Ready(metav1.ConditionFalse, meta.HealthCheckFailedReason, fluxsim.HealthCheckFailedMessage)}))
	eventually(t, 15*time.Second, "ResourceFailing", func() bool { return len(events(t, ns, "fleet", controller.ReasonResourceFailing)) > 0 })
	time.Sleep(2 * time.Second)
	evs := events(t, ns, "fleet", controller.ReasonResourceFailing)
	if len(evs) != 1 || evs[0].Annotations[controller.AnnotationCluster] != "prod-eu" || !strings.Contains(evs[0].Message, "on cluster prod-eu") {
		t.Fatalf("ResourceFailing events = %d (%v); want one naming cluster prod-eu", len(evs), evs)
	}
	got := getFW(t, ns, "fleet")
	if len(got.Status.Incidents) != 1 || got.Status.Incidents[0].Cluster != "prod-eu" {
		t.Errorf("incidents = %+v", got.Status.Incidents)
	}

	mustDo(t, rw.Write(ctx, rk, fluxsim.Status{Ready: fluxsim.Ready(metav1.ConditionTrue, meta.ReconciliationSucceededReason, "Applied revision: "+rev)}))
	eventually(t, 15*time.Second, "ResourceRecovered", func() bool { return len(events(t, ns, "fleet", controller.ReasonResourceRecovered)) == 1 })
}

// TestKubeconfigProblemsAreReported: a missing Secret, a missing key and a
// refused kubeconfig each give Ready=False with a reason and a message
// naming the cluster, while the local cluster is still watched.
func TestKubeconfigProblemsAreReported(t *testing.T) {
	ctx := context.Background()
	const ns = "tenants"
	namespace(t, local.Client, ns)
	kustomization(t, local.Client, ns, "app")
	execKubeconfig := []byte(`apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Never}}}]
`)
	kubeconfigSecret(t, ns, "exec-kubeconfig", execKubeconfig)
	kubeconfigSecret(t, ns, "file-kubeconfig", []byte(strings.ReplaceAll(string(execKubeconfig),
		"{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Never}}", "{tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}")))
	kubeconfigSecret(t, ns, "insecure-kubeconfig", []byte(strings.ReplaceAll(strings.ReplaceAll(string(execKubeconfig),
		`{server: "https://127.0.0.1:1"}`, `{server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}`),
		"{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Never}}", "{token: abc}")))
	cases := []struct {
		name, secret, key, reason, message string
	}{
		{"missing-secret", "nope", "", controller.ReasonKubeconfigNotFound, "nope"},
		{"missing-key", "exec-kubeconfig", "other", controller.ReasonKubeconfigNotFound, "other"},
		{"exec-plugin", "exec-kubeconfig", "", controller.ReasonKubeconfigRefused, "--insecure-kubeconfig-exec"},
		{"file-path", "file-kubeconfig", "", controller.ReasonKubeconfigRefused, "tokenFile"},
		{"insecure-tls", "insecure-kubeconfig", "", controller.ReasonKubeconfigRefused, "--insecure-kubeconfig-tls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fw := &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tc.name}, Spec: fluxwatchv1.FluxWatchSpec{
				Targets: []fluxwatchv1.Target{{Kind: "Kustomization"}},
				Clusters: []fluxwatchv1.Cluster{
					{Name: "local"},
					{Name: "remote", KubeConfig: &fluxwatchv1.KubeConfigReference{SecretRef: meta.SecretKeyReference{Name: tc.secret, Key: tc.key}}},
				},
			}}
			mustDo(t, local.Client.Create(ctx, fw))
			eventually(t, 30*time.Second, "Ready=False "+tc.reason, func() bool {
				r := apimeta.FindStatusCondition(getFW(t, ns, tc.name).Status.Conditions, meta.ReadyCondition)
				return r != nil && r.Status == metav1.ConditionFalse && r.Reason == tc.reason &&
					strings.Contains(r.Message, "cluster remote") && strings.Contains(r.Message, tc.message)
			})
			got := getFW(t, ns, tc.name)
			c, _ := clusterStatus(got, "remote")
			if c.Connected || c.Message == "" || got.Status.Tracked != 1 || got.Status.ClusterSummary != "1/2" {
				t.Errorf("status: remote %+v, tracked %d, clusters %s; want the remote disconnected with a message, the local object tracked", c, got.Status.Tracked, got.Status.ClusterSummary)
			}
		})
	}
}

// TestClusterNameRules: "local" takes no kubeConfig, others need one.
func TestClusterNameRules(t *testing.T) {
	ns := "rules"
	namespace(t, local.Client, ns)
	for name, c := range map[string]fluxwatchv1.Cluster{
		"local with kubeconfig": {Name: "local", KubeConfig: &fluxwatchv1.KubeConfigReference{SecretRef: meta.SecretKeyReference{Name: "x"}}},
		"remote without":        {Name: "prod"},
	} {
		fw := &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"}, Spec: fluxwatchv1.FluxWatchSpec{
			Targets: []fluxwatchv1.Target{{Kind: "Kustomization"}}, Clusters: []fluxwatchv1.Cluster{c}}}
		err := local.Client.Create(context.Background(), fw)
		want := "the cluster named local is the controller's own and takes no kubeConfig; every other cluster needs kubeConfig.secretRef"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v; want %q", name, err, want)
		}
	}
}

// TestSecretRefHasNoNamespace: a kubeconfig Secret can only be in the
// FluxWatch's own namespace; the API has no field to name another, and the
// API server refuses one with strict field validation (kubectl's default).
func TestSecretRefHasNoNamespace(t *testing.T) {
	namespace(t, local.Client, "tenant-a")
	body := `{"apiVersion":"fluxwatch.dev/v1alpha1","kind":"FluxWatch","metadata":{"name":"steal"},"spec":{"targets":[{"kind":"Kustomization"}],` +
		`"clusters":[{"name":"prod","kubeConfig":{"secretRef":{"name":"admin-kubeconfig","namespace":"flux-system"}}}]}}`
	cs, err := kubernetes.NewForConfig(local.Config)
	mustDo(t, err)
	res := cs.RESTClient().Post().AbsPath("/apis/fluxwatch.dev/v1alpha1/namespaces/tenant-a/fluxwatches").
		Param("fieldValidation", "Strict").SetHeader("Content-Type", "application/json").Body([]byte(body)).Do(context.Background())
	raw, _ := res.Raw()
	if res.Error() == nil || !strings.Contains(string(raw), `unknown field \"spec.clusters[0].kubeConfig.secretRef.namespace\"`) {
		t.Fatalf("response = %s; want the namespace field refused", raw)
	}
}
