package multicluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

const (
	rev2 = "main@sha1:41c0e2b7a9d3f1e5c8b6a4d2f0e9c7b5a3d1f8e6"
	rev3 = "main@sha1:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
)

func applied(r string) fluxsim.Status {
	return fluxsim.Status{Revision: r, AttemptedRevision: r, ObservedGeneration: fluxsim.CurrentGeneration(),
		Ready: fluxsim.Ready(metav1.ConditionTrue, meta.ReconciliationSucceededReason, "Applied revision: "+r)}
}

// TestRollout: one Kustomization on three clusters. A revision Ready on all
// three gives one RevisionReady; a revision healthy on two and failing on
// the third gives one RevisionFailed naming where it is fine and where not,
// and status.revisions shows each cluster's revision and state.
func TestRollout(t *testing.T) {
	ctx := context.Background()
	const ns = "rollout"
	type cluster struct {
		name string
		env  *testenv.Env
		w    *fluxsim.Writer
		k    client.Object
	}
	cls := []*cluster{{name: "local", env: local}, {name: "prod-eu", env: remote}, {name: "staging", env: staging}}
	spec := fluxwatchv1.FluxWatchSpec{Targets: []fluxwatchv1.Target{{Kind: "Kustomization"}}, PendingFor: &metav1.Duration{Duration: time.Second}}
	for _, c := range cls {
		namespace(t, c.env.Client, ns)
		c.w, c.k = kustomization(t, c.env.Client, ns, "podinfo")
		if c.name == "local" {
			spec.Clusters = append(spec.Clusters, fluxwatchv1.Cluster{Name: "local"})
			continue
		}
		kubeconfigSecret(t, ns, c.name, kubeconfigOf(t, c.env))
		spec.Clusters = append(spec.Clusters, fluxwatchv1.Cluster{Name: c.name,
			KubeConfig: &fluxwatchv1.KubeConfigReference{SecretRef: meta.SecretKeyReference{Name: c.name}}})
	}
	mustDo(t, local.Client.Create(ctx, &fluxwatchv1.FluxWatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: spec}))
	eventually(t, 30*time.Second, "three clusters, one object on each", func() bool {
		got := getFW(t, ns, "fleet")
		return got.Status.ClusterSummary == "3/3" && got.Status.Tracked == 3 && len(got.Status.Revisions) == 1
	})
	// The revision every cluster already ran is recorded, not announced.
	if n := len(events(t, ns, "fleet", controller.ReasonRevisionReady)); n != 0 {
		t.Fatalf("%d RevisionReady at start; want none", n)
	}

	// rev2 rolls out everywhere.
	for _, c := range cls {
		mustDo(t, c.w.Write(ctx, c.k, fluxsim.Status{AttemptedRevision: rev2, Ready: fluxsim.Ready(metav1.ConditionUnknown, meta.ProgressingReason, "Reconciliation in progress")}))
	}
	for _, c := range cls {
		mustDo(t, c.w.Write(ctx, c.k, applied(rev2)))
	}
	eventually(t, 15*time.Second, "RevisionReady for rev2", func() bool {
		evs := events(t, ns, "fleet", controller.ReasonRevisionReady)
		return len(evs) == 1 && strings.Contains(evs[0].Message, rev2) && strings.Contains(evs[0].Message, "local, prod-eu, staging")
	})

	// rev3: healthy on local and staging, failing on prod-eu.
	mustDo(t, cls[0].w.Write(ctx, cls[0].k, applied(rev3)))
	mustDo(t, cls[2].w.Write(ctx, cls[2].k, applied(rev3)))
	mustDo(t, cls[1].w.Write(ctx, cls[1].k, fluxsim.Status{AttemptedRevision: rev3,
		Ready: fluxsim.Ready(metav1.ConditionFalse, meta.HealthCheckFailedReason, fluxsim.HealthCheckFailedMessage)}))
	eventually(t, 15*time.Second, "RevisionFailed", func() bool { return len(events(t, ns, "fleet", controller.ReasonRevisionFailed)) == 1 })
	time.Sleep(2 * time.Second)
	failed := events(t, ns, "fleet", controller.ReasonRevisionFailed)
	if len(failed) != 1 || failed[0].Type != "Warning" {
		t.Fatalf("RevisionFailed events: %v", failed)
	}
	msg := failed[0].Message
	for _, want := range []string{"revision " + rev3 + " failed on cluster prod-eu", "healthy on local (Healthy at " + rev3 + "), staging (Healthy at " + rev3 + ")"} {
		if !strings.Contains(msg, want) {
			t.Errorf("RevisionFailed message %q does not say %q", msg, want)
		}
	}
	if n := len(events(t, ns, "fleet", controller.ReasonRevisionReady)); n != 1 {
		t.Errorf("%d RevisionReady; rev3 is not Ready everywhere", n)
	}
	got := getFW(t, ns, "fleet")
	if len(got.Status.Revisions) != 1 {
		t.Fatalf("revisions = %+v", got.Status.Revisions)
	}
	view := map[string]fluxwatchv1.ClusterRevision{}
	for _, c := range got.Status.Revisions[0].Clusters {
		view[c.Cluster] = c
	}
	if view["local"].Revision != rev3 || view["local"].State != "Healthy" ||
		view["staging"].Revision != rev3 || view["staging"].State != "Healthy" ||
		view["prod-eu"].Revision != rev3 || view["prod-eu"].State != "Firing" || view["prod-eu"].Reason != meta.HealthCheckFailedReason ||
		got.Status.Revisions[0].ReadyRevision != rev2 {
		t.Errorf("rollout view = %+v", got.Status.Revisions[0])
	}
}
