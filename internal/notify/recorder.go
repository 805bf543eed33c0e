// Package notify owns how FluxWatch announces incidents: Kubernetes Events on
// the FluxWatch object today, external sinks later.
//
// client-go's EventRecorder is not used on purpose. Its correlator drops
// Warning events on one object after a burst of 25 and merges more than 10
// events with the same reason into one, and the events.k8s.io series keeps
// only the first message. An incident event is an alert: each one must reach
// the API server as its own Event with its own message. So every event is
// created directly, synchronously, with a unique name.
package notify

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Component is the event source component and reporting controller.
const Component = "fluxwatch"

// ReportingController is the events' reportingComponent.
const ReportingController = "fluxwatch.dev/fluxwatch"

// Event is one event to record on an object.
type Event struct {
	// Type is corev1.EventTypeNormal or corev1.EventTypeWarning.
	Type string
	// Reason is a CamelCase constant such as ResourceFailing.
	Reason string
	// Message is for people.
	Message string
	// Annotations carry the same facts for machines.
	Annotations map[string]string
}

// Recorder creates Events through a client.
type Recorder struct {
	client   client.Client
	clock    clock.PassiveClock
	instance string
}

// NewRecorder returns a Recorder that writes with c and stamps times from clk.
func NewRecorder(c client.Client, clk clock.PassiveClock) *Recorder {
	host, _ := os.Hostname()
	return &Recorder{client: c, clock: clk, instance: host}
}

// Record creates one Event about obj. Transient API errors are retried for
// a few seconds; the error returned is the last one.
func (r *Recorder) Record(ctx context.Context, obj client.Object, e Event) error {
	gvk, err := apiutil.GVKForObject(obj, r.client.Scheme())
	if err != nil {
		return fmt.Errorf("event for %s: %w", obj.GetName(), err)
	}
	now := metav1.NewTime(r.clock.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			// The API server appends a random suffix: no two events share a
			// name, so none is merged into another.
			GenerateName: obj.GetName() + ".",
			Namespace:    obj.GetNamespace(),
			Annotations:  e.Annotations,
		},
		InvolvedObject: corev1.ObjectReference{
			APIVersion:      gvk.GroupVersion().String(),
			Kind:            gvk.Kind,
			Name:            obj.GetName(),
			Namespace:       obj.GetNamespace(),
			UID:             obj.GetUID(),
			ResourceVersion: obj.GetResourceVersion(),
		},
		Reason:              e.Reason,
		Message:             truncate(e.Message, 1024),
		Type:                e.Type,
		Source:              corev1.EventSource{Component: Component},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: ReportingController,
		ReportingInstance:   r.instance,
	}
	var lastErr error
	backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 5}
	_ = wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		attempt := ev.DeepCopy()
		lastErr = r.client.Create(ctx, attempt)
		if lastErr == nil {
			return true, nil
		}
		if apierrors.IsInvalid(lastErr) || apierrors.IsForbidden(lastErr) || apierrors.IsNotFound(lastErr) {
			// Retrying cannot help: the namespace is gone or RBAC says no.
			return false, lastErr
		}
		return false, nil
	})
	if lastErr != nil {
		return fmt.Errorf("create event %s for %s/%s: %w", e.Reason, obj.GetNamespace(), obj.GetName(), lastErr)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
