package debounce

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// The fuzz input is a 3-byte policy header followed by 5-byte operations:
// opcode, time step, key, arg1, arg2 (missing bytes read as zero).
const (
	fzObserve   = iota // also 1: observations are the common case
	fzReachable = 2    // the keys' cluster becomes unreachable (arg1 even) or reachable
	fzGone      = 3
	fzAdvance   = 4
	fzRestart   = 5
	fzToNext    = 6 // advance to NextDeadline, checking it is exact
	fzPolicy    = 7
)

var (
	fzKeys   = []Key{ksApps, ksInfra, hrPodinfo}
	fzStates = []State{Healthy, Suspended, Stalled, Blocked, InProgress, Failing}
)

func fzPolicyOf(pf, kff, pd byte) Policy {
	return Policy{
		PendingFor:          []time.Duration{0, 1 * m, 5 * m}[pf%3],
		KeepFiringFor:       []time.Duration{0, 1 * m, 10 * m}[kff%3],
		ProgressingDeadline: []time.Duration{0, 3 * m, 30 * m}[pd%3],
	}
}

// fzObs encodes an observation argument: state index + 6 * attempt index.
func fzObs(s State, attempt int) byte {
	return byte(slices.Index(fzStates, s) + 6*attempt)
}

func fzSeed(header [3]byte, ops ...[5]byte) []byte {
	b := header[:]
	for _, o := range ops {
		b = append(b, o[:]...)
	}
	return b
}

type fzLife struct {
	open, fired bool
	openedAt    time.Time
	lastState   State
}

type fzHarness struct {
	t      *testing.T
	e      *Engine
	policy Policy
	now    time.Time
	life   map[Key]*fzLife
	ver    map[Key]int
}

func FuzzEngine(f *testing.F) {
	flapping := []([5]byte){{fzObserve, 0, 0, fzObs(InProgress, 0), 1}}
	for range 6 {
		flapping = append(flapping, [5]byte{fzObserve, 20, 0, fzObs(Failing, 0), 1}, [5]byte{fzObserve, 20, 0, fzObs(InProgress, 0), 1})
	}
	f.Add(fzSeed([3]byte{2, 1, 0}, flapping...))
	f.Add(fzSeed([3]byte{2, 2, 1},
		[5]byte{fzObserve, 0, 1, fzObs(Failing, 0), 1},
		[5]byte{fzObserve, 10, 1, fzObs(InProgress, 1), 1},
		[5]byte{fzObserve, 30, 1, fzObs(Failing, 1), 1},
		[5]byte{fzToNext, 0, 0, 0, 0},
		[5]byte{fzObserve, 1, 1, fzObs(Healthy, 1), 1},
		[5]byte{fzObserve, 1, 1, fzObs(InProgress, 1), 1},
		[5]byte{fzToNext, 0, 0, 0, 0},
	))
	f.Add(fzSeed([3]byte{1, 0, 0},
		[5]byte{fzObserve, 0, 2, fzObs(Stalled, 0), 1},
		[5]byte{fzObserve, 5, 2, fzObs(Suspended, 0), 1},
		[5]byte{fzObserve, 5, 2, fzObs(Failing, 0), 1},
		[5]byte{fzGone, 50, 2, 0, 0},
	))
	f.Add(fzSeed([3]byte{2, 2, 2},
		[5]byte{fzObserve, 0, 0, fzObs(Failing, 0), 1},
		[5]byte{fzObserve, 0, 1, fzObs(Failing, 0), 1},
		[5]byte{fzObserve, 7, 1, fzObs(Blocked, 0), 1},
		[5]byte{fzRestart, 9, 0, 0, 0},
		[5]byte{fzToNext, 0, 0, 0, 0},
		[5]byte{fzObserve, 9, 1, fzObs(Failing, 0), 1},
		[5]byte{fzRestart, 9, 0, 0, 0},
		[5]byte{fzToNext, 0, 0, 0, 0},
		[5]byte{fzGone, 3, 0, 1, 0},
	))
	f.Add(fzSeed([3]byte{1, 1, 1},
		[5]byte{fzObserve, 0, 0, fzObs(Healthy, 0), 3},
		[5]byte{fzObserve, 0, 1, fzObs(InProgress, 0), 1 | 4 | 8<<3},
		[5]byte{fzToNext, 0, 0, 0, 0},
		[5]byte{fzToNext, 0, 0, 0, 0},
		[5]byte{fzPolicy, 1, 0, 0, 2},
		[5]byte{fzToNext, 0, 0, 0, 0},
		[5]byte{fzObserve, 1, 0, fzObs(Healthy, 0), 3},
		[5]byte{fzToNext, 0, 0, 0, 0},
	))
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		policy := fzPolicyOf(next(), next(), next())
		h := &fzHarness{t: t, e: New(policy), policy: policy, now: base, life: map[Key]*fzLife{}, ver: map[Key]int{}}
		// Longer sequences find nothing new and make minimizing slow.
		for ops := 0; len(data) > 0 && ops < 100; ops++ {
			h.step(next(), next(), next(), next(), next())
		}
	})
}

func (h *fzHarness) step(opcode, step, key, arg1, arg2 byte) {
	if step%4 != 0 {
		h.now = h.now.Add(time.Duration(step) * 3 * s)
	}
	k := fzKeys[int(key)%len(fzKeys)]
	switch opcode % 8 {
	case fzGone:
		cause := GoneDeleted
		if arg1%2 == 1 {
			cause = GoneUnwatched
		}
		h.check(h.e.Gone(h.now, k, cause), cause)
		delete(h.life, k)
		h.forget(k)
	case fzAdvance:
		h.check(h.e.Advance(h.now), "")
	case fzRestart:
		before := h.e.Incidents()
		restored := New(h.policy)
		restored.Restore(before)
		if after := restored.Incidents(); !reflect.DeepEqual(after, before) {
			h.t.Fatalf("Restore(Incidents()) gives %+v; want %+v", after, before)
		}
		h.e = restored
	case fzToNext:
		h.toNextDeadline()
	case fzPolicy:
		h.policy = fzPolicyOf(arg1, arg1/3, arg2)
		h.e.SetPolicy(h.policy)
	case fzReachable:
		h.e.SetReachable(h.now, k.Cluster, arg1%2 == 1)
	default:
		o := Observation{
			State:   fzStates[int(arg1)%len(fzStates)],
			Attempt: []string{"a", "b", "c"}[int(arg1)/len(fzStates)%3],
		}
		o.Reason = "Flux" + string(o.State)
		if arg2&1 == 1 {
			h.ver[k]++
		}
		o.Version = string(rune('0' + h.ver[k]%64))
		if arg2&2 != 0 {
			o.StaleAfter = 10 * m
		}
		if arg2&4 != 0 {
			o.Since = h.now.Add(-time.Duration(arg2>>3) * m)
		}
		if h.e.Reachable(k.Cluster) {
			h.lifeOf(k).lastState = o.State
		}
		h.check(h.e.Observe(h.now, k, o), "")
	}
	h.checkInvariants()
}

func (h *fzHarness) forget(k Key) {
	// A gone key's next observation is a new object.
	h.ver[k] = 0
}

// toNextDeadline checks that NextDeadline is exact on a copy of the engine,
// then advances the real one to it.
func (h *fzHarness) toNextDeadline() {
	d, ok := h.e.NextDeadline()
	if !ok {
		return
	}
	if d.After(h.now) {
		early := cloneEngine(h.e)
		if got := early.Advance(d.Add(-ns)); len(got) != 0 {
			h.t.Fatalf("Advance 1ns before NextDeadline %v: %s", offset(d), describe(got))
		}
		if !reflect.DeepEqual(snapshot(early), snapshot(h.e)) {
			h.t.Fatalf("Advance 1ns before NextDeadline %v changed the state", offset(d))
		}
		h.now = d
		before := snapshot(h.e)
		got := h.e.Advance(d)
		if len(got) == 0 && reflect.DeepEqual(snapshot(h.e), before) {
			h.t.Fatalf("Advance at NextDeadline %v did nothing", offset(d))
		}
		h.check(got, "")
		return
	}
	h.check(h.e.Advance(h.now), "")
}

func (h *fzHarness) lifeOf(k Key) *fzLife {
	l, ok := h.life[k]
	if !ok {
		l = &fzLife{}
		h.life[k] = l
	}
	return l
}

// check follows each incident through the transitions of one call.
func (h *fzHarness) check(trs []Transition, cause GoneCause) {
	t := h.t
	for i, tr := range trs {
		k := tr.Incident.Key
		if i > 0 && compareKeys(trs[i-1].Incident.Key, k) > 0 {
			t.Fatalf("transitions not ordered by key: %s", describe(trs))
		}
		if !tr.At.Equal(h.now) || tr.Down < 0 {
			t.Fatalf("transition at %v with down %v, call at %v", offset(tr.At), tr.Down, offset(h.now))
		}
		l := h.lifeOf(k)
		switch tr.Type {
		case Opened:
			if l.open {
				t.Fatalf("%v opened a second incident: %s", k, describe(trs))
			}
			if tr.Incident.Phase != Pending || !tr.Incident.OpenedAt.Equal(h.now) {
				t.Fatalf("Opened incident %+v", tr.Incident)
			}
			*l = fzLife{open: true, openedAt: h.now, lastState: l.lastState}
		case Fired:
			if !l.open || l.fired {
				t.Fatalf("%v fired without an open unfired incident (open=%v fired=%v): %s", k, l.open, l.fired, describe(trs))
			}
			exempt := tr.Incident.Reason == ReasonProgressingDeadline || l.lastState == Stalled
			pf := pendingFor(h.policy)
			if !exempt && (tr.Incident.Counted < pf || h.now.Sub(l.openedAt) < pf) {
				t.Fatalf("%v fired after %v open, %v counted; pendingFor %v", k, h.now.Sub(l.openedAt), tr.Incident.Counted, pf)
			}
			l.fired = true
		case Dropped:
			if !l.open || l.fired {
				t.Fatalf("%v dropped an incident that was not pending (open=%v fired=%v)", k, l.open, l.fired)
			}
			l.open = false
		case Recovered, EndedSuspended, EndedDeleted, EndedUnwatched:
			if !l.open || !l.fired {
				t.Fatalf("%v ended (%s) an incident that had not fired (open=%v)", k, tr.Type, l.open)
			}
			if tr.Type == EndedDeleted && cause != GoneDeleted || tr.Type == EndedUnwatched && cause != GoneUnwatched {
				t.Fatalf("%s from a call with cause %q", tr.Type, cause)
			}
			if tr.Type == EndedSuspended && l.lastState != Suspended {
				t.Fatalf("EndedSuspended for an object last seen %s", l.lastState)
			}
			l.open = false
		default:
			t.Fatalf("unknown transition %q", tr.Type)
		}
	}
}

func (h *fzHarness) checkInvariants() {
	t := h.t
	incs := h.e.Incidents()
	seen := map[Key]bool{}
	for i, inc := range incs {
		if seen[inc.Key] {
			t.Fatalf("two open incidents for %v", inc.Key)
		}
		seen[inc.Key] = true
		if i > 0 {
			prev := incs[i-1]
			if c := prev.OpenedAt.Compare(inc.OpenedAt); c < 0 || c == 0 && compareKeys(prev.Key, inc.Key) > 0 {
				t.Fatalf("Incidents() not newest first: %+v", incs)
			}
		}
		l := h.life[inc.Key]
		if l == nil || !l.open || l.fired != (inc.Phase == Firing) || !l.openedAt.Equal(inc.OpenedAt) {
			t.Fatalf("open incident %+v does not match its transitions %+v", inc, l)
		}
	}
	for k, l := range h.life {
		if l.open && !seen[k] {
			t.Fatalf("%v: incident vanished without a transition", k)
		}
	}
	keys := h.e.Keys()
	if !slices.IsSortedFunc(keys, compareKeys) {
		t.Fatalf("Keys() not sorted: %v", keys)
	}
	for k := range seen {
		if !slices.Contains(keys, k) {
			t.Fatalf("%v has an incident but is not in Keys()", k)
		}
	}
}

func cloneEngine(e *Engine) *Engine {
	c := New(e.policy)
	for k, t := range e.trackers {
		ct := *t
		if t.inc != nil {
			inc := *t.inc
			ct.inc = &inc
		}
		c.trackers[k] = &ct
	}
	return c
}

type trackerSnapshot struct {
	tracker
	inc Incident
}

func snapshot(e *Engine) map[Key]trackerSnapshot {
	out := map[Key]trackerSnapshot{}
	for k, t := range e.trackers {
		s := trackerSnapshot{tracker: *t}
		s.tracker.inc = nil
		if t.inc != nil {
			s.inc = *t.inc
		}
		out[k] = s
	}
	return out
}
