package cub

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

// TestInterruptible: an interrupted command ends with exit 130 and the
// command that resumes it — a failed tier's own, else the one the command
// set — and an uninterrupted one keeps its error.
func TestInterruptible(t *testing.T) {
	tier := &rollout.TierError{Env: "dev", Tier: 2, Cause: "context canceled", Resume: "cub traderx rollback dev 3", Err: context.Canceled}
	for _, tc := range []struct {
		name        string
		interrupted bool
		resume      string
		err         error
		wantCode    int
		want        string
	}{
		{"a tier's resume command wins", true, "cub traderx apply dev", tier, cli.ExitInterrupted,
			"traderx interrupted by SIGINT (Ctrl-C): stopped waiting; nothing more was queued in ConfigHub; resume with: cub traderx rollback dev 3"},
		{"the command's resume command", true, "cub traderx apply dev", context.Canceled, cli.ExitInterrupted,
			"traderx interrupted by SIGINT (Ctrl-C): stopped waiting; nothing more was queued in ConfigHub; resume with: cub traderx apply dev"},
		{"no resume command: what the command knew", true, "", errors.New("dev: re-run the command to resume"), cli.ExitInterrupted,
			"traderx interrupted by SIGINT (Ctrl-C): stopped waiting; nothing more was queued in ConfigHub: dev: re-run the command to resume"},
		{"finished despite the signal", true, "cub traderx apply dev", nil, cli.ExitOK, ""},
		{"not interrupted", false, "cub traderx apply dev", tier, cli.ExitFailed, tier.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &globals{resume: tc.resume}
			root := &cobra.Command{Use: "traderx", RunE: func(*cobra.Command, []string) error { return tc.err }}
			g.interruptible(root)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if tc.interrupted {
				cancel(&cli.Interrupted{Signal: os.Interrupt})
			}
			root.SetContext(ctx)
			err := root.RunE(root, nil)
			if code := cli.CodeOf(err); code != tc.wantCode {
				t.Errorf("exit code %d, want %d (%v)", code, tc.wantCode, err)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("error\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
