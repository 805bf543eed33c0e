package controller

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/debounce"
	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
	"github.com/fluxwatch/fluxwatch/internal/notify"
)

// maxRevisions caps status.revisions (its MaxItems).
const maxRevisions = 100

// rollout gathers, during one reconcile, each object's revision and state
// on every cluster that has it.
type rollout map[fluxstatus.Ref][]fluxwatchv1.ClusterRevision

// add records k's revision and state.
func (ro rollout) add(k debounce.Key, revision, state, reason string) {
	ref := fluxstatus.Ref{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name}
	ro[ref] = append(ro[ref], fluxwatchv1.ClusterRevision{Cluster: k.Cluster, Revision: revision, State: state, Reason: reason})
}

// stateOf is what the rollout view shows of k: the incident's phase when it
// has one, else the engine's state.
func stateOf(engine *debounce.Engine, incidents map[debounce.Key]debounce.Incident, k debounce.Key) (string, string) {
	if inc, ok := incidents[k]; ok {
		return string(inc.Phase), inc.Reason
	}
	if s, ok := engine.State(k); ok {
		return string(s), ""
	}
	return "Unknown", ""
}

// failedEvent is the RevisionFailed event of an incident that fired on an
// object tracked on several clusters: which clusters are fine, which not.
func (ro rollout) failedEvent(t debounce.Transition) (notify.Event, bool) {
	k := t.Incident.Key
	ref := fluxstatus.Ref{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name}
	entries := ro[ref]
	if t.Type != debounce.Fired || len(entries) < 2 {
		return notify.Event{}, false
	}
	var fine, bad []string
	for _, e := range entries {
		desc := fmt.Sprintf("%s (%s", e.Cluster, e.State)
		if e.Revision != "" {
			desc += " at " + e.Revision
		}
		desc += ")"
		if e.State == string(debounce.Healthy) {
			fine = append(fine, desc)
		} else {
			bad = append(bad, desc)
		}
	}
	msg := fmt.Sprintf("%s %s/%s revision %s failed on cluster %s (%s)", k.Kind, k.Namespace, k.Name, t.Incident.Revision, k.Cluster, t.Incident.Reason)
	if len(bad) > 0 {
		msg += "; not ready on " + strings.Join(bad, ", ")
	}
	if len(fine) > 0 {
		msg += "; healthy on " + strings.Join(fine, ", ")
	}
	return notify.Event{Type: corev1.EventTypeWarning, Reason: ReasonRevisionFailed, Message: msg, Annotations: map[string]string{
		AnnotationCluster: k.Cluster, AnnotationKind: k.Kind, AnnotationNamespace: k.Namespace, AnnotationName: k.Name,
		AnnotationReason: t.Incident.Reason, AnnotationRevision: t.Incident.Revision,
	}}, true
}

// status renders the objects on more than one cluster, those whose clusters
// disagree first, and returns the RevisionReady events of the revisions
// that just became Ready everywhere. prev is the previous status.revisions:
// a revision already announced is not announced again, and an object seen
// for the first time records its revision silently (a restart, or a new
// FluxWatch, announces nothing).
func (ro rollout) status(prev []fluxwatchv1.ObjectRevisions) ([]fluxwatchv1.ObjectRevisions, int32, []notify.Event) {
	before := map[fluxstatus.Ref]fluxwatchv1.ObjectRevisions{}
	for _, p := range prev {
		before[fluxstatus.Ref{Kind: p.Kind, Namespace: p.Namespace, Name: p.Name}] = p
	}
	var out []fluxwatchv1.ObjectRevisions
	var events []notify.Event
	for ref, entries := range ro {
		if len(entries) < 2 {
			continue
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Cluster < entries[j].Cluster })
		o := fluxwatchv1.ObjectRevisions{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Clusters: entries}
		p, seen := before[ref]
		o.ReadyRevision = p.ReadyRevision
		if rev, ok := readyEverywhere(entries); ok && rev != p.ReadyRevision {
			o.ReadyRevision = rev
			if seen {
				events = append(events, notify.Event{Type: corev1.EventTypeNormal, Reason: ReasonRevisionReady,
					Message:     fmt.Sprintf("%s %s/%s revision %s is Ready on every cluster: %s", ref.Kind, ref.Namespace, ref.Name, rev, clusterNames(entries)),
					Annotations: map[string]string{AnnotationKind: ref.Kind, AnnotationNamespace: ref.Namespace, AnnotationName: ref.Name, AnnotationRevision: rev}})
			}
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		_, ui := readyEverywhere(out[i].Clusters)
		_, uj := readyEverywhere(out[j].Clusters)
		if ui != uj {
			return !ui
		}
		return refOf(out[i]).String() < refOf(out[j]).String()
	})
	sort.Slice(events, func(i, j int) bool { return events[i].Message < events[j].Message })
	truncated := int32(0)
	if len(out) > maxRevisions {
		truncated = int32(len(out) - maxRevisions)
		out = out[:maxRevisions]
	}
	return out, truncated, events
}

// readyEverywhere reports the revision when every cluster runs it healthy.
func readyEverywhere(entries []fluxwatchv1.ClusterRevision) (string, bool) {
	if len(entries) == 0 {
		return "", false
	}
	rev := entries[0].Revision
	for _, e := range entries {
		if e.State != string(debounce.Healthy) || e.Revision != rev || rev == "" {
			return "", false
		}
	}
	return rev, true
}

func clusterNames(entries []fluxwatchv1.ClusterRevision) string {
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Cluster)
	}
	return strings.Join(names, ", ")
}

func refOf(o fluxwatchv1.ObjectRevisions) fluxstatus.Ref {
	return fluxstatus.Ref{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
}

// previousRevisions indexes a status.revisions by object and cluster.
func previousRevisions(prev []fluxwatchv1.ObjectRevisions) map[debounce.Key]fluxwatchv1.ClusterRevision {
	out := map[debounce.Key]fluxwatchv1.ClusterRevision{}
	for _, o := range prev {
		for _, c := range o.Clusters {
			out[debounce.Key{Cluster: c.Cluster, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}] = c
		}
	}
	return out
}
