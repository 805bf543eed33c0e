package controller_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
)

// tableRow returns the cells `kubectl get fw` prints for fw: the API server
// renders the CRD's printer columns itself (Accept: as=Table).
func tableRow(t *testing.T, fw *fluxwatchv1.FluxWatch) []interface{} {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().
		AbsPath("/apis/fluxwatch.dev/v1alpha1/namespaces", fw.Namespace, "fluxwatches", fw.Name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		DoRaw(context.Background())
	if err != nil {
		t.Fatalf("get table: %v", err)
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(raw, table); err != nil {
		t.Fatal(err)
	}
	// kubectl shows the columns of priority 0; -o wide adds the others.
	var names, wide []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			names = append(names, c.Name)
		} else {
			wide = append(wide, c.Name)
		}
	}
	if got := strings.Join(names, ","); got != "Name,Ready,Tracked,Firing,Pending,Status,Age" {
		t.Fatalf("printer columns = %s", got)
	}
	if got := strings.Join(wide, ","); got != "Clusters" {
		t.Fatalf("-o wide columns = %s", got)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("table has %d rows", len(table.Rows))
	}
	return table.Rows[0].Cells
}

// TestValidationMessages checks that the API server itself refuses bad
// FluxWatches with a message a person can act on.
func TestValidationMessages(t *testing.T) {
	ns := newNamespace(t, nil)
	valid := func() fluxwatchv1.FluxWatchSpec {
		return fluxwatchv1.FluxWatchSpec{Targets: []fluxwatchv1.Target{{Kind: "Kustomization"}}}
	}
	cases := map[string]struct {
		mutate func(*fluxwatchv1.FluxWatchSpec)
		want   string
	}{
		"unknown kind": {func(s *fluxwatchv1.FluxWatchSpec) { s.Targets[0].Kind = "Deployment" },
			`spec.targets[0].kind: Unsupported value: "Deployment": supported values: "Kustomization", "HelmRelease"`},
		"empty target list": {func(s *fluxwatchv1.FluxWatchSpec) { s.Targets = []fluxwatchv1.Target{} },
			"spec.targets: Invalid value: 0: spec.targets in body should have at least 1 items"},
		"missing targets": {func(s *fluxwatchv1.FluxWatchSpec) { s.Targets = nil },
			"spec.targets: Required value"},
		"negative pendingFor": {func(s *fluxwatchv1.FluxWatchSpec) { s.PendingFor = dur(-5 * time.Minute) },
			"pendingFor must be a non-negative duration such as 30s, 10m or 1h30m"},
		"keepFiringFor longer than a day": {func(s *fluxwatchv1.FluxWatchSpec) { s.KeepFiringFor = dur(25 * time.Hour) },
			"keepFiringFor must be a duration between 0s and 24h, such as 5m"},
		"negative staleAfter": {func(s *fluxwatchv1.FluxWatchSpec) { s.StaleAfter = dur(-time.Second) },
			"staleAfter must be a non-negative duration such as 25m, or 0s to disable it"},
		"negative progressingDeadline": {func(s *fluxwatchv1.FluxWatchSpec) { s.ProgressingDeadline = dur(-time.Second) },
			"progressingDeadline must be a non-negative duration such as 30m, or 0s to disable it"},
		"malformed glob": {func(s *fluxwatchv1.FluxWatchSpec) { s.Targets[0].Name = "podinfo-[abc" },
			"name must be a glob of lowercase letters, digits, '-', '.', '*' (any characters) and '?' (one character)"},
		"bad namespace": {func(s *fluxwatchv1.FluxWatchSpec) { s.Targets[0].Namespace = "Apps_1" },
			`namespace must be a namespace name, or "*" for every namespace`},
		"namespace and namespaceSelector": {func(s *fluxwatchv1.FluxWatchSpec) {
			s.Targets[0].Namespace = "apps"
			s.Targets[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
		}, "namespace and namespaceSelector are mutually exclusive"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := valid()
			tc.mutate(&spec)
			fw := &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"}, Spec: spec}
			err := k8s.Create(context.Background(), fw)
			if err == nil {
				_ = k8s.Delete(context.Background(), fw)
				t.Fatalf("created; want refused with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}

	// An unparsable duration never reaches CEL: the typed client cannot
	// send one, so send raw JSON as kubectl apply would.
	t.Run("unparsable duration", func(t *testing.T) {
		cs, err := kubernetes.NewForConfig(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		body := `{"apiVersion":"fluxwatch.dev/v1alpha1","kind":"FluxWatch","metadata":{"name":"bad-duration"},"spec":{"targets":[{"kind":"Kustomization"}],"pendingFor":"ten minutes"}}`
		res := cs.RESTClient().Post().AbsPath("/apis/fluxwatch.dev/v1alpha1/namespaces", ns, "fluxwatches").
			SetHeader("Content-Type", "application/json").Body([]byte(body)).Do(context.Background())
		// The REST client keeps only a generic text in the error: read the
		// Status the API server sent, which is what kubectl prints.
		raw, _ := res.Raw()
		want := `spec.pendingFor: Invalid value: \"ten minutes\": pendingFor must be a non-negative duration such as 30s, 10m or 1h30m`
		if res.Error() == nil || !strings.Contains(string(raw), want) {
			t.Fatalf("response = %s; want it refused with %s", raw, want)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		fw := newFluxWatch(t, ns, "defaults", valid())
		got := getFW(t, fw)
		if got.Spec.PendingFor.Duration != 10*time.Minute || got.Spec.KeepFiringFor.Duration != 0 ||
			got.Spec.ProgressingDeadline.Duration != 30*time.Minute || got.Spec.Targets[0].Name != "*" || got.Spec.StaleAfter != nil {
			t.Errorf("defaults = %+v", got.Spec)
		}
	})
}
