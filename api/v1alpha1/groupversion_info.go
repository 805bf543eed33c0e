// Package v1alpha1 contains the FluxWatch API, group fluxwatch.dev.
// +kubebuilder:object:generate=true
// +groupName=fluxwatch.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the FluxWatch API.
	GroupVersion = schema.GroupVersion{Group: "fluxwatch.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the FluxWatch types with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the FluxWatch types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
