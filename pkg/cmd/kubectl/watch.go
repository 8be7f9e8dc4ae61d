package kubectl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/health"
)

const untilHealthy = "healthy"

const (
	// watchSettle lets a burst of changes (a rollout touches pods,
	// ReplicaSets, EndpointSlices and the Deployment within milliseconds)
	// become one evaluation.
	watchSettle = 250 * time.Millisecond
	// watchRefresh re-judges the cached state although nothing changed:
	// some verdicts move with time alone (a pod not ready past the grace),
	// and ConfigHub's sync has no watch. It reads memory and ConfigHub only.
	watchRefresh = 30 * time.Second
)

func (o *HealthOptions) validateWatch() error {
	switch {
	case o.Until != "" && !o.Watch:
		return cli.Usagef("--until needs --watch")
	case o.Until != "" && o.Until != untilHealthy:
		return cli.Usagef("invalid --until %q (valid: %s)", o.Until, untilHealthy)
	case o.Watch && o.Wait:
		return cli.Usagef("--watch and --wait are exclusive: --watch --until healthy ends at HEALTHY like --wait")
	case o.Watch && o.Report.format != check.FormatTable && o.Report.format != check.FormatWide:
		return cli.Usagef("--watch shows -o table or -o wide; for -o %s run health without --watch", o.Report.format)
	}
	return nil
}

// watchView shows each evaluation of a watch.
type watchView interface {
	show(r *check.Report, ov *check.Overview)
	problem(err error)
	close()
}

// watch keeps the environment's report current from watches on the kinds a
// snapshot holds, and ends on Ctrl-C (or SIGTERM), at --until, or at
// --timeout, with the exit code of the last verdict.
func (o *HealthOptions) watch(ctx context.Context, client kubernetes.Interface, opts health.Options) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	w, err := cluster.Watch(ctx, client, o.env.Namespace())
	if err != nil {
		return cli.Unavailable(err)
	}
	var view watchView = &lineView{out: o.Out, color: o.Report.Color.Enabled(o.Out, o.Getenv), failOn: o.Report.failOn}
	if cli.IsTerminal(o.Out) {
		view = newScreenView(o.Out, o.ErrOut, o.Report.options(o.IOStreams, check.GroupByTarget, nil), o.env.Namespace())
	}

	var last *check.Report
	evaluate := func() bool {
		s, err := w.Snapshot(ctx)
		if err != nil {
			if ctx.Err() == nil {
				view.problem(err)
			}
			return false
		}
		r := health.Judge(ctx, s, o.env, opts)
		r.Cluster = o.cluster
		ov := health.Overview(s, o.env, opts, r)
		last = r
		view.show(r, &ov)
		return o.Until == untilHealthy && r.Verdict == check.VerdictHealthy
	}
	refresh := time.NewTicker(watchRefresh)
	defer refresh.Stop()
	var settle <-chan time.Time
	done := evaluate()
	for !done {
		select {
		case <-ctx.Done():
			done = true
		case <-w.Changed():
			if settle == nil {
				settle = time.After(watchSettle)
			}
		case <-settle:
			settle = nil
			done = evaluate()
		case <-refresh.C:
			done = evaluate()
		}
	}
	view.close()
	if last == nil {
		return cli.Unavailable(fmt.Errorf("no evaluation finished: %w", context.Cause(ctx)))
	}
	if o.Until == untilHealthy && last.Verdict != check.VerdictHealthy && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		fmt.Fprintf(o.ErrOut, "not HEALTHY after %s\n", o.Timeout)
	}
	return o.Report.exit(last)
}

// lineView is a watch without a terminal: a timestamped verdict line each
// time the verdict or its reason changes.
type lineView struct {
	out    io.Writer
	color  bool
	failOn check.FailOn
	last   string
}

func (v *lineView) show(r *check.Report, _ *check.Overview) {
	line := check.StatusLine(*r, v.failOn, v.color)
	if line != v.last {
		v.last = line
		fmt.Fprintf(v.out, "%s %s\n", time.Now().UTC().Format(time.RFC3339), line)
	}
}

func (v *lineView) problem(err error) {
	v.last = ""
	fmt.Fprintf(v.out, "%s cannot evaluate: %v\n", time.Now().UTC().Format(time.RFC3339), err)
}

func (v *lineView) close() {}

// screenView redraws the report in place at a terminal with bubbletea,
// which also follows the terminal's width. Input stays with the terminal,
// so Ctrl-C is a signal that ends the watch like any other.
type screenView struct {
	program *tea.Program
	opts    check.RenderOptions
	where   string
	done    chan struct{}
}

func newScreenView(out, errOut io.Writer, opts check.RenderOptions, namespace string) *screenView {
	v := &screenView{opts: opts, where: namespace, done: make(chan struct{})}
	v.program = tea.NewProgram(screen{width: opts.Width, body: "Listing " + namespace + "…"},
		tea.WithOutput(out), tea.WithInput(nil), tea.WithoutSignalHandler())
	go func() {
		defer close(v.done)
		if _, err := v.program.Run(); err != nil {
			fmt.Fprintf(errOut, "cannot draw the screen: %v\n", err)
		}
	}()
	return v
}

func (v *screenView) show(r *check.Report, ov *check.Overview) {
	o := v.opts
	o.Overview = ov
	report := *r
	v.program.Send(frame{
		render: func(width int) string {
			o.Width = width
			var b bytes.Buffer
			if err := check.Render(&b, report, o); err != nil {
				return err.Error()
			}
			return b.String()
		},
		footer: fmt.Sprintf("Watching %s, updated %s. Ctrl-C to stop.", v.where, time.Now().Format(time.TimeOnly)),
	})
}

func (v *screenView) problem(err error) {
	v.program.Send(frame{footer: fmt.Sprintf("%s cannot evaluate: %v", time.Now().Format(time.TimeOnly), err)})
}

func (v *screenView) close() {
	v.program.Quit()
	<-v.done
}

// screen is the bubbletea model of the watch: the last report, rendered
// for the terminal's width, and a footer.
type screen struct {
	width  int
	render func(width int) string
	body   string
	footer string
}

// frame replaces the report (render, when set) and the footer.
type frame struct {
	render func(width int) string
	footer string
}

func (s screen) Init() tea.Cmd { return nil }

func (s screen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		s.width = m.Width
	case frame:
		if m.render != nil {
			s.render = m.render
		}
		s.footer = m.footer
	}
	if s.render != nil {
		s.body = s.render(s.width)
	}
	return s, nil
}

// View wraps lines wider than the terminal (a long hint) rather than let
// the renderer cut them.
func (s screen) View() string {
	return ansi.Wrap(s.body+"\n"+s.footer, s.width, "")
}
