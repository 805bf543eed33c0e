package v1alpha1

import (
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// FluxWatchKind is the kind of the FluxWatch API.
	FluxWatchKind = "FluxWatch"

	// LocalCluster names the cluster the controller runs in.
	LocalCluster = "local"

	// AllNamespaces as a target namespace selects every namespace.
	AllNamespaces = "*"

	// MaxIncidents caps status.incidents; the rest are counted in
	// status.incidentsTruncated and kept, compact, in status.ledger.
	MaxIncidents = 50

	// MaxLedger caps status.ledger, the durable record of open incidents, so
	// the FluxWatch stays well under etcd's object size limit.
	MaxLedger = 3000

	// Defaults, kept in step with the +kubebuilder:default markers below.
	DefaultPendingFor          = 10 * time.Minute
	DefaultKeepFiringFor       = 0 * time.Second
	DefaultProgressingDeadline = 30 * time.Minute
)

// FluxWatchSpec declares which Flux objects to watch and how long a failure
// must last before it is announced.
type FluxWatchSpec struct {
	// Targets select the Flux objects to watch. An object selected by several
	// targets is watched once.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	Targets []Target `json:"targets"`

	// PendingFor is how long an object must keep failing (Ready not back to
	// True) before its incident fires: a Warning event ResourceFailing and a
	// Firing entry in status. Retries (Ready=Unknown between two Ready=False)
	// do not reset it; time blocked on a failing dependency does not count.
	// Stalled objects fire at once.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')",message="pendingFor must be a non-negative duration such as 30s, 10m or 1h30m"
	// +optional
	PendingFor *metav1.Duration `json:"pendingFor,omitempty"`

	// KeepFiringFor is how long an object whose incident fired must stay free
	// of Ready=False and Stalled after Ready=True before the incident
	// resolves (Normal event ResourceRecovered). In-progress blips do not
	// reset it. At most 24h.
	// +kubebuilder:default="0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') && duration(self) <= duration('24h')",message="keepFiringFor must be a duration between 0s and 24h, such as 5m"
	// +optional
	KeepFiringFor *metav1.Duration `json:"keepFiringFor,omitempty"`

	// StaleAfter makes a Kustomization or HelmRelease whose status has not
	// been written for this long fail with reason ReconciliationStale: the
	// Flux controller may be down. Flux writes their status on every
	// reconciliation. Defaults to 2 × the object's interval + its timeout;
	// "0s" disables it. Sources are never stale: Flux writes nothing when a
	// periodic run finds no change.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')",message="staleAfter must be a non-negative duration such as 25m, or 0s to disable it"
	// +optional
	StaleAfter *metav1.Duration `json:"staleAfter,omitempty"`

	// ProgressingDeadline fires an object that stays in progress (Ready
	// Unknown, or no Ready condition yet) longer than this. "0s" disables it.
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')",message="progressingDeadline must be a non-negative duration such as 30m, or 0s to disable it"
	// +optional
	ProgressingDeadline *metav1.Duration `json:"progressingDeadline,omitempty"`

	// Clusters lists the clusters whose Flux objects the targets select.
	// Default: only the cluster the controller runs in. When set, only the
	// listed clusters are watched: list "local" to keep that one.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	Clusters []Cluster `json:"clusters,omitempty"`

	// Suspend stops the watching: nothing is emitted until it is resumed,
	// when everything is evaluated again.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// Cluster is one cluster to watch.
// +kubebuilder:validation:XValidation:rule="self.name == 'local' ? !has(self.kubeConfig) : has(self.kubeConfig)",message="the cluster named local is the controller's own and takes no kubeConfig; every other cluster needs kubeConfig.secretRef"
type Cluster struct {
	// Name of the cluster, as incidents, events and status show it. "local"
	// is the cluster the controller runs in.
	// +required
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="cluster name must be a DNS label: lowercase letters, digits and '-'"
	Name string `json:"name"`

	// KubeConfig reads the cluster's kubeconfig from a Secret in the
	// FluxWatch's namespace. Only inline server, CA, client certificate and
	// key, token and basic auth are used: exec and auth-provider plugins and
	// file paths need the controller's --insecure-kubeconfig-exec,
	// insecure-skip-tls-verify its --insecure-kubeconfig-tls.
	// +optional
	KubeConfig *KubeConfigReference `json:"kubeConfig,omitempty"`
}

// KubeConfigReference locates a kubeconfig.
type KubeConfigReference struct {
	// SecretRef names the Secret, in the FluxWatch's namespace (there is no
	// namespace field), and its key: "value", then "value.yaml" when no key
	// is given, as Flux does.
	// +required
	SecretRef meta.SecretKeyReference `json:"secretRef"`
}

// Target selects Flux objects of one kind.
// +kubebuilder:validation:XValidation:rule="!(has(self.__namespace__) && has(self.namespaceSelector))",message="namespace and namespaceSelector are mutually exclusive"
type Target struct {
	// Kind of the Flux objects.
	// +required
	// +kubebuilder:validation:Enum=Kustomization;HelmRelease;GitRepository;OCIRepository;HelmRepository;HelmChart;Bucket;ExternalArtifact
	Kind string `json:"kind"`

	// Namespace of the objects. Defaults to the FluxWatch's own namespace;
	// "*" selects every namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == '*' || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="namespace must be a namespace name, or \"*\" for every namespace"
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// NamespaceSelector selects the namespaces by label, instead of
	// namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// Name is a glob on the object names: "*" matches any run of characters
	// and "?" one character. Defaults to "*".
	// +kubebuilder:default="*"
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9.*?-]+$')",message="name must be a glob of lowercase letters, digits, '-', '.', '*' (any characters) and '?' (one character)"
	// +optional
	Name string `json:"name,omitempty"`

	// Selector selects the objects by label.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// IncidentState is the phase of an open incident.
// +kubebuilder:validation:Enum=Pending;Firing
type IncidentState string

const (
	// IncidentPending: failing, not yet for pendingFor.
	IncidentPending IncidentState = "Pending"
	// IncidentFiring: announced with a ResourceFailing event.
	IncidentFiring IncidentState = "Firing"
)

// Incident is an open incident, for people.
type Incident struct {
	// Cluster the object is in.
	Cluster string `json:"cluster"`
	// Kind of the Flux object.
	Kind string `json:"kind"`
	// Namespace of the Flux object.
	Namespace string `json:"namespace"`
	// Name of the Flux object.
	Name string `json:"name"`
	// State is Pending or Firing.
	State IncidentState `json:"state"`
	// Reason is the latest failing reason (Flux's, or ReconciliationStale,
	// ProgressingDeadlineExceeded, DependencyFailed, DependencyNotFound).
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is the latest failing message.
	// +optional
	Message string `json:"message,omitempty"`
	// Revision the object was attempting.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Since is when the object started failing.
	Since metav1.Time `json:"since"`
	// FiringSince is when the incident fired.
	// +optional
	FiringSince *metav1.Time `json:"firingSince,omitempty"`
}

// LedgerEntry is the compact, durable form of one open incident. After a
// restart or a leader change the controller rebuilds its timers from these,
// so an incident already announced is not announced again and a pending
// window keeps its start.
type LedgerEntry struct {
	// Object is cluster/kind/namespace/name.
	Object string `json:"object"`
	// State is Pending or Firing.
	State IncidentState `json:"state"`
	// OpenedAt is when the object started failing.
	OpenedAt metav1.MicroTime `json:"openedAt"`
	// Counted is the pending time counted before runningSince.
	// +optional
	Counted *metav1.Duration `json:"counted,omitempty"`
	// RunningSince is when the pending clock last started; absent while
	// paused.
	// +optional
	RunningSince *metav1.MicroTime `json:"runningSince,omitempty"`
	// FiringSince is when the incident fired.
	// +optional
	FiringSince *metav1.MicroTime `json:"firingSince,omitempty"`
	// HealthySince is when a firing object became healthy again.
	// +optional
	HealthySince *metav1.MicroTime `json:"healthySince,omitempty"`
	// Attempt is a digest of the attempt (revision, generation) the incident
	// last saw.
	// +optional
	Attempt string `json:"attempt,omitempty"`
	// Reason is the latest failing reason.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Revision the object was attempting.
	// +optional
	Revision string `json:"revision,omitempty"`
}

// FluxWatchStatus is what the controller observed.
type FluxWatchStatus struct {
	// ObservedGeneration is the last generation reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready says whether watching works (never whether the
	// targets are healthy).
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Tracked is the number of objects watched.
	// +kubebuilder:default=0
	// +optional
	Tracked int32 `json:"tracked"`
	// Healthy counts tracked objects without an open incident and not
	// suspended: healthy ones, those in progress and those blocked on a
	// dependency.
	// +kubebuilder:default=0
	// +optional
	Healthy int32 `json:"healthy"`
	// Pending counts incidents failing for less than pendingFor.
	// +kubebuilder:default=0
	// +optional
	Pending int32 `json:"pending"`
	// Firing counts incidents that fired and have not resolved.
	// +kubebuilder:default=0
	// +optional
	Firing int32 `json:"firing"`
	// Suspended counts suspended objects.
	// +kubebuilder:default=0
	// +optional
	Suspended int32 `json:"suspended"`

	// Incidents lists the open incidents, newest first, at most 50.
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	// +optional
	Incidents []Incident `json:"incidents,omitempty"`
	// IncidentsTruncated counts the open incidents left out of incidents.
	// +optional
	IncidentsTruncated int32 `json:"incidentsTruncated,omitempty"`

	// Ledger is the durable record of every open incident (up to 3000), in
	// a compact form.
	// +kubebuilder:validation:MaxItems=3000
	// +listType=atomic
	// +optional
	Ledger []LedgerEntry `json:"ledger,omitempty"`
	// LedgerTruncated counts open incidents left out of the ledger; after a
	// restart their windows restart from the Flux condition times.
	// +optional
	LedgerTruncated int32 `json:"ledgerTruncated,omitempty"`

	// Clusters reports, for each watched cluster, whether it can be read.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Clusters []ClusterStatus `json:"clusters,omitempty"`
	// Revisions shows, for each object tracked on more than one cluster,
	// which revision each cluster runs or attempts and in what state: the
	// rollout view. Objects whose clusters disagree come first; at most 100.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Revisions []ObjectRevisions `json:"revisions,omitempty"`
	// RevisionsTruncated counts the objects left out of revisions.
	// +optional
	RevisionsTruncated int32 `json:"revisionsTruncated,omitempty"`
	// ClusterSummary is "connected/total", for `kubectl get -o wide`.
	// +optional
	ClusterSummary string `json:"clusterSummary,omitempty"`

	meta.ReconcileRequestStatus `json:",inline"`
}

// ObjectRevisions is one object's rollout across clusters.
type ObjectRevisions struct {
	// Kind of the Flux object.
	Kind string `json:"kind"`
	// Namespace of the Flux object.
	Namespace string `json:"namespace"`
	// Name of the Flux object.
	Name string `json:"name"`
	// Clusters lists the object on each cluster that has it.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	Clusters []ClusterRevision `json:"clusters"`
	// ReadyRevision is the last revision that was Ready on every cluster
	// that has the object (announced with a RevisionReady event).
	// +optional
	ReadyRevision string `json:"readyRevision,omitempty"`
}

// ClusterRevision is an object's revision and state on one cluster.
type ClusterRevision struct {
	// Cluster name.
	Cluster string `json:"cluster"`
	// Revision the object runs or attempts there.
	// +optional
	Revision string `json:"revision,omitempty"`
	// State: Healthy, InProgress, Blocked, Suspended, Pending (failing, not
	// yet for pendingFor), Firing, or Unknown (the cluster is unreachable).
	State string `json:"state"`
	// Reason of a failing state.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ClusterStatus is what the controller knows of one watched cluster.
type ClusterStatus struct {
	// Name of the cluster.
	Name string `json:"name"`
	// Connected is false while the cluster cannot be read; its objects then
	// keep their last known state and their clocks stop.
	Connected bool `json:"connected"`
	// Tracked is the number of objects watched on the cluster.
	// +optional
	Tracked int32 `json:"tracked,omitempty"`
	// LastSyncTime is when the cluster was last connected or disconnected.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// Message says why the cluster cannot be read, or what it lacks.
	// +optional
	Message string `json:"message,omitempty"`
	// Alerted is true once a ClusterUnreachable event announced the current
	// outage (after pendingFor); the return is then announced with
	// ClusterReachable.
	// +optional
	Alerted bool `json:"alerted,omitempty"`
}

// FluxWatch watches Flux objects and announces, without noise, the ones that
// really failed.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fw,categories=flux
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Tracked",type="integer",JSONPath=".status.tracked"
// +kubebuilder:printcolumn:name="Firing",type="integer",JSONPath=".status.firing"
// +kubebuilder:printcolumn:name="Pending",type="integer",JSONPath=".status.pending"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message"
// +kubebuilder:printcolumn:name="Clusters",type="string",JSONPath=".status.clusterSummary",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type FluxWatch struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares what to watch and the windows.
	// +required
	Spec FluxWatchSpec `json:"spec"`
	// Status is what the controller observed: counts, open incidents and
	// their durable record.
	// +optional
	Status FluxWatchStatus `json:"status,omitempty"`
}

// FluxWatchList is a list of FluxWatches.
// +kubebuilder:object:root=true
type FluxWatchList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the FluxWatches.
	Items []FluxWatch `json:"items"`
}

func init() {
	SchemeBuilder.Register(&FluxWatch{}, &FluxWatchList{})
}

// GetPendingFor returns spec.pendingFor with its default.
func (in *FluxWatch) GetPendingFor() time.Duration {
	return durationOr(in.Spec.PendingFor, DefaultPendingFor)
}

// GetKeepFiringFor returns spec.keepFiringFor with its default.
func (in *FluxWatch) GetKeepFiringFor() time.Duration {
	return durationOr(in.Spec.KeepFiringFor, DefaultKeepFiringFor)
}

// GetProgressingDeadline returns spec.progressingDeadline with its default.
func (in *FluxWatch) GetProgressingDeadline() time.Duration {
	return durationOr(in.Spec.ProgressingDeadline, DefaultProgressingDeadline)
}

// GetStaleAfter returns spec.staleAfter and whether it is set; unset means
// the per-object default (2 × interval + timeout).
func (in *FluxWatch) GetStaleAfter() (time.Duration, bool) {
	if in.Spec.StaleAfter == nil {
		return 0, false
	}
	return in.Spec.StaleAfter.Duration, true
}

// GetConditions returns the status conditions (for fluxcd/pkg/runtime/conditions).
func (in *FluxWatch) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions (for fluxcd/pkg/runtime/conditions).
func (in *FluxWatch) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.Duration
}
