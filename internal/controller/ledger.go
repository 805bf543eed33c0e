package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/debounce"
)

// The ledger is the durable record of open incidents in the FluxWatch status.
// The engine lives in memory; after a restart, a leader change or a failed
// status patch it is rebuilt from the ledger, so an incident announced
// before is not announced again and a pending window keeps its start.

// attemptDigest shortens an attempt identity (revision, generations, config
// digest) for the ledger. The engine compares attempts for equality only, so
// the reconciler hands it digests from the start.
func attemptDigest(attempt string) string {
	sum := sha256.Sum256([]byte(attempt))
	return hex.EncodeToString(sum[:8])
}

func toLedger(incidents []debounce.Incident) ([]fluxwatchv1.LedgerEntry, int32) {
	n := min(len(incidents), fluxwatchv1.MaxLedger)
	out := make([]fluxwatchv1.LedgerEntry, 0, n)
	for _, inc := range incidents[:n] {
		e := fluxwatchv1.LedgerEntry{
			Object:       inc.Key.String(),
			State:        phaseState(inc.Phase),
			OpenedAt:     metav1.NewMicroTime(inc.OpenedAt),
			RunningSince: microTimeOrNil(inc.RunningSince),
			FiringSince:  microTimeOrNil(inc.FiringSince),
			HealthySince: microTimeOrNil(inc.HealthySince),
			Attempt:      inc.Attempt,
			Reason:       inc.Reason,
			Revision:     inc.Revision,
		}
		if inc.Counted > 0 {
			e.Counted = &metav1.Duration{Duration: inc.Counted}
		}
		out = append(out, e)
	}
	return out, int32(len(incidents) - n)
}

// fromLedger rebuilds engine incidents. Messages come from status.incidents
// where the incident is shown there; the next observation refreshes them.
func fromLedger(entries []fluxwatchv1.LedgerEntry, shown []fluxwatchv1.Incident) []debounce.Incident {
	messages := map[string]string{}
	for _, s := range shown {
		messages[debounce.Key{Cluster: s.Cluster, Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}.String()] = s.Message
	}
	out := make([]debounce.Incident, 0, len(entries))
	for _, e := range entries {
		key, ok := parseKey(e.Object)
		if !ok {
			continue
		}
		inc := debounce.Incident{
			Key:          key,
			Phase:        debounce.Pending,
			OpenedAt:     e.OpenedAt.Time,
			RunningSince: timeOrZero(e.RunningSince),
			FiringSince:  timeOrZero(e.FiringSince),
			HealthySince: timeOrZero(e.HealthySince),
			Attempt:      e.Attempt,
			Reason:       e.Reason,
			Message:      messages[e.Object],
			Revision:     e.Revision,
		}
		if e.State == fluxwatchv1.IncidentFiring {
			inc.Phase = debounce.Firing
		}
		if e.Counted != nil {
			inc.Counted = e.Counted.Duration
		}
		out = append(out, inc)
	}
	return out
}

// toShown renders the newest incidents for people.
func toShown(incidents []debounce.Incident) ([]fluxwatchv1.Incident, int32) {
	n := min(len(incidents), fluxwatchv1.MaxIncidents)
	out := make([]fluxwatchv1.Incident, 0, n)
	for _, inc := range incidents[:n] {
		s := fluxwatchv1.Incident{
			Cluster:   inc.Key.Cluster,
			Kind:      inc.Key.Kind,
			Namespace: inc.Key.Namespace,
			Name:      inc.Key.Name,
			State:     phaseState(inc.Phase),
			Reason:    inc.Reason,
			Message:   truncateMessage(inc.Message),
			Revision:  inc.Revision,
			Since:     metav1.NewTime(inc.OpenedAt),
		}
		if !inc.FiringSince.IsZero() {
			t := metav1.NewTime(inc.FiringSince)
			s.FiringSince = &t
		}
		out = append(out, s)
	}
	return out, int32(len(incidents) - n)
}

func parseKey(s string) (debounce.Key, bool) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 {
		return debounce.Key{}, false
	}
	return debounce.Key{Cluster: parts[0], Kind: parts[1], Namespace: parts[2], Name: parts[3]}, true
}

func phaseState(p debounce.Phase) fluxwatchv1.IncidentState {
	if p == debounce.Firing {
		return fluxwatchv1.IncidentFiring
	}
	return fluxwatchv1.IncidentPending
}

func microTimeOrNil(t time.Time) *metav1.MicroTime {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewMicroTime(t)
	return &m
}

func timeOrZero(t *metav1.MicroTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// truncateMessage keeps status small: Flux messages can list many objects.
func truncateMessage(s string) string {
	const max = 512
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}
