package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fluxwatchv1 "github.com/fluxwatch/fluxwatch/api/v1alpha1"
)

// How many narration lines and events a live frame keeps on screen.
const (
	liveBeats  = 7
	liveEvents = 6
)

// display shows, while the story plays, what `kubectl get fluxwatches -A`
// shows, the FluxWatch Events as they are emitted, and the narration. On a
// terminal it redraws one frame in place (ANSI); otherwise it appends plain
// lines, and only when something changed, so that a log or a pipe reads as
// a transcript.
type display struct {
	out    io.Writer
	live   bool
	width  int // terminal width: live lines are cut to it, so that none wraps and breaks the redraw
	t0     time.Time
	length time.Duration // the story's length in demo time
	title  string

	tables rest.Interface // renders FluxWatch lists as Tables
	client client.Client

	table    []string
	tableKey string // the table without its AGE column: a change worth printing
	beats    []entry
	nextBeat int
	events   []entry
	seen     map[types.UID]time.Time // when each event was first shown
	frame    int                     // lines of the last live frame
}

// tick refreshes everything once at now.
func (d *display) tick(ctx context.Context, now time.Time, beats []beat, demo func(time.Duration) time.Duration) {
	if ctx.Err() != nil {
		return // interrupted: nothing to show that would not be an error
	}
	var plain []string
	for ; d.nextBeat < len(beats) && !d.t0.Add(demo(beats[d.nextBeat].at)).After(now); d.nextBeat++ {
		e := entry{clock(now.Sub(d.t0)), beats[d.nextBeat].text}
		d.beats = append(d.beats, e)
		plain = append(plain, e.clock+"  flux   "+e.text)
	}

	if table, key, err := readTable(ctx, d.tables); err != nil {
		plain = append(plain, fmt.Sprintf("%s  !! kubectl get fluxwatches: %v", clock(now.Sub(d.t0)), err))
	} else if key != d.tableKey {
		d.table, d.tableKey = table, key
		plain = append(plain, fmt.Sprintf("%s  $ kubectl get fluxwatches -A", clock(now.Sub(d.t0))))
		for _, l := range table {
			plain = append(plain, "      "+l)
		}
	}

	if evs, err := listEvents(ctx, d.client); err != nil {
		plain = append(plain, fmt.Sprintf("%s  !! list events: %v", clock(now.Sub(d.t0)), err))
	} else {
		for _, e := range evs {
			if _, ok := d.seen[e.UID]; ok {
				continue
			}
			d.seen[e.UID] = now
			en := entry{clock(now.Sub(d.t0)), fmt.Sprintf("%s %s %s/%s: %s", e.Type, e.Reason, e.Namespace, e.InvolvedObject.Name, e.Message)}
			d.events = append(d.events, en)
			plain = append(plain, en.clock+"  event  "+en.text)
		}
	}

	if !d.live {
		for _, l := range plain {
			fmt.Fprintln(d.out, l)
		}
		return
	}
	d.redraw(now)
}

// redraw replaces the previous live frame with the current one.
func (d *display) redraw(now time.Time) {
	elapsed := min(now.Sub(d.t0), d.length)
	lines := []string{
		fmt.Sprintf("%s   %s / %s", d.title, clock(elapsed), clock(d.length)),
		"",
		"$ kubectl get fluxwatches -A",
	}
	lines = append(lines, d.table...)
	lines = append(lines, "", "Flux, as scripted (status written the way the Flux controllers write it):")
	for _, e := range lastN(d.beats, liveBeats) {
		lines = append(lines, "  "+e.clock+"  "+e.text)
	}
	lines = append(lines, "", "FluxWatch events ($ kubectl get events -A --field-selector involvedObject.kind=FluxWatch):")
	if len(d.events) == 0 {
		lines = append(lines, "  (none yet)")
	}
	for _, e := range lastN(d.events, liveEvents) {
		lines = append(lines, "  "+e.clock+"  "+e.text)
	}

	var b strings.Builder
	if d.frame > 0 {
		// Back to the first line of the previous frame.
		fmt.Fprintf(&b, "\x1b[%dF", d.frame)
	}
	for _, l := range lines {
		b.WriteString("\x1b[2K")
		b.WriteString(cut(l, d.width-1))
		b.WriteByte('\n')
	}
	b.WriteString("\x1b[J") // whatever the previous, longer frame left below
	fmt.Fprint(d.out, b.String())
	d.frame = len(lines)
}

// readTable returns the lines `kubectl get fluxwatches -A` prints, from the
// API server's own Table rendering of the printer columns (the AGE column
// included), and the same table without AGE to detect changes.
func readTable(ctx context.Context, rc rest.Interface) (lines []string, key string, err error) {
	raw, err := rc.Get().AbsPath("/apis", fluxwatchv1.GroupVersion.Group, fluxwatchv1.GroupVersion.Version, "fluxwatches").
		Param("includeObject", string(metav1.IncludeMetadata)).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		DoRaw(ctx)
	if err != nil {
		return nil, "", err
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(raw, table); err != nil {
		return nil, "", fmt.Errorf("decode table: %w", err)
	}
	if len(table.Rows) == 0 {
		return []string{"No resources found"}, "", nil
	}
	// As kubectl -A: a NAMESPACE column first, then the columns of
	// priority 0, headers in upper case, cells padded by a tabwriter.
	var visible []int
	header := []string{"NAMESPACE"}
	for i, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			visible = append(visible, i)
			header = append(header, strings.ToUpper(c.Name))
		}
	}
	var buf, keyBuf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 6, 4, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range table.Rows {
		meta := &metav1.PartialObjectMetadata{}
		if err := json.Unmarshal(row.Object.Raw, meta); err != nil {
			return nil, "", fmt.Errorf("decode table row: %w", err)
		}
		cells := []string{meta.Namespace}
		for _, i := range visible {
			cell := ""
			if i < len(row.Cells) && row.Cells[i] != nil {
				cell = fmt.Sprint(row.Cells[i])
			}
			cells = append(cells, cell)
			if table.ColumnDefinitions[i].Name != "Age" {
				keyBuf.WriteString(cell + "\t")
			}
		}
		keyBuf.WriteString("\n")
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return nil, "", err
	}
	lines = strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return lines, keyBuf.String(), nil
}

// listEvents lists the Events on FluxWatches in every namespace, oldest
// first, as `kubectl get events -A --field-selector
// involvedObject.kind=FluxWatch` does.
func listEvents(ctx context.Context, c client.Client) ([]corev1.Event, error) {
	list := &corev1.EventList{}
	if err := c.List(ctx, list, client.MatchingFields{"involvedObject.kind": fluxwatchv1.FluxWatchKind}); err != nil {
		return nil, err
	}
	evs := list.Items
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i].FirstTimestamp.Time, evs[j].FirstTimestamp.Time
		if !a.Equal(b) {
			return a.Before(b)
		}
		return evs[i].CreationTimestamp.Before(&evs[j].CreationTimestamp) ||
			evs[i].CreationTimestamp.Equal(&evs[j].CreationTimestamp) && evs[i].Name < evs[j].Name
	})
	return evs, nil
}

// clock renders a time into the story as m:ss.
func clock(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	return fmt.Sprintf("%d:%02d", int(d/time.Minute), int(d%time.Minute/time.Second))
}

// shortDuration renders a duration the way a person writes it: 17ms, 18.5s,
// 15s, 2m, 1h30m.
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		d = d.Round(time.Millisecond)
	case d < time.Minute:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Second)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// cut shortens s to at most n characters, marking the cut; n <= 0 keeps s.
func cut(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// entry is a line of the view: when it was shown, and what.
type entry struct{ clock, text string }

func lastN(s []entry, n int) []entry {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
