// Package fluxsim writes Flux objects and their status the way the Flux
// controllers do, for the scenario tests and `make demo`: status goes through
// the status subresource as a merge patch under the Flux controller's field
// manager (kustomize-controller, helm-controller, source-controller).
//
// The timelines in timelines.go are the sequences recorded from real Flux
// controllers in FLUX-STATUS.md, scaled down in time.
package fluxsim

import (
	"context"
	"fmt"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Field managers of the Flux controllers.
const (
	KustomizeController = "kustomize-controller"
	HelmController      = "helm-controller"
	SourceController    = "source-controller"
)

// Writer creates Flux objects and writes their status.
type Writer struct {
	Client client.Client
	// Now stamps condition transition times; defaults to time.Now.
	Now func() time.Time
}

func (w *Writer) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Status is a status write: the conditions to set (others are kept unless
// Remove names them) and the fields Flux moves with them.
type Status struct {
	Ready   *metav1.Condition
	Stalled *metav1.Condition
	Conds   []metav1.Condition
	Remove  []string
	// ObservedGeneration: nil leaves it; a pointer to 0 means "the current
	// generation" (Flux writes it when an object becomes Ready or Stalled).
	ObservedGeneration *int64
	// Revision is lastAppliedRevision (Kustomization), the artifact revision
	// (sources), the chart version of the release (HelmRelease).
	Revision string
	// AttemptedRevision is lastAttemptedRevision.
	AttemptedRevision string
	// Failures is status.failures of a HelmRelease.
	Failures *int64
}

// Cond builds a condition.
func Cond(typ string, status metav1.ConditionStatus, reason, message string) *metav1.Condition {
	return &metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message}
}

// Ready builds a Ready condition.
func Ready(status metav1.ConditionStatus, reason, message string) *metav1.Condition {
	return Cond(meta.ReadyCondition, status, reason, message)
}

// CurrentGeneration is the ObservedGeneration value meaning "the object's
// current generation".
func CurrentGeneration() *int64 { v := int64(0); return &v }

// Kustomization returns a Kustomization with the given source and interval.
func Kustomization(namespace, name, source string, interval time.Duration, dependsOn ...string) *kustomizev1.Kustomization {
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: interval},
			Path:      "./deploy/" + name,
			Prune:     true,
			Wait:      true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: source},
		},
	}
	for _, d := range dependsOn {
		k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
	}
	return k
}

// HelmRelease returns a HelmRelease using an OCIRepository chart.
func HelmRelease(namespace, name, chart string, interval time.Duration) *helmv2.HelmRelease {
	return &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: interval},
			ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: chart},
		},
	}
}

// GitRepository returns a GitRepository.
func GitRepository(namespace, name string, interval time.Duration) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: sourcev1.GitRepositorySpec{
			URL:       "https://git.example.com/fleet.git",
			Interval:  metav1.Duration{Duration: interval},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
}

// Create creates obj (as a person or CI applying it would).
func (w *Writer) Create(ctx context.Context, obj client.Object) error {
	if err := w.Client.Create(ctx, obj); err != nil {
		return fmt.Errorf("create %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// Write applies s to obj's status as its Flux controller would: one merge
// patch through the status subresource under the controller's field manager.
// obj is refreshed from the API server first and holds the result.
func (w *Writer) Write(ctx context.Context, obj client.Object, s Status) error {
	if err := w.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return fmt.Errorf("get %s: %w", obj.GetName(), err)
	}
	before, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return fmt.Errorf("copy %T", obj)
	}
	now := metav1.NewTime(w.now())
	manager, err := w.apply(obj, s, now)
	if err != nil {
		return err
	}
	if err := w.Client.Status().Patch(ctx, obj, client.MergeFrom(before), client.FieldOwner(manager)); err != nil {
		return fmt.Errorf("patch status of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func setConds(conds *[]metav1.Condition, s Status, gen int64, now metav1.Time) {
	for _, t := range s.Remove {
		apimeta.RemoveStatusCondition(conds, t)
	}
	all := append([]metav1.Condition(nil), s.Conds...)
	if s.Ready != nil {
		all = append(all, *s.Ready)
	}
	if s.Stalled != nil {
		all = append(all, *s.Stalled)
	}
	for _, c := range all {
		c.ObservedGeneration = gen
		c.LastTransitionTime = now
		apimeta.SetStatusCondition(conds, c)
	}
}

func observed(s Status, gen int64, cur int64) int64 {
	if s.ObservedGeneration == nil {
		return cur
	}
	if *s.ObservedGeneration == 0 {
		return gen
	}
	return *s.ObservedGeneration
}

func (w *Writer) apply(obj client.Object, s Status, now metav1.Time) (string, error) {
	gen := obj.GetGeneration()
	switch o := obj.(type) {
	case *kustomizev1.Kustomization:
		setConds(&o.Status.Conditions, s, gen, now)
		o.Status.ObservedGeneration = observed(s, gen, o.Status.ObservedGeneration)
		if s.Revision != "" {
			o.Status.LastAppliedRevision = s.Revision
		}
		if s.AttemptedRevision != "" {
			o.Status.LastAttemptedRevision = s.AttemptedRevision
		}
		return KustomizeController, nil
	case *helmv2.HelmRelease:
		setConds(&o.Status.Conditions, s, gen, now)
		o.Status.ObservedGeneration = observed(s, gen, o.Status.ObservedGeneration)
		if s.AttemptedRevision != "" {
			o.Status.LastAttemptedRevision = s.AttemptedRevision
			o.Status.LastAttemptedGeneration = gen
		}
		if s.Revision != "" {
			o.Status.History = helmv2.Snapshots{{
				Name: o.Name, Namespace: o.Namespace, Version: 1, ChartName: o.Name,
				ChartVersion: s.Revision, ConfigDigest: "sha256:0", Digest: "sha256:0",
				Status: "deployed", FirstDeployed: now, LastDeployed: now,
			}}
		}
		if s.Failures != nil {
			o.Status.Failures = *s.Failures
		}
		return HelmController, nil
	case *sourcev1.GitRepository:
		setConds(&o.Status.Conditions, s, gen, now)
		o.Status.ObservedGeneration = observed(s, gen, o.Status.ObservedGeneration)
		if s.Revision != "" {
			o.Status.Artifact = artifact("gitrepository", o, s.Revision, now)
		}
		return SourceController, nil
	case *sourcev1.OCIRepository:
		setConds(&o.Status.Conditions, s, gen, now)
		o.Status.ObservedGeneration = observed(s, gen, o.Status.ObservedGeneration)
		if s.Revision != "" {
			o.Status.Artifact = artifact("ocirepository", o, s.Revision, now)
		}
		return SourceController, nil
	case *sourcev1.HelmChart:
		setConds(&o.Status.Conditions, s, gen, now)
		o.Status.ObservedGeneration = observed(s, gen, o.Status.ObservedGeneration)
		return SourceController, nil
	}
	return "", fmt.Errorf("fluxsim cannot write the status of %T", obj)
}

// artifact is the artifact source-controller stores for a source revision.
func artifact(kind string, o client.Object, revision string, now metav1.Time) *meta.Artifact {
	return &meta.Artifact{
		Path:     kind + "/" + o.GetNamespace() + "/" + o.GetName() + "/artifact.tar.gz",
		URL:      "http://source-controller." + o.GetNamespace() + "/" + kind + "/" + o.GetName() + "/artifact.tar.gz",
		Revision: revision, Digest: "sha256:0", LastUpdateTime: now,
	}
}
