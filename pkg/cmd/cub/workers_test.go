package cub

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
)

// install binds each environment to a connected worker's Kubernetes target,
// and refuses (exit 2, nothing created) when there is none to pick or the
// choice is ambiguous, saying exactly what to type.
func TestInstallNeedsOneWorkerTarget(t *testing.T) {
	cases := []struct {
		name string
		// setup prepares the stand-in and returns install's extra arguments.
		setup func(t *testing.T, h *harness) []string
		want  []string // on stderr, in this order
	}{
		{"no space, no worker", func(t *testing.T, h *harness) []string {
			return []string{"--project", "other"}
		}, []string{
			"  cub space create other-dev\n",
			"  cub worker create --space other-dev traderx-worker\n",
			"  cub worker run --space other-dev traderx-worker ",
			"cub worker install --space other-dev traderx-worker --export --include-secret | kubectl apply -f -\n",
			"error: environment dev: no ConfigHub worker serves space other-dev yet, so its units could not be applied; nothing was changed.",
		}},
		{"a space without a worker", func(t *testing.T, h *harness) []string {
			if _, err := h.client.CreateSpace(h.ctx, confighub.Space{Slug: "other-dev"}); err != nil {
				t.Fatal(err)
			}
			return []string{"--project", "other"}
		}, []string{
			"  cub worker create --space other-dev traderx-worker\n",
			"error: environment dev: no ConfigHub worker serves space other-dev yet",
		}},
		{"two targets, no --target", func(t *testing.T, h *harness) []string {
			w, err := h.srv.StartWorker(h.ctx, "traderx-dev", "second", nil, confighubtest.NoopBackend{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.Stop)
			return nil
		}, []string{"environment dev: space traderx-dev has 2 Kubernetes targets (second, worker); nothing was changed. Name the one for dev with --target"}},
		{"--target names a missing one", func(t *testing.T, h *harness) []string {
			return []string{"--target", "sandbox"}
		}, []string{`environment dev: space traderx-dev has no Kubernetes target "sandbox" (it has worker); nothing was changed. Pick one with --target`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, false)
			args := append([]string{"install", "--envs", "dev"}, tc.setup(t, h)...)
			units, spaces, mutations := len(h.revisions()), h.spaceCount(), h.mutations()
			r := h.run("", args...)
			if r.code != 2 {
				t.Fatalf("want exit 2: %s", r)
			}
			rest := r.stderr
			for _, want := range tc.want {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("stderr lacks %q (in order):\n%s", want, r.stderr)
				}
				rest = rest[i+len(want):]
			}
			if m := h.mutations() - mutations; m != 0 {
				t.Errorf("install sent %d mutating requests before refusing", m)
			}
			if n, m := len(h.revisions()), h.spaceCount(); n != units || m != spaces {
				t.Errorf("install created something before refusing: %d units in %d spaces, were %d in %d", n, m, units, spaces)
			}
			checkSuggestedCommands(t, r.stderr)
		})
	}
}

// With the worker of an environment disconnected, every command that would
// change it refuses before changing anything: exit 3, naming the worker and
// how to start it (the text of rollout.WorkerUnavailableError).
func TestCommandsRefuseWithoutAConnectedWorker(t *testing.T) {
	h := newHarness(t, false)
	for _, args := range [][]string{{"install", "--envs", "dev,staging"}, {"apply", "dev"}} {
		if r := h.run("", args...); r.code != 0 {
			t.Fatalf("%v: %s", args, r)
		}
	}
	if r := h.day2(nil, "", "set-image", "dev", "people-service", "1.1.0"); r.code != 0 {
		t.Fatalf("set-image: %s", r)
	}
	for _, sp := range []string{"traderx-dev", "traderx-staging"} {
		h.workers[sp].Stop()
		h.waitCondition(sp, "worker", confighub.WorkerDisconnected)
	}
	before, mutations := h.revisions(), h.mutations()
	cases := []struct {
		args  []string
		space string
	}{
		{[]string{"apply", "dev"}, "traderx-dev"},
		{[]string{"set-image", "dev", "people-service", "1.2.0"}, "traderx-dev"},
		{[]string{"rollback", "dev"}, "traderx-dev"},
		{[]string{"promote", "dev", "staging"}, "traderx-staging"},
	}
	for _, tc := range cases {
		t.Run(tc.args[0], func(t *testing.T) {
			var r result
			if tc.args[0] == "apply" {
				r = h.run("", tc.args...)
			} else {
				r = h.day2(nil, "", tc.args...)
			}
			want := "the ConfigHub worker worker of space " + tc.space + " is Disconnected"
			if r.code != 3 || !strings.Contains(r.stderr, want) ||
				!strings.Contains(r.stderr, "(cub worker run --space "+tc.space+" worker)") {
				t.Fatalf("want exit 3 and %q with the command to start it: %s", want, r)
			}
			checkSuggestedCommands(t, r.stderr)
		})
	}
	if after := h.revisions(); !mapsEqual(before, after) {
		t.Errorf("a refused command changed unit revisions")
	}
	if m := h.mutations() - mutations; m != 0 {
		t.Errorf("refused commands sent %d mutating requests", m)
	}
}

// spaceCount counts the spaces of the stand-in.
func (h *harness) spaceCount() int {
	h.t.Helper()
	list, err := h.client.ListSpaces(h.ctx, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return len(list)
}

// waitCondition waits until the server reports a space's worker in condition.
func (h *harness) waitCondition(space, worker, condition string) {
	h.t.Helper()
	where := confighub.Where().Eq("Slug", worker).String()
	for deadline := time.Now().Add(10 * time.Second); ; {
		list, err := h.client.ListBridgeWorkers(h.ctx, h.space(space).SpaceID, where)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(list) == 1 && list[0].BridgeWorker.Condition == condition {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("worker %s of %s never became %s", worker, space, condition)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// suggestedRE finds the cub commands a message tells the user to type: from
// "cub " to the end of the line, a parenthesis, a quote, a pipe or a shell
// comment.
var suggestedRE = regexp.MustCompile("cub [^\n()`'|#]+")

// checkSuggestedCommands parses every cub command in msg without running it:
// `cub traderx …` through cub-traderx's own cobra tree, other `cub …` lines
// through realCub, a model of the real cub's flags. Each must name a
// command, take its arguments and know every flag.
func checkSuggestedCommands(t *testing.T, msg string) {
	t.Helper()
	found := suggestedRE.FindAllString(msg, -1)
	if len(found) == 0 {
		t.Errorf("no command suggested in:\n%s", msg)
	}
	for _, line := range found {
		argv := strings.Fields(line) // the messages quote nothing
		if len(argv) < 2 {
			t.Errorf("suggested command %q is incomplete", line)
			continue
		}
		var root *cobra.Command
		if argv[1] == "traderx" {
			root = NewRootCommandWith(genericiooptions.NewTestIOStreamsDiscard(), Env{})
			argv = argv[1:]
		} else {
			root = realCub()
		}
		if err := parses(root, argv[1:]); err != nil {
			t.Errorf("suggested command %q does not parse: %v", line, err)
		}
	}
}

// parses resolves args to a command of root and checks its flags and
// positional arguments, as cobra does before running it.
func parses(root *cobra.Command, args []string) error {
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root || !cmd.Runnable() {
		return errors.New("names no runnable command")
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	return cmd.ValidateArgs(cmd.Flags().Args())
}

// realCub models the commands of the real cub that our messages suggest,
// with the flags and argument counts of confighub/sdk cmd/cub/space_create.go
// and worker*.go, taking only what is common to the cub of the August 2025
// SDK (commit a4a979ae9bc6b7c7b4e6622b2676f07a20c0658c, the mirror) and the
// newer cub stored for the SDK (the one whose worker run/install take
// --provider-types): a suggestion must work with either.
func realCub() *cobra.Command {
	noop := func(*cobra.Command, []string) error { return nil }
	root := &cobra.Command{Use: "cub", SilenceErrors: true, SilenceUsage: true}
	space := &cobra.Command{Use: "space"}
	spaceCreate := &cobra.Command{Use: "create [space]", Args: cobra.RangeArgs(0, 1), RunE: noop}
	spaceCreate.Flags().StringSlice("name-prefix", nil, "")
	space.AddCommand(spaceCreate)
	worker := &cobra.Command{Use: "worker"}
	worker.PersistentFlags().String("space", "", "") // addSpaceFlags(workerCmd)
	create := &cobra.Command{Use: "create <worker-slug>", Args: cobra.ExactArgs(1), RunE: noop}
	run := &cobra.Command{Use: "run", Args: cobra.ExactArgs(1), RunE: noop}
	run.Flags().StringP("worker-type", "t", "", "") // --provider-types in the newer cub; same shorthand
	run.Flags().StringSliceP("env", "e", nil, "")
	install := &cobra.Command{Use: "install [worker-name]", Args: cobra.ExactArgs(1), RunE: noop}
	install.Flags().StringSliceP("env", "e", nil, "")
	install.Flags().Bool("export", false, "")
	install.Flags().Bool("include-secret", false, "")
	install.Flags().Bool("export-secret-only", false, "")
	install.Flags().StringP("namespace", "n", "confighub", "")
	install.Flags().String("unit", "", "")
	install.Flags().String("target", "", "")
	install.Flags().String("deployment-name", "", "")
	worker.AddCommand(create, run, install)
	root.AddCommand(space, worker)
	return root
}

// The model of the real cub catches what it must: unknown flags, wrong
// argument counts, unknown commands.
func TestSuggestedCommandCheckCanFail(t *testing.T) {
	for _, bad := range []string{
		"cub worker create traderx-worker extra",
		"cub worker run --space s",
		"cub worker install --space s w --exportt",
		"cub worker start --space s w",
		"cub traderx apply",
		"cub traderx apply dev --no-such-flag",
	} {
		argv := strings.Fields(bad)
		root := realCub()
		if argv[1] == "traderx" {
			root, argv = NewRootCommandWith(genericiooptions.NewTestIOStreamsDiscard(), Env{}), argv[1:]
		}
		if parses(root, argv[1:]) == nil {
			t.Errorf("%q parses", bad)
		}
	}
}

// restartWorker starts a space's worker again, as `cub worker run` does
// after it stopped: the same worker, advertising the same target.
func (h *harness) restartWorker(space string, opts ...confighubtest.WorkerOption) *confighubtest.Worker {
	h.t.Helper()
	h.workers[space].Stop()
	w, err := h.srv.StartWorker(h.ctx, space, "worker", nil, confighubtest.NoopBackend{}, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.workers[space] = w
	h.t.Cleanup(w.Stop)
	return w
}

// A worker that disconnects in the middle of an apply stops the run at
// once with exit 3, naming the worker and how to start it, and records no
// release; once it is back, the same command applies the cut-off unit again
// (the operation the old connection took will never finish).
func TestWorkerDisconnectingMidApply(t *testing.T) {
	h := installed(t)
	if r := h.run("", "apply", "dev"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	h.workers["traderx-dev"].DisconnectOnApply("people-service-deployment")
	start := time.Now()
	r := h.day2(nil, "", "set-image", "dev", "people-service", "1.1.0", "--timeout", "1m")
	if r.code != 3 {
		t.Fatalf("want exit 3: %s", r)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("the run noticed the worker leave after %s, want well within its 1m timeout", el)
	}
	for _, want := range []string{"the ConfigHub worker worker of space traderx-dev is Disconnected",
		"it disconnected while applying tier 1 (people-service-deployment); nothing more was changed",
		"(cub worker run --space traderx-dev worker)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	checkSuggestedCommands(t, r.stderr)
	if tags := h.tags("traderx-dev"); len(tags) != 1 {
		t.Errorf("tags = %v: a release was recorded for a cut-off change", tags)
	}
	u := h.units("traderx-dev")["people-service-deployment"]
	if u.LiveRevisionNum == u.HeadRevisionNum {
		t.Fatalf("the cut-off apply counts as live")
	}

	// Before the worker is back the re-run refuses before changing anything.
	if r := h.day2(nil, "", "set-image", "dev", "people-service", "1.1.0"); r.code != 3 {
		t.Fatalf("re-run without the worker: %s", r)
	}
	h.restartWorker("traderx-dev")
	r = h.day2(nil, "", "set-image", "dev", "people-service", "1.1.0")
	if r.code != 0 || !strings.Contains(r.stderr, "was cut off: its worker has reconnected since it began; applying again") {
		t.Fatalf("re-run after the worker is back: %s", r)
	}
	if u := h.units("traderx-dev")["people-service-deployment"]; u.LiveRevisionNum != u.HeadRevisionNum {
		t.Errorf("people-service-deployment not live at head after the re-run")
	}
	if n := h.applies("traderx-dev", "people-service-deployment"); n != 3 {
		t.Errorf("people-service-deployment: %d applies, want 3 (apply's, the cut-off one, the re-run's)", n)
	}
}

// applies counts the apply requests of a unit.
func (h *harness) applies(space, unit string) int {
	h.t.Helper()
	return h.srv.CountRequests("POST", "/unit/"+h.units(space)[unit].UnitID.String()+"/apply$")
}

// A unit whose apply stays Progressing (the worker's readiness wait never
// ends) fails the run after one --timeout, without queuing the apply again;
// the re-run waits for that apply instead of queuing a duplicate.
func TestApplyStayingProgressing(t *testing.T) {
	h := newHarness(t, false)
	w := h.restartWorker("traderx-dev", confighubtest.WithRetryBackoff(50*time.Millisecond, 200*time.Millisecond))
	if r := h.run("", "install", "--envs", "dev"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	if r := h.run("", "apply", "dev"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	w.SetNeverReady("people-service-deployment", true)
	start := time.Now()
	r := h.day2(nil, "", "set-image", "dev", "people-service", "1.1.0", "--timeout", "2s")
	if r.code != 1 || !strings.Contains(r.stderr, "apply of people-service-deployment revision 3 still in progress after 2s") {
		t.Fatalf("want exit 1, the apply still in progress: %s", r)
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("took %s: the 2s timeout was waited out more than once", el)
	}
	if n := h.applies("traderx-dev", "people-service-deployment"); n != 2 {
		t.Errorf("%d applies, want 2 (apply's and set-image's: no duplicate while Progressing)", n)
	}
	w.SetNeverReady("people-service-deployment", false)
	if r := h.day2(nil, "", "set-image", "dev", "people-service", "1.1.0"); r.code != 0 {
		t.Fatalf("re-run: %s", r)
	}
	if n := h.applies("traderx-dev", "people-service-deployment"); n != 2 {
		t.Errorf("the re-run queued another apply: %d applies, want 2", n)
	}
	if u := h.units("traderx-dev")["people-service-deployment"]; u.LiveRevisionNum != u.HeadRevisionNum {
		t.Errorf("people-service-deployment not live at head after the re-run")
	}
}
