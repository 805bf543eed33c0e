package clusters

// This file owns the lifecycle of remote clusters (issue 4, section 2): one
// cache per distinct kubeconfig, shared by every FluxWatch naming a Secret
// with that content, started on first use, stopped when its last owner lets
// go, rebuilt when the Secret's content changes, and probed periodically so
// that a caller can say whether the cluster is reachable and serves Flux.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
)

var (
	// ErrSecretNotFound is wrapped when the kubeconfig Secret does not exist.
	ErrSecretNotFound = errors.New("kubeconfig Secret not found")
	// ErrKeyNotFound is wrapped when the Secret holds none of the keys tried;
	// the message lists them.
	ErrKeyNotFound = errors.New("kubeconfig key not found in Secret")
	// ErrCredentialsRefused is wrapped in Health.Err when the remote API
	// server answers 401 or 403: the credentials were refused (typically
	// after a rotation), not a network failure.
	ErrCredentialsRefused = errors.New("credentials refused")
	// ErrUnreachable is wrapped in Health.Err when the remote API server
	// cannot be reached or answers with an error other than 401/403.
	ErrUnreachable = errors.New("cluster unreachable")
	// ErrRegistryClosed is returned by Acquire after Close.
	ErrRegistryClosed = errors.New("cluster registry closed")
)

// DefaultSecretKeys are the keys tried, in order, when a SecretRef names no
// key, as Flux does.
var DefaultSecretKeys = []string{"value", "value.yaml"}

// SecretRef names the Secret key holding a remote cluster's kubeconfig.
type SecretRef struct {
	Namespace, Name string
	// Key is the data key; "" means "value", then "value.yaml".
	Key string
}

func (s SecretRef) String() string {
	if s.Key == "" {
		return s.Namespace + "/" + s.Name
	}
	return s.Namespace + "/" + s.Name + "[" + s.Key + "]"
}

// RegistryOptions tune a Registry; zero values take the defaults.
type RegistryOptions struct {
	// ProbeInterval is the time between two health probes of a remote
	// (default 10s).
	ProbeInterval time.Duration
	// ProbeTimeout bounds one health probe (default 5s).
	ProbeTimeout time.Duration
	// Timeout bounds every Acquire, on top of its context's own deadline
	// (default 30s).
	Timeout time.Duration
	// OnChange, if set, is called, without any lock held, with every
	// SecretRef a remote serves when that remote's health changes, when it
	// is replaced by a rotation or when it is stopped, so that the
	// FluxWatches naming it can be requeued. It must not block for long.
	OnChange func(SecretRef)
}

// Health is the outcome of a remote's last probe.
type Health struct {
	// Connected is true when the last probe reached the API server.
	Connected bool
	// Since is when Connected last changed (or the first probe).
	Since time.Time
	// Err says why the remote is not connected: it wraps
	// ErrCredentialsRefused (401/403) or ErrUnreachable. Nil when connected.
	Err error
	// FluxCRDs is false when the remote serves none of the Flux kinds
	// FluxWatch reads: it is degraded (connected, with nothing to watch).
	FluxCRDs bool
	// Kinds lists the Flux kinds the remote serves (fluxstatus kind names,
	// sorted), known from the last successful probe. Informers must only be
	// started for these.
	Kinds []string
	// MissingKinds lists the Flux kinds the remote does not serve.
	MissingKinds []string
	// ServerVersion is the remote's version (e.g. "v1.36.3").
	ServerVersion string
}

// Served reports whether the remote served kind at the last probe.
func (h Health) Served(kind string) bool {
	return slices.Contains(h.Kinds, kind)
}

func (h Health) equal(o Health) bool {
	return h.Connected == o.Connected && h.FluxCRDs == o.FluxCRDs &&
		errString(h.Err) == errString(o.Err) &&
		slices.Equal(h.Kinds, o.Kinds) && h.ServerVersion == o.ServerVersion
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// use is one owner's use of a remote through one SecretRef.
type use struct {
	owner types.NamespacedName
	ref   SecretRef
}

// Registry owns the remote clusters of every FluxWatch. It is safe for
// concurrent use; no lock is held during a network call, so one unreachable
// remote never blocks the others.
type Registry struct {
	local  client.Reader
	scheme *runtime.Scheme
	policy KubeconfigPolicy
	opts   RegistryOptions

	base   context.Context // parent of every remote's lifetime
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	remotes map[string]*Remote                             // by kubeconfig digest
	owners  map[types.NamespacedName]map[SecretRef]*Remote // what each owner uses
}

// NewRegistry returns a Registry reading kubeconfig Secrets through local
// (uncached gets: RBAC get on Secrets only) and building remote caches with
// scheme. policy decides which kubeconfigs are accepted (see RESTConfig).
func NewRegistry(local client.Reader, scheme *runtime.Scheme, policy KubeconfigPolicy, opts RegistryOptions) *Registry {
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 10 * time.Second
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 5 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	base, cancel := context.WithCancel(context.Background())
	return &Registry{
		local: local, scheme: scheme, policy: policy, opts: opts,
		base: base, cancel: cancel,
		remotes: map[string]*Remote{},
		owners:  map[types.NamespacedName]map[SecretRef]*Remote{},
	}
}

// Acquire returns the started remote cluster for ref on behalf of owner. It
// reads the Secret (uncached get), and returns the remote already running
// for that kubeconfig content, or builds one: RESTConfig under the
// registry's policy, a controller-runtime cluster with its own cache (the
// fluxstatus.Strip transform, no informer started in advance), and a first
// health probe. If owner used another remote for ref before (the Secret's
// content changed: credential rotation), that one is let go and stopped
// once no owner uses it.
//
// An unreachable remote is not an error: Acquire returns it with
// Health().Connected false. Errors wrap ErrSecretNotFound, ErrKeyNotFound,
// ErrUnsafeKubeconfig, ErrInvalidKubeconfig or ErrRegistryClosed, or are
// the local API server's. The call is bounded by RegistryOptions.Timeout.
func (r *Registry) Acquire(ctx context.Context, owner types.NamespacedName, ref SecretRef) (*Remote, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	data, err := r.kubeconfig(ctx, ref)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	cfg, err := RESTConfig(data, r.policy)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig Secret %s: %w", ref, err)
	}
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, ErrRegistryClosed
		}
		m := r.remotes[digest]
		creator := m == nil
		if creator {
			m = r.newRemote(digest, cfg)
			r.remotes[digest] = m
		}
		r.mu.Unlock()

		if creator {
			err := m.start(ctx, r)
			r.mu.Lock()
			if err != nil {
				m.initErr = fmt.Errorf("start remote cluster %s from Secret %s: %w", cfg.Host, ref, err)
				m.removed = true
				if r.remotes[digest] == m {
					delete(r.remotes, digest)
				}
			}
			close(m.ready)
			r.mu.Unlock()
		} else {
			select {
			case <-m.ready:
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for remote cluster %s from Secret %s: %w", cfg.Host, ref, ctx.Err())
			}
		}
		if m.initErr != nil {
			return nil, m.initErr
		}

		r.mu.Lock()
		if m.removed {
			// Its last owner let go between its start and now: start over.
			r.mu.Unlock()
			continue
		}
		uses := r.owners[owner]
		if uses == nil {
			uses = map[SecretRef]*Remote{}
			r.owners[owner] = uses
		}
		var stop []*Remote
		old := uses[ref]
		if old != nil && old != m {
			stop = r.dropLocked(old, use{owner, ref}, stop)
		}
		uses[ref] = m
		m.uses[use{owner, ref}] = struct{}{}
		r.mu.Unlock()
		r.stopAll(stop)
		if old != nil && old != m && r.opts.OnChange != nil {
			// A rotation: other owners still on the old remote through ref
			// must acquire again to move to the new one.
			r.opts.OnChange(ref)
		}
		return m, nil
	}
}

// Release drops owner's use of every remote it does not list in keep; a
// remote with no owner left is stopped.
func (r *Registry) Release(owner types.NamespacedName, keep ...SecretRef) {
	r.mu.Lock()
	var stop []*Remote
	uses := r.owners[owner]
	for ref, m := range uses {
		if slices.Contains(keep, ref) {
			continue
		}
		delete(uses, ref)
		stop = r.dropLocked(m, use{owner, ref}, stop)
	}
	if len(uses) == 0 {
		delete(r.owners, owner)
	}
	r.mu.Unlock()
	r.stopAll(stop)
}

// Close stops every remote and waits for them (at most 30 s); Acquire fails
// afterwards.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	var all []*Remote
	for _, m := range r.remotes {
		m.removed = true
		all = append(all, m)
	}
	r.remotes = map[string]*Remote{}
	r.owners = map[types.NamespacedName]map[SecretRef]*Remote{}
	r.mu.Unlock()
	r.cancel()
	timeout := time.After(30 * time.Second)
	for _, m := range all {
		select {
		case <-m.ready:
		case <-timeout:
			return
		}
		select {
		case <-m.Done():
		case <-timeout:
			return
		}
	}
}

// dropLocked removes u from m and, if m has no use left, removes it from
// the registry and appends it to stop. r.mu must be held.
func (r *Registry) dropLocked(m *Remote, u use, stop []*Remote) []*Remote {
	delete(m.uses, u)
	if len(m.uses) == 0 && !m.removed {
		m.removed = true
		if r.remotes[m.digest] == m {
			delete(r.remotes, m.digest)
		}
		stop = append(stop, m)
	}
	return stop
}

// stopAll stops remotes without waiting for them (see Remote.Done).
func (r *Registry) stopAll(stop []*Remote) {
	for _, m := range stop {
		m.cancel()
	}
}

// refs returns the distinct SecretRefs m is used through.
func (r *Registry) refs(m *Remote) []SecretRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[SecretRef]bool{}
	var refs []SecretRef
	for u := range m.uses {
		if !seen[u.ref] {
			seen[u.ref] = true
			refs = append(refs, u.ref)
		}
	}
	return refs
}

// kubeconfig reads ref's kubeconfig with an uncached get of the Secret.
func (r *Registry) kubeconfig(ctx context.Context, ref SecretRef) ([]byte, error) {
	var s corev1.Secret
	if err := r.local.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %s/%s", ErrSecretNotFound, ref.Namespace, ref.Name)
		}
		return nil, fmt.Errorf("read kubeconfig Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	keys := DefaultSecretKeys
	if ref.Key != "" {
		keys = []string{ref.Key}
	}
	for _, k := range keys {
		if v, ok := s.Data[k]; ok && len(v) > 0 {
			return v, nil
		}
	}
	present := make([]string, 0, len(s.Data))
	for k := range s.Data {
		present = append(present, k)
	}
	sort.Strings(present)
	return nil, fmt.Errorf("%w: Secret %s/%s has no key %s (it has: %s)", ErrKeyNotFound, ref.Namespace, ref.Name,
		quoteJoin(keys, " or "), quoteJoin(present, ", "))
}

func quoteJoin(ss []string, sep string) string {
	if len(ss) == 0 {
		return "none"
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, sep)
}

// Remote is one running remote cluster: its cache and its health.
type Remote struct {
	digest string
	host   string
	cfg    *rest.Config
	cl     cluster.Cluster

	ready   chan struct{} // closed once started (or failed to)
	initErr error         // set before ready is closed
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed once the cluster and the probe loop returned

	// guarded by the Registry's mu
	uses    map[use]struct{}
	removed bool

	healthMu sync.Mutex
	health   Health
}

func (r *Registry) newRemote(digest string, cfg *rest.Config) *Remote {
	ctx, cancel := context.WithCancel(r.base)
	return &Remote{
		digest: digest, host: cfg.Host, cfg: cfg,
		ready: make(chan struct{}), done: make(chan struct{}),
		ctx: ctx, cancel: cancel,
		uses: map[use]struct{}{},
	}
}

// Client returns the remote's cached reader. A read of a kind the remote
// does not serve fails at once rather than waiting for an informer that
// would never sync; check Health().Served first.
func (m *Remote) Client() client.Reader { return m.cl.GetClient() }

// Cache returns the remote's cache, for watches.
func (m *Remote) Cache() cache.Cache { return m.cl.GetCache() }

// Host returns the remote API server's address.
func (m *Remote) Host() string { return m.host }

// Health returns the outcome of the last probe.
func (m *Remote) Health() Health {
	m.healthMu.Lock()
	defer m.healthMu.Unlock()
	h := m.health
	h.Kinds = slices.Clone(h.Kinds)
	h.MissingKinds = slices.Clone(h.MissingKinds)
	return h
}

// Done is closed once the remote has stopped (its last owner released it,
// or the registry closed).
func (m *Remote) Done() <-chan struct{} { return m.done }

// start builds and starts the cluster, probes it once, and starts the probe
// loop. On error everything started is stopped.
func (m *Remote) start(ctx context.Context, r *Registry) error {
	cl, err := cluster.New(m.cfg, func(o *cluster.Options) {
		o.Scheme = r.scheme
		o.Cache.DefaultTransform = fluxstatus.CacheTransform
	})
	if err != nil {
		m.cancel()
		close(m.done)
		return err
	}
	m.cl = cl
	dc, err := discovery.NewDiscoveryClientForConfig(m.cfg)
	if err != nil {
		m.cancel()
		close(m.done)
		return err
	}
	clusterDone := make(chan error, 1)
	go func() { clusterDone <- cl.Start(m.ctx) }()
	// No informer is started in advance, so this only waits for the cache
	// to be running.
	if !cl.GetCache().WaitForCacheSync(ctx) {
		m.cancel()
		err := <-clusterDone
		close(m.done)
		if err != nil {
			return err
		}
		return fmt.Errorf("cache did not start: %w", context.Cause(ctx))
	}
	m.setHealth(m.probe(ctx, r.opts.ProbeTimeout, dc))
	go func() {
		defer close(m.done)
		t := time.NewTicker(r.opts.ProbeInterval)
		defer t.Stop()
		for {
			select {
			case <-m.ctx.Done():
				<-clusterDone
				return
			case <-t.C:
				if m.setHealth(m.probe(m.ctx, r.opts.ProbeTimeout, dc)) {
					r.notify(m)
				}
			}
		}
	}()
	return nil
}

func (r *Registry) notify(m *Remote) {
	if r.opts.OnChange == nil {
		return
	}
	for _, ref := range r.refs(m) {
		r.opts.OnChange(ref)
	}
}

// setHealth records h and reports whether it differs from the previous one.
func (m *Remote) setHealth(h Health) bool {
	m.healthMu.Lock()
	defer m.healthMu.Unlock()
	old := m.health
	if !h.Connected && old.Connected {
		// What was served is still the last known truth.
		h.Kinds, h.MissingKinds, h.FluxCRDs, h.ServerVersion = old.Kinds, old.MissingKinds, old.FluxCRDs, old.ServerVersion
	}
	if old.Since.IsZero() || old.Connected != h.Connected {
		h.Since = time.Now()
	} else {
		h.Since = old.Since
	}
	m.health = h
	return !old.equal(h)
}

// probe asks the remote's discovery for its version and which Flux kinds it
// serves, within timeout.
func (m *Remote) probe(ctx context.Context, timeout time.Duration, dc *discovery.DiscoveryClient) Health {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc := dc.RESTClient()
	raw, err := rc.Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return Health{Err: m.probeErr(err)}
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	_ = json.Unmarshal(raw, &v)
	h := Health{Connected: true, ServerVersion: v.GitVersion}
	served := map[string]bool{}
	gvs := map[string]bool{}
	for _, k := range fluxstatus.Kinds() {
		gvs[k.GroupVersion.String()] = true
	}
	for gv := range gvs {
		raw, err := rc.Get().AbsPath("/apis/" + gv).Do(ctx).Raw()
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return Health{Err: m.probeErr(err)}
		}
		var list metav1.APIResourceList
		if err := json.Unmarshal(raw, &list); err != nil {
			return Health{Err: fmt.Errorf("%w: %s: decode discovery of %s: %w", ErrUnreachable, m.host, gv, err)}
		}
		for _, res := range list.APIResources {
			if !strings.Contains(res.Name, "/") {
				served[gv+"/"+res.Kind] = true
			}
		}
	}
	for _, k := range fluxstatus.Kinds() {
		if served[k.GroupVersion.String()+"/"+k.Name] {
			h.Kinds = append(h.Kinds, k.Name)
		} else {
			h.MissingKinds = append(h.MissingKinds, k.Name)
		}
	}
	sort.Strings(h.Kinds)
	sort.Strings(h.MissingKinds)
	h.FluxCRDs = len(h.Kinds) > 0
	return h
}

func (m *Remote) probeErr(err error) error {
	var status apierrors.APIStatus
	if apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err) ||
		(errors.As(err, &status) && (status.Status().Code == http.StatusUnauthorized || status.Status().Code == http.StatusForbidden)) {
		return fmt.Errorf("%w: the API server at %s refused the kubeconfig's credentials (expired or rotated?): %w", ErrCredentialsRefused, m.host, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnreachable, m.host, err)
}
