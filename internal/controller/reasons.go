// Package controller owns the FluxWatch reconciler and its manager setup: it
// selects the Flux objects each FluxWatch targets, feeds their readings to a
// debounce engine, and turns the engine's transitions into one status patch
// and events. It decides nothing about what "failing" means: that is
// internal/fluxstatus and internal/debounce.
package controller

import "github.com/fluxcd/pkg/apis/meta"

// Event reasons on the FluxWatch object. They are part of the API: alert
// routes and dashboards match on them.
const (
	// ReasonResourceFailing (Warning): an incident fired.
	ReasonResourceFailing = "ResourceFailing"
	// ReasonResourceRecovered (Normal): a fired incident's object is healthy again.
	ReasonResourceRecovered = "ResourceRecovered"
	// ReasonResourceSuspended (Normal): a fired incident's object was suspended while failing.
	ReasonResourceSuspended = "ResourceSuspended"
	// ReasonResourceDeleted (Normal): a fired incident's object was deleted while failing.
	ReasonResourceDeleted = "ResourceDeleted"
	// ReasonResourceUnwatched (Normal): a fired incident's object is no longer selected.
	ReasonResourceUnwatched = "ResourceUnwatched"
	// ReasonClusterUnreachable (Warning): a watched cluster could not be
	// read for pendingFor; its objects keep their last known state.
	ReasonClusterUnreachableEvent = "ClusterUnreachable"
	// ReasonClusterReachable (Normal): a cluster announced unreachable is back.
	ReasonClusterReachable = "ClusterReachable"
	// ReasonRevisionReady (Normal): a revision is Ready on every watched
	// cluster that has the object.
	ReasonRevisionReady = "RevisionReady"
	// ReasonRevisionFailed (Warning): an object tracked on several clusters
	// fired on one of them; names where it is fine and where it is not.
	ReasonRevisionFailed = "RevisionFailed"
)

// Ready condition reasons of a FluxWatch.
const (
	// ReasonSucceeded: every target is watched.
	ReasonSucceeded = meta.SucceededReason
	// ReasonNothingSelected: watching works but no object matches the targets.
	ReasonNothingSelected = "NothingSelected"
	// ReasonAccessDenied: a target names another namespace while the
	// controller runs with --no-cross-namespace-refs.
	ReasonAccessDenied = "AccessDenied"
	// ReasonCRDNotFound: a target's Flux kind is not installed.
	ReasonCRDNotFound = "CRDNotFound"
	// ReasonInvalidSpec: the spec passed API validation but cannot be used
	// (e.g. an invalid label selector).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonSuspended: spec.suspend is true.
	ReasonSuspended = "Suspended"
)

// Annotations on incident events, for machines.
const (
	annotationPrefix     = "fluxwatch.dev/"
	AnnotationCluster    = annotationPrefix + "cluster"
	AnnotationKind       = annotationPrefix + "kind"
	AnnotationNamespace  = annotationPrefix + "namespace"
	AnnotationName       = annotationPrefix + "name"
	AnnotationReason     = annotationPrefix + "reason"
	AnnotationRevision   = annotationPrefix + "revision"
	AnnotationSince      = annotationPrefix + "since"
	AnnotationDuration   = annotationPrefix + "duration"
	AnnotationTransition = annotationPrefix + "transition"
)
