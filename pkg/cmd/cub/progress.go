package cub

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/finos/traderx-plugins/pkg/rollout"
)

// progressView shows the steps of an apply or install on stderr. At a
// terminal the running step is one line redrawn in place (counts, what it
// does, elapsed time) and a finished step stays as a line above it; without
// a terminal only the finished steps are printed, one line each. Console log
// lines (warnings, the log path) go through it too, so they land above the
// line being redrawn instead of through it.
type progressView struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int
	now   func() time.Time
	// start and last are each step's first report and its latest counts.
	start map[string]time.Time
	last  map[string]rollout.Step
	// live is the step on the line being redrawn (terminals only).
	live *rollout.Step
	stop chan struct{}
	once sync.Once
}

// tick redraws the running step so its elapsed time moves while it waits.
const tick = time.Second

// newProgressView writes to w, a terminal of width columns when tty, and
// at a terminal redraws the running step every interval (0: only on change).
func newProgressView(w io.Writer, tty bool, width int, now func() time.Time, every time.Duration) *progressView {
	v := &progressView{w: w, tty: tty, width: width, now: now,
		start: map[string]time.Time{}, last: map[string]rollout.Step{}, stop: make(chan struct{})}
	if tty && every > 0 {
		go v.redraw(every)
	}
	return v
}

// Step implements rollout.Progress.
func (v *progressView) Step(s rollout.Step) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.start[s.Name]; !ok {
		v.start[s.Name] = v.now()
	}
	if prev, ok := v.last[s.Name]; ok && s.Total == 0 {
		s.Done, s.Total = prev.Done, prev.Total
	}
	v.last[s.Name] = s
	if !v.tty {
		if s.End {
			fmt.Fprintln(v.w, v.line(s))
		}
		return
	}
	v.clear()
	if s.End {
		fmt.Fprintln(v.w, v.line(s))
		v.live = nil
		return
	}
	v.live = &s
	v.draw()
}

// Write passes a console line through, above the line being redrawn.
func (v *progressView) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clear()
	n, err := v.w.Write(p)
	v.draw()
	return n, err
}

// close stops the redraws and leaves an unfinished step's last state on
// screen, so the terminal shows where the run stopped.
func (v *progressView) close() {
	v.once.Do(func() { close(v.stop) })
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.live != nil {
		v.clear()
		fmt.Fprintln(v.w, v.line(*v.live))
		v.live = nil
	}
}

func (v *progressView) redraw(every time.Duration) {
	t := time.NewTicker(every)

	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			v.mu.Lock()
			v.clear()
			v.draw()
			v.mu.Unlock()
		}
	}
}

// line is one step: a mark (… running, ✓ done, ✗ failed), its name, the
// units done, what it does or how it ended, and the time it took.
func (v *progressView) line(s rollout.Step) string {
	mark := "…"
	switch {
	case s.Failed:
		mark = "✗"
	case s.End:
		mark = "✓"
	}
	l := fmt.Sprintf("%s %s  %d/%d", mark, s.Name, s.Done, s.Total)
	if s.Note != "" {
		l += "  " + s.Note
	}
	return l + "  " + v.now().Sub(v.start[s.Name]).Round(time.Second).String()
}

// clear erases the line being redrawn; the cursor stays at its start.
func (v *progressView) clear() {
	if v.live != nil {
		fmt.Fprint(v.w, "\r"+ansi.EraseEntireLine)
	}
}

// draw writes the running step, cut to the screen: a wrapped line could not
// be redrawn in place.
func (v *progressView) draw() {
	if v.live != nil {
		fmt.Fprint(v.w, ansi.Truncate(v.line(*v.live), v.width-1, "…"))
	}
}
