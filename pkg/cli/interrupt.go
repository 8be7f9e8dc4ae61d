package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// ExitInterrupted: Ctrl-C (SIGINT) or SIGTERM stopped the command before it
// finished. 130 is what shells report for a process killed by SIGINT, so
// scripts see the same code whether the plugin or the signal ended it.
const ExitInterrupted = 130

// ExitInterruptedHelp documents ExitInterrupted in --help, after
// ExitCodesHelp, for the commands that run under NotifyInterrupt.
const ExitInterruptedHelp = `
  130  interrupted by Ctrl-C (SIGINT) or SIGTERM: waits stopped, nothing new was
       started, and the error line names the command that resumes; a second
       signal exits at once`

// Interrupted is the cause of a context cancelled by a signal.
type Interrupted struct{ Signal os.Signal }

func (i *Interrupted) Error() string { return "interrupted by " + signalName(i.Signal) }

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// InterruptedBy returns the signal that cancelled ctx, or nil when ctx was
// not cancelled by NotifyInterrupt.
func InterruptedBy(ctx context.Context) *Interrupted {
	var in *Interrupted
	if errors.As(context.Cause(ctx), &in) {
		return in
	}
	return nil
}

// NotifyInterrupt returns a context cancelled (with an *Interrupted cause)
// at the first SIGINT or SIGTERM, so waits stop and nothing new is started.
// A second signal means the user will not wait for that: it ends the process
// at once with ExitInterrupted. stop releases the signals.
func NotifyInterrupt(ctx context.Context, stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(&Interrupted{Signal: s})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "error: second signal (%s): exiting at once\n", signalName(s))
			os.Exit(ExitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// InterruptError is what a command interrupted by in reports: one line
// saying so, with the command that resumes it when there is one (else
// detail, what the command knew when it stopped).
func InterruptError(in *Interrupted, what, resume string, detail error) error {
	msg := fmt.Sprintf("%s %s: stopped waiting; nothing more was queued in ConfigHub", what, in)
	switch {
	case resume != "":
		msg += "; resume with: " + resume
	case detail != nil && !errors.Is(detail, context.Canceled):
		msg += ": " + detail.Error()
	}
	return &ExitError{Code: ExitInterrupted, Err: errors.New(msg)}
}
