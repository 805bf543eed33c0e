package demo

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
)

// sample is one FluxWatch of config/samples/, as written there and as the
// demo applies it.
type sample struct {
	file    string
	written *fluxwatchv1.FluxWatch
	applied *fluxwatchv1.FluxWatch
}

// docSeparator splits a multi-document YAML file.
var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// loadSamples reads the FluxWatches listed in dir/kustomization.yaml, the
// same files `kubectl apply -k config/samples` applies.
func loadSamples(dir string) ([]sample, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read samples: %w", err)
	}
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &kustomization); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, "kustomization.yaml"), err)
	}
	var out []sample
	for _, res := range kustomization.Resources {
		file := filepath.Join(dir, res)
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read sample: %w", err)
		}
		for _, doc := range docSeparator.Split(string(data), -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			fw := &fluxwatchv1.FluxWatch{}
			// Strict, so that a sample with a misspelt field fails here
			// rather than behaving differently from what it says.
			if err := yaml.UnmarshalStrict([]byte(doc), fw); err != nil {
				return nil, fmt.Errorf("read sample %s: %w", file, err)
			}
			if fw.Kind != fluxwatchv1.FluxWatchKind {
				continue
			}
			out = append(out, sample{file: file, written: fw})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read samples: no FluxWatch in %s", dir)
	}
	return out, nil
}

// find returns the sample FluxWatch with the given name.
func find(samples []sample, name string) (*sample, bool) {
	for i := range samples {
		if samples[i].written.Name == name {
			return &samples[i], true
		}
	}
	return nil, false
}

// scaledCopy is the sample as the demo applies it, in namespace ns: every
// window divided by the speedup, defaults included (a default of 30m is as
// much part of the policy as a written one). "0s" stays "0s" (disabled).
func scaledCopy(fw *fluxwatchv1.FluxWatch, ns string, demo func(time.Duration) time.Duration) *fluxwatchv1.FluxWatch {
	out := fw.DeepCopy()
	out.Namespace = ns
	out.ResourceVersion = ""
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: demo(d)} }
	out.Spec.PendingFor = dur(fw.GetPendingFor())
	out.Spec.KeepFiringFor = dur(fw.GetKeepFiringFor())
	out.Spec.ProgressingDeadline = dur(fw.GetProgressingDeadline())
	if d, ok := fw.GetStaleAfter(); ok {
		out.Spec.StaleAfter = dur(d)
	}
	return out
}

// windows describes a FluxWatch's windows, as written and as applied.
func windows(written, applied *fluxwatchv1.FluxWatch) string {
	parts := []string{
		fmt.Sprintf("pendingFor %s → %s", shortDuration(written.GetPendingFor()), shortDuration(applied.GetPendingFor())),
		fmt.Sprintf("keepFiringFor %s → %s", shortDuration(written.GetKeepFiringFor()), shortDuration(applied.GetKeepFiringFor())),
		fmt.Sprintf("progressingDeadline %s → %s", shortDuration(written.GetProgressingDeadline()), shortDuration(applied.GetProgressingDeadline())),
	}
	if d, ok := written.GetStaleAfter(); ok {
		a, _ := applied.GetStaleAfter()
		parts = append(parts, fmt.Sprintf("staleAfter %s → %s", shortDuration(d), shortDuration(a)))
	}
	return strings.Join(parts, ", ")
}

// namespaceLabels returns the labels a namespace needs for fw's
// namespaceSelectors to select it: the union of their matchLabels.
func namespaceLabels(fw *fluxwatchv1.FluxWatch) map[string]string {
	out := map[string]string{}
	for _, t := range fw.Spec.Targets {
		if t.NamespaceSelector == nil {
			continue
		}
		for k, v := range t.NamespaceSelector.MatchLabels {
			out[k] = v
		}
	}
	return out
}

// selects reports whether fw targets obj, for the summary to say which
// window applied to it. It follows the API's documented rules: a kind, a
// namespace (the FluxWatch's own by default, "*" for all) or a
// namespaceSelector, a name glob and a label selector.
func selects(fw *fluxwatchv1.FluxWatch, obj client.Object, nsLabels map[string]string) bool {
	for _, t := range fw.Spec.Targets {
		if t.Kind != kindOf(obj) {
			continue
		}
		switch {
		case t.NamespaceSelector != nil:
			sel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
			if err != nil || !sel.Matches(labels.Set(nsLabels)) {
				continue
			}
		case t.Namespace == fluxwatchv1.AllNamespaces:
		case t.Namespace == "" && obj.GetNamespace() != fw.Namespace:
			continue
		case t.Namespace != "" && obj.GetNamespace() != t.Namespace:
			continue
		}
		name := t.Name
		if name == "" {
			name = "*"
		}
		if ok, _ := path.Match(name, obj.GetName()); !ok {
			continue
		}
		if t.Selector != nil {
			sel, err := metav1.LabelSelectorAsSelector(t.Selector)
			if err != nil || !sel.Matches(labels.Set(obj.GetLabels())) {
				continue
			}
		}
		return true
	}
	return false
}
