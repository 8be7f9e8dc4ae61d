package rollout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/pkg/validate"
)

// EnvVar is one KEY=VALUE of set-env.
type EnvVar struct{ Name, Value string }

// ParseEnvAssignments reads KEY=VALUE arguments (the value may be empty or
// contain '=').
func ParseEnvAssignments(args []string) ([]EnvVar, error) {
	var out []EnvVar
	seen := map[string]bool{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not KEY=VALUE", a)
		}
		if err := checkEnvName(k); err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, fmt.Errorf("%s is set twice", k)
		}
		seen[k] = true
		out = append(out, EnvVar{Name: k, Value: v})
	}
	return out, nil
}

func checkEnvName(k string) error {
	if errs := validation.IsEnvVarName(k); len(errs) > 0 {
		return fmt.Errorf("invalid environment variable name %q: %s", k, strings.Join(errs, "; "))
	}
	return nil
}

// circuitBreakerPrefix starts the variables the environment's circuit-breaker
// settings own.
const circuitBreakerPrefix = "CIRCUIT_BREAKER_"

// ModelOwnedEnv returns why the model owns an environment variable of the
// service ("" when it does not): the wiring to other services, the port the
// service listens on, and the environment's circuit-breaker settings.
func ModelOwnedEnv(svc traderx.Service, name string) string {
	for _, w := range svc.Wires {
		if w.Env == name {
			return fmt.Sprintf("it wires %s to %s", svc.Name, w.Target)
		}
	}
	if name == svc.PortEnv {
		return fmt.Sprintf("it is the port %s listens on, which its Service, probes and callers use", svc.Name)
	}
	if strings.HasPrefix(name, circuitBreakerPrefix) {
		return "circuit-breaker settings come from the environment (" + circuitBreakerPrefix + "*)"
	}
	return ""
}

// SetEnvOptions change environment variables of a service's main container.
type SetEnvOptions struct {
	Service traderx.Service
	Set     []EnvVar
	Unset   []string
	// Force allows changing variables the model owns; the result must still
	// validate.
	Force bool
	ChangeOptions
}

// SetEnv sets and unsets environment variables of a service's Deployment
// unit(s) (both colours of a blue-green service, so a switch keeps them).
// Before anything is written, the environment's units with the change applied
// in memory are validated offline; a change that adds a FAIL is refused with
// a *RefusedError.
func (r *Rollout) SetEnv(ctx context.Context, sp *confighub.Space, env traderx.Environment, o SetEnvOptions) (*ChangeResult, error) {
	svc := o.Service
	if len(o.Set) == 0 && len(o.Unset) == 0 {
		return nil, inputf("nothing to change: give KEY=VALUE arguments or --unset KEY")
	}
	var owned []string
	for _, k := range o.Unset {
		if err := checkEnvName(k); err != nil {
			return nil, &InputError{Err: err}
		}
		if slices.ContainsFunc(o.Set, func(e EnvVar) bool { return e.Name == k }) {
			return nil, inputf("%s is both set and unset", k)
		}
	}
	for _, k := range slices.Concat(envNames(o.Set), o.Unset) {
		if why := ModelOwnedEnv(svc, k); why != "" {
			owned = append(owned, k+": "+why)
		}
	}
	if len(owned) > 0 && !o.Force {
		return nil, inputf("refused: the TraderX model owns %s (change the model, or pass --force; the result is validated either way)", strings.Join(owned, "; "))
	}
	mutate := func(objs []*unstructured.Unstructured) error {
		d, err := objectOf(objs, "Deployment")
		if err != nil {
			return err
		}
		c, err := mainContainer(d, svc)
		if err != nil {
			return err
		}
		list, _ := c["env"].([]any)
		for _, k := range o.Unset {
			list = slices.DeleteFunc(list, func(e any) bool { m, _ := e.(map[string]any); return m["name"] == k })
		}
		for _, e := range o.Set {
			i := slices.IndexFunc(list, func(x any) bool { m, _ := x.(map[string]any); return m["name"] == e.Name })
			if i < 0 {
				list = append(list, map[string]any{"name": e.Name, "value": e.Value})
				continue
			}
			list[i] = map[string]any{"name": e.Name, "value": e.Value} // drops a valueFrom
		}
		if len(list) == 0 {
			delete(c, "env")
		} else {
			c["env"] = list
		}
		return nil
	}
	var edits []Edit
	for _, u := range deploymentUnits(svc, traderx.Colours()) {
		edits = append(edits, Edit{Unit: u, Mutate: mutate})
	}
	var parts []string
	for _, e := range o.Set {
		parts = append(parts, e.Name+"="+e.Value)
	}
	for _, k := range o.Unset {
		parts = append(parts, "-"+k)
	}
	action := fmt.Sprintf("set-env %s %s", svc.Name, strings.Join(parts, " "))
	return r.change(ctx, sp, env, svc, action, o.ChangeOptions, r.validateEdits(sp, env), edits...)
}

func envNames(es []EnvVar) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

// validateEdits returns a preflight that validates the environment's head
// data offline, before and after the previewed edits: FAILs the edits add
// refuse the change; FAILs that were there before are reported, not blamed
// on this change.
func (r *Rollout) validateEdits(sp *confighub.Space, env traderx.Environment) func(ctx context.Context, preview []EditResult, res *ChangeResult) error {
	return func(ctx context.Context, preview []EditResult, res *ChangeResult) error {
		data, _, err := r.headData(ctx, sp)
		if err != nil {
			return err
		}
		after := maps.Clone(data)
		for _, e := range preview {
			after[e.Unit] = e.After
		}
		reason := "validating " + sp.Slug + " unit data with the change applied in memory"
		before, err := validateData(env, data, reason)
		if err != nil {
			return err
		}
		rep, err := validateData(env, after, reason)
		if err != nil {
			return err
		}
		res.Validation = rep
		failed := map[string]bool{}
		for _, c := range before.Checks {
			if c.Status == check.StatusFail {
				failed[checkKey(c)] = true
			}
		}
		var added []check.Check
		for _, c := range rep.Checks {
			if c.Status != check.StatusFail {
				continue
			}
			if failed[checkKey(c)] {
				res.KnownFailures = append(res.KnownFailures, c)
			} else {
				added = append(added, c)
			}
		}
		if len(res.KnownFailures) > 0 {
			r.log().Warn(fmt.Sprintf("%s: %d validation(s) failed before this change already and still fail (not blocking)", env.Name, len(res.KnownFailures)))
		}
		if len(added) > 0 {
			return &RefusedError{Env: env.Name, Checks: added}
		}
		return nil
	}
}

func checkKey(c check.Check) string { return c.Suite + "\x00" + c.Name + "\x00" + c.Target }

// validateData runs the offline validation suites over units' data.
func validateData(env traderx.Environment, data map[string][]byte, reason string) (*check.Report, error) {
	var slugs []string
	for s := range data {
		slugs = append(slugs, s)
	}
	sort.Strings(slugs)
	var objs []*unstructured.Unstructured
	for _, s := range slugs {
		o, err := manifests.Decode(data[s])
		if err != nil {
			return nil, fmt.Errorf("unit %s: malformed data: %w", s, err)
		}
		objs = append(objs, o...)
	}
	rep, err := validate.Run(validate.Input{Env: env, Objects: objs, OfflineReason: reason})
	if err != nil {
		return nil, &InputError{Err: err}
	}
	return rep, nil
}
