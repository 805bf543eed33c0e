package fluxstatus

import (
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Strip is a cache transform (client-go cache.TransformFunc) that drops what
// FluxWatch never reads, so that a Kustomization with thousands of inventory
// entries costs little memory in the informer cache. It keeps everything Read
// uses: Read gives the same Reading before and after Strip.
//
// It changes the object in place, as informer transforms do: the object is
// freshly decoded and not yet shared. Objects of other types, including
// tombstones (cache.DeletedFinalStateUnknown), pass through unchanged.
// Stripping twice is the same as stripping once.
func Strip(obj any) (any, error) {
	switch o := obj.(type) {
	case *kustomizev1.Kustomization:
		stripMeta(o)
		s := &o.Spec
		s.Patches, s.Images, s.Components = nil, nil, nil
		s.PostBuild, s.CommonMetadata = nil, nil
		s.HealthChecks, s.HealthCheckExprs, s.Ignore = nil, nil, nil
		o.Status.Inventory = nil
		o.Status.History = nil
	case *helmv2.HelmRelease:
		stripMeta(o)
		s := &o.Spec
		s.Values, s.ValuesFrom, s.PostRenderers = nil, nil, nil
		s.CommonMetadata, s.HealthCheckExprs, s.DriftDetection = nil, nil, nil
		o.Status.Inventory = nil
		// Read needs only the chart version of the latest release.
		if latest := latestSnapshot(o.Status.History); latest != nil {
			kept := *latest
			kept.TestHooks = nil
			o.Status.History = helmv2.Snapshots{&kept}
		} else {
			o.Status.History = nil
		}
	case *sourcev1.GitRepository, *sourcev1.OCIRepository, *sourcev1.HelmRepository,
		*sourcev1.HelmChart, *sourcev1.Bucket, *sourcev1.ExternalArtifact:
		stripMeta(o.(client.Object))
	}
	return obj, nil
}

func stripMeta(o client.Object) {
	o.SetManagedFields(nil)
	o.SetAnnotations(nil)
}

// CacheTransform is the transform of every FluxWatch cache, local and
// remote: managed fields dropped from every object, and Strip applied to
// the Flux objects.
func CacheTransform(obj any) (any, error) {
	if _, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		return obj, nil
	}
	if m, err := apimeta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return Strip(obj)
}
