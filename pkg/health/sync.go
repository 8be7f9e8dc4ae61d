package health

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// UnitSync is the ConfigHub state of one unit of an environment.
type UnitSync struct {
	Unit       string
	Head, Live int64
	Drift      confighub.Drift
}

// SyncSource reads the ConfigHub state of an environment's units.
type SyncSource interface {
	Units(ctx context.Context, env traderx.Environment) ([]UnitSync, error)
}

// ConfigHubSync reads unit state from ConfigHub for a project.
type ConfigHubSync struct {
	Client  confighub.SpaceReader
	Project string
}

// Units lists the environment space's units with their revision pointers.
func (c ConfigHubSync) Units(ctx context.Context, env traderx.Environment) ([]UnitSync, error) {
	space, err := confighub.ReadSpace(ctx, c.Client, env.Space(c.Project))
	if err != nil {
		return nil, err
	}
	if !space.Found {
		return nil, fmt.Errorf("space %s not found", space.Slug)
	}
	var out []UnitSync
	for _, u := range space.Units {
		out = append(out, UnitSync{Unit: u.Unit.Slug, Head: u.Unit.HeadRevisionNum, Live: u.Unit.LiveRevisionNum,
			Drift: space.Drift[u.Unit.Slug]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Unit < out[j].Unit })
	return out, nil
}

func syncChecks(ctx context.Context, src SyncSource, env traderx.Environment) []check.Check {
	units, err := src.Units(ctx, env)
	if err != nil {
		return []check.Check{{Suite: SuiteConfigHub, Name: "sync", Target: "confighub", Status: check.StatusWarn,
			Message: "cannot read ConfigHub: " + err.Error(),
			Hint:    "check CUB_SERVER/CUB_TOKEN (cub auth login) and that the environment is installed: " + hint.Install(env.Name).String()}}
	}
	if len(units) == 0 {
		return []check.Check{{Suite: SuiteConfigHub, Name: "sync", Target: "confighub", Status: check.StatusWarn,
			Message: "no units in ConfigHub for " + env.Name, Hint: "install the environment: " + hint.Install(env.Name).String()}}
	}
	var out []check.Check
	for _, u := range units {
		c := check.Check{Suite: SuiteConfigHub, Name: "sync", Target: "unit/" + u.Unit}
		switch {
		case u.Live == 0:
			c.Status, c.Message = check.StatusWarn, fmt.Sprintf("never applied (head %d)", u.Head)
			c.Hint = hint.Apply(env.Name).String()
		case u.Head != u.Live:
			c.Status, c.Message = check.StatusWarn, fmt.Sprintf("unapplied changes: head %d, live %d", u.Head, u.Live)
			c.Hint = hint.Apply(env.Name).String() + " (or " + hint.Status(env.Name).String() + " to see them)"
		default:
			c.Status, c.Message = check.StatusPass, fmt.Sprintf("head = live = %d", u.Head)
		}
		out = append(out, c)
	}
	return append(out, driftCheck(units, env))
}

// driftCheck judges drift for the whole environment in one line. Only a
// refresh knows drift, so without a current refresh result for every unit it
// says SKIP and why rather than claiming "not drifted".
func driftCheck(units []UnitSync, env traderx.Environment) check.Check {
	c := check.Check{Suite: SuiteConfigHub, Name: "drift", Target: "confighub"}
	refresh := hint.StatusRefresh(env.Name).String()
	var drifted, unknown []string
	var oldest time.Time
	firstWhy := ""
	for _, u := range units {
		d := u.Drift
		switch {
		case !d.Known:
			unknown = append(unknown, u.Unit)
			if firstWhy == "" {
				firstWhy = "unit " + u.Unit + ": " + d.Why
			}
		case d.Drifted:
			drifted = append(drifted, u.Unit)
		}
		if d.Known && (oldest.IsZero() || d.RefreshedAt.Before(oldest)) {
			oldest = d.RefreshedAt
		}
	}
	switch {
	case len(drifted) > 0:
		c.Status = check.StatusWarn
		c.Message = fmt.Sprintf("live objects of %d unit(s) changed outside ConfigHub: %s", len(drifted), check.Examples(drifted))
		c.Hint = "re-apply head to undo the change: " + hint.Apply(env.Name).String()

	case len(unknown) > 0:
		c.Status, c.Hint = check.StatusSkip, refresh
		c.Message = fmt.Sprintf("drift unknown for %d of %d units (%s)", len(unknown), len(units), firstWhy)
	default:
		c.Status = check.StatusPass
		c.Message = fmt.Sprintf("no drift on %d units at the last refresh (oldest %s)", len(units), oldest.UTC().Format(time.RFC3339))
	}
	return c
}
