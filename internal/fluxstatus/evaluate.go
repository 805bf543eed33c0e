package fluxstatus

import (
	"fmt"
	"slices"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxwatch/fluxwatch/internal/debounce"
)

// Verdict is the local state of one object, before dependencies are
// considered.
type Verdict struct {
	State           debounce.State
	Reason, Message string
	// Since is the lastTransitionTime of the deciding condition, else the
	// object's creation time.
	Since time.Time
	// WaitingOn lists, for a Blocked verdict, the objects the object waits
	// on: its dependsOn, or a HelmRelease's chart source.
	WaitingOn []Ref
}

// Evaluate decides the local state of one object with the precedence
// suspended > stalled > healthy > blocked > in progress > failing.
func Evaluate(r Reading) Verdict {
	ready, stalled := r.Ready, r.Stalled
	switch {
	case r.Suspended:
		return Verdict{State: debounce.Suspended, Reason: meta.SuspendedReason,
			Message: "reconciliation is suspended (spec.suspend: true)", Since: r.Created}
	case stalled != nil && stalled.Status == metav1.ConditionTrue:
		return fromCondition(debounce.Stalled, stalled, r)
	case ready == nil && r.NoConditionsIsHealthy:
		return Verdict{State: debounce.Healthy, Reason: ReasonNoStatus,
			Message: "OCI HelmRepository: Flux does not reconcile it and writes no conditions", Since: r.Created}
	case ready == nil:
		return Verdict{State: debounce.InProgress, Reason: meta.ProgressingReason,
			Message: "no Ready condition yet: Flux has not reported on this object", Since: r.Created}
	case ready.Status == metav1.ConditionTrue:
		if !r.HasObservedGeneration || r.ObservedGeneration == r.Generation {
			return fromCondition(debounce.Healthy, ready, r)
		}
		v := fromCondition(debounce.InProgress, ready, r)
		v.Reason = meta.ProgressingReason
		v.Message = fmt.Sprintf("Flux has not reconciled generation %d yet (observedGeneration %d); last Ready: %s",
			r.Generation, r.ObservedGeneration, ready.Message)
		// Ready's lastTransitionTime is when it last became True, possibly
		// days ago; when the new generation arrived is unknown. Left zero,
		// the engine counts from when it first sees the object, so a
		// restart never turns an old Ready=True into an overdue deadline.
		v.Since = time.Time{}
		return v
	case ready.Status == metav1.ConditionFalse:
		if waitReasons[r.Kind][ready.Reason] {
			return blockedVerdict(r, ready)
		}
		if progressReasons[ready.Reason] {
			return fromCondition(debounce.InProgress, ready, r)
		}
		return fromCondition(debounce.Failing, ready, r)
	default: // Unknown: Progressing, ProgressingWithRetry, a running Helm action.
		return fromCondition(debounce.InProgress, ready, r)
	}
}

func fromCondition(s debounce.State, c *metav1.Condition, r Reading) Verdict {
	since := c.LastTransitionTime.Time
	if since.IsZero() {
		since = r.Created
	}
	return Verdict{State: s, Reason: c.Reason, Message: c.Message, Since: since}
}

// blockedVerdict is the verdict of an object whose Ready=False reason says it
// waits on other objects.
func blockedVerdict(r Reading, ready *metav1.Condition) Verdict {
	v := fromCondition(debounce.Blocked, ready, r)
	if ready.Reason == SourceNotReadyReason {
		if r.ChartSource == nil {
			// Nothing to wait on that FluxWatch can name: report Flux's words.
			v.State = debounce.Failing
			return v
		}
		v.WaitingOn = []Ref{*r.ChartSource}
		return v
	}
	if len(r.DependsOn) == 0 {
		// The status predates a spec without dependsOn; Flux will rewrite it.
		v.State = debounce.InProgress
		v.Message = "Flux reported a dependency not ready, but spec.dependsOn is empty now: waiting for Flux to re-check"
		return v
	}
	v.WaitingOn = append([]Ref(nil), r.DependsOn...)
	return v
}

// Resolve turns a reading into the engine's observation, following
// dependencies through lookup (objects of any Flux kind, tracked or not, in
// the same cluster). tracked reports whether the FluxWatch being reconciled
// tracks a given object. StaleAfter is left zero for the caller to set.
func Resolve(r Reading, lookup func(Ref) (Reading, bool), tracked func(Ref) bool) debounce.Observation {
	v := Evaluate(r)
	if v.State == debounce.Blocked {
		// The object itself is on any cycle through it, whatever lookup's
		// cache holds.
		self := func(ref Ref) (Reading, bool) {
			if ref == r.Ref {
				return r, true
			}
			return lookup(ref)
		}
		v.State, v.Reason, v.Message = resolveBlocked(r, v, self, tracked)
	}
	rev := r.AttemptedRevision
	if rev == "" {
		rev = r.Revision
	}
	return debounce.Observation{
		State:    v.State,
		Reason:   v.Reason,
		Message:  v.Message,
		Revision: rev,
		Attempt:  r.Attempt,
		Version:  r.ResourceVersion,
		Since:    v.Since,
	}
}

// chainNode is one object on a dependency chain with its local verdict.
type chainNode struct {
	ref     Ref
	verdict Verdict
}

// nextUnhealthy returns the first object of waitingOn that is not Healthy.
// missing is set when that object does not exist; found is false when every
// object is Healthy.
func nextUnhealthy(waitingOn []Ref, lookup func(Ref) (Reading, bool)) (next chainNode, missing, found bool) {
	for _, ref := range waitingOn {
		dep, ok := lookup(ref)
		if !ok {
			return chainNode{ref: ref}, true, true
		}
		if dv := Evaluate(dep); dv.State != debounce.Healthy {
			return chainNode{ref: ref, verdict: dv}, false, true
		}
	}
	return chainNode{}, false, false
}

// resolveBlocked decides what a Blocked object is, given the objects it waits
// on. It stays Blocked only while someone will hear about the root of its
// chain: the root is not failing, or this FluxWatch tracks it.
func resolveBlocked(r Reading, v Verdict, lookup func(Ref) (Reading, bool), tracked func(Ref) bool) (debounce.State, string, string) {
	direct, missing, found := nextUnhealthy(v.WaitingOn, lookup)
	switch {
	case !found:
		// Flux re-checks dependencies on a fixed interval (30 s by default)
		// and writes no status until then.
		return debounce.InProgress, v.Reason, fmt.Sprintf(
			"dependencies are ready (%s); Flux will re-check them within about 30s", refList(v.WaitingOn))
	case missing:
		return debounce.Failing, ReasonDependencyNotFound,
			fmt.Sprintf("dependency %s does not exist", direct.ref)
	case direct.ref == r.Ref:
		return debounce.Failing, ReasonDependencyCycle, fmt.Sprintf("%s depends on itself", r.Ref)
	case direct.verdict.State == debounce.Suspended:
		// Nothing else would ever alert on a suspended dependency.
		return debounce.Failing, v.Reason,
			fmt.Sprintf("dependency %s is suspended: this object waits until it is resumed", direct.ref)
	}

	// Follow the chain down to its root: the first object on it that is not
	// itself waiting on another.
	path := []Ref{r.Ref, direct.ref}
	node := direct
	var (
		root        Ref    // the object to blame for the chain
		rootFailing bool   // whether root is failing (someone must alert)
		rootState   string // what root is, for the message
		rootWhy     string // why, for the message
		cycle       []Ref  // members of a cycle found further down
	)
	for {
		if node.verdict.State != debounce.Blocked {
			root = node.ref
			rootState = string(node.verdict.State)
			rootWhy = node.verdict.Reason + ": " + node.verdict.Message
			rootFailing = node.verdict.State == debounce.Failing || node.verdict.State == debounce.Stalled
			break
		}
		if len(path) > MaxDependencyDepth {
			return debounce.Failing, ReasonDependencyChainTooLong, fmt.Sprintf(
				"dependency chain through %s is longer than %d objects; FluxWatch stopped following it at %s",
				direct.ref, MaxDependencyDepth, node.ref)
		}
		next, missing, found := nextUnhealthy(node.verdict.WaitingOn, lookup)
		if !found {
			// The dependency's own dependencies are ready: it is about to
			// proceed.
			root = node.ref
			rootState = string(debounce.InProgress)
			rootWhy = "its dependencies are ready; Flux has not re-checked them yet"
			break
		}
		// A missing or suspended object, or a cycle, is blamed on the object
		// that names it: that object's own Resolve reports it as Failing.
		if missing {
			root, rootFailing, rootState = node.ref, true, string(debounce.Failing)
			rootWhy = fmt.Sprintf("%s: dependency %s does not exist", ReasonDependencyNotFound, next.ref)
			break
		}
		if i := indexOf(path, next.ref); i >= 0 {
			if i == 0 {
				return debounce.Failing, ReasonDependencyCycle,
					fmt.Sprintf("dependency cycle: %s", refChain(slices.Concat(path, []Ref{next.ref})))
			}
			cycle = path[i:]
			root, rootFailing, rootState = node.ref, true, string(debounce.Failing)
			rootWhy = fmt.Sprintf("%s: dependency cycle: %s", ReasonDependencyCycle, refChain(slices.Concat(path[i:], []Ref{next.ref})))
			break
		}
		if next.verdict.State == debounce.Suspended {
			root, rootFailing, rootState = node.ref, true, string(debounce.Failing)
			rootWhy = fmt.Sprintf("%s: dependency %s is suspended", node.verdict.Reason, next.ref)
			break
		}
		path = append(path, next.ref)
		node = next
	}

	watched := tracked(root)
	for _, c := range cycle {
		if tracked(c) {
			root, watched = c, true
			break
		}
	}
	if rootFailing && !watched {
		return debounce.Failing, ReasonDependencyFailed, fmt.Sprintf(
			"blocked by %s, not watched by this FluxWatch, which is failing: %s", root, rootWhy)
	}
	if root == direct.ref {
		return debounce.Blocked, v.Reason, fmt.Sprintf("waiting for %s (%s: %s)",
			direct.ref, rootState, firstWord(rootWhy))
	}
	return debounce.Blocked, v.Reason, fmt.Sprintf("waiting for %s (root: %s, %s: %s)",
		direct.ref, root, rootState, firstWord(rootWhy))
}

// firstWord returns the reason part of a "Reason: message" string; a
// Blocked message names the root's reason only, so that it stays stable while
// the root's message carries changing durations.
func firstWord(s string) string {
	reason, _, _ := strings.Cut(s, ":")
	return reason
}

func indexOf(refs []Ref, ref Ref) int {
	for i, r := range refs {
		if r == ref {
			return i
		}
	}
	return -1
}

func refList(refs []Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

func refChain(refs []Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, " -> ")
}

// DefaultStaleAfter is the silence after which a Kustomization or
// HelmRelease is considered stale: 2 × interval + timeout. Flux writes their
// status at least once per interval (a Kustomization passes through
// Ready=Unknown, a HelmRelease through Reconciling), so two missed intervals
// plus a full run mean its controller is not reconciling it.
//
// It is zero (disabled) for the sources, which write no status on a periodic
// run that finds nothing new, and for readings on which Flux itself stops
// writing: suspended, stalled (Flux does not retry), and waiting on a
// dependency or chart source (the re-checks leave the status unchanged).
func DefaultStaleAfter(r Reading) time.Duration {
	if r.Kind != kustomizev1.KustomizationKind && r.Kind != helmv2.HelmReleaseKind {
		return 0
	}
	if r.Interval <= 0 || r.Suspended {
		return 0
	}
	if r.Stalled != nil && r.Stalled.Status == metav1.ConditionTrue {
		return 0
	}
	if r.Ready != nil && r.Ready.Status == metav1.ConditionFalse && waitReasons[r.Kind][r.Ready.Reason] {
		return 0
	}
	return 2*r.Interval + r.Timeout
}
