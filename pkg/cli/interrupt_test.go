package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestInterruptError(t *testing.T) {
	in := &Interrupted{Signal: syscall.SIGTERM}
	for _, tc := range []struct {
		name, resume string
		detail       error
		want, not    string
	}{
		{"resume known", "cub traderx apply dev", errors.New("dev: tier 2 failed: context canceled"),
			"cub traderx apply interrupted by SIGTERM: stopped waiting; nothing more was queued in ConfigHub; resume with: cub traderx apply dev", "tier 2"},
		{"only what the command knew", "", errors.New("dev: re-run the command to resume"),
			"cub traderx apply interrupted by SIGTERM: stopped waiting; nothing more was queued in ConfigHub: dev: re-run the command to resume", "resume with"},
		{"nothing known", "", context.Canceled,
			"cub traderx apply interrupted by SIGTERM: stopped waiting; nothing more was queued in ConfigHub", "canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := InterruptError(in, "cub traderx apply", tc.resume, tc.detail)
			if got := err.Error(); got != tc.want || strings.Contains(got, tc.not) {
				t.Errorf("message\n got %q\nwant %q", got, tc.want)
			}
			if code := CodeOf(err); code != ExitInterrupted {
				t.Errorf("exit code %d, want %d", code, ExitInterrupted)
			}
		})
	}
}

func TestNotifyInterruptCancelsWithTheSignal(t *testing.T) {
	ctx, stop := NotifyInterrupt(context.Background(), &bytes.Buffer{})
	defer stop()
	if InterruptedBy(ctx) != nil {
		t.Fatal("interrupted before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
	if in := InterruptedBy(ctx); in == nil || in.Signal != os.Interrupt {
		t.Fatalf("cause %v, want SIGINT", context.Cause(ctx))
	}
}

// childEnv makes the test binary the child of TestSecondSignalExitsAtOnce.
const childEnv = "TRADERX_CLI_INTERRUPT_CHILD"

func TestSecondSignalExitsAtOnce(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		// The child: a second signal while the command would still be
		// winding down from the first.
		ctx, stop := NotifyInterrupt(context.Background(), os.Stderr)
		defer stop()
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		<-ctx.Done()
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		time.Sleep(10 * time.Second)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondSignalExitsAtOnce$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitInterrupted {
		t.Fatalf("child ended with %v, want exit %d:\n%s", err, ExitInterrupted, stderr.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the second signal took %s to end the process", took)
	}
	if want := "error: second signal (SIGTERM): exiting at once\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}
