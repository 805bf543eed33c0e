package demo

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxwatch/fluxwatch/internal/fluxsim"
)

// write is one status write the script made, as the summary needs it.
type write struct {
	at      time.Time
	ready   *metav1.Condition // nil when the write left Ready alone
	stalled bool
}

// player writes the actors' timelines in real time (Flux time divided by
// the speedup) and records what it wrote: the "what the script did" half of
// the summary.
type player struct {
	writer *fluxsim.Writer
	demo   func(time.Duration) time.Duration

	mu     sync.Mutex
	writes map[*actor][]write
}

func newPlayer(w *fluxsim.Writer, demo func(time.Duration) time.Duration) *player {
	return &player{writer: w, demo: demo, writes: map[*actor][]write{}}
}

// play writes a's story timeline, each step at start + its scaled time. It
// is fluxsim.Writer.Play with a shared start, so that all actors keep
// their relative timing, and with a record of each write.
func (p *player) play(ctx context.Context, a *actor, start time.Time) error {
	for _, step := range a.timeline {
		if err := p.step(ctx, a, start.Add(p.demo(step.At)), step.Status, true); err != nil {
			return err
		}
	}
	return nil
}

// keepRunning writes a's periodic run every interval until ctx ends: Flux
// keeps reconciling while --keep leaves the cluster up, so that nothing
// goes stale for want of a controller.
func (p *player) keepRunning(ctx context.Context, a *actor) error {
	if len(a.run) == 0 || a.interval <= 0 {
		return nil
	}
	next := time.Now()
	for ctx.Err() == nil {
		next = next.Add(p.demo(a.interval))
		for _, step := range a.run {
			if err := p.step(ctx, a, next.Add(p.demo(step.At)), step.Status, false); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
	return nil
}

// step writes s to a's object at due, and records it for the summary if
// record is set.
func (p *player) step(ctx context.Context, a *actor, due time.Time, s fluxsim.Status, record bool) error {
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	}
	if err := p.writer.Write(ctx, a.obj, s); err != nil {
		return err
	}
	if !record {
		return nil
	}
	w := write{at: time.Now(), ready: s.Ready}
	if s.Stalled != nil && s.Stalled.Status == metav1.ConditionTrue {
		w.stalled = true
	}
	p.mu.Lock()
	p.writes[a] = append(p.writes[a], w)
	p.mu.Unlock()
	return nil
}

// recorded returns a copy of the writes made to a so far.
func (p *player) recorded(a *actor) []write {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]write(nil), p.writes[a]...)
}
