package health

import (
	"context"
	"fmt"
	"sort"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// UnitSync is the ConfigHub state of one unit of an environment.
type UnitSync struct {
	Unit       string
	Head, Live int64
	Drifted    bool
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
		s := UnitSync{Unit: u.Unit.Slug, Head: u.Unit.HeadRevisionNum, Live: u.Unit.LiveRevisionNum}
		if u.UnitStatus != nil {
			s.Drifted = u.UnitStatus.Drift == "Drifted" || u.UnitStatus.ActionResult == "RefreshAndDrifted"
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Unit < out[j].Unit })
	return out, nil
}

func syncChecks(ctx context.Context, src SyncSource, env traderx.Environment) []check.Check {
	units, err := src.Units(ctx, env)
	if err != nil {
		return []check.Check{{Suite: SuiteConfigHub, Name: "sync", Target: "confighub", Status: check.StatusWarn,
			Message: "cannot read ConfigHub: " + err.Error(),
			Hint:    "check CUB_SERVER/CUB_TOKEN (cub auth login) and that the environment is installed: cub traderx install"}}
	}
	if len(units) == 0 {
		return []check.Check{{Suite: SuiteConfigHub, Name: "sync", Target: "confighub", Status: check.StatusWarn,
			Message: "no units in ConfigHub for " + env.Name, Hint: "install the environment: cub traderx install"}}
	}
	var out []check.Check
	for _, u := range units {
		c := check.Check{Suite: SuiteConfigHub, Name: "sync", Target: "unit/" + u.Unit}
		switch {
		case u.Live == 0:
			c.Status, c.Message = check.StatusWarn, fmt.Sprintf("never applied (head %d)", u.Head)
			c.Hint = "cub traderx apply " + env.Name
		case u.Head != u.Live:
			c.Status, c.Message = check.StatusWarn, fmt.Sprintf("unapplied changes: head %d, live %d", u.Head, u.Live)
			c.Hint = "cub traderx apply " + env.Name + " (or cub traderx status " + env.Name + " to see them)"
		case u.Drifted:
			c.Status, c.Message = check.StatusWarn, fmt.Sprintf("live objects drifted from revision %d", u.Live)
			c.Hint = "something changed the cluster outside ConfigHub; re-apply to restore: cub traderx apply " + env.Name
		default:
			c.Status, c.Message = check.StatusPass, fmt.Sprintf("head = live = %d", u.Head)
		}
		out = append(out, c)
	}
	return out
}
