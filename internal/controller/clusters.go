package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/clusters"
	"github.com/fluxwatch/fluxwatch/internal/fluxstatus"
	"github.com/fluxwatch/fluxwatch/internal/notify"
)

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// Ready reasons about clusters.
const (
	// ReasonKubeconfigNotFound: a cluster's kubeconfig Secret or key is missing.
	ReasonKubeconfigNotFound = "KubeconfigNotFound"
	// ReasonKubeconfigRefused: a cluster's kubeconfig is invalid or uses
	// what the controller does not allow (exec plugins, files, insecure TLS).
	ReasonKubeconfigRefused = "KubeconfigRefused"
	// ReasonClusterUnreachable: a cluster cannot be read right now.
	ReasonClusterUnreachable = "ClusterUnreachable"
)

// clusterSource is one cluster a FluxWatch reads during a reconcile.
type clusterSource struct {
	name string
	// reader reads the cluster's Flux objects and namespaces (a cache).
	reader client.Reader
	// watching says whether a Flux kind is watched on the cluster.
	watching func(kind string) bool
	// remote is nil for the local cluster.
	remote *clusters.Remote
	ref    clusters.SecretRef
	// connected is false when the cluster cannot be read; reason and
	// message say why (or, connected, what it lacks).
	connected       bool
	reason, message string
}

// clusterSources resolves the clusters of fw: the local one, and remote ones
// through the registry (whose caches are shared by every FluxWatch naming
// the same kubeconfig).
func (r *FluxWatchReconciler) clusterSources(ctx context.Context, fw *fluxwatchv1.FluxWatch) []clusterSource {
	specs := fw.Spec.Clusters
	if len(specs) == 0 {
		specs = []fluxwatchv1.Cluster{{Name: LocalCluster}}
	}
	owner := client.ObjectKeyFromObject(fw)
	var out []clusterSource
	var used []*clusters.Remote
	for _, c := range specs {
		if c.Name == LocalCluster || c.KubeConfig == nil {
			out = append(out, clusterSource{name: LocalCluster, reader: r.Client, watching: r.kinds.watching, connected: true})
			continue
		}
		src := clusterSource{name: c.Name, ref: clusters.SecretRef{
			Namespace: fw.Namespace, Name: c.KubeConfig.SecretRef.Name, Key: c.KubeConfig.SecretRef.Key}}
		rm, err := r.Registry.Acquire(ctx, owner, src.ref)
		switch {
		case err != nil:
			src.reason, src.message = kubeconfigProblem(err), err.Error()
		case !rm.Health().Connected:
			src.remote = rm
			src.reason, src.message = ReasonClusterUnreachable, healthMessage(rm.Health())
		default:
			h := rm.Health()
			src.remote, src.reader, src.connected = rm, rm.Client(), true
			src.watching = func(kind string) bool { return h.Served(kind) && r.watchRemote(ctx, rm, kind) }
			if len(h.MissingKinds) > 0 {
				src.message = "Flux kinds not installed: " + strings.Join(h.MissingKinds, ", ")
			}
		}
		if src.remote != nil {
			used = append(used, src.remote)
		}
		out = append(out, src)
	}
	r.setRemoteOwner(owner, used)
	keep := make([]clusters.SecretRef, 0, len(out))
	for _, s := range out {
		if s.ref.Name != "" {
			keep = append(keep, s.ref)
		}
	}
	r.Registry.Release(owner, keep...)
	return out
}

func kubeconfigProblem(err error) string {
	switch {
	case errors.Is(err, clusters.ErrSecretNotFound), errors.Is(err, clusters.ErrKeyNotFound):
		return ReasonKubeconfigNotFound
	case errors.Is(err, clusters.ErrUnsafeKubeconfig), errors.Is(err, clusters.ErrInvalidKubeconfig):
		return ReasonKubeconfigRefused
	}
	return ReasonClusterUnreachable
}

func healthMessage(h clusters.Health) string {
	if h.Err != nil {
		return h.Err.Error()
	}
	return "cannot be reached"
}

// watchRemote starts, once per remote cache and kind, the watch that
// re-evaluates the FluxWatches reading that remote when one of its Flux
// objects changes.
func (r *FluxWatchReconciler) watchRemote(ctx context.Context, rm *clusters.Remote, kindName string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.remoteKinds == nil {
		r.remoteKinds = map[*clusters.Remote]map[string]bool{}
	}
	for old := range r.remoteKinds {
		select {
		case <-old.Done():
			delete(r.remoteKinds, old) // a stopped cache's watches died with it
		default:
		}
	}
	if r.remoteKinds[rm][kindName] {
		return true
	}
	kind, ok := fluxstatus.KindByName(kindName)
	if !ok {
		return false
	}
	src := source.Kind(rm.Cache(), kind.NewObject(), handler.EnqueueRequestsFromMapFunc(
		func(context.Context, client.Object) []reconcile.Request { return r.remoteOwnersOf(rm) }))
	if err := r.ctrl.Watch(src); err != nil {
		log.FromContext(ctx).Error(err, "watch remote Flux kind", "kind", kindName, "host", rm.Host())
		return false
	}
	if r.remoteKinds[rm] == nil {
		r.remoteKinds[rm] = map[string]bool{}
	}
	r.remoteKinds[rm][kindName] = true
	return true
}

// setRemoteOwner records which remotes owner reads, for the watches above.
func (r *FluxWatchReconciler) setRemoteOwner(owner types.NamespacedName, used []*clusters.Remote) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.remoteOwners == nil {
		r.remoteOwners = map[*clusters.Remote]map[types.NamespacedName]bool{}
	}
	for rm, owners := range r.remoteOwners {
		delete(owners, owner)
		if len(owners) == 0 {
			delete(r.remoteOwners, rm)
		}
	}
	for _, rm := range used {
		if r.remoteOwners[rm] == nil {
			r.remoteOwners[rm] = map[types.NamespacedName]bool{}
		}
		r.remoteOwners[rm][owner] = true
	}
}

func (r *FluxWatchReconciler) remoteOwnersOf(rm *clusters.Remote) []reconcile.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []reconcile.Request
	for owner := range r.remoteOwners[rm] {
		out = append(out, reconcile.Request{NamespacedName: owner})
	}
	return out
}

// remoteChanged is the registry's callback when a remote's health changes
// or its cache is replaced (credential rotation): every FluxWatch naming the
// Secret is evaluated again.
func (r *FluxWatchReconciler) remoteChanged(ref clusters.SecretRef) {
	go func() {
		ctx := context.Background()
		list := &fluxwatchv1.FluxWatchList{}
		if err := r.List(ctx, list, client.InNamespace(ref.Namespace)); err != nil {
			return
		}
		for i := range list.Items {
			for _, c := range list.Items[i].Spec.Clusters {
				if c.KubeConfig != nil && c.KubeConfig.SecretRef.Name == ref.Name {
					r.resync <- event.GenericEvent{Object: &list.Items[i]}
					break
				}
			}
		}
	}()
}

// clusterSummary renders "connected/total" for the Clusters column.
func clusterSummary(srcs []clusterSource) string {
	connected := 0
	for _, s := range srcs {
		if s.connected {
			connected++
		}
	}
	return fmt.Sprintf("%d/%d", connected, len(srcs))
}

// clusterEvent announces an outage of a remote cluster once it has lasted
// pendingFor (a network or credential failure is exactly the "can't reach
// the source" failure a platform team must hear about), and its end. cs is
// updated (Alerted); prev is the cluster's previous status.
func clusterEvent(fw *fluxwatchv1.FluxWatch, cs *fluxwatchv1.ClusterStatus, prev fluxwatchv1.ClusterStatus, now time.Time) []notify.Event {
	annotations := map[string]string{AnnotationCluster: cs.Name}
	switch {
	case !cs.Connected && !cs.Alerted && cs.LastSyncTime != nil && now.Sub(cs.LastSyncTime.Time) >= fw.GetPendingFor():
		cs.Alerted = true
		return []notify.Event{{Type: corev1.EventTypeWarning, Reason: ReasonClusterUnreachableEvent, Annotations: annotations,
			Message: fmt.Sprintf("cluster %s has been unreachable for %s: %s; its objects keep their last known state", cs.Name,
				roundDuration(now.Sub(cs.LastSyncTime.Time)), cs.Message)}}
	case cs.Connected && !prev.Connected && prev.Alerted:
		down := time.Duration(0)
		if prev.LastSyncTime != nil {
			down = now.Sub(prev.LastSyncTime.Time)
		}
		return []notify.Event{{Type: corev1.EventTypeNormal, Reason: ReasonClusterReachable, Annotations: annotations,
			Message: fmt.Sprintf("cluster %s is reachable again after %s", cs.Name, roundDuration(down))}}
	}
	return nil
}
