package cub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/diff"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// The day-2 commands (set-image, scale, set-env, restart) share their flags
// and their Run: changeFlags and runChange below.

// day2Flags are the flags of every day-2 command: the change group with
// day-2's dry run (a diff) and description, and the apply tuning.
type day2Flags struct {
	changeFlags
	applyFlags
}

func (f *day2Flags) addTo(g *globals, cmd *cobra.Command) {
	fs := cmd.Flags()
	f.changeFlags.addTo(g, fs, "Show the change as a diff of the unit data and write nothing",
		"Why: appended to the change description on the new revisions and the release")
	f.applyFlags.addTo(fs)
}

func (f *day2Flags) options(g *globals) rollout.ChangeOptions {
	return rollout.ChangeOptions{ChangeDesc: f.changeDesc, DryRun: f.dryRun, Apply: f.applyFlags.options(g)}
}

// day2Target is the <env> <service> every day-2 command starts with,
// resolved once in Complete.
type day2Target struct {
	env traderx.Environment
	svc traderx.Service
}

func (t *day2Target) complete(args []string) error {
	var err error
	t.env, t.svc, err = lookupEnvService(args[0], args[1])
	return err
}

// lookupEnvService resolves the <env> <service> arguments (bad input: exit 2).
func lookupEnvService(envName, svcName string) (traderx.Environment, traderx.Service, error) {
	env, err := traderx.LookupEnvironment(envName)
	if err != nil {
		return env, traderx.Service{}, cli.UsageError(err)
	}
	svc, err := traderx.LookupService(svcName)
	if err != nil {
		return env, svc, cli.UsageError(err)
	}
	return env, svc, nil
}

// changeOp is one day-2 operation over the orchestrator.
type changeOp func(ctx context.Context, r *rollout.Rollout, sp *confighub.Space, o rollout.ChangeOptions) (*rollout.ChangeResult, error)

// runChange is the Run of every day-2 command: credentials and log, the
// confirmation of a protected environment (after showing the change), the
// operation, then the diff and a summary. Exit codes: 0 done (or nothing to
// do), 1 the change failed (health gate, validation, refused confirmation),
// 2 bad input, 3 ConfigHub or the cluster unreachable.
func runChange(ctx context.Context, g *globals, f *day2Flags, command string, env traderx.Environment, op changeOp) error {
	if err := g.color.Validate(); err != nil {
		return err
	}
	confirm := env.Protected && !f.yes && !f.dryRun
	s, err := g.begin(ctx, command, func() error {
		if confirm && !g.env.IsTerminal(g.streams.In) {
			return cli.Usagef("%s is a protected environment: confirmation needed, but stdin is not a terminal; pass --yes to %s", env.Name, command)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer s.close()
	// The space is read once: the preview, the change and its apply all
	// work in it.
	sp, err := s.space(ctx, env)
	if err != nil {
		return reportChangeError(s, err)
	}
	out := g.streams.Out
	colour := g.color.Enabled(out, g.env.Getenv)
	opts := f.options(g)
	shown := false
	if confirm {
		// Show what will change, then ask.
		preview := opts
		preview.DryRun = true
		res, err := op(ctx, s.rollout(nil), sp, preview)
		if err != nil {
			return reportChangeError(s, err)
		}
		if err := writeEdits(out, env, res, colour); err != nil {
			return err
		}
		shown = true
		if err := g.confirm(env, false, false, fmt.Sprintf("Change protected environment %s", env.Name)); err != nil {
			return err
		}
	} else if err := f.confirm(g, env, ""); err != nil {
		return err
	}
	gate, err := g.gate(ctx, env, !f.dryRun)
	if err != nil {
		return err
	}
	res, err := op(ctx, s.rollout(gate), sp, opts)
	// The diff shows what was written (also when the apply then failed), or
	// what would be in a dry run.
	if res != nil && !shown && (err == nil || res.DryRun || written(res)) {
		if werr := writeEdits(out, env, res, colour); werr != nil {
			return werr
		}
	}
	if err != nil {
		return reportChangeError(s, err)
	}
	fmt.Fprintln(out, summary(env, res))
	s.log.Logger().Info("log: " + s.log.Path())
	return nil
}

// reportChangeError logs the details of a failure and maps it to its exit code.
func reportChangeError(s *session, err error) error {
	log := s.log.Logger()
	var te *rollout.TierError
	if errors.As(err, &te) {
		for _, l := range te.Report() {
			log.Error(l)
		}
	}
	var re *rollout.RefusedError
	if errors.As(err, &re) {
		for _, c := range re.Checks {
			l := fmt.Sprintf("  %s %s %s %s: %s", c.Status, c.Suite, c.Target, c.Name, c.Message)
			if c.Hint != "" {
				l += " → " + c.Hint
			}
			log.Error(l)
		}
	}
	var ce *rollout.ChangeError
	if errors.As(err, &ce) {
		log.Error(fmt.Sprintf("to roll back: %s (the whole environment: %s)", ce.Rollback, ce.RollbackAll))
	}
	log.Info("log: " + s.log.Path())
	return s.explain(err)
}

// writeEdits prints the unified diff of each changed unit.
func writeEdits(w io.Writer, env traderx.Environment, res *rollout.ChangeResult, colour bool) error {
	for _, e := range res.Edits {
		if !e.Changed {
			continue
		}
		from := fmt.Sprintf("%s/%s (revision %d)", env.Name, e.Unit, e.FromRevision)
		to := fmt.Sprintf("%s/%s (new)", env.Name, e.Unit)
		if e.ToRevision > 0 {
			to = fmt.Sprintf("%s/%s (revision %d)", env.Name, e.Unit, e.ToRevision)
		}
		before, err := canonicalYAML(e.Before)
		if err != nil {
			before = e.Before
		}
		text, err := diff.Unified(from, to, before, e.After, colour)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
	}
	return nil
}

func written(res *rollout.ChangeResult) bool {
	for _, e := range res.Edits {
		if e.ToRevision > 0 {
			return true
		}
	}
	return false
}

// canonicalYAML re-encodes unit data the way edits write it, so a diff shows
// changes, not formatting.
func canonicalYAML(data []byte) ([]byte, error) {
	objs, err := manifests.Decode(data)
	if err != nil {
		return nil, err
	}
	return manifests.EncodeYAML(objs)
}

// summary is the one line a day-2 command ends with on stdout.
func summary(env traderx.Environment, res *rollout.ChangeResult) string {
	var units []string
	for _, e := range res.Edits {
		if e.Changed {
			if e.ToRevision > 0 {
				units = append(units, fmt.Sprintf("%s revision %d → %d", e.Unit, e.FromRevision, e.ToRevision))
			} else {
				units = append(units, e.Unit)
			}
		}
	}
	switch {
	case res.DryRun && len(units) == 0:
		return fmt.Sprintf("dry run: %s: %s: nothing to change; nothing was written", env.Name, res.Description)
	case res.DryRun:
		return fmt.Sprintf("dry run: %s: %s would change %s; nothing was written", env.Name, res.Description, strings.Join(units, ", "))
	}
	line := fmt.Sprintf("%s: %s: ", env.Name, res.Description)
	if len(units) == 0 {
		line += "the units already say so"
	} else {
		line += strings.Join(units, ", ")
	}
	if a := res.Apply; a != nil {
		switch {
		case a.Applied == 0:
			line += "; nothing to apply, health verified"
		default:
			line += fmt.Sprintf("; applied %d unit(s), healthy", a.Applied)
		}
		if a.Release != nil {
			line += fmt.Sprintf("; release %d recorded (tag %s)", a.Release.Number, a.Release.Tag)
		}
	}
	return line
}

// ---- set-image ----

const setImageExample = `  # A new version of a service (its Deployment unit, applied with health gates)
  %[1]s set-image dev people-service 1.4.2

  # Blue-green services take new versions with blue-green; --all-colours changes both in place
  %[1]s set-image dev trade-service 1.4.2 --all-colours

  # See the change without writing it
  %[1]s set-image prod account-service 1.4.2 --dry-run`

type setImageOptions struct {
	g *globals
	day2Target
	tag        string
	allColours bool
	day2Flags
}

func newSetImageCommand(g *globals) *cobra.Command {
	o := &setImageOptions{g: g}
	cmd := &cobra.Command{
		Use:   "set-image <env> <service> <tag>",
		Short: "Change a service's image tag in its ConfigHub unit, apply it and verify health",
		Long: `Changes the image tag of the service's Deployment unit in ConfigHub (a new head
revision; the image repository in the unit is kept, and the version label
follows the tag), then applies the service's units with a health gate and
records a release "set-image <service> <tag>".

Blue-green services (reference-data, trade-service, position-service) take new
versions through 'cub traderx blue-green' (deploy to the standby colour, then
switch); set-image refuses them unless --all-colours, which changes both
colours' units in place.

If the service does not become healthy the command exits 1 and prints the
command that rolls the environment back ('cub traderx rollback <env>').`,
		Example:           fmt.Sprintf(setImageExample, "cub traderx"),
		Args:              cobra.ExactArgs(3),
		ValidArgsFunction: completeEnvService,
		RunE:              runVerb(o),
	}
	cmd.Flags().BoolVar(&o.allColours, "all-colours", false, "For a blue-green service: change both colours' units in place")
	o.day2Flags.addTo(g, cmd)
	return cmd
}

// podLabelsForTag is the context key of a test-only hook: extra pod-template
// labels set with a given tag. The local control plane runs no containers,
// so tests make a "bad image" crash-loop by mapping its tag to the kwok
// simulation label; only tests of this package set it, real runs never do.
type podLabelsForTag struct{}

// Complete resolves the environment and the service.
func (o *setImageOptions) Complete(args []string) error {
	o.tag = args[2]
	return o.day2Target.complete(args)
}

// Validate checks the tag and the flags, and refuses a blue-green service
// without --all-colours.
func (o *setImageOptions) Validate() error {
	if err := rollout.ValidateTag(o.tag); err != nil {
		return cli.UsageError(err)
	}
	if err := o.applyFlags.validate(); err != nil {
		return err
	}
	if o.svc.BlueGreen && !o.allColours {
		project, err := traderx.ResolveProject(o.g.project, o.g.env.Getenv)
		if err != nil {
			return cli.UsageError(err)
		}
		return cli.UsageError(rollout.BlueGreenImageError(o.env, o.svc, project))
	}
	return nil
}

// Run changes the image and applies it.
func (o *setImageOptions) Run(ctx context.Context) error {
	var labels map[string]string
	if f, ok := ctx.Value(podLabelsForTag{}).(func(string) map[string]string); ok {
		labels = f(o.tag)
	}
	return runChange(ctx, o.g, &o.day2Flags, "set-image", o.env, func(ctx context.Context, r *rollout.Rollout, sp *confighub.Space, co rollout.ChangeOptions) (*rollout.ChangeResult, error) {
		return r.SetImage(ctx, sp, o.env, rollout.SetImageOptions{Service: o.svc, Tag: o.tag, AllColours: o.allColours, PodLabels: labels, ChangeOptions: co})
	})
}

// completeEnvService completes <env> then <service>.
func completeEnvService(cmd *cobra.Command, args []string, s string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return cli.CompleteEnvironments(cmd, args, s)
	case 1:
		return traderx.ServiceNames(), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}
