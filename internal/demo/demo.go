// Package demo owns `make demo`: a scripted Flux story played against the
// real FluxWatch controller on a local control plane, the live view of what
// kubectl shows meanwhile, and the summary at the end.
//
// Run starts the local control plane (internal/testenv), the controller
// (controller.NewManager, the code bin/fluxwatch runs, with the real
// clock), applies the FluxWatches of config/samples/ and plays the story
// (story.go): Flux status written the way the Flux controllers write it
// (internal/fluxsim, the FLUX-STATUS.md sequences), with every duration,
// Flux's and FluxWatch's alike, divided by the same speedup. The summary
// (summary.go) is computed from what the script wrote and from the Events
// read back from the API server; nothing in it is written in advance, so
// the test that runs the demo (demo_test.go) checks FluxWatch itself.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
	"github.com/fluxwatch/fluxwatch/internal/controller"
	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
	"github.com/fluxwatch/fluxwatch/internal/testenv"
)

// DefaultSpeedup plays one Flux minute in one second.
const DefaultSpeedup = 60

// Options configure Run.
type Options struct {
	// Out receives everything the demo shows.
	Out io.Writer
	// Live redraws the view in place with ANSI escapes, for a terminal;
	// otherwise plain lines are appended, only when something changed.
	Live bool
	// Width is the terminal's width, so that Live lines never wrap.
	Width int
	// Speedup divides every duration of the story and of the FluxWatches:
	// 60 (the default) plays one Flux minute in one second.
	Speedup float64
	// SamplesDir holds the FluxWatch samples and their kustomization.yaml.
	SamplesDir string
	// Keep leaves the control plane and the controller running after the
	// story, with Flux still reconciling, until ctx ends.
	Keep bool
	// Refresh is how often the view is refreshed; default 250ms.
	Refresh time.Duration
	// HandleSignals makes SIGINT and SIGTERM end the demo (Run returns
	// ctx's error; with Keep, nil) after stopping the controller and the
	// control plane in order. For the process that owns the terminal.
	HandleSignals bool
}

// Run plays the demo and returns when the story is over (with Keep: when
// ctx ends). The error is about the demo's machinery (the control plane,
// the API server); what FluxWatch did is in the summary.
func Run(ctx context.Context, o Options) (err error) {
	if o.Speedup <= 0 {
		return fmt.Errorf("speedup must be positive, got %g", o.Speedup)
	}
	if o.Refresh <= 0 {
		o.Refresh = 250 * time.Millisecond
	}
	demo := scaler(o.Speedup)
	samples, err := loadSamples(o.SamplesDir)
	if err != nil {
		return err
	}
	st := newStory(demo)
	nsLabels, err := storyNamespaceLabels(samples)
	if err != nil {
		return err
	}
	out := o.Out

	fmt.Fprintf(out, "FluxWatch demo: the real FluxWatch controller watches a scripted Flux story on a local control plane.\n")
	fmt.Fprintf(out, "Flux status is written the way the Flux controllers write it (the sequences of FLUX-STATUS.md), %g× faster\n", o.Speedup)
	fmt.Fprintf(out, "than real time: one Flux minute takes %s here, and the windows of the FluxWatches of %s are scaled the same way.\n\n",
		shortDuration(demo(time.Minute)), o.SamplesDir)

	fmt.Fprintf(out, ">> starting the local control plane (etcd, kube-apiserver) with the Flux and FluxWatch CRDs ... ")
	began := time.Now()
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(out, "failed")
		return err
	}
	if o.HandleSignals {
		// internal/testenv stops the control plane on SIGINT and SIGTERM and
		// exits. With the controller still connected, kube-apiserver then
		// waits for its watches and the stop times out after 20s. The demo
		// takes the signals over to stop the controller first, then the
		// control plane, in about a second. Registered before env.Stop is
		// deferred, so that it is released after: a second ^C during the
		// stop cannot kill the process half-way and orphan etcd and
		// kube-apiserver (they run in their own process group).
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		var release context.CancelFunc
		ctx, release = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer release()
	}
	defer func() { err = errors.Join(err, env.Stop()) }()
	fmt.Fprintf(out, "up in %s\n", shortDuration(time.Since(began)))

	m, err := startManager(ctx, env)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.stop()) }()
	fmt.Fprintln(out, ">> controller started: controller.NewManager with the real clock, the code bin/fluxwatch runs")

	writer := &fluxsim.Writer{Client: env.Client}
	if err := createStory(ctx, env.Client, writer, st, nsLabels); err != nil {
		return err
	}
	fmt.Fprintf(out, ">> namespaces %s; Flux objects created, no status yet\n", describeNamespaces(nsLabels))
	if err := waitForCache(ctx, m.cache, st, nsLabels); err != nil {
		return err
	}
	if err := applySamples(ctx, out, env.Client, samples, demo); err != nil {
		return err
	}
	fmt.Fprintln(out)

	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return fmt.Errorf("create clientset: %w", err)
	}
	t0 := time.Now()
	storyEnd := t0.Add(demo(st.length))
	disp := &display{
		out: out, live: o.Live, width: o.Width, t0: t0, length: storyEnd.Sub(t0),
		title:  fmt.Sprintf("FluxWatch demo · speedup %g: one Flux minute = %s", o.Speedup, shortDuration(demo(time.Minute))),
		tables: cs.RESTClient(), client: env.Client, seen: map[types.UID]time.Time{},
	}
	p := newPlayer(writer, demo)
	if err := playStory(ctx, st, p, disp, t0, storyEnd, o.Refresh, m); err != nil {
		return err
	}

	events, err := listEvents(ctx, env.Client)
	if err != nil {
		return fmt.Errorf("read back the FluxWatch events: %w", err)
	}
	sum := &summary{t0: t0, end: storyEnd, speedup: o.Speedup, story: st, player: p,
		samples: samples, nsLabels: nsLabels, events: events, seen: disp.seen}
	sum.print(out)

	if !o.Keep {
		return nil
	}
	return keep(ctx, out, env, st, p, m)
}

// scaler returns the function that turns a Flux duration into the demo's,
// to the millisecond (what a FluxWatch duration field holds), never
// turning a positive duration into zero, which would disable a window.
func scaler(speedup float64) func(time.Duration) time.Duration {
	return func(d time.Duration) time.Duration {
		if d <= 0 {
			return d
		}
		return max(time.Duration(float64(d)/speedup).Round(time.Millisecond), time.Millisecond)
	}
}

// storyNamespaceLabels gives each namespace of the story the labels that
// the namespaceSelectors of its sample FluxWatch select.
func storyNamespaceLabels(samples []sample) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, ns := range storyNamespaces {
		out[ns.name] = map[string]string{}
		if ns.watchedBy == "" {
			continue
		}
		smp, ok := find(samples, ns.watchedBy)
		if !ok {
			return nil, fmt.Errorf("the demo puts namespace %s under the sample FluxWatch %q, which config/samples no longer has", ns.name, ns.watchedBy)
		}
		out[ns.name] = namespaceLabels(smp.written)
	}
	return out, nil
}

func describeNamespaces(nsLabels map[string]map[string]string) string {
	var parts []string
	for _, ns := range storyNamespaces {
		part := ns.name
		if l := nsLabels[ns.name]; len(l) > 0 {
			part += " (" + metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: l}) + ")"
		}
		parts = append(parts, part)
	}
	return joinList(parts)
}

// runningManager is the controller, running.
type runningManager struct {
	// cache reads through the manager's cache: what the controller sees.
	cache  client.Client
	cancel context.CancelFunc
	done   chan struct{} // closed when the manager has stopped
	err    error         // why it stopped; read after done
}

// startManager starts the controller's manager and returns once it runs.
func startManager(ctx context.Context, env *testenv.Env) (*runningManager, error) {
	mgrCtx, cancel := context.WithCancel(ctx)
	mgr, err := controller.NewManager(mgrCtx, env.Config, controller.ManagerOptions{
		// Nothing listens, so a demo can run next to the tests or another demo.
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		cancel()
		return nil, err
	}
	m := &runningManager{cache: mgr.GetClient(), cancel: cancel, done: make(chan struct{})}
	go func() {
		m.err = mgr.Start(mgrCtx)
		close(m.done)
	}()
	select {
	case <-mgr.Elected():
		return m, nil
	case <-m.done:
		cancel()
		return nil, fmt.Errorf("start the controller: %w", m.err)
	case <-ctx.Done():
		cancel()
		<-m.done
		return nil, ctx.Err()
	}
}

// stopped is the error to report when the manager stopped during the demo.
func (m *runningManager) stopped() error {
	if m.err != nil {
		return fmt.Errorf("the controller stopped: %w", m.err)
	}
	return errors.New("the controller stopped")
}

// stop stops the manager and waits for it.
func (m *runningManager) stop() error {
	m.cancel()
	select {
	case <-m.done:
		if m.err != nil {
			return fmt.Errorf("controller: %w", m.err)
		}
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("the controller did not stop within 30s")
	}
}

// createStory creates the namespaces and the Flux objects, without status:
// what `flux bootstrap` and the fleet repository put in a cluster before the
// Flux controllers first write.
func createStory(ctx context.Context, c client.Client, w *fluxsim.Writer, st *story, nsLabels map[string]map[string]string) error {
	for _, ns := range storyNamespaces {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.name, Labels: nsLabels[ns.name]}}
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns.name, err)
		}
	}
	for _, a := range st.actors {
		if err := w.Create(ctx, a.obj); err != nil {
			return err
		}
	}
	return nil
}

// waitForCache waits until the controller's cache holds the namespaces,
// with their labels, and every Flux object. The FluxWatches are applied
// after that, so that their first reconcile already sees what they select
// (else a FluxWatch would say NothingSelected for a moment, with a Warning
// event).
func waitForCache(ctx context.Context, cache client.Client, st *story, nsLabels map[string]map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, ns := range storyNamespaces {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.name}}
		labelled := func() bool { return labels.SelectorFromSet(nsLabels[ns.name]).Matches(labels.Set(obj.Labels)) }
		if err := waitFor(ctx, cache, obj, labelled); err != nil {
			return err
		}
	}
	for _, a := range st.actors {
		obj, ok := a.obj.DeepCopyObject().(client.Object)
		if !ok {
			return fmt.Errorf("copy %T", a.obj)
		}
		if err := waitFor(ctx, cache, obj, func() bool { return true }); err != nil {
			return err
		}
	}
	return nil
}

// waitFor polls c until it returns obj (at key, by default obj's own) and ok
// approves of it.
func waitFor(ctx context.Context, c client.Client, obj client.Object, ok func() bool, key ...client.ObjectKey) error {
	k := client.ObjectKeyFromObject(obj)
	if len(key) > 0 {
		k = key[0]
	}
	for {
		err := c.Get(ctx, k, obj)
		if err == nil && ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the controller to see %s: %w", k, errors.Join(err, ctx.Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// applySamples applies the sample FluxWatches, scaled, in flux-system, and
// waits for the controller's first status of each, so that the story
// starts with a table that has something in it.
func applySamples(ctx context.Context, out io.Writer, c client.Client, samples []sample, demo func(time.Duration) time.Duration) error {
	for i := range samples {
		smp := &samples[i]
		smp.applied = scaledCopy(smp.written, fluxNamespace, demo)
		if err := c.Create(ctx, smp.applied); err != nil {
			return fmt.Errorf("apply sample %s: %w", smp.file, err)
		}
		fmt.Fprintf(out, ">> applied FluxWatch %s/%s from %s: %s\n", fluxNamespace, smp.written.Name, smp.file, windows(smp.written, smp.applied))
	}
	for _, smp := range samples {
		if err := waitForStatus(ctx, c, smp.applied); err != nil {
			return err
		}
	}
	return nil
}

// waitForStatus waits for the controller's first status of fw.
func waitForStatus(ctx context.Context, c client.Client, fw *fluxwatchv1.FluxWatch) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got := &fluxwatchv1.FluxWatch{}
	return waitFor(ctx, c, got, func() bool {
		return got.Status.ObservedGeneration == got.Generation && len(got.Status.Conditions) > 0
	}, client.ObjectKeyFromObject(fw))
}

// playStory plays every actor's timeline from t0 and refreshes the display
// until the story is over.
func playStory(ctx context.Context, st *story, p *player, disp *display, t0, storyEnd time.Time, refresh time.Duration, m *runningManager) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, a := range st.actors {
		g.Go(func() error { return p.play(gctx, a, t0) })
	}
	played := make(chan error, 1)
	go func() { played <- g.Wait() }()

	demo := p.demo
	ticker := time.NewTicker(refresh)
	defer ticker.Stop()
	finished := false
	for {
		disp.tick(ctx, time.Now(), st.beats, demo)
		if finished && !time.Now().Before(storyEnd) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.done:
			return m.stopped()
		case err := <-played:
			if err != nil {
				return fmt.Errorf("play the story: %w", err)
			}
			finished = true
			played = nil // a nil channel never fires again
		case <-ticker.C:
		}
	}
}

// keep leaves everything running, Flux included, until ctx ends, and says
// how to look at it.
func keep(ctx context.Context, out io.Writer, env *testenv.Env, st *story, p *player, m *runningManager) error {
	kubeconfig, err := env.KubeconfigFile()
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, a := range st.actors {
		g.Go(func() error { return p.keepRunning(gctx, a) })
	}
	fmt.Fprintf(out, "\nThe control plane and the controller keep running; Flux (simulated) keeps reconciling the healthy objects.\n")
	fmt.Fprintf(out, "kubeconfig: %s\n\n", kubeconfig)
	for _, args := range []string{
		"get fluxwatches -A",
		"get events -A --field-selector involvedObject.kind=FluxWatch",
		"get fluxwatch " + productionSample + " -n " + fluxNamespace + " -o yaml",
		"get kustomizations,helmreleases,gitrepositories,ocirepositories -A",
	} {
		fmt.Fprintf(out, "  kubectl --kubeconfig %s %s\n", kubeconfig, args)
	}
	fmt.Fprintln(out, "\nPress Ctrl-C to stop.")
	failed := make(chan error, 1)
	go func() {
		if err := g.Wait(); err != nil && ctx.Err() == nil {
			failed <- err
		}
	}()
	select {
	case <-ctx.Done():
	case <-m.done:
		return m.stopped()
	case err := <-failed:
		return fmt.Errorf("keep Flux reconciling: %w", err)
	}
	fmt.Fprintln(out, "Stopping the controller and the local control plane.")
	return nil
}

// joinList joins items as "a, b and c".
func joinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
