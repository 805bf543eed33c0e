package notify

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// involved is any namespaced object the scheme knows; the recorder only
// needs its kind, name and UID.
func involved() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "watch", UID: "uid-1", ResourceVersion: "7"}}
}

func TestRecordWritesOneFullEvent(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).Build()
	r := NewRecorder(c, clocktesting.NewFakePassiveClock(now))
	e := Event{Type: corev1.EventTypeWarning, Reason: "ResourceFailing", Message: "Kustomization apps/podinfo is failing", Annotations: map[string]string{"fluxwatch.dev/name": "podinfo"}}
	for i := 0; i < 2; i++ {
		if err := r.Record(context.Background(), involved(), e); err != nil {
			t.Fatal(err)
		}
	}
	list := &corev1.EventList{}
	if err := c.List(context.Background(), list, client.InNamespace("apps")); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("got %d events for two records; want 2 (never merged)", len(list.Items))
	}
	got := list.Items[0]
	if got.InvolvedObject.Kind != "ConfigMap" || got.InvolvedObject.Name != "watch" || got.InvolvedObject.UID != "uid-1" ||
		got.Reason != e.Reason || got.Message != e.Message || got.Type != corev1.EventTypeWarning || got.Count != 1 ||
		!got.FirstTimestamp.Time.Equal(now) || got.Annotations["fluxwatch.dev/name"] != "podinfo" || got.Source.Component != Component {
		t.Errorf("event = %+v", got)
	}
}

func TestRecordRetriesTransientErrors(t *testing.T) {
	failures := 2
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if failures > 0 {
				failures--
				return apierrors.NewServerTimeout(schema.GroupResource{Resource: "events"}, "create", 1)
			}
			return c.Create(ctx, obj, opts...)
		},
	}).Build()
	r := NewRecorder(c, clocktesting.NewFakePassiveClock(time.Now()))
	if err := r.Record(context.Background(), involved(), Event{Type: corev1.EventTypeNormal, Reason: "ResourceRecovered", Message: "ok"}); err != nil {
		t.Fatalf("two timeouts then success: %v", err)
	}
}

func TestRecordGivesUpOnForbidden(t *testing.T) {
	calls := 0
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			calls++
			return apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("RBAC says no"))
		},
	}).Build()
	r := NewRecorder(c, clocktesting.NewFakePassiveClock(time.Now()))
	err := r.Record(context.Background(), involved(), Event{Type: corev1.EventTypeNormal, Reason: "ResourceRecovered", Message: "ok"})
	if !apierrors.IsForbidden(err) || calls != 1 {
		t.Errorf("err = %v after %d calls; want the Forbidden error after one call", err, calls)
	}
}
