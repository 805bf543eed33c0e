package install_test

import (
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomize builds a kustomization directory of the repository as
// `kustomize build` does.
func kustomize(t *testing.T, dir string) string {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestKustomizeDefault renders config/default, has the API server validate
// it with a server-side dry run, and checks it installs what the chart
// installs with its default values.
func TestKustomizeDefault(t *testing.T) {
	ensureFluxWatchCRD(t)
	objs := decode(t, kustomize(t, "config/default"))
	for _, o := range objs {
		if o.GetKind() != "Namespace" && o.GetKind() != "CustomResourceDefinition" && o.GetKind() != "ClusterRole" &&
			o.GetKind() != "ClusterRoleBinding" && o.GetNamespace() != "fluxwatch-system" {
			t.Errorf("%s %s is in namespace %q; want fluxwatch-system", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
	// The Namespace enforces "restricted": create it for real, so that the
	// dry run of the Deployment's pod below is judged by PodSecurity.
	createNamespaceFrom(t, one(t, objs, "Namespace", "fluxwatch-system"))
	dryRunApply(t, objs)

	chart := render(t, "fluxwatch", "fluxwatch-system")

	var kd, cd appsv1.Deployment
	into(t, one(t, objs, "Deployment", ""), &kd)
	into(t, one(t, chart, "Deployment", ""), &cd)
	kc, cc := kd.Spec.Template.Spec.Containers[0], cd.Spec.Template.Spec.Containers[0]
	if kc.Image != cc.Image {
		t.Errorf("image: kustomize %s, chart %s", kc.Image, cc.Image)
	}
	if !slices.Equal(kc.Args, cc.Args) {
		t.Errorf("args: kustomize %v, chart %v", kc.Args, cc.Args)
	}
	for what, pair := range map[string][2]any{
		"container securityContext": {kc.SecurityContext, cc.SecurityContext},
		"pod securityContext":       {kd.Spec.Template.Spec.SecurityContext, cd.Spec.Template.Spec.SecurityContext},
		"liveness probe":            {kc.LivenessProbe, cc.LivenessProbe},
		"readiness probe":           {kc.ReadinessProbe, cc.ReadinessProbe},
		"resources":                 {kc.Resources, cc.Resources},
		"ports":                     {kc.Ports, cc.Ports},
		"replicas":                  {kd.Spec.Replicas, cd.Spec.Replicas},
	} {
		if !equality.Semantic.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s: kustomize %s\nchart %s", what, mustJSON(pair[0]), mustJSON(pair[1]))
		}
	}
	assertRestricted(t, kd.Spec.Template.Spec)

	// The same CRD, the same permissions.
	var kcrd, ccrd apiextensionsv1.CustomResourceDefinition
	into(t, one(t, objs, "CustomResourceDefinition", crdName), &kcrd)
	into(t, one(t, chart, "CustomResourceDefinition", crdName), &ccrd)
	if !equality.Semantic.DeepEqual(kcrd.Spec, ccrd.Spec) {
		t.Errorf("the CRDs of kustomize and the chart differ")
	}
	for _, pair := range [][2]string{
		{"fluxwatch-manager", "fluxwatch-manager"}, {"fluxwatch-view", "fluxwatch-view"}, {"fluxwatch-edit", "fluxwatch-edit"},
	} {
		var k, c rbacv1.ClusterRole
		into(t, one(t, objs, "ClusterRole", pair[0]), &k)
		into(t, one(t, chart, "ClusterRole", pair[1]), &c)
		if !equality.Semantic.DeepEqual(k.Rules, c.Rules) {
			t.Errorf("ClusterRole %s rules: kustomize %s\nchart %s", pair[0], mustJSON(k.Rules), mustJSON(c.Rules))
		}
		for l, v := range c.Labels {
			if len(l) > 29 && l[:29] == "rbac.authorization.k8s.io/agg" && k.Labels[l] != v {
				t.Errorf("ClusterRole %s: kustomize lacks the label %s=%s", pair[0], l, v)
			}
		}
	}
	var kr, cr rbacv1.Role
	into(t, one(t, objs, "Role", "fluxwatch-leader-election"), &kr)
	into(t, one(t, chart, "Role", "fluxwatch-leader-election"), &cr)
	if !equality.Semantic.DeepEqual(kr.Rules, cr.Rules) {
		t.Errorf("leader election Role rules: kustomize %s\nchart %s", mustJSON(kr.Rules), mustJSON(cr.Rules))
	}
	var ks, cs corev1.Service
	into(t, one(t, objs, "Service", ""), &ks)
	into(t, one(t, chart, "Service", ""), &cs)
	if !equality.Semantic.DeepEqual(ks.Spec.Ports, cs.Spec.Ports) {
		t.Errorf("metrics Service ports: kustomize %v, chart %v", ks.Spec.Ports, cs.Spec.Ports)
	}
	if !labelsSelect(ks.Spec.Selector, kd.Spec.Template.Labels) {
		t.Errorf("the metrics Service selector %v does not select the pod labels %v", ks.Spec.Selector, kd.Spec.Template.Labels)
	}
	var sa corev1.ServiceAccount
	into(t, one(t, objs, "ServiceAccount", ""), &sa)
	if kd.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("the Deployment runs as %s; the ServiceAccount is %s", kd.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}

	// The pod itself passes PodSecurity "restricted" in its namespace.
	pod := &corev1.Pod{Spec: kd.Spec.Template.Spec}
	pod.Name, pod.Namespace, pod.Labels = "fluxwatch-kustomize", "fluxwatch-system", kd.Spec.Template.Labels
	createReal(t, sa.DeepCopy())
	dryRunCreate(t, pod)
}

// TestKustomizePrometheus: the optional ServiceMonitor is valid too.
func TestKustomizePrometheus(t *testing.T) {
	installServiceMonitorCRD(t)
	objs := decode(t, kustomize(t, "config/prometheus"))
	one(t, objs, "ServiceMonitor", "")
	dryRunApply(t, objs)
}

func labelsSelect(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}
