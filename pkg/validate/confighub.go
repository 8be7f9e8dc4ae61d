package validate

import (
	"context"
	"fmt"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
)

// NoCredentialsReason is the SKIP message of the ConfigHub suites when no
// credentials are configured.
const NoCredentialsReason = "no ConfigHub credentials: set CUB_SERVER and CUB_TOKEN or run cub auth login"

// ConfigHubState is what ConfigHub holds for one environment.
type ConfigHubState struct {
	// Skip, when set, is why ConfigHub was not consulted; suites 01, 02 and
	// 09 SKIP with it.
	Skip string
	// Space is the environment's space slug, <project>-<env>.
	Space      string
	SpaceFound bool
	// Units are the space's units by slug.
	Units map[string]confighub.ExtendedUnit
	// Drift of each unit by slug, from its latest refresh.
	Drift map[string]confighub.Drift
}

// ConfigHubSkipped is the state of a run that does not consult ConfigHub.
func ConfigHubSkipped(reason string) *ConfigHubState { return &ConfigHubState{Skip: reason} }

// FetchConfigHub reads the environment's space and its units. A missing space
// is a finding, not an error; any other failure (unreachable, unauthorized)
// is returned: the suites could not be evaluated.
func FetchConfigHub(ctx context.Context, r confighub.SpaceReader, space string) (*ConfigHubState, error) {
	sp, err := confighub.ReadSpace(ctx, r, space)
	if err != nil {
		return nil, err
	}
	return &ConfigHubState{Space: space, SpaceFound: sp.Found, Units: sp.Units, Drift: sp.Drift}, nil
}

func (st *ConfigHubState) skipped() string {
	switch {
	case st == nil:
		return "ConfigHub was not consulted"
	case st.Skip != "":
		return st.Skip
	}
	return ""
}

func confighubSpaceSuite(v *view) []check.Check {
	st := v.confighub
	if why := st.skipped(); why != "" {
		return []check.Check{skip(SuiteConfigHubSpace, "space-exists", "confighub", why)}
	}
	target := "space/" + st.Space
	if !st.SpaceFound {
		return []check.Check{fail(SuiteConfigHubSpace, "space-exists", target,
			"create the spaces and units: "+hint.Install(v.env.Name).String(),
			"space %s not found in ConfigHub", st.Space)}
	}
	return []check.Check{pass(SuiteConfigHubSpace, "space-exists", target, "space %s exists with %d units", st.Space, len(st.Units))}
}

// expectedUnits are the units manifests.Render makes for the environment.
func expectedUnits(v *view) ([]string, error) {
	units, err := manifests.Render(v.env)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range units {
		out = append(out, u.Name)
	}
	return out, nil
}

func confighubUnitsSuite(v *view) []check.Check {
	const suite, name = SuiteConfigHubUnits, "unit-exists"
	st := v.confighub
	if why := st.skipped(); why != "" {
		return []check.Check{skip(suite, name, "confighub", why)}
	}
	if !st.SpaceFound {
		return []check.Check{skip(suite, name, "space/"+st.Space, fmt.Sprintf("space %s does not exist (see %s)", st.Space, SuiteConfigHubSpace))}
	}
	want, err := expectedUnits(v)
	if err != nil {
		return []check.Check{fail(suite, name, "space/"+st.Space, "", "cannot render the expected units: %v", err)}
	}
	var out []check.Check
	for _, u := range want {
		target := "unit/" + u
		if eu, ok := st.Units[u]; ok {
			out = append(out, pass(suite, name, target, "unit %s exists (head revision %d)", u, eu.Unit.HeadRevisionNum))
			continue
		}
		out = append(out, fail(suite, name, target, "create the missing units: "+hint.Install(v.env.Name).String(),
			"unit %s not found in space %s", u, st.Space))
	}
	return out
}

func confighubSyncSuite(v *view) []check.Check {
	const suite, name = SuiteConfigHubSync, "live-synced"
	st := v.confighub
	if why := st.skipped(); why != "" {
		return []check.Check{skip(suite, name, "confighub", why)}
	}
	if !st.SpaceFound {
		return []check.Check{skip(suite, name, "space/"+st.Space, fmt.Sprintf("space %s does not exist (see %s)", st.Space, SuiteConfigHubSpace))}
	}
	want, err := expectedUnits(v)
	if err != nil {
		return []check.Check{fail(suite, name, "space/"+st.Space, "", "cannot render the expected units: %v", err)}
	}
	apply := "apply the unit: " + hint.Apply(v.env.Name).String()
	var out []check.Check
	for _, slug := range want {
		eu, ok := st.Units[slug]
		if !ok {
			continue // 02-confighub-units reports it
		}
		u, target := eu.Unit, "unit/"+slug
		var status confighub.UnitStatus
		if eu.UnitStatus != nil {
			status = *eu.UnitStatus
		}
		switch {
		case u.LiveRevisionNum == 0:
			out = append(out, fail(suite, name, target, apply, "never applied (head revision %d)", u.HeadRevisionNum))
		case u.HeadRevisionNum != u.LiveRevisionNum:
			out = append(out, fail(suite, name, target, apply,
				"head revision %d, live revision %d: changes not applied", u.HeadRevisionNum, u.LiveRevisionNum))
		case status.ActionResult == confighub.ResultApplyFailed || status.ActionResult == confighub.ResultApplyWaitFailed:
			out = append(out, fail(suite, name, target, "see the unit's events: cub unit-event list",
				"last apply failed (%s)", status.ActionResult))
		default:
			out = append(out, pass(suite, name, target, "live at head revision %d", u.HeadRevisionNum))
		}
		out = append(out, driftCheck(v.env.Name, target, st.Drift[slug]))
	}
	if len(out) == 0 {
		out = append(out, skip(suite, name, "space/"+st.Space, fmt.Sprintf("no expected unit exists (see %s)", SuiteConfigHubUnits)))
	}
	return out
}

// driftCheck judges one unit's drift. Only a refresh knows it, so a unit
// without a current refresh result is SKIP (saying why), never PASS.
func driftCheck(env, target string, d confighub.Drift) check.Check {
	const name = "not-drifted"
	switch {
	case !d.Known:
		return skip(SuiteConfigHubSync, name, target, "drift unknown: "+d.Why+" ("+hint.StatusRefresh(env).String()+")")
	case d.Drifted:
		return fail(SuiteConfigHubSync, name, target, "re-apply head to undo the change: "+hint.Apply(env).String(),

			"live objects changed outside ConfigHub (refreshed %s)", d.RefreshedAt.UTC().Format(time.RFC3339))
	}
	return pass(SuiteConfigHubSync, name, target, "no drift at the last refresh (%s)", d.RefreshedAt.UTC().Format(time.RFC3339))
}
