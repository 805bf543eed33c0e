// Package install_test tests the two ways of installing FluxWatch, the Helm
// chart charts/fluxwatch and the kustomize manifests config/default, against
// one local control plane: rendering, validation by the API server itself
// (server-side dry runs), a real `helm install` and `helm upgrade`, and the
// real controller running with exactly the permissions the chart grants.
//
// helm is the binary `make helm` builds from its Go module: $FLUXWATCH_HELM
// (set by `make test`) or the newest bin/helm-*.
package install_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

// HelmEnv names the helm binary to use.
const HelmEnv = "FLUXWATCH_HELM"

var (
	env        *testenv.Env
	k8s        client.Client
	root       string // the repository root
	chartDir   string
	helmBin    string
	helmHome   string // HOME, helm's and kubectl's caches: nothing of the user's is read or written
	kubeconfig string
	logs       = &logSink{}
)

func TestMain(m *testing.M) {
	// The controller's logs are captured so that tests can assert the errors
	// a user would read in them; FLUXWATCH_TEST_LOG=1 also prints them.
	log.SetLogger(logr.New(logs))
	klog.SetLogger(logr.New(logs)) // leader election logs through klog
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	var err error
	if root, err = repoRoot(); err != nil {
		return 1, err
	}
	chartDir = filepath.Join(root, "charts", "fluxwatch")
	if helmBin, err = findHelm(root); err != nil {
		return 1, err
	}
	if helmHome, err = os.MkdirTemp("", "fluxwatch-helm-home-"); err != nil {
		return 1, err
	}
	defer os.RemoveAll(helmHome)

	if env, err = testenv.Start(); err != nil {
		return 1, err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	k8s = env.Client
	if kubeconfig, err = env.KubeconfigFile(); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// repoRoot is the directory of the go.mod of module github.com/fluxwatch/fluxwatch.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module "+testenv.ModulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of " + testenv.ModulePath + " above the working directory")
		}
		dir = parent
	}
}

// findHelm returns $FLUXWATCH_HELM, or the newest bin/helm-*.
func findHelm(root string) (string, error) {
	if h := os.Getenv(HelmEnv); h != "" {
		return h, nil
	}
	matches, _ := filepath.Glob(filepath.Join(root, "bin", "helm-*"))
	var newest string
	var newestTime time.Time
	for _, m := range matches {
		info, err := os.Stat(m)
		if err != nil || !info.Mode().IsRegular() || strings.HasSuffix(m, ".tmp") {
			continue
		}
		if newest == "" || info.ModTime().After(newestTime) {
			newest, newestTime = m, info.ModTime()
		}
	}
	if newest == "" {
		return "", fmt.Errorf("no helm: %s is unset and there is no %s; run `make test`, or `make helm` and then go test", HelmEnv, filepath.Join(root, "bin", "helm-*"))
	}
	return newest, nil
}

// helm runs the helm binary against the local control plane and returns its
// combined output.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBin, args...)
	cmd.Env = append(os.Environ(),
		"HOME="+helmHome,
		"KUBECONFIG="+kubeconfig,
		"KUBECACHEDIR="+filepath.Join(helmHome, "kube-cache"),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// mustHelm runs helm and fails the test if it fails.
func mustHelm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logSink is a logr.LogSink keeping every line the controller logs.
type logSink struct {
	mu     sync.Mutex
	lines  []string
	parent *logSink // the sink holding the lines; nil for that one
	name   string
	values []any
}

func (s *logSink) root() *logSink {
	if s.parent != nil {
		return s.parent
	}
	return s
}

func (s *logSink) Init(logr.RuntimeInfo) {}
func (s *logSink) Enabled(int) bool      { return true }

func (s *logSink) Info(level int, msg string, kv ...any) {
	s.add(fmt.Sprintf("INFO(%d) %s: %s %v", level, s.name, msg, append(s.values, kv...)))
}

func (s *logSink) Error(err error, msg string, kv ...any) {
	s.add(fmt.Sprintf("ERROR %s: %s: %v %v", s.name, msg, err, append(s.values, kv...)))
}

func (s *logSink) WithValues(kv ...any) logr.LogSink {
	return &logSink{parent: s.root(), name: s.name, values: append(append([]any(nil), s.values...), kv...)}
}

func (s *logSink) WithName(name string) logr.LogSink {
	n := name
	if s.name != "" {
		n = s.name + "." + name
	}
	return &logSink{parent: s.root(), name: n, values: s.values}
}

func (s *logSink) add(line string) {
	r := s.root()
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	if os.Getenv("FLUXWATCH_TEST_LOG") != "" {
		fmt.Fprintln(os.Stderr, line)
	}
}

// grep returns the logged lines containing every one of the strings.
func (s *logSink) grep(all ...string) []string {
	r := s.root()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
next:
	for _, l := range r.lines {
		for _, w := range all {
			if !strings.Contains(l, w) {
				continue next
			}
		}
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
