// Package testenv owns starting the local control plane for tests: an etcd and
// a kube-apiserver run by controller-runtime's envtest, with the FluxWatch and
// Flux CRDs installed, and a client whose scheme knows all their types.
//
// The binaries come from $KUBEBUILDER_ASSETS or, when it is unset, from the
// newest bin/k8s/* of the repository (built by `make controlplane`); the Flux
// CRDs from $FLUXWATCH_FLUX_CRDS or the newest bin/flux-crds/* (copied by
// `make flux-crds`). `make test` sets both.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxwatch/fluxwatch/internal/controller"
)

const (
	// ModulePath is the module whose go.mod marks the repository root.
	ModulePath = "github.com/fluxwatch/fluxwatch"

	// AssetsEnv names the directory holding kube-apiserver and etcd.
	AssetsEnv = "KUBEBUILDER_ASSETS"
	// FluxCRDsEnv names the directory holding the Flux CRDs.
	FluxCRDsEnv = "FLUXWATCH_FLUX_CRDS"

	// startTimeout is generous because `go test ./...` starts one control
	// plane per package, in parallel with the compiler, on two cores; envtest's
	// own default is 20s. KUBEBUILDER_CONTROLPLANE_START_TIMEOUT overrides it.
	startTimeout = 2 * time.Minute
)

// Env is a running local control plane.
type Env struct {
	// Config connects to the API server as a cluster admin.
	Config *rest.Config
	// Client is a client for Config using Scheme.
	Client client.Client
	// Scheme holds the client-go, apiextensions, FluxWatch and Flux types.
	Scheme *runtime.Scheme

	mu             sync.Mutex // guards the fields below: Stop may come from a signal
	env            *envtest.Environment
	kubeconfigDir  string
	kubeconfigFile string
}

// NewScheme returns a scheme with every type the tests handle: client-go's,
// apiextensions v1, FluxWatch and the Flux groups FluxWatch reads.
func NewScheme() (*runtime.Scheme, error) {
	// The controller's own scheme, plus the CRD types tests install.
	s, err := controller.NewScheme()
	if err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	return s, nil
}

// Start starts etcd and kube-apiserver, installs the FluxWatch CRDs from
// config/crd/bases and the Flux CRDs, and returns once they are served. The
// caller must Stop the Env; on SIGINT or SIGTERM the Env is stopped and the
// process exits, so an interrupted test run leaves no etcd or kube-apiserver
// behind (envtest starts them in their own process group, out of reach of a
// terminal's ^C).
func Start() (*Env, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	assets, err := assetsDir(root)
	if err != nil {
		return nil, err
	}
	fluxCRDs, err := fluxCRDsDir(root)
	if err != nil {
		return nil, err
	}

	te := &envtest.Environment{
		// This package starts its own control plane; USE_EXISTING_CLUSTER must
		// not point the tests at a real cluster.
		UseExistingCluster:    ptr.To(false),
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases"), fluxCRDs},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		te.ControlPlaneStartTimeout = startTimeout
	}
	cfg, err := te.Start()
	if err != nil {
		// A half-started control plane leaves processes behind.
		_ = te.Stop()
		return nil, fmt.Errorf("start local control plane from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = te.Stop()
		return nil, fmt.Errorf("create client: %w", err)
	}
	if err := warmUp(cfg, te.CRDs); err != nil {
		_ = te.Stop()
		return nil, err
	}
	e := &Env{Config: cfg, Client: c, Scheme: scheme, env: te}
	track(e)
	return e, nil
}

// warmUp pays, in parallel and before any test runs, the API server's
// first-use delays, which would otherwise land inside the tests, one after the
// other, and stretch their timeouts: about a second on the first request to
// each custom resource (its storage and watch cache are set up then), and about
// two on the first write of any custom resource. So it lists every served
// version of every installed CRD and, alongside, sends one dry-run create of an
// empty object, which the schema refuses.
func warmUp(cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition) error {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("warm up CRDs: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: v.Name, Resource: crd.Spec.Names.Plural}
			wg.Go(func() {
				if _, err := dc.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("warm up %s: %w", gvr, err))
					mu.Unlock()
				}
			})
		}
	}
	if len(crds) > 0 {
		crd := crds[0]
		gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: storageVersion(crd), Resource: crd.Spec.Names.Plural}
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion(gvr.GroupVersion().String())
		obj.SetKind(crd.Spec.Names.Kind)
		obj.SetName("testenv-warm-up")
		var ri dynamic.ResourceInterface = dc.Resource(gvr)
		if crd.Spec.Scope == apiextensionsv1.NamespaceScoped {
			ri = dc.Resource(gvr).Namespace(metav1.NamespaceDefault)
		}
		wg.Go(func() {
			_, err := ri.Create(ctx, obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil && !apierrors.IsInvalid(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("warm up writes to %s: %w", gvr, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func storageVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return crd.Spec.Versions[0].Name
}

// Stop stops the control plane and removes the kubeconfig file, if one was
// written. Stopping twice is harmless.
func (e *Env) Stop() error {
	// Untracked only once stopped: a signal arriving while another Stop runs
	// must still find the Env, and waits for that Stop on e.mu.
	defer untrack(e)
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	if e.env != nil {
		if err := e.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop local control plane: %w", err))
		}
		e.env = nil
	}
	if e.kubeconfigDir != "" {
		if err := os.RemoveAll(e.kubeconfigDir); err != nil {
			errs = append(errs, fmt.Errorf("remove kubeconfig: %w", err))
		}
		e.kubeconfigDir, e.kubeconfigFile = "", ""
	}
	return errors.Join(errs...)
}

// KubeconfigFile writes a cluster-admin kubeconfig for the Env, once, and
// returns its path, for kubectl, helm or the controller run as a process. The
// file lives until Stop.
func (e *Env) KubeconfigFile() (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kubeconfigFile != "" {
		return e.kubeconfigFile, nil
	}
	if e.env == nil {
		return "", errors.New("write kubeconfig: the local control plane is stopped")
	}
	dir, err := os.MkdirTemp("", "fluxwatch-testenv-")
	if err != nil {
		return "", fmt.Errorf("write kubeconfig: %w", err)
	}
	file := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(file, e.env.KubeConfig, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("write kubeconfig: %w", err)
	}
	e.kubeconfigDir, e.kubeconfigFile = dir, file
	return file, nil
}

// PatchStatus writes obj's status as another controller would: mutate changes
// obj in place, and the difference is sent as a merge patch through the status
// subresource under the field manager manager (for instance
// "kustomize-controller"). obj holds the server's answer afterwards.
func (e *Env) PatchStatus(ctx context.Context, obj client.Object, manager string, mutate func()) error {
	base, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return fmt.Errorf("patch status: %T does not copy to a client.Object", obj)
	}
	mutate()
	if err := e.Client.Status().Patch(ctx, obj, client.MergeFrom(base), client.FieldOwner(manager)); err != nil {
		return fmt.Errorf("patch status of %s/%s as %s: %w", obj.GetNamespace(), obj.GetName(), manager, err)
	}
	return nil
}

// moduleRoot walks up from the working directory to the directory whose go.mod
// declares ModulePath; nested tool modules under hack/ are passed over.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for dir := wd; ; {
		if modulePath(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find module root: no go.mod for %s in %s or above", ModulePath, wd)
		}
		dir = parent
	}
}

// modulePath returns the module path declared in a go.mod, or "".
func modulePath(gomod string) string {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// assetsDir returns $KUBEBUILDER_ASSETS, or the newest complete bin/k8s/*.
func assetsDir(root string) (string, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" {
		return dir, nil
	}
	dir, err := newestDir(filepath.Join(root, "bin", "k8s"), func(d string) bool {
		return isFile(filepath.Join(d, "kube-apiserver")) && isFile(filepath.Join(d, "etcd"))
	})
	if err != nil {
		return "", err
	}
	if dir == "" {
		return "", fmt.Errorf("no local control plane: %s is unset and no %s/bin/k8s/* holds kube-apiserver and etcd; run `make test`, or `make controlplane` and then go test", AssetsEnv, root)
	}
	return dir, nil
}

// fluxCRDsDir returns $FLUXWATCH_FLUX_CRDS, or the newest bin/flux-crds/*
// holding CRDs.
func fluxCRDsDir(root string) (string, error) {
	if dir := os.Getenv(FluxCRDsEnv); dir != "" {
		return dir, nil
	}
	dir, err := newestDir(filepath.Join(root, "bin", "flux-crds"), func(d string) bool {
		yamls, _ := filepath.Glob(filepath.Join(d, "*.yaml"))
		return len(yamls) > 0
	})
	if err != nil {
		return "", err
	}
	if dir == "" {
		return "", fmt.Errorf("no Flux CRDs: %s is unset and no %s/bin/flux-crds/* holds any; run `make test`, or `make flux-crds` and then go test", FluxCRDsEnv, root)
	}
	return dir, nil
}

// newestDir returns the most recently modified subdirectory of parent that
// complete accepts, or "" when there is none. Hidden and *.tmp directories are
// builds in progress and are skipped.
func newestDir(parent string, complete func(string) bool) (string, error) {
	entries, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", parent, err)
	}
	var newest string
	var newestTime time.Time
	for _, entry := range entries {
		name := entry.Name()
		if !entry.IsDir() || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") {
			continue
		}
		dir := filepath.Join(parent, name)
		if !complete(dir) {
			continue
		}
		info, err := entry.Info()
		if err != nil {
			continue
		}
		if newest == "" || info.ModTime().After(newestTime) {
			newest, newestTime = dir, info.ModTime()
		}
	}
	return newest, nil
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

// Runner is anything started with a context that runs until it is
// cancelled, such as a controller-runtime manager.
type Runner interface {
	Start(ctx context.Context) error
}

// Run starts r in the background. stop cancels it and waits for it to
// return, at most 30 s; calling stop again returns the same result.
func Run(ctx context.Context, r Runner) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	var once sync.Once
	var result error
	return func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				result = errors.New("did not stop within 30s")
			}
		})
		return result
	}
}
