package install_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// allOptions turns every option of the chart on.
const allOptions = `
replicas: 2
leaderElection: {enabled: true}
noCrossNamespaceRefs: true
concurrent: 8
log: {level: debug, encoder: console}
extraArgs: ["--zap-stacktrace-level=panic"]
image:
  repository: registry.example.com/platform/fluxwatch
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  pullPolicy: Always
imagePullSecrets: [{name: registry}]
serviceAccount:
  annotations: {example.com/role: fluxwatch}
podAnnotations: {example.com/scrape: "false"}
podLabels: {team: platform}
priorityClassName: system-cluster-critical
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: platform, effect: NoSchedule}]
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector: {matchLabels: {app.kubernetes.io/name: fluxwatch}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector: {matchLabels: {app.kubernetes.io/name: fluxwatch}}
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {cpu: "2", memory: 1Gi}
metrics: {enabled: true, port: 9090}
serviceMonitor:
  enabled: true
  interval: 1m
  scrapeTimeout: 10s
  labels: {release: prometheus}
watches:
  - name: production
    labels: {tier: production}
    annotations: {example.com/owner: platform}
    spec:
      targets:
        - kind: Kustomization
          namespaceSelector: {matchLabels: {env: production}}
        - kind: HelmRelease
          namespaceSelector: {matchLabels: {env: production}}
      pendingFor: 15m
      keepFiringFor: 5m
  - name: sandbox
    namespace: sandbox-policies
    spec:
      targets:
        - kind: Kustomization
          namespace: "*"
          name: "sandbox-*"
          selector: {matchLabels: {team: web}}
      pendingFor: 2h
      keepFiringFor: 30m
      progressingDeadline: 1h
      staleAfter: 0s
      suspend: false
`

func TestHelmLint(t *testing.T) {
	mustHelm(t, "lint", "--strict", chartDir)
	mustHelm(t, "lint", "--strict", chartDir, "-f", valuesFile(t, allOptions))
}

// TestChartFilesMatchGenerated: the chart's CRD and ClusterRole rules are the
// generated ones, byte for byte (`make manifests` copies them).
func TestChartFilesMatchGenerated(t *testing.T) {
	pairs := map[string]string{"config/rbac/role.yaml": "charts/fluxwatch/files/rbac/role.yaml"}
	generated, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	copies, _ := filepath.Glob(filepath.Join(chartDir, "files", "crds", "*.yaml"))
	if len(generated) == 0 || len(generated) != len(copies) {
		t.Errorf("config/crd/bases has %d CRDs, charts/fluxwatch/files/crds %d: run `make manifests`", len(generated), len(copies))
	}
	for _, g := range generated {
		pairs[filepath.Join("config", "crd", "bases", filepath.Base(g))] = filepath.Join("charts", "fluxwatch", "files", "crds", filepath.Base(g))
	}
	for src, dst := range pairs {
		a, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, dst))
		if err != nil {
			t.Errorf("%s: %v; run `make manifests`", dst, err)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: run `make manifests`", dst, src)
		}
	}
}

func TestDefaultRendering(t *testing.T) {
	const ns = "fluxwatch-system"
	objs := render(t, "fluxwatch", ns)

	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
	}
	slices.Sort(kinds)
	want := []string{
		"ClusterRole/fluxwatch-edit", "ClusterRole/fluxwatch-manager", "ClusterRole/fluxwatch-view",
		"ClusterRoleBinding/fluxwatch-manager", "CustomResourceDefinition/" + crdName, "Deployment/fluxwatch",
		"Role/fluxwatch-leader-election", "RoleBinding/fluxwatch-leader-election", "Service/fluxwatch-metrics",
		"ServiceAccount/fluxwatch",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("default rendering has\n%v\nwant\n%v (no ServiceMonitor, no FluxWatch by default)", kinds, want)
	}

	var d appsv1.Deployment
	into(t, one(t, objs, "Deployment", ""), &d)
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/fluxwatch/fluxwatch:"+chartAppVersion(t) {
		t.Errorf("image = %s; want ghcr.io/fluxwatch/fluxwatch:<appVersion %s>", c.Image, chartAppVersion(t))
	}
	wantArgs := []string{"--leader-elect", "--leader-election-namespace=" + ns, "--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8080", "--concurrent=4", "--zap-log-level=info", "--zap-encoder=json"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %v; want %v", c.Args, wantArgs)
	}
	assertRestricted(t, d.Spec.Template.Spec)
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.String() != "healthz" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.String() != "healthz" {
		t.Errorf("probes = %+v / %+v; want /healthz and /readyz on the healthz port", c.LivenessProbe, c.ReadinessProbe)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "healthz" && p.ContainerPort == 8081 }) {
		t.Errorf("ports = %v; want healthz on 8081", c.Ports)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v; want cpu and memory requests and limits", c.Resources)
	}

	// The CRD is the generated one, kept by helm.
	var rendered, generated apiextensionsv1.CustomResourceDefinition
	into(t, one(t, objs, "CustomResourceDefinition", crdName), &rendered)
	readYAML(t, "config/crd/bases/fluxwatch.dev_fluxwatches.yaml", &generated)
	if !equality.Semantic.DeepEqual(rendered.Spec, generated.Spec) {
		t.Errorf("the chart's CRD spec differs from config/crd/bases")
	}
	if rendered.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("CRD annotations = %v; want helm.sh/resource-policy: keep", rendered.Annotations)
	}

	dryRunApply(t, objs)
}

func TestEveryOptionRendering(t *testing.T) {
	const ns = "fluxwatch-all"
	installServiceMonitorCRD(t)
	ensureNamespace(t, "sandbox-policies", nil)
	objs := render(t, "fluxwatch", ns, "-f", valuesFile(t, allOptions))

	var d appsv1.Deployment
	into(t, one(t, objs, "Deployment", ""), &d)
	c := d.Spec.Template.Spec.Containers[0]
	for _, want := range []string{"--leader-elect", "--leader-election-namespace=" + ns, "--no-cross-namespace-refs", "--concurrent=8",
		"--zap-log-level=debug", "--zap-encoder=console", "--metrics-bind-address=:9090", "--zap-stacktrace-level=panic"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %d; want 2", *d.Spec.Replicas)
	}
	if c.Image != "registry.example.com/platform/fluxwatch@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("image = %s; want the digest", c.Image)
	}
	assertRestricted(t, d.Spec.Template.Spec)
	one(t, objs, "ServiceMonitor", "fluxwatch")
	fws := only(objs, "FluxWatch")
	if len(fws) != 2 || fws[0].GetNamespace() != ns || fws[1].GetNamespace() != "sandbox-policies" {
		t.Fatalf("FluxWatches = %d; want production in %s and sandbox in sandbox-policies", len(fws), ns)
	}
	// helm template knows no cluster: the CRD is not served there, so the
	// FluxWatches are the post-install hooks of a first install.
	if fws[0].GetAnnotations()["helm.sh/hook"] != "post-install" {
		t.Errorf("FluxWatch annotations without the API = %v; want a post-install hook", fws[0].GetAnnotations())
	}
	served := render(t, "fluxwatch", ns, "-f", valuesFile(t, allOptions), "--api-versions", fluxWatchGV+"/FluxWatch")
	for _, fw := range only(served, "FluxWatch") {
		if _, hook := fw.GetAnnotations()["helm.sh/hook"]; hook {
			t.Errorf("FluxWatch %s is a hook although the API is served: %v", fw.GetName(), fw.GetAnnotations())
		}
	}

	dryRunApply(t, objs)
	dryRunApply(t, only(served, "FluxWatch"))
}

// TestPodIsRestricted has the API server's PodSecurity admission judge the
// controller's pod: a dry-run create in a namespace enforcing "restricted".
func TestPodIsRestricted(t *testing.T) {
	const ns = "fluxwatch-restricted"
	ensureNamespace(t, ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"})
	objs := render(t, "fluxwatch", ns)
	sa := one(t, objs, "ServiceAccount", "").DeepCopy()
	if err := k8s.Create(context.Background(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	into(t, one(t, objs, "Deployment", ""), &d)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fluxwatch", Namespace: ns, Labels: d.Spec.Template.Labels}, Spec: d.Spec.Template.Spec}
	if err := k8s.Create(context.Background(), pod, client.DryRunAll); err != nil {
		t.Fatalf("the controller's pod is refused where restricted is enforced: %v", err)
	}

	// And the check bites: the same pod allowed to escalate is refused.
	pod.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	err := k8s.Create(context.Background(), pod, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "allowPrivilegeEscalation") {
		t.Errorf("a pod without allowPrivilegeEscalation=false was not refused by PodSecurity admission: %v", err)
	}
}

func assertRestricted(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v; want runAsNonRoot and seccomp RuntimeDefault", psc)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("container %s securityContext = %+v; want no privilege escalation, a read-only root filesystem and ALL capabilities dropped", c.Name, sc)
		}
	}
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	readYAML(t, "charts/fluxwatch/Chart.yaml", &chart)
	return chart.AppVersion
}

// TestChartRBACIsTheGeneratedRole: the ClusterRole grants exactly the rules
// of config/rbac/role.yaml; no wildcard anywhere; the leader election Role
// stays in the release namespace.
func TestChartRBACIsTheGeneratedRole(t *testing.T) {
	objs := render(t, "fluxwatch", "fluxwatch-system")
	var generated, manager rbacv1.ClusterRole
	readYAML(t, "config/rbac/role.yaml", &generated)
	into(t, one(t, objs, "ClusterRole", "fluxwatch-manager"), &manager)
	if !equality.Semantic.DeepEqual(manager.Rules, generated.Rules) {
		t.Errorf("chart ClusterRole rules:\n%s\nconfig/rbac/role.yaml:\n%s", mustJSON(manager.Rules), mustJSON(generated.Rules))
	}
	for _, o := range append(only(objs, "ClusterRole"), only(objs, "Role")...) {
		var r rbacv1.ClusterRole
		into(t, o, &r)
		for _, rule := range r.Rules {
			if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") || slices.Contains(rule.APIGroups, "*") {
				t.Errorf("%s %s has a wildcard rule: %+v", o.GetKind(), o.GetName(), rule)
			}
		}
	}
	var le rbacv1.Role
	into(t, one(t, objs, "Role", "fluxwatch-leader-election"), &le)
	if le.Namespace != "fluxwatch-system" || len(le.Rules) != 2 || le.Rules[0].Resources[0] != "leases" || le.Rules[1].Resources[0] != "events" {
		t.Errorf("leader election Role = %s", mustJSON(le))
	}
}

// TestAggregatedRolesJoinViewEditAdmin: the aggregated ClusterRoles carry
// the labels the cluster's own view, edit and admin roles select (read from
// the API server), with read verbs for view and write verbs for edit.
func TestAggregatedRolesJoinViewEditAdmin(t *testing.T) {
	objs := render(t, "fluxwatch", "fluxwatch-system")
	selected := func(role string, o map[string]string) bool {
		var cr rbacv1.ClusterRole
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: role}, &cr); err != nil {
			t.Fatalf("get ClusterRole %s: %v", role, err)
		}
		for _, s := range cr.AggregationRule.ClusterRoleSelectors {
			sel, err := metav1.LabelSelectorAsSelector(&s)
			if err != nil {
				t.Fatal(err)
			}
			if sel.Matches(labels.Set(o)) {
				return true
			}
		}
		return false
	}
	var view, edit rbacv1.ClusterRole
	into(t, one(t, objs, "ClusterRole", "fluxwatch-view"), &view)
	into(t, one(t, objs, "ClusterRole", "fluxwatch-edit"), &edit)
	for role, want := range map[string][2]bool{"view": {true, false}, "edit": {true, true}, "admin": {true, true}} {
		if got := selected(role, view.Labels); got != want[0] {
			t.Errorf("ClusterRole %s aggregates fluxwatch-view: %v; want %v", role, got, want[0])
		}
		if got := selected(role, edit.Labels); got != want[1] {
			t.Errorf("ClusterRole %s aggregates fluxwatch-edit: %v; want %v", role, got, want[1])
		}
	}
	if len(view.Rules) != 1 || !slices.Equal(view.Rules[0].Verbs, []string{"get", "list", "watch"}) || !slices.Contains(view.Rules[0].Resources, "fluxwatches") {
		t.Errorf("fluxwatch-view rules = %s; want get/list/watch on fluxwatches", mustJSON(view.Rules))
	}
	if len(edit.Rules) != 1 || !slices.Equal(edit.Rules[0].Verbs, []string{"create", "update", "patch", "delete"}) || !slices.Equal(edit.Rules[0].Resources, []string{"fluxwatches"}) {
		t.Errorf("fluxwatch-edit rules = %s; want create/update/patch/delete on fluxwatches", mustJSON(edit.Rules))
	}
}

// TestValuesRejected: wrong values fail `helm template` (and so install and
// upgrade) with a message naming the value and what is wrong with it.
func TestValuesRejected(t *testing.T) {
	tests := []struct {
		name, values string
		want         []string
	}{
		{"negative replicas", "replicas: -1", []string{"at '/replicas'", "minimum: got -1, want 0"}},
		{"replicas as a string", "replicas: two", []string{"at '/replicas'", "got string, want integer"}},
		{"unknown pull policy", "image: {pullPolicy: Sometimes}", []string{"at '/image/pullPolicy'", "'Always', 'IfNotPresent', 'Never'"}},
		{"bad digest", "image: {digest: latest}", []string{"at '/image/digest'", "does not match pattern"}},
		{"misspelt value", "replica: 2", []string{"additional properties 'replica' not allowed"}},
		{"privileged metrics port", "metrics: {port: 80}", []string{"at '/metrics/port'", "minimum: got 80, want 1,024"}},
		{"bad log level", "log: {level: verbose}", []string{"at '/log/level'", "'verbose' does not match pattern"}},
		{"watch without spec", "watches: [{name: prod}]", []string{"at '/watches/0'", "missing property 'spec'"}},
		{"watch without targets", "watches: [{name: prod, spec: {pendingFor: 15m}}]", []string{"at '/watches/0/spec'", "missing property 'targets'"}},
		{"unknown Flux kind", "watches: [{name: prod, spec: {targets: [{kind: Deployment}]}}]", []string{"at '/watches/0/spec/targets/0/kind'", "value must be one of 'Kustomization'"}},
		{"duration in words", "watches: [{name: prod, spec: {targets: [{kind: Kustomization}], pendingFor: 15 minutes}}]", []string{"at '/watches/0/spec/pendingFor'", "'15 minutes' does not match pattern"}},
		{"misspelt spec field", "watches: [{name: prod, spec: {targets: [{kind: Kustomization}], pendingfor: 15m}}]", []string{"at '/watches/0/spec'", "additional properties 'pendingfor' not allowed"}},
		{"uppercase name", "watches: [{name: Prod, spec: {targets: [{kind: Kustomization}]}}]", []string{"at '/watches/0/name'", "does not match pattern"}},
		{"watch listed twice", "watches: [{name: prod, spec: {targets: [{kind: Kustomization}]}}, {name: prod, spec: {targets: [{kind: HelmRelease}]}}]",
			[]string{"watches: fluxwatch-system/prod is listed twice"}},
		{"replicas without leader election", "replicas: 2\nleaderElection: {enabled: false}",
			[]string{"replicas is 2 but leaderElection.enabled is false: more than one replica needs leader election"}},
		{"service monitor without metrics", "metrics: {enabled: false}\nserviceMonitor: {enabled: true}",
			[]string{"serviceMonitor.enabled needs metrics.enabled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helm(t, "template", "fluxwatch", chartDir, "--namespace", "fluxwatch-system", "-f", valuesFile(t, tt.values))
			if err == nil {
				t.Fatalf("values %q were accepted", tt.values)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("helm said:\n%s\nwant it to say %q", out, w)
				}
			}
		})
	}
}

// TestSchemaKnowsEveryFluxWatchSpecField: the values schema of a watch's
// spec lists exactly the fields of the CRD, so that it refuses a misspelt
// field without refusing a new one.
func TestSchemaKnowsEveryFluxWatchSpecField(t *testing.T) {
	var schema struct {
		Properties struct {
			Watches struct {
				Items struct {
					Properties struct {
						Spec struct {
							Properties map[string]json.RawMessage `json:"properties"`
						} `json:"spec"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"watches"`
		} `json:"properties"`
	}
	data, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	readYAML(t, "config/crd/bases/fluxwatch.dev_fluxwatches.yaml", &crd)
	var inCRD, inSchema []string
	for k := range crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties {
		inCRD = append(inCRD, k)
	}
	for k := range schema.Properties.Watches.Items.Properties.Spec.Properties {
		inSchema = append(inSchema, k)
	}
	slices.Sort(inCRD)
	slices.Sort(inSchema)
	if !reflect.DeepEqual(inCRD, inSchema) {
		t.Errorf("values.schema.json knows the spec fields %v; the CRD has %v", inSchema, inCRD)
	}
}

// installServiceMonitorCRD installs a minimal ServiceMonitor CRD, typed for
// the fields the chart writes, so that the dry run of the chart's
// ServiceMonitor is validated (a misspelt field is refused by the strict
// field validation) without the Prometheus Operator.
func installServiceMonitorCRD(t *testing.T) {
	t.Helper()
	const crd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            spec:
              type: object
              required: [selector]
              properties:
                namespaceSelector:
                  type: object
                  properties:
                    any: {type: boolean}
                    matchNames: {type: array, items: {type: string}}
                selector:
                  type: object
                  properties:
                    matchLabels: {type: object, additionalProperties: {type: string}}
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      scheme: {type: string}
                      interval: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                      scrapeTimeout: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
`
	var obj apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal([]byte(crd), &obj); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(context.Background(), &obj); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the ServiceMonitor API to be served", func() (bool, error) {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitorList"})
		err := k8s.List(context.Background(), list)
		return err == nil, err
	})
}
