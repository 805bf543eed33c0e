// The registry tests run against two real control planes: "local" holds the
// kubeconfig Secrets, "remote" is the cluster they point at. They live in an
// external test package because testenv imports the controller, which will
// import this package.
package clusters_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxwatch/fluxwatch/internal/clusters"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

var local, remote *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var wg sync.WaitGroup
	var errLocal, errRemote error
	wg.Go(func() { local, errLocal = testenv.Start() })
	wg.Go(func() { remote, errRemote = testenv.Start() })
	wg.Wait()
	defer func() {
		for _, e := range []*testenv.Env{local, remote} {
			if e != nil {
				if err := e.Stop(); err != nil {
					fmt.Fprintln(os.Stderr, err)
				}
			}
		}
	}()
	if err := errors.Join(errLocal, errRemote); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

const probeInterval = 200 * time.Millisecond

// changes records the refs OnChange was called with.
type changes struct {
	mu   sync.Mutex
	refs []clusters.SecretRef
}

func (c *changes) add(ref clusters.SecretRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs = append(c.refs, ref)
}

func (c *changes) count(ref clusters.SecretRef) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.refs {
		if r == ref {
			n++
		}
	}
	return n
}

func newRegistry(t *testing.T, policy clusters.KubeconfigPolicy) (*clusters.Registry, *changes) {
	t.Helper()
	ch := &changes{}
	r := clusters.NewRegistry(local.Client, local.Scheme, policy, clusters.RegistryOptions{
		ProbeInterval: probeInterval,
		ProbeTimeout:  time.Second,
		Timeout:       20 * time.Second,
		OnChange:      ch.add,
	})
	t.Cleanup(r.Close)
	return r, ch
}

// hostPort returns the host:port of a rest.Config's server.
func hostPort(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	h := cfg.Host
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// inlineKubeconfig renders a kubeconfig for cfg's credentials with every
// certificate inline, pointed at server (host:port), with extra appended
// (a comment, to change the content without changing its meaning).
func inlineKubeconfig(t *testing.T, cfg *rest.Config, server, token string) []byte {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["remote"] = &clientcmdapi.Cluster{Server: "https://" + server, CertificateAuthorityData: cfg.CAData}
	user := &clientcmdapi.AuthInfo{Token: token}
	if token == "" {
		user = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	}
	kc.AuthInfos["admin"] = user
	kc.Contexts["remote"] = &clientcmdapi.Context{Cluster: "remote", AuthInfo: "admin"}
	kc.CurrentContext = "remote"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// remoteKubeconfig returns testenv's own kubeconfig for the remote when the
// default policy accepts it (inline data only), else an inline one.
func remoteKubeconfig(t *testing.T) []byte {
	t.Helper()
	file, err := remote.KubeconfigFile()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clusters.RESTConfig(data, clusters.KubeconfigPolicy{}); err == nil {
		return data
	}
	t.Logf("testenv's kubeconfig is refused by the default policy; using an inline one")
	return inlineKubeconfig(t, remote.Config, hostPort(t, remote.Config), "")
}

// secret writes (creates or updates) a Secret in the local cluster.
func secret(t *testing.T, name string, data map[string][]byte) clusters.SecretRef {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Data: data}
	err := local.Client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		err = local.Client.Update(ctx, s)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Client.Delete(context.Background(), s) })
	return clusters.SecretRef{Namespace: "default", Name: name}
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stopped(m *clusters.Remote) bool {
	select {
	case <-m.Done():
		return true
	default:
		return false
	}
}

var (
	ownerA = types.NamespacedName{Namespace: "default", Name: "watch-a"}
	ownerB = types.NamespacedName{Namespace: "default", Name: "watch-b"}
)

func acquire(t *testing.T, r *clusters.Registry, owner types.NamespacedName, ref clusters.SecretRef) *clusters.Remote {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := r.Acquire(ctx, owner, ref)
	if err != nil {
		t.Fatalf("Acquire(%s, %s): %v", owner, ref, err)
	}
	return m
}

func TestAcquireReadsTheRemote(t *testing.T) {
	ctx := context.Background()
	k := fluxsim.Kustomization("default", "podinfo", "podinfo", time.Minute)
	if err := remote.Client.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = remote.Client.Delete(context.Background(), k) })

	r, _ := newRegistry(t, clusters.KubeconfigPolicy{})
	// No key named: "value" is missing, "value.yaml" is used.
	ref := secret(t, "remote-kubeconfig", map[string][]byte{"value.yaml": remoteKubeconfig(t)})
	m := acquire(t, r, ownerA, ref)

	h := m.Health()
	if !h.Connected || h.Err != nil || !h.FluxCRDs || h.Since.IsZero() || h.ServerVersion == "" {
		t.Fatalf("health after Acquire = %+v, want connected with the Flux CRDs", h)
	}
	if len(h.Kinds) != len(fluxstatus.Kinds()) || len(h.MissingKinds) != 0 {
		t.Fatalf("served kinds = %v, missing %v; want all %d", h.Kinds, h.MissingKinds, len(fluxstatus.Kinds()))
	}

	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var list kustomizev1.KustomizationList
	if err := m.Client().List(lctx, &list, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "podinfo" {
		t.Fatalf("remote Kustomizations = %v, want podinfo", list.Items)
	}
	if list.Items[0].ManagedFields != nil {
		t.Errorf("the remote cache keeps managedFields: the Strip transform is not applied")
	}
	// The cache is the one Client reads: a new object shows up there.
	k2 := fluxsim.Kustomization("default", "podinfo-2", "podinfo", time.Minute)
	if err := remote.Client.Create(ctx, k2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = remote.Client.Delete(context.Background(), k2) })
	eventually(t, 5*time.Second, "the remote cache sees a new Kustomization", func() bool {
		var got kustomizev1.Kustomization
		return m.Cache().Get(lctx, client.ObjectKeyFromObject(k2), &got) == nil
	})
}

func TestOwnersShareOneRemote(t *testing.T) {
	r, _ := newRegistry(t, clusters.KubeconfigPolicy{})
	data := remoteKubeconfig(t)
	ref := secret(t, "shared", map[string][]byte{"value": data})
	twin := secret(t, "shared-twin", map[string][]byte{"config": data})
	twin.Key = "config"

	a := acquire(t, r, ownerA, ref)
	b := acquire(t, r, ownerB, ref)
	if a != b {
		t.Fatal("two owners of the same Secret got two remotes")
	}
	if again := acquire(t, r, ownerA, ref); again != a {
		t.Fatal("acquiring twice gave another remote")
	}
	if c := acquire(t, r, ownerB, twin); c != a {
		t.Fatal("another Secret with the same content got another remote")
	}

	r.Release(ownerA) // A's only use
	r.Release(ownerB, twin)
	time.Sleep(300 * time.Millisecond)
	if stopped(a) {
		t.Fatal("stopped while owner B still uses it through the twin Secret")
	}
	r.Release(ownerB, ref) // keeps nothing B uses
	eventually(t, 10*time.Second, "the remote stops once no owner uses it", func() bool { return stopped(a) })

	// A stopped remote is not handed out again.
	if m := acquire(t, r, ownerA, ref); m == a || stopped(m) || !m.Health().Connected {
		t.Fatal("Acquire after the last Release did not start a new remote")
	}
}

func TestRotationBuildsANewRemote(t *testing.T) {
	r, ch := newRegistry(t, clusters.KubeconfigPolicy{})
	data := remoteKubeconfig(t)
	ref := secret(t, "rotated", map[string][]byte{"value": data})
	old := acquire(t, r, ownerA, ref)
	if acquire(t, r, ownerB, ref) != old {
		t.Fatal("not shared")
	}

	rotated := append(append([]byte(nil), data...), []byte("\n# rotated\n")...)
	secret(t, "rotated", map[string][]byte{"value": rotated})
	fresh := acquire(t, r, ownerA, ref)
	if fresh == old {
		t.Fatal("the Secret's content changed but Acquire returned the old remote")
	}
	if !fresh.Health().Connected {
		t.Fatalf("new remote not connected: %+v", fresh.Health())
	}
	if ch.count(ref) == 0 {
		t.Error("OnChange was not called on rotation: owner B would not move to the new remote")
	}
	time.Sleep(300 * time.Millisecond)
	if stopped(old) {
		t.Fatal("the old remote stopped while owner B still uses it")
	}
	if acquire(t, r, ownerB, ref) != fresh {
		t.Fatal("owner B did not move to the new remote")
	}
	eventually(t, 10*time.Second, "the old remote stops once no owner uses it", func() bool { return stopped(old) })
	if stopped(fresh) {
		t.Fatal("the new remote stopped")
	}
}

func TestAcquireErrors(t *testing.T) {
	r, _ := newRegistry(t, clusters.KubeconfigPolicy{})
	data := remoteKubeconfig(t)
	exec := []byte(`apiVersion: v1
kind: Config
current-context: remote
contexts:
- name: remote
  context: {cluster: remote, user: exec}
clusters:
- name: remote
  cluster: {server: "https://` + hostPort(t, remote.Config) + `"}
users:
- name: exec
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/steal-the-pod}
`)
	otherKey := secret(t, "other-key", map[string][]byte{"kubeconfig": data})
	withKey := otherKey
	withKey.Key = "value"
	cases := []struct {
		name     string
		ref      clusters.SecretRef
		want     error
		contains []string
	}{
		{"missing Secret", clusters.SecretRef{Namespace: "default", Name: "nope"}, clusters.ErrSecretNotFound, []string{"default/nope", "not found"}},
		{"no default key", otherKey, clusters.ErrKeyNotFound, []string{`"value" or "value.yaml"`, `it has: "kubeconfig"`, "default/other-key"}},
		{"named key missing", withKey, clusters.ErrKeyNotFound, []string{`no key "value" (`}},
		{"exec plugin", secret(t, "exec", map[string][]byte{"value": exec}), clusters.ErrUnsafeKubeconfig, []string{"exec plugin", "/bin/steal-the-pod", "--insecure-kubeconfig-exec"}},
		{"garbage", secret(t, "garbage", map[string][]byte{"value": []byte("{not yaml")}), clusters.ErrInvalidKubeconfig, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, err := r.Acquire(ctx, ownerA, tc.ref)
			if !errors.Is(err, tc.want) || m != nil {
				t.Fatalf("Acquire = %v, %v; want %v", m, err, tc.want)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestRefusedCredentialsDisconnect(t *testing.T) {
	r, _ := newRegistry(t, clusters.KubeconfigPolicy{})
	bad := inlineKubeconfig(t, remote.Config, hostPort(t, remote.Config), "not-a-valid-token")
	ref := secret(t, "bad-token", map[string][]byte{"value": bad})
	m := acquire(t, r, ownerA, ref)
	h := m.Health()
	if h.Connected || !errors.Is(h.Err, clusters.ErrCredentialsRefused) {
		t.Fatalf("health = %+v, want disconnected with ErrCredentialsRefused", h)
	}
	if !strings.Contains(h.Err.Error(), "refused the kubeconfig's credentials") {
		t.Errorf("message %q does not say the credentials were refused", h.Err)
	}
}

func newProxy(t *testing.T, target string) *testenv.Proxy {
	t.Helper()
	p, err := testenv.NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Cut)
	return p
}

func TestUnreachableRemoteDisconnectsAndComesBack(t *testing.T) {
	r, ch := newRegistry(t, clusters.KubeconfigPolicy{})
	p := newProxy(t, hostPort(t, remote.Config))
	viaProxy := secret(t, "via-proxy", map[string][]byte{"value": inlineKubeconfig(t, remote.Config, p.Addr(), "")})
	direct := secret(t, "direct", map[string][]byte{"value": remoteKubeconfig(t)})
	m := acquire(t, r, ownerA, viaProxy)
	other := acquire(t, r, ownerB, direct)
	if !m.Health().Connected {
		t.Fatalf("not connected through the proxy: %+v", m.Health())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var list kustomizev1.KustomizationList
	if err := m.Client().List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	before := ch.count(viaProxy)

	p.Cut()
	cutAt := time.Now()
	eventually(t, 3*time.Second, "Connected goes false after the proxy is cut", func() bool { return !m.Health().Connected })
	t.Logf("disconnected %s after the cut", time.Since(cutAt).Round(time.Millisecond))
	h := m.Health()
	if !errors.Is(h.Err, clusters.ErrUnreachable) || !h.FluxCRDs {
		t.Errorf("health while cut = %+v, want ErrUnreachable and the last known kinds", h)
	}
	if ch.count(viaProxy) == before {
		t.Error("OnChange not called when the remote went away")
	}
	// The other remote is unaffected, and a new Acquire is not held up.
	start := time.Now()
	if acquire(t, r, ownerB, direct) != other || !other.Health().Connected {
		t.Error("the other remote suffered from the unreachable one")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Acquire of another remote took %s while one is unreachable", d)
	}
	// Reads from the cache still answer, with the last known state.
	if err := m.Client().List(ctx, &list); err != nil {
		t.Errorf("cached read while unreachable: %v", err)
	}

	if err := p.Open(); err != nil {
		t.Fatalf("reopen the proxy on %s: %v", p.Addr(), err)
	}
	eventually(t, 5*time.Second, "Connected goes true once the proxy is back", func() bool { return m.Health().Connected })
	if h := m.Health(); h.Err != nil || h.Since.Before(cutAt) {
		t.Errorf("health after restore = %+v", h)
	}

	// A network that stops answering is caught by the probe timeout (1s).
	p.Stall()
	stallAt := time.Now()
	eventually(t, 3*time.Second, "Connected goes false when the remote stops answering", func() bool { return !m.Health().Connected })
	t.Logf("disconnected %s after the stall", time.Since(stallAt).Round(time.Millisecond))
	if h := m.Health(); !errors.Is(h.Err, clusters.ErrUnreachable) {
		t.Errorf("health while stalled = %+v, want ErrUnreachable", h)
	}
	if !other.Health().Connected {
		t.Error("the other remote suffered from the stalled one")
	}
	p.Resume()
	eventually(t, 5*time.Second, "Connected goes true once the remote answers again", func() bool { return m.Health().Connected })
}

// TestZZRemoteWithoutFluxCRDs runs last (its name sorts last and it is the
// last in the file): it deletes the Flux CRDs on the remote.
func TestZZRemoteWithoutFluxCRDs(t *testing.T) {
	r, _ := newRegistry(t, clusters.KubeconfigPolicy{})
	ref := secret(t, "degraded", map[string][]byte{"value": remoteKubeconfig(t)})
	m := acquire(t, r, ownerA, ref)
	if !m.Health().FluxCRDs {
		t.Fatalf("health = %+v", m.Health())
	}
	ctx := context.Background()
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := remote.Client.List(ctx, &crds); err != nil {
		t.Fatal(err)
	}
	var bucket *apiextensionsv1.CustomResourceDefinition
	var flux []*apiextensionsv1.CustomResourceDefinition
	for i := range crds.Items {
		c := &crds.Items[i]
		if strings.HasSuffix(c.Spec.Group, ".toolkit.fluxcd.io") {
			flux = append(flux, c)
			if c.Spec.Names.Kind == "Bucket" {
				bucket = c
			}
		}
	}
	if bucket == nil {
		t.Fatal("no Bucket CRD on the remote")
	}
	if err := remote.Client.Delete(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Bucket reported missing", func() bool {
		h := m.Health()
		return h.Connected && h.FluxCRDs && slices.Contains(h.MissingKinds, "Bucket") && !h.Served("Bucket")
	})

	for _, c := range flux {
		if c != bucket {
			if err := remote.Client.Delete(ctx, c); err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
		}
	}
	eventually(t, 15*time.Second, "degraded: connected without the Flux CRDs", func() bool {
		h := m.Health()
		return h.Connected && !h.FluxCRDs && len(h.Kinds) == 0
	})
	// A read of a kind the remote does not serve fails at once instead of
	// waiting for an informer that would never sync.
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	err := m.Client().List(lctx, &helmv2.HelmReleaseList{})
	if err == nil || errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Errorf("List of a kind the remote does not serve = %v after %s; want a prompt error", err, time.Since(start))
	}
}
