// Package fluxstatus owns reading a Flux object of any watched kind into
// what the debounce engine needs, and the table of reasons that decides which
// state a Flux condition set means. Everything here is a plain function over
// typed Flux objects or plain data: no client, no clock.
package fluxstatus

import (
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kind describes one watched Flux kind.
type Kind struct {
	// Name is the Kubernetes kind, e.g. "Kustomization".
	Name string
	// GroupVersion is the API group and version FluxWatch reads it at.
	GroupVersion schema.GroupVersion
	// NewObject returns an empty typed object of the kind.
	NewObject func() client.Object
	// NewList returns an empty typed list of the kind.
	NewList func() client.ObjectList
}

// GroupVersionKind returns the kind's full GVK.
func (k Kind) GroupVersionKind() schema.GroupVersionKind {
	return k.GroupVersion.WithKind(k.Name)
}

var kinds = []Kind{
	{
		Name:         kustomizev1.KustomizationKind,
		GroupVersion: kustomizev1.GroupVersion,
		NewObject:    func() client.Object { return &kustomizev1.Kustomization{} },
		NewList:      func() client.ObjectList { return &kustomizev1.KustomizationList{} },
	},
	{
		Name:         helmv2.HelmReleaseKind,
		GroupVersion: helmv2.GroupVersion,
		NewObject:    func() client.Object { return &helmv2.HelmRelease{} },
		NewList:      func() client.ObjectList { return &helmv2.HelmReleaseList{} },
	},
	{
		Name:         sourcev1.GitRepositoryKind,
		GroupVersion: sourcev1.GroupVersion,
		NewObject:    func() client.Object { return &sourcev1.GitRepository{} },
		NewList:      func() client.ObjectList { return &sourcev1.GitRepositoryList{} },
	},
	{
		Name:         sourcev1.OCIRepositoryKind,
		GroupVersion: sourcev1.GroupVersion,
		NewObject:    func() client.Object { return &sourcev1.OCIRepository{} },
		NewList:      func() client.ObjectList { return &sourcev1.OCIRepositoryList{} },
	},
	{
		Name:         sourcev1.HelmRepositoryKind,
		GroupVersion: sourcev1.GroupVersion,
		NewObject:    func() client.Object { return &sourcev1.HelmRepository{} },
		NewList:      func() client.ObjectList { return &sourcev1.HelmRepositoryList{} },
	},
	{
		Name:         sourcev1.HelmChartKind,
		GroupVersion: sourcev1.GroupVersion,
		NewObject:    func() client.Object { return &sourcev1.HelmChart{} },
		NewList:      func() client.ObjectList { return &sourcev1.HelmChartList{} },
	},
	{
		Name:         sourcev1.BucketKind,
		GroupVersion: sourcev1.GroupVersion,
		NewObject:    func() client.Object { return &sourcev1.Bucket{} },
		NewList:      func() client.ObjectList { return &sourcev1.BucketList{} },
	},
	{
		Name:         sourcev1.ExternalArtifactKind,
		GroupVersion: sourcev1.GroupVersion,
		NewObject:    func() client.Object { return &sourcev1.ExternalArtifact{} },
		NewList:      func() client.ObjectList { return &sourcev1.ExternalArtifactList{} },
	},
}

// Kinds returns all watched Flux kinds: Kustomization, HelmRelease,
// GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket,
// ExternalArtifact. The slice is a copy; callers may keep or change it.
func Kinds() []Kind {
	return append([]Kind(nil), kinds...)
}

// KindByName returns the watched kind with the given name.
func KindByName(name string) (Kind, bool) {
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// AddToScheme registers the three Flux API groups FluxWatch reads
// (kustomize.toolkit.fluxcd.io/v1, helm.toolkit.fluxcd.io/v2,
// source.toolkit.fluxcd.io/v1).
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		kustomizev1.AddToScheme,
		helmv2.AddToScheme,
		sourcev1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return fmt.Errorf("add Flux API to scheme: %w", err)
		}
	}
	return nil
}

// Ref names one Flux object.
type Ref struct {
	Kind, Namespace, Name string
}

// String renders the reference as Kind/namespace/name.
func (r Ref) String() string {
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}
