package demo

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fluxwatch/fluxwatch/internal/controller"
)

// Section headings of the summary. The test finds the sections by them.
const (
	headingFailed     = "What failed (Flux wrote Ready=False):"
	headingAlerted    = "What FluxWatch alerted (Events on the FluxWatches, read back from the API server):"
	headingSuppressed = "What FluxWatch suppressed as noise, and why:"
)

// waitReasons are the Ready=False reasons by which Flux says an object
// waits on another (FluxWatch counts that time as blocked, never as
// failing).
var waitReasons = map[string]bool{
	meta.DependencyNotReadyReason: true, // Kustomization and HelmRelease alike
	"SourceNotReady":              true, // a HelmRelease's chart source
}

// episode is one failure of one object as the script wrote it: from a
// Ready=False (or Stalled=True) until Ready=True again. Ready=Unknown in
// between is a retry of the same failure, as FluxWatch sees it too.
type episode struct {
	a          *actor
	start, end time.Time
	open       bool     // still failing when the story ended
	reasons    []string // Flux's reasons, in order of appearance
	falses     int      // Ready=False writes
	falseFor   time.Duration
	atBirth    bool // before the object was ever Ready
	alerts     []corev1.Event
}

func (e *episode) duration() time.Duration { return e.end.Sub(e.start) }

// progress is how long an object spent in progress without failing.
type progress struct {
	atBirth time.Duration // Ready=Unknown before its first Ready=True, when that was no failure
	blinks  int           // Ready=Unknown after it had been Ready, outside failures
}

// episodes cuts what the script wrote to a into failures and in-progress
// stretches.
func episodes(a *actor, writes []write, storyEnd time.Time) ([]*episode, progress) {
	var (
		out          []*episode
		p            progress
		cur          *episode
		everReady    bool
		falseSince   time.Time // Ready=False since, inside cur
		unknownSince time.Time // Ready=Unknown since, outside any failure
	)
	stopFalse := func(at time.Time) {
		if !falseSince.IsZero() {
			cur.falseFor += at.Sub(falseSince)
			falseSince = time.Time{}
		}
	}
	for _, w := range writes {
		switch {
		case w.stalled || w.ready != nil && w.ready.Status == metav1.ConditionFalse:
			if cur == nil {
				cur = &episode{a: a, start: w.at, atBirth: !everReady}
				unknownSince = time.Time{}
			}
			reason := meta.StalledCondition
			if w.ready != nil {
				reason = w.ready.Reason
			}
			cur.reasons = appendUnique(cur.reasons, reason)
			cur.falses++
			if falseSince.IsZero() {
				falseSince = w.at
			}
		case w.ready == nil:
		case w.ready.Status == metav1.ConditionUnknown:
			if cur != nil {
				stopFalse(w.at)
				continue
			}
			if unknownSince.IsZero() {
				unknownSince = w.at
				if everReady {
					p.blinks++
				}
			}
		case w.ready.Status == metav1.ConditionTrue:
			if cur != nil {
				stopFalse(w.at)
				cur.end = w.at
				out = append(out, cur)
				cur = nil
			} else if !unknownSince.IsZero() && !everReady {
				p.atBirth = w.at.Sub(unknownSince)
			}
			unknownSince = time.Time{}
			everReady = true
		}
	}
	if cur != nil {
		stopFalse(storyEnd)
		cur.end, cur.open = storyEnd, true
		out = append(out, cur)
	}
	return out, p
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// summary is the end of the demo: what the script made fail, what
// FluxWatch announced (read back from the API server), and what it kept
// quiet about and why. Nothing in it is written in advance: it is computed
// from the writes the player recorded and the Events.
type summary struct {
	t0, end  time.Time
	speedup  float64
	story    *story
	player   *player
	samples  []sample
	nsLabels map[string]map[string]string
	events   []corev1.Event
	seen     map[types.UID]time.Time // when the display first showed each event
}

func (s *summary) print(w io.Writer) {
	var all []*episode
	prog := map[*actor]progress{}
	for _, a := range s.story.actors {
		eps, p := episodes(a, s.player.recorded(a), s.end)
		all = append(all, eps...)
		prog[a] = p
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].start.Before(all[j].start) })
	s.assignAlerts(all)

	length := s.end.Sub(s.t0)
	fmt.Fprintf(w, "\nSummary: a %s story, %s of Flux time played %g× faster.\n\n",
		shortDuration(length.Round(time.Second)), shortDuration(time.Duration(float64(length)*s.speedup).Round(time.Minute)), s.speedup)
	falses, failed := s.printFailed(w, all)
	fmt.Fprintln(w)
	counts := s.printAlerted(w)
	fmt.Fprintln(w)
	unknowns := s.printSuppressed(w, all, prog)
	fmt.Fprintf(w, "\nIn numbers: Flux wrote Ready=False %d times on %d objects, and Ready=Unknown %d times on healthy watched objects; FluxWatch sent %d ResourceFailing and %d ResourceRecovered.\n",
		falses, failed, unknowns, counts[controller.ReasonResourceFailing], counts[controller.ReasonResourceRecovered])
}

// printFailed lists every failure the script wrote, and returns how many
// Ready=False writes they took and on how many objects.
func (s *summary) printFailed(w io.Writer, all []*episode) (falses, objects int) {
	fmt.Fprintln(w, headingFailed)
	failed := map[*actor]bool{}
	for _, e := range all {
		falses += e.falses
		failed[e.a] = true
		fmt.Fprintf(w, "  %s  %-34s %s\n", clock(e.start.Sub(s.t0)), refOf(e.a.obj), s.describe(e))
	}
	if len(all) == 0 {
		fmt.Fprintln(w, "  nothing")
	}
	return falses, len(failed)
}

// printAlerted lists every Event on the FluxWatches, and returns how many
// there were of each reason.
func (s *summary) printAlerted(w io.Writer) map[string]int {
	fmt.Fprintln(w, headingAlerted)
	counts := map[string]int{}
	for _, ev := range s.events {
		counts[ev.Reason]++
		fmt.Fprintf(w, "  %s  %-7s  %-17s  %-34s (FluxWatch %s/%s)\n",
			clock(s.eventTime(ev).Sub(s.t0)), ev.Type, ev.Reason, eventSubject(ev), ev.Namespace, ev.InvolvedObject.Name)
		fmt.Fprintf(w, "        %s\n", ev.Message)
	}
	if len(s.events) == 0 {
		fmt.Fprintln(w, "  nothing")
	}
	return counts
}

// printSuppressed lists the failures nobody was told about and the time
// watched objects spent in progress, each with FluxWatch's reason, and
// returns how many times healthy watched objects went Ready=Unknown.
func (s *summary) printSuppressed(w io.Writer, all []*episode, prog map[*actor]progress) (unknowns int) {
	fmt.Fprintln(w, headingSuppressed)
	lines := 0
	for _, e := range all {
		if len(e.alerts) > 0 {
			continue
		}
		lines++
		fmt.Fprintf(w, "  %s: %s\n", refOf(e.a.obj), s.why(e))
	}
	var busy []string
	for _, a := range s.story.actors {
		if len(s.windowsFor(a)) == 0 {
			continue // what no FluxWatch watches is no noise of FluxWatch's
		}
		p := prog[a]
		// In progress at birth for longer than pendingFor is what a "not
		// Ready for pendingFor" alert would have fired on.
		if p.atBirth >= s.minPendingFor(a) {
			lines++
			fmt.Fprintf(w, "  %s: in progress (Ready=Unknown) for %s at birth, longer than pendingFor (%s) — in progress only counts against progressingDeadline (%s)\n",
				refOf(a.obj), shortDuration(p.atBirth), s.windowsOf(a, func(ws window) time.Duration { return ws.pendingFor }),
				s.windowsOf(a, func(ws window) time.Duration { return ws.progressingDeadline }))
		}
		if p.blinks > 0 {
			unknowns += p.blinks
			busy = append(busy, fmt.Sprintf("%s %d×", refOf(a.obj), p.blinks))
		}
	}
	if len(busy) > 0 {
		lines++
		fmt.Fprintf(w, "  Ready=Unknown on healthy objects while Flux reconciled them (every interval, new revisions): %s — in progress never counts\n", strings.Join(busy, ", "))
	}
	if lines == 0 {
		fmt.Fprintln(w, "  nothing")
	}
	return unknowns
}

// eventSubject names the Flux object an event is about, from its
// annotations; "-" for an event about the FluxWatch itself.
func eventSubject(ev corev1.Event) string {
	k := ev.Annotations[controller.AnnotationKind]
	if k == "" {
		return "-"
	}
	return fmt.Sprintf("%s %s/%s", k, ev.Annotations[controller.AnnotationNamespace], ev.Annotations[controller.AnnotationName])
}

// describe says what an episode was, in Flux's words.
func (s *summary) describe(e *episode) string {
	var b strings.Builder
	b.WriteString(strings.Join(e.reasons, ", "))
	if e.falses > 1 {
		fmt.Fprintf(&b, " ×%d", e.falses)
	}
	if e.atBirth {
		b.WriteString(" at birth")
	}
	if e.open {
		fmt.Fprintf(&b, ", still failing at the end (%s)", shortDuration(e.duration()))
	} else {
		fmt.Fprintf(&b, ", Ready again after %s", shortDuration(e.duration()))
	}
	if e.falses > 1 && e.falseFor < e.duration()/2 {
		fmt.Fprintf(&b, "; Ready was False only %s of that time, Unknown in between (retries)", shortDuration(e.falseFor))
	}
	return b.String()
}

// why says why an episode was not announced, from FluxWatch's rules: time
// blocked on a dependency never counts; a failure shorter than pendingFor
// heals silently.
func (s *summary) why(e *episode) string {
	reasons := strings.Join(e.reasons, ", ")
	blocked := true
	for _, r := range e.reasons {
		blocked = blocked && waitReasons[r]
	}
	birth := ""
	if e.atBirth {
		birth = " at birth"
	}
	pendingFor := s.windowsOf(e.a, func(ws window) time.Duration { return ws.pendingFor })
	switch {
	case len(s.windowsFor(e.a)) == 0:
		return fmt.Sprintf("%s for %s — not watched by any FluxWatch", reasons, shortDuration(e.duration()))
	case blocked:
		return fmt.Sprintf("waited %s on %s (%s)%s — blocked time never counts", shortDuration(e.duration()), e.a.waitsOn, reasons, birth)
	case e.open:
		return fmt.Sprintf("%s, still failing at the end but for %s only — less than pendingFor (%s) so far", reasons, shortDuration(e.duration()), pendingFor)
	case e.duration() < s.minPendingFor(e.a):
		return fmt.Sprintf("%s%s for %s — healed inside pendingFor (%s)", reasons, birth, shortDuration(e.duration()), pendingFor)
	default:
		return fmt.Sprintf("%s%s for %s — no alert although longer than pendingFor (%s)", reasons, birth, shortDuration(e.duration()), pendingFor)
	}
}

// window is the part of a FluxWatch's policy the summary quotes.
type window struct {
	fw                              string
	pendingFor, progressingDeadline time.Duration
}

// windowsFor lists the policies of the FluxWatches that watch a.
func (s *summary) windowsFor(a *actor) []window {
	var out []window
	for _, smp := range s.samples {
		fw := smp.applied
		if selects(fw, a.obj, s.nsLabels[a.obj.GetNamespace()]) {
			out = append(out, window{fw: fw.Namespace + "/" + fw.Name, pendingFor: fw.GetPendingFor(), progressingDeadline: fw.GetProgressingDeadline()})
		}
	}
	return out
}

// windowsOf renders one window of every FluxWatch watching a, naming the
// FluxWatch when several policies exist.
func (s *summary) windowsOf(a *actor, pick func(window) time.Duration) string {
	ws := s.windowsFor(a)
	if len(ws) == 0 {
		return "not watched by any FluxWatch"
	}
	var parts []string
	for _, w := range ws {
		part := shortDuration(pick(w))
		if len(s.samples) > 1 {
			part += " on " + w.fw
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

func (s *summary) minPendingFor(a *actor) time.Duration {
	m := time.Duration(-1)
	for _, w := range s.windowsFor(a) {
		if m < 0 || w.pendingFor < m {
			m = w.pendingFor
		}
	}
	return m
}

// assignAlerts gives each ResourceFailing event to the failure of its
// object during which it was emitted: the latest one that had started.
func (s *summary) assignAlerts(all []*episode) {
	for _, ev := range s.events {
		if ev.Reason != controller.ReasonResourceFailing {
			continue
		}
		at := s.eventTime(ev)
		var match *episode
		for _, e := range all {
			if refOf(e.a.obj) != eventSubject(ev) {
				continue
			}
			// Event timestamps have a one-second resolution.
			if !e.start.After(at.Add(time.Second)) {
				match = e
			}
		}
		if match != nil {
			match.alerts = append(match.alerts, ev)
		}
	}
}

// eventTime is when the display first showed the event, else its
// timestamp (which the API server keeps to the second).
func (s *summary) eventTime(ev corev1.Event) time.Time {
	if t, ok := s.seen[ev.UID]; ok {
		return t
	}
	return ev.FirstTimestamp.Time
}
