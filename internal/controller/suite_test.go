package controller_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fluxcd/pkg/apis/meta"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

// One control plane for the package; each test runs its own controller
// (started and stopped by startController) in its own namespace.
var (
	env    *testenv.Env
	k8s    client.Client
	writer *fluxsim.Writer
)

func TestMain(m *testing.M) {
	// The controller's logs only when asked: FLUXWATCH_TEST_LOG=1.
	if os.Getenv("FLUXWATCH_TEST_LOG") != "" {
		log.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	} else {
		log.SetLogger(logr.Discard())
	}
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s = env.Client
	writer = &fluxsim.Writer{Client: k8s}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// startController runs the real manager (the code bin/fluxwatch runs) until
// the test ends or stop is called.
func startController(t *testing.T, opts controller.ManagerOptions) (stop func()) {
	t.Helper()
	opts.MetricsBindAddress = "0"
	opts.HealthProbeBindAddress = "0"
	opts.SkipNameValidation = true
	mgr, err := controller.NewManager(context.Background(), env.Config, opts)
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	run := testenv.Run(context.Background(), mgr)
	stop = func() {
		if err := run(); err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

var nsCounter atomic.Int32

// newNamespace creates a fresh namespace for one test.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	name := fmt.Sprintf("t%d-%s", nsCounter.Add(1), clean)
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.TrimRight(name, "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		// envtest runs no namespace controller: remove the FluxWatches so
		// later tests' controllers do not keep reconciling them.
		_ = k8s.DeleteAllOf(context.Background(), &fluxwatchv1.FluxWatch{}, client.InNamespace(name))
	})
	return name
}

// newFluxWatch creates a FluxWatch with short windows.
func newFluxWatch(t *testing.T, ns, name string, spec fluxwatchv1.FluxWatchSpec) *fluxwatchv1.FluxWatch {
	t.Helper()
	fw := &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	if err := k8s.Create(context.Background(), fw); err != nil {
		t.Fatalf("create FluxWatch: %v", err)
	}
	return fw
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// eventually polls cond every 100 ms until it returns true or timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// never fails if cond becomes true before until.
func never(t *testing.T, until time.Time, what string, cond func() bool) {
	t.Helper()
	for time.Now().Before(until) {
		if cond() {
			t.Fatalf("%s before %s", what, until.Format(time.RFC3339Nano))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// events lists the events on a FluxWatch, oldest first.
func events(t *testing.T, fw *fluxwatchv1.FluxWatch, reasons ...string) []corev1.Event {
	t.Helper()
	list := &corev1.EventList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(fw.Namespace)); err != nil {
		t.Fatalf("list events: %v", err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Name != fw.Name || e.InvolvedObject.Kind != fluxwatchv1.FluxWatchKind {
			continue
		}
		if len(reasons) > 0 && !contains(reasons, e.Reason) {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) || out[i].Name < out[j].Name && out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp)
	})
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// eventsFor keeps the events about one Flux object (by annotation).
func eventsFor(evs []corev1.Event, kind, name string) []corev1.Event {
	var out []corev1.Event
	for _, e := range evs {
		if e.Annotations[controller.AnnotationKind] == kind && e.Annotations[controller.AnnotationName] == name {
			out = append(out, e)
		}
	}
	return out
}

// getFW reads a FluxWatch back.
func getFW(t *testing.T, fw *fluxwatchv1.FluxWatch) *fluxwatchv1.FluxWatch {
	t.Helper()
	out := &fluxwatchv1.FluxWatch{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(fw), out); err != nil {
		t.Fatalf("get FluxWatch: %v", err)
	}
	return out
}

func readyOf(fw *fluxwatchv1.FluxWatch) *metav1.Condition {
	return apimeta.FindStatusCondition(fw.Status.Conditions, meta.ReadyCondition)
}

// ledgerEntry finds the durable record of one object's incident.
func ledgerEntry(fw *fluxwatchv1.FluxWatch, kind, ns, name string) (fluxwatchv1.LedgerEntry, bool) {
	want := strings.Join([]string{fluxwatchv1.LocalCluster, kind, ns, name}, "/")
	for _, e := range fw.Status.Ledger {
		if e.Object == want {
			return e, true
		}
	}
	return fluxwatchv1.LedgerEntry{}, false
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := writer.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, obj client.Object, s fluxsim.Status) {
	t.Helper()
	if err := writer.Write(context.Background(), obj, s); err != nil {
		t.Fatal(err)
	}
}

func mustLast(t *testing.T, obj client.Object, tl fluxsim.Timeline) {
	t.Helper()
	if err := writer.Last(context.Background(), obj, tl); err != nil {
		t.Fatal(err)
	}
}
