package fluxstatus

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrUnsupportedObject is returned by Read for an object that is not one of
// the watched Flux kinds.
var ErrUnsupportedObject = errors.New("not a watched Flux object")

// Reading is what FluxWatch keeps of one Flux object.
type Reading struct {
	Ref
	Labels     map[string]string
	Generation int64
	// ObservedGeneration is status.observedGeneration: -1 or 0 while Flux
	// has not written it.
	ObservedGeneration int64
	// HasObservedGeneration is false for kinds without
	// status.observedGeneration (ExternalArtifact).
	HasObservedGeneration bool
	Suspended             bool
	// Ready and Stalled are copies of the conditions; nil when absent.
	Ready, Stalled *metav1.Condition
	// NoConditionsIsHealthy is set for an OCI HelmRepository (spec.type: oci),
	// which Flux leaves without conditions.
	NoConditionsIsHealthy bool
	// Revision is what the object runs: lastAppliedRevision (Kustomization),
	// the chart version of the latest release (HelmRelease), the artifact
	// revision (sources).
	Revision string
	// AttemptedRevision is status.lastAttemptedRevision where the kind has it.
	AttemptedRevision string
	// Attempt identifies the current attempt; it changes when Flux starts
	// working on a new revision, generation or configuration.
	Attempt string
	// DependsOn is spec.dependsOn, same kind, namespace defaulted.
	DependsOn []Ref
	// ChartSource is, for a HelmRelease, the object it waits on while
	// Ready=False/SourceNotReady; nil when unknown.
	ChartSource *Ref
	// Interval and Timeout are spec.interval and the effective timeout of a
	// Kustomization or HelmRelease; zero for the sources.
	Interval, Timeout time.Duration
	ResourceVersion   string
	Created           time.Time
}

// Read reads a typed Flux object of one of the watched kinds. It does not
// keep references into obj, so obj may be a shared cache object.
func Read(obj client.Object) (Reading, error) {
	var (
		r     Reading
		conds []metav1.Condition
	)
	switch o := obj.(type) {
	case *kustomizev1.Kustomization:
		r.Kind = kustomizev1.KustomizationKind
		r.ObservedGeneration, r.HasObservedGeneration = o.Status.ObservedGeneration, true
		r.Suspended = o.Spec.Suspend
		conds = o.Status.Conditions
		r.Revision = o.Status.LastAppliedRevision
		r.AttemptedRevision = o.Status.LastAttemptedRevision
		r.Attempt = "rev=" + o.Status.LastAttemptedRevision + ";gen=" + strconv.FormatInt(o.Generation, 10)
		r.DependsOn = dependsOn(kustomizev1.KustomizationKind, o.Namespace, o.Spec.DependsOn)
		r.Interval = o.Spec.Interval.Duration
		r.Timeout = o.GetTimeout()
	case *helmv2.HelmRelease:
		r.Kind = helmv2.HelmReleaseKind
		r.ObservedGeneration, r.HasObservedGeneration = o.Status.ObservedGeneration, true
		r.Suspended = o.Spec.Suspend
		conds = o.Status.Conditions
		if s := latestSnapshot(o.Status.History); s != nil {
			r.Revision = s.ChartVersion
		}
		r.AttemptedRevision = o.Status.LastAttemptedRevision
		r.Attempt = "rev=" + o.Status.LastAttemptedRevision +
			";attemptedGen=" + strconv.FormatInt(o.Status.LastAttemptedGeneration, 10) +
			";config=" + o.Status.LastAttemptedConfigDigest +
			";gen=" + strconv.FormatInt(o.Generation, 10)
		r.DependsOn = dependsOn(helmv2.HelmReleaseKind, o.Namespace, o.Spec.DependsOn)
		r.ChartSource = chartSource(o)
		r.Interval = o.Spec.Interval.Duration
		r.Timeout = o.GetTimeout().Duration
	case *sourcev1.GitRepository:
		r.Kind = sourcev1.GitRepositoryKind
		r.ObservedGeneration, r.HasObservedGeneration = o.Status.ObservedGeneration, true
		r.Suspended = o.Spec.Suspend
		conds = o.Status.Conditions
		r.Revision = artifactRevision(o.Status.Artifact)
	case *sourcev1.OCIRepository:
		r.Kind = sourcev1.OCIRepositoryKind
		r.ObservedGeneration, r.HasObservedGeneration = o.Status.ObservedGeneration, true
		r.Suspended = o.Spec.Suspend
		conds = o.Status.Conditions
		r.Revision = artifactRevision(o.Status.Artifact)
	case *sourcev1.HelmRepository:
		r.Kind = sourcev1.HelmRepositoryKind
		r.ObservedGeneration, r.HasObservedGeneration = o.Status.ObservedGeneration, true
		r.Suspended = o.Spec.Suspend
		conds = o.Status.Conditions
		r.Revision = artifactRevision(o.Status.Artifact)
		r.NoConditionsIsHealthy = o.Spec.Type == sourcev1.HelmRepositoryTypeOCI
	case *sourcev1.HelmChart:
		r.Kind = sourcev1.HelmChartKind
		r.ObservedGeneration, r.HasObservedGeneration = o.Status.ObservedGeneration, true
		r.Suspended = o.Spec.Suspend
		conds = o.Status.Conditions
		r.Revision = artifactRevision(o.Status.Artifact)
	case *sourcev1.Bucket:
		r.Kind = sourcev1.BucketKind
		r.ObservedGeneration, r.HasObservedGeneration = o.Status.ObservedGeneration, true
		r.Suspended = o.Spec.Suspend
		conds = o.Status.Conditions
		r.Revision = artifactRevision(o.Status.Artifact)
	case *sourcev1.ExternalArtifact:
		r.Kind = sourcev1.ExternalArtifactKind
		conds = o.Status.Conditions
		r.Revision = artifactRevision(o.Status.Artifact)
	default:
		return Reading{}, fmt.Errorf("read %T: %w", obj, ErrUnsupportedObject)
	}
	if r.Kind != helmv2.HelmReleaseKind && r.Kind != kustomizev1.KustomizationKind {
		r.Attempt = "gen=" + strconv.FormatInt(obj.GetGeneration(), 10)
	}
	r.Namespace = obj.GetNamespace()
	r.Name = obj.GetName()
	r.Labels = maps.Clone(obj.GetLabels())
	r.Generation = obj.GetGeneration()
	r.ResourceVersion = obj.GetResourceVersion()
	r.Created = obj.GetCreationTimestamp().Time
	r.Ready = findCondition(conds, meta.ReadyCondition)
	r.Stalled = findCondition(conds, meta.StalledCondition)
	return r, nil
}

func findCondition(conds []metav1.Condition, t string) *metav1.Condition {
	c := apimeta.FindStatusCondition(conds, t)
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}

func artifactRevision(a *meta.Artifact) string {
	if a == nil {
		return ""
	}
	return a.Revision
}

func dependsOn(kind, namespace string, deps []meta.DependencyReference) []Ref {
	if len(deps) == 0 {
		return nil
	}
	refs := make([]Ref, 0, len(deps))
	for _, d := range deps {
		ns := d.Namespace
		if ns == "" {
			ns = namespace
		}
		refs = append(refs, Ref{Kind: kind, Namespace: ns, Name: d.Name})
	}
	return refs
}

// latestSnapshot returns the release with the highest Helm version, which is
// history[0] as helm-controller writes it. It does not sort the slice, which
// may belong to a shared cache object.
func latestSnapshot(h helmv2.Snapshots) *helmv2.Snapshot {
	var latest *helmv2.Snapshot
	for _, s := range h {
		if s != nil && (latest == nil || s.Version > latest.Version) {
			latest = s
		}
	}
	return latest
}

// chartSource returns what helm-controller gets the chart from: the
// spec.chartRef target, else the HelmChart it created from spec.chart
// (status.helmChart, "namespace/name").
func chartSource(hr *helmv2.HelmRelease) *Ref {
	if ref := hr.Spec.ChartRef; ref != nil {
		ns := ref.Namespace
		if ns == "" {
			ns = hr.Namespace
		}
		return &Ref{Kind: ref.Kind, Namespace: ns, Name: ref.Name}
	}
	if hr.Status.HelmChart == "" {
		return nil
	}
	ns, name, ok := strings.Cut(hr.Status.HelmChart, "/")
	if !ok {
		ns, name = hr.Namespace, hr.Status.HelmChart
	}
	return &Ref{Kind: sourcev1.HelmChartKind, Namespace: ns, Name: name}
}
