package install_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

const revision = "main@sha1:06a5a13d7f9e2b1c4a8e5f3d2c1b0a9e8d7c6b5a"

var releaseCounter atomic.Int32

// installChartRBAC renders the chart into a fresh release namespace, creates
// its ServiceAccount, ClusterRole, ClusterRoleBinding and leader election
// Role and RoleBinding for real, after edit changes the manager ClusterRole,
// and returns the release namespace and the ServiceAccount's user name.
func installChartRBAC(t *testing.T, edit func(*rbacv1.ClusterRole)) (ns, user string) {
	t.Helper()
	n := releaseCounter.Add(1)
	release := fmt.Sprintf("fw-rbac-%d", n)
	ns = fmt.Sprintf("fw-rbac-%d-system", n)
	objs := render(t, release, ns)
	var rbac []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, o)
		case "ClusterRole":
			if !strings.HasSuffix(o.GetName(), "-manager") {
				continue // the aggregated roles are for people
			}
			var cr rbacv1.ClusterRole
			into(t, o, &cr)
			if edit != nil {
				edit(&cr)
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&cr)
			if err != nil {
				t.Fatal(err)
			}
			rbac = append(rbac, &unstructured.Unstructured{Object: m})
		}
	}
	if len(rbac) != 5 {
		t.Fatalf("the chart rendered %d RBAC objects; want ServiceAccount, ClusterRole, ClusterRoleBinding, Role, RoleBinding", len(rbac))
	}
	createAll(t, rbac)
	t.Cleanup(func() {
		for _, o := range rbac {
			_ = k8s.Delete(context.Background(), o)
		}
	})
	sa := one(t, objs, "ServiceAccount", "")
	return ns, "system:serviceaccount:" + ns + ":" + sa.GetName()
}

// startControllerAs runs the real manager (what bin/fluxwatch runs) with a
// client impersonating user, leader election on in the release namespace,
// until the test ends. It returns once the manager leads.
func startControllerAs(t *testing.T, user, ns string) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
	mgr, err := controller.NewManager(context.Background(), cfg, controller.ManagerOptions{
		MetricsBindAddress: "0", HealthProbeBindAddress: "0", SkipNameValidation: true,
		LeaderElection: true, LeaderElectionNS: ns,
	})
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	stop := testenv.Run(context.Background(), mgr)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	select {
	case <-mgr.Elected():
	case <-time.After(30 * time.Second):
		t.Fatalf("the manager did not win leader election in %s within 30s: %v", ns, logs.grep("ERROR", ns))
	}
}

// scenario is a Kustomization watched by a FluxWatch with a 1s window.
type scenario struct {
	ns string
	k  client.Object
	fw *fluxwatchv1.FluxWatch
	w  *fluxsim.Writer
}

func newScenario(t *testing.T, name string) *scenario {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("%s-%d", name, releaseCounter.Add(1))
	ensureNamespace(t, ns, nil)
	s := &scenario{ns: ns, w: &fluxsim.Writer{Client: k8s}}
	k := fluxsim.Kustomization(ns, "podinfo", "fleet", 10*time.Minute)
	if err := s.w.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	s.k = k
	s.write(t, true)
	s.fw = &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apps"}, Spec: fluxwatchv1.FluxWatchSpec{
		Targets:    []fluxwatchv1.Target{{Kind: "Kustomization", Name: "*"}},
		PendingFor: &metav1.Duration{Duration: time.Second},
	}}
	if err := k8s.Create(ctx, s.fw); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), s.fw) })
	return s
}

// write writes the Kustomization's status as kustomize-controller does.
func (s *scenario) write(t *testing.T, healthy bool) {
	t.Helper()
	st := fluxsim.Status{Ready: fluxsim.Ready(metav1.ConditionFalse, meta.HealthCheckFailedReason, fluxsim.HealthCheckFailedMessage)}
	if healthy {
		st = fluxsim.Status{Revision: revision, AttemptedRevision: revision, ObservedGeneration: fluxsim.CurrentGeneration(),
			Ready: fluxsim.Ready(metav1.ConditionTrue, meta.ReconciliationSucceededReason, "Applied revision: "+revision)}
	}
	if err := s.w.Write(context.Background(), s.k, st); err != nil {
		t.Fatal(err)
	}
}

func (s *scenario) get(t *testing.T) *fluxwatchv1.FluxWatch {
	t.Helper()
	fw := &fluxwatchv1.FluxWatch{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(s.fw), fw); err != nil {
		t.Fatal(err)
	}
	return fw
}

// events counts the events on the FluxWatch by reason.
func (s *scenario) events(t *testing.T) map[string]int {
	t.Helper()
	list := &corev1.EventList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(s.ns)); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "FluxWatch" && e.InvolvedObject.Name == s.fw.Name {
			n[e.Reason]++
		}
	}
	return n
}

func eventuallyTrue(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitFor(t, timeout, what, func() (bool, error) { return cond(), nil })
}

// TestChartRBACRunsTheController is the proof that the chart's permissions
// are enough: the real controller, as the chart's ServiceAccount with exactly
// the chart's RBAC and leader election on, sees a Kustomization fail,
// announces it once, sees it recover and announces that once.
func TestChartRBACRunsTheController(t *testing.T) {
	ensureFluxWatchCRD(t)
	ns, user := installChartRBAC(t, nil)
	startControllerAs(t, user, ns)
	s := newScenario(t, "rbac-apps")

	eventuallyTrue(t, 20*time.Second, "the FluxWatch to be Ready and track the Kustomization", func() bool {
		fw := s.get(t)
		return apimeta.IsStatusConditionTrue(fw.Status.Conditions, meta.ReadyCondition) && fw.Status.Tracked == 1 && fw.Status.Healthy == 1
	})
	s.write(t, false)
	eventuallyTrue(t, 20*time.Second, "one ResourceFailing event", func() bool { return s.events(t)[controller.ReasonResourceFailing] >= 1 })
	s.write(t, true)
	eventuallyTrue(t, 20*time.Second, "one ResourceRecovered event", func() bool { return s.events(t)[controller.ReasonResourceRecovered] >= 1 })
	time.Sleep(2 * time.Second) // room for a duplicate to show up
	if got := s.events(t); got[controller.ReasonResourceFailing] != 1 || got[controller.ReasonResourceRecovered] != 1 {
		t.Errorf("events = %v; want exactly one ResourceFailing and one ResourceRecovered", got)
	}
	if fw := s.get(t); fw.Status.Firing != 0 || fw.Status.Healthy != 1 {
		t.Errorf("status after the recovery = %s", mustJSON(fw.Status))
	}
	if errs := logs.grep("ERROR", "forbidden", s.ns); len(errs) > 0 {
		t.Errorf("the controller met RBAC errors with the chart's permissions:\n%s", strings.Join(errs, "\n"))
	}
}

// TestChartRBACRulesAreNeeded removes one rule at a time from the chart's
// ClusterRole and checks that the controller says what it could not do, in
// a way its user can see.
func TestChartRBACRulesAreNeeded(t *testing.T) {
	ensureFluxWatchCRD(t)

	t.Run("without create on events the incident is recorded and the lost event is logged", func(t *testing.T) {
		ns, user := installChartRBAC(t, withoutVerb("", "events", "create"))
		startControllerAs(t, user, ns)
		s := newScenario(t, "rbac-noevents")
		eventuallyTrue(t, 20*time.Second, "the FluxWatch to track the Kustomization", func() bool { return s.get(t).Status.Healthy == 1 })
		s.write(t, false)
		eventuallyTrue(t, 20*time.Second, "the incident to fire in status", func() bool { return s.get(t).Status.Firing == 1 })
		want := []string{"ERROR", "events lost", "ResourceFailing", s.ns, "forbidden", `cannot create resource "events"`}
		eventuallyTrue(t, 10*time.Second, fmt.Sprintf("a logged error with %q", want), func() bool { return len(logs.grep(want...)) > 0 })
		if n := s.events(t)[controller.ReasonResourceFailing]; n != 0 {
			t.Errorf("%d ResourceFailing events were created without the permission to create events", n)
		}
	})

	t.Run("without patch on fluxwatches/status nothing is announced and the error is logged", func(t *testing.T) {
		ns, user := installChartRBAC(t, withoutVerb("fluxwatch.dev", "fluxwatches/status", "patch"))
		startControllerAs(t, user, ns)
		s := newScenario(t, "rbac-nostatus")
		s.write(t, false)
		want := []string{"ERROR", "Reconciler error", s.ns, "patch FluxWatch status", "forbidden", `cannot patch resource "fluxwatches/status"`}
		eventuallyTrue(t, 20*time.Second, fmt.Sprintf("a logged error with %q", want), func() bool { return len(logs.grep(want...)) > 0 })
		time.Sleep(2 * time.Second) // longer than pendingFor: it would have fired
		if fw := s.get(t); len(fw.Status.Conditions) != 0 || fw.Status.Firing != 0 {
			t.Errorf("status was written without the permission: %s", mustJSON(fw.Status))
		}
		// Events follow a stored status: with none stored, nothing is announced.
		if got := s.events(t); got[controller.ReasonResourceFailing] != 0 {
			t.Errorf("events = %v; want no ResourceFailing while the status cannot be written", got)
		}
	})
}

// withoutVerb removes verb from the rule granting it on group/resource.
func withoutVerb(group, resource, verb string) func(*rbacv1.ClusterRole) {
	return func(cr *rbacv1.ClusterRole) {
		for i, r := range cr.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				if len(r.Resources) > 1 {
					panic(fmt.Sprintf("the rule for %s also grants %v: split it first", resource, r.Resources))
				}
				cr.Rules[i].Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return v == verb })
				return
			}
		}
		panic(fmt.Sprintf("no rule grants %s on %s/%s", verb, group, resource))
	}
}
