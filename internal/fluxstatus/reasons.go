package fluxstatus

import (
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
)

// Reasons FluxWatch writes itself, when a verdict is about an object's
// dependencies rather than about Flux's own conditions.
const (
	// ReasonDependencyNotFound: a dependency named by the object does not exist.
	ReasonDependencyNotFound = "DependencyNotFound"
	// ReasonDependencyFailed: the root of the object's dependency chain is
	// failing and is not watched by this FluxWatch, so the object reports it.
	ReasonDependencyFailed = "DependencyFailed"
	// ReasonDependencyCycle: the object's dependencies lead back to itself.
	ReasonDependencyCycle = "DependencyCycle"
	// ReasonDependencyChainTooLong: the dependency chain is longer than
	// MaxDependencyDepth; FluxWatch stops following it.
	ReasonDependencyChainTooLong = "DependencyChainTooLong"
	// ReasonNoStatus: an OCI HelmRepository, which Flux leaves without
	// conditions.
	ReasonNoStatus = "NoStatus"
)

// Flux reasons that have no exported constant in the Flux API modules.
const (
	// SourceNotReadyReason is helm-controller's Ready=False reason while the
	// chart source of a HelmRelease is not ready.
	SourceNotReadyReason = "SourceNotReady"
)

// MaxDependencyDepth bounds how far Resolve follows a dependency chain.
const MaxDependencyDepth = 32

// The table of reasons. Suspend, Stalled=True and Ready=True at the observed
// generation are decided before any reason is looked at; these tables only
// say what a Ready=False reason means. Any Ready=False reason not listed is
// Failing, whatever else the object's conditions say (ArtifactInStorage=True
// on a source whose fetch fails, RollbackSucceeded on a HelmRelease, an
// observedGeneration that Flux has not written yet).

// waitReasons are Ready=False reasons by which Flux says the object waits on
// other objects, by kind. The verdict is Blocked on those objects.
var waitReasons = map[string]map[string]bool{
	kustomizev1.KustomizationKind: {meta.DependencyNotReadyReason: true},
	helmv2.HelmReleaseKind:        {helmv2.DependencyNotReadyReason: true, SourceNotReadyReason: true},
}

// progressReasons are Ready=False reasons that mean Flux is already working
// on something newer: InProgress, not Failing.
var progressReasons = map[string]bool{
	// A health check superseded by a new revision: Flux starts over at once.
	meta.HealthCheckCanceledReason: true,
}
