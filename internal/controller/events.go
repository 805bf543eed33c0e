package controller

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fluxwatch/fluxwatch/internal/debounce"
	"github.com/fluxwatch/fluxwatch/internal/notify"
)

// incidentEvent turns one engine transition into the event a person reads,
// or false when the transition is not announced (Opened, Dropped). current is
// the revision the object runs now, for a recovery message.
func incidentEvent(t debounce.Transition, current string) (notify.Event, bool) {
	inc := t.Incident
	subject := fmt.Sprintf("%s %s/%s on cluster %s", inc.Key.Kind, inc.Key.Namespace, inc.Key.Name, inc.Key.Cluster)
	cause := inc.Reason
	if inc.Message != "" {
		cause += ": " + inc.Message
	}
	down := roundDuration(t.Down)
	revision := inc.Revision

	e := notify.Event{Type: corev1.EventTypeNormal}
	switch t.Type {
	case debounce.Fired:
		e.Type, e.Reason = corev1.EventTypeWarning, ReasonResourceFailing
		e.Message = fmt.Sprintf("%s has been failing for %s: %s", subject, down, cause)
	case debounce.Recovered:
		e.Reason = ReasonResourceRecovered
		e.Message = fmt.Sprintf("%s recovered after %s down (last failure: %s)", subject, down, inc.Reason)
		if current != "" {
			revision = current
		}
	case debounce.EndedSuspended:
		e.Reason = ReasonResourceSuspended
		e.Message = fmt.Sprintf("%s was suspended while still failing for %s: %s", subject, down, cause)
	case debounce.EndedDeleted:
		e.Reason = ReasonResourceDeleted
		e.Message = fmt.Sprintf("%s was deleted while still failing for %s: %s", subject, down, cause)
	case debounce.EndedUnwatched:
		e.Reason = ReasonResourceUnwatched
		e.Message = fmt.Sprintf("%s is no longer selected by this FluxWatch; it was still failing for %s: %s", subject, down, cause)
	default:
		return notify.Event{}, false
	}
	if revision != "" {
		e.Message += fmt.Sprintf(" (revision %s)", revision)
	}
	e.Annotations = map[string]string{
		AnnotationCluster:    inc.Key.Cluster,
		AnnotationKind:       inc.Key.Kind,
		AnnotationNamespace:  inc.Key.Namespace,
		AnnotationName:       inc.Key.Name,
		AnnotationReason:     inc.Reason,
		AnnotationRevision:   revision,
		AnnotationSince:      inc.OpenedAt.UTC().Format(time.RFC3339),
		AnnotationDuration:   down.String(),
		AnnotationTransition: string(t.Type),
	}
	return e, true
}

// roundDuration keeps event messages readable: "10m0s", not "10m0.004123s".
func roundDuration(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d.Round(time.Second)
}
