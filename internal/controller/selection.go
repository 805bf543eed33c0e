package controller

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
)

// errInvalidSpec marks a spec that passed API validation but cannot be used.
var errInvalidSpec = errors.New("invalid spec")

// target is a Target with its selectors parsed once.
type target struct {
	fluxwatchv1.Target
	// namespace is the resolved namespace: the FluxWatch's own when empty,
	// "" for every namespace (from "*" or a namespaceSelector).
	namespace   string
	nsSelector  labels.Selector
	objSelector labels.Selector
}

// compileTargets parses the label selectors of fw's targets.
func compileTargets(fw *fluxwatchv1.FluxWatch) ([]target, error) {
	out := make([]target, 0, len(fw.Spec.Targets))
	for i, t := range fw.Spec.Targets {
		c := target{Target: t, nsSelector: labels.Nothing(), objSelector: labels.Everything()}
		switch {
		case t.NamespaceSelector != nil:
			sel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
			if err != nil {
				return nil, fmt.Errorf("%w: spec.targets[%d].namespaceSelector: %w", errInvalidSpec, i, err)
			}
			c.nsSelector = sel
		case t.Namespace == fluxwatchv1.AllNamespaces:
			c.nsSelector = labels.Everything()
		case t.Namespace == "":
			c.namespace = fw.Namespace
		default:
			c.namespace = t.Namespace
		}
		if t.Selector != nil {
			sel, err := metav1.LabelSelectorAsSelector(t.Selector)
			if err != nil {
				return nil, fmt.Errorf("%w: spec.targets[%d].selector: %w", errInvalidSpec, i, err)
			}
			c.objSelector = sel
		}
		if c.Name == "" {
			c.Name = "*"
		}
		out = append(out, c)
	}
	return out, nil
}

// crossNamespace reports whether the target may reach outside ownNamespace.
func (t target) crossNamespace(ownNamespace string) bool {
	return t.namespace != ownNamespace
}

// matches reports whether the object is selected by the target. nsLabels is
// only called for a namespaceSelector target.
func (t target) matches(kind, namespace, name string, objLabels map[string]string, nsLabels func(string) (labels.Set, bool)) bool {
	if kind != t.Kind {
		return false
	}
	if t.namespace != "" && namespace != t.namespace {
		return false
	}
	if t.NamespaceSelector != nil {
		l, ok := nsLabels(namespace)
		if !ok || !t.nsSelector.Matches(l) {
			return false
		}
	}
	// The API only admits names of [a-z0-9.*?-], so path.Match cannot meet a
	// malformed pattern here.
	if ok, _ := path.Match(t.Name, name); !ok {
		return false
	}
	return t.objSelector.Matches(labels.Set(objLabels))
}

// selection is what one FluxWatch tracks right now on one cluster.
type selection struct {
	readings map[fluxstatus.Ref]fluxstatus.Reading
	// missingKinds are target kinds whose CRD is not installed.
	missingKinds []string
	// denied are target namespaces refused by --no-cross-namespace-refs.
	denied []string
}

func (s selection) sortedRefs() []fluxstatus.Ref {
	refs := make([]fluxstatus.Ref, 0, len(s.readings))
	for r := range s.readings {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	return refs
}

// namespaceLabels returns a lookup of namespace labels from the cache,
// memoised for one reconcile.
func namespaceLabels(ctx context.Context, c client.Reader) func(string) (labels.Set, bool) {
	memo := map[string]labels.Set{}
	return func(name string) (labels.Set, bool) {
		if l, ok := memo[name]; ok {
			return l, l != nil
		}
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
			memo[name] = nil
			return nil, false
		}
		memo[name] = labels.Set(ns.Labels)
		return memo[name], true
	}
}

// selectObjects lists, from the cluster's cache, the Flux objects the
// targets select.
func (r *FluxWatchReconciler) selectObjects(ctx context.Context, fw *fluxwatchv1.FluxWatch, targets []target, src clusterSource) (selection, error) {
	sel := selection{readings: map[fluxstatus.Ref]fluxstatus.Reading{}}
	nsLabels := namespaceLabels(ctx, src.reader)
	for _, t := range targets {
		if r.NoCrossNamespaceRefs && t.crossNamespace(fw.Namespace) {
			denied := t.Namespace
			if t.NamespaceSelector != nil {
				denied = "namespaceSelector " + metav1.FormatLabelSelector(t.NamespaceSelector)
			}
			sel.denied = appendUnique(sel.denied, denied)
			continue
		}
		kind, ok := fluxstatus.KindByName(t.Kind)
		if !ok || !src.watching(t.Kind) {
			sel.missingKinds = appendUnique(sel.missingKinds, t.Kind)
			continue
		}
		list := kind.NewList()
		if err := src.reader.List(ctx, list, client.InNamespace(t.namespace)); err != nil {
			return selection{}, fmt.Errorf("list %s: %w", t.Kind, err)
		}
		var readErr error
		_ = eachObject(list, func(obj client.Object) {
			if readErr != nil || !t.matches(t.Kind, obj.GetNamespace(), obj.GetName(), obj.GetLabels(), nsLabels) {
				return
			}
			reading, err := fluxstatus.Read(obj)
			if err != nil {
				readErr = err
				return
			}
			sel.readings[reading.Ref] = reading
		})
		if readErr != nil {
			return selection{}, fmt.Errorf("read %s: %w", t.Kind, readErr)
		}
	}
	return sel, nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// eachObject calls fn for every item of a typed list.
func eachObject(list client.ObjectList, fn func(client.Object)) error {
	return apimeta.EachListItem(list, func(o runtime.Object) error {
		if obj, ok := o.(client.Object); ok {
			fn(obj)
		}
		return nil
	})
}
