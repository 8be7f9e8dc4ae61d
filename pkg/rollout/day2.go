package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/pkg/validate"
)

// Day-2 operations change one service of an environment through ConfigHub:
// each writes new head revisions of the service's units (EditUnits), then
// applies that service's units with health gates and records a release
// (Apply with Services=[service]). Nothing here touches a cluster.

// RestartedAtAnnotation is the pod-template annotation whose change rolls a
// Deployment's pods, as `kubectl rollout restart` does.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// ChangeOptions are shared by every day-2 operation.
type ChangeOptions struct {
	// ChangeDesc is appended to the operation's own description
	// ("set-image people-service 1.2: <ChangeDesc>") on the new revisions
	// and the release.
	ChangeDesc string
	// DryRun computes the new unit data (EditResult.Before/After) and writes
	// nothing.
	DryRun bool
	// Apply tunes the apply and its health gates (timeouts, retries, settle,
	// poll interval); Services, ChangeDesc and DryRun are set by the operation.
	Apply ApplyOptions
}

// ChangeResult is what a day-2 operation did, or would do in a dry run.
type ChangeResult struct {
	Environment string `json:"environment"`
	Service     string `json:"service"`
	// Description is the change description written on revisions and the release.
	Description string       `json:"description"`
	Edits       []EditResult `json:"edits"`
	// Apply is nil in a dry run.
	Apply  *ApplyResult `json:"apply,omitempty"`
	DryRun bool         `json:"dryRun,omitempty"`
	// Validation is the offline validation of the changed environment
	// (set-env only); KnownFailures are FAILs it had before the change too.
	Validation    *check.Report `json:"-"`
	KnownFailures []check.Check `json:"knownFailures,omitempty"`
}

// Changed reports whether any unit got (in a dry run: would get) a new revision.
func (c *ChangeResult) Changed() bool {
	return slices.ContainsFunc(c.Edits, func(e EditResult) bool { return e.Changed })
}

// ChangeError is a day-2 change that was written to ConfigHub but whose apply
// or health gate failed. Its message says how to get back.
type ChangeError struct {
	Env         string
	Description string
	// Written is true when new head revisions were written by this run.
	Written bool
	// Rollback restores the service's units to the last release;
	// RollbackAll the whole environment.
	Rollback    string
	RollbackAll string
	Err         error
}

func (e *ChangeError) Error() string {
	var te *TierError
	if errors.As(e.Err, &te) && !te.Unreachable {
		return fmt.Sprintf("%s: %s: %v; the change is in ConfigHub but not healthy: to roll back: %s (the whole environment: %s)",
			e.Env, e.Description, e.Err, e.Rollback, e.RollbackAll)
	}
	return fmt.Sprintf("%s: %s: %v; the change is in ConfigHub but not (fully) applied: re-run the command to resume, or roll back: %s (the whole environment: %s)",
		e.Env, e.Description, e.Err, e.Rollback, e.RollbackAll)
}

func (e *ChangeError) Unwrap() error { return e.Err }

// RefusedError is a change refused before anything was written because the
// environment would not validate; Checks are the FAILs the change introduces.
type RefusedError struct {
	Env    string
	Checks []check.Check
}

func (e *RefusedError) Error() string {
	var parts []string
	for _, c := range e.Checks {
		p := fmt.Sprintf("%s %s %s: %s", c.Suite, c.Target, c.Name, c.Message)
		if c.Hint != "" {
			p += " (" + c.Hint + ")"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("%s: refused, nothing was written: the change fails %d validation(s): %s", e.Env, len(e.Checks), check.ExamplesJoined(parts, "; "))

}

// rollbackCommand is what the user runs to undo a failed change: the
// service's units back to the last release, or (no service) the whole
// environment.
func (r *Rollout) rollbackCommand(env traderx.Environment, service string) string {
	if service == "" {
		return r.next(hint.Rollback(env.Name, 0))
	}
	return r.next(hint.Rollback(env.Name, 0, service))
}

// change runs a day-2 operation: the edits are computed first without
// writing (and judged by preflight when set), then written and the
// service's units applied with health gates.
func (r *Rollout) change(ctx context.Context, env traderx.Environment, svc traderx.Service, action string, o ChangeOptions,
	preflight func(ctx context.Context, preview []EditResult, res *ChangeResult) error, edits ...Edit) (*ChangeResult, error) {
	desc := action
	if o.ChangeDesc != "" {
		desc += ": " + o.ChangeDesc
	}
	res := &ChangeResult{Environment: env.Name, Service: svc.Name, Description: desc, DryRun: o.DryRun}
	preview, err := r.EditUnits(ctx, env, desc, true, edits...)
	res.Edits = preview
	if err != nil {
		return res, err
	}
	if preflight != nil {
		if err := preflight(ctx, preview, res); err != nil {
			return res, err
		}
	}
	if o.DryRun {
		return res, nil
	}
	start := r.clock().Now()
	written, err := r.EditUnits(ctx, env, desc, false, edits...)
	res.Edits = written
	if err != nil {
		r.record(actionName(action), env.Name, editedUnits(written), editedRevisions(written), start, err)
		return res, err
	}
	ao := o.Apply
	ao.Services, ao.ChangeDesc, ao.DryRun = []string{svc.Name}, desc, false
	ar, err := r.Apply(ctx, env, ao)
	res.Apply = ar
	if err != nil {
		var ie *InputError
		if !errors.As(err, &ie) {
			err = &ChangeError{Env: env.Name, Description: desc, Written: res.Changed(), Err: err,
				Rollback: r.rollbackCommand(env, svc.Name), RollbackAll: r.rollbackCommand(env, "")}
		}
	}
	r.record(actionName(action), env.Name, editedUnits(written), editedRevisions(written), start, err)
	return res, err
}

func actionName(action string) string { a, _, _ := strings.Cut(action, " "); return a }

func editedUnits(rs []EditResult) []string {
	var out []string
	for _, e := range rs {
		if e.Changed {
			out = append(out, e.Unit)
		}
	}
	return out
}

func editedRevisions(rs []EditResult) map[string]int64 {
	out := map[string]int64{}
	for _, e := range rs {
		if e.Changed && e.ToRevision > 0 {
			out[e.Unit] = e.ToRevision
		}
	}
	return out
}

// ---- set-image ----

// SetImageOptions choose the new image of a service.
type SetImageOptions struct {
	Service string
	Tag     string
	// AllColours changes both colours of a blue-green service; without it a
	// blue-green service is refused (a new version goes to the standby
	// colour with `cub traderx blue-green`).
	AllColours bool
	// PodLabels are extra pod-template labels written with the image. Real
	// runs leave it empty. Tests of the local control plane, which runs no
	// containers, set the kwok simulation label here to make a "bad image"
	// crash-loop; the label is part of the unit data like any other change.
	PodLabels map[string]string
	ChangeOptions
}

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidateTag checks an image tag as the OCI distribution spec defines it.
func ValidateTag(tag string) error {
	if !tagPattern.MatchString(tag) {
		return fmt.Errorf("invalid image tag %q: use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", tag)
	}
	return nil
}

// WithTag replaces the tag (and any digest) of an image reference, keeping
// its repository, so a mirror configured in the unit survives.
func WithTag(image, tag string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image + ":" + tag
}

// SetImage changes the image tag of a service's Deployment unit(s), applies
// the service's units and records a release "set-image <service> <tag>".
func (r *Rollout) SetImage(ctx context.Context, env traderx.Environment, o SetImageOptions) (*ChangeResult, error) {
	svc, err := traderx.LookupService(o.Service)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if err := ValidateTag(o.Tag); err != nil {
		return nil, &InputError{Err: err}
	}
	if svc.BlueGreen && !o.AllColours {
		return nil, &InputError{Err: BlueGreenImageError(env, svc, r.project())}
	}

	mutate := func(objs []*unstructured.Unstructured) error {
		d, err := deploymentIn(objs)
		if err != nil {
			return err
		}
		c, err := mainContainer(d, svc)
		if err != nil {
			return err
		}
		if img, _ := c["image"].(string); img != "" {
			c["image"] = WithTag(img, o.Tag)
		} else {
			c["image"] = svc.Image(o.Tag)
		}
		setLabel(d, o.Tag, "metadata", "labels")
		setLabel(d, o.Tag, "spec", "template", "metadata", "labels")
		if len(o.PodLabels) > 0 {
			labels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
			maps.Copy(labels, o.PodLabels)
			return unstructured.SetNestedStringMap(d.Object, labels, "spec", "template", "metadata", "labels")
		}
		return nil
	}
	var edits []Edit
	for _, u := range deploymentUnits(svc, traderx.Colours()) {
		edits = append(edits, Edit{Unit: u, Mutate: mutate})
	}
	return r.change(ctx, env, svc, fmt.Sprintf("set-image %s %s", svc.Name, o.Tag), o.ChangeOptions, nil, edits...)
}

// setLabel sets the version label at path when the object carries that label map.
func setLabel(d *unstructured.Unstructured, version string, path ...string) {
	labels, ok, _ := unstructured.NestedStringMap(d.Object, path...)
	if !ok {
		return
	}
	labels[manifests.LabelVersion] = version
	_ = unstructured.SetNestedStringMap(d.Object, labels, path...)
}

// ---- scale ----

// ScaleOptions choose a service's replica count.
type ScaleOptions struct {
	Service  string
	Replicas int32
	// Force allows 0 replicas in a protected environment.
	Force bool
	ChangeOptions
}

// CheckScale enforces the model's limits on a replica count.
func CheckScale(env traderx.Environment, svc traderx.Service, replicas int32, force bool) error {
	switch {
	case replicas < 0:
		return fmt.Errorf("replicas must be 0 or more, got %d", replicas)
	case svc.Singleton && replicas > 1:
		return fmt.Errorf("%s must run at most 1 replica: %s", svc.Name, svc.SingletonReason)
	case replicas == 0 && env.Protected && !force:
		return fmt.Errorf("scaling %s to 0 takes it offline in the protected environment %s: pass --force if that is intended", svc.Name, env.Name)
	}
	return nil
}

// Scale sets the replicas of a service's Deployment unit (the active colour
// of a blue-green service, read from its Service unit's selector), applies
// it and records a release "scale <service> <replicas>".
func (r *Rollout) Scale(ctx context.Context, env traderx.Environment, o ScaleOptions) (*ChangeResult, error) {
	svc, err := traderx.LookupService(o.Service)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if err := CheckScale(env, svc, o.Replicas, o.Force); err != nil {
		return nil, &InputError{Err: err}
	}
	colour, err := r.ActiveColour(ctx, env, svc)
	if err != nil {
		return nil, err
	}
	edit := Edit{Unit: manifests.DeploymentUnitName(svc, colour), Mutate: func(objs []*unstructured.Unstructured) error {
		d, err := deploymentIn(objs)
		if err != nil {
			return err
		}
		return unstructured.SetNestedField(d.Object, int64(o.Replicas), "spec", "replicas")
	}}
	return r.change(ctx, env, svc, fmt.Sprintf("scale %s %d", svc.DeploymentName(colour), o.Replicas), o.ChangeOptions, nil, edit)
}

// ActiveColour returns the colour the service's Service unit selects ("" for
// a service that is not blue-green).
func (r *Rollout) ActiveColour(ctx context.Context, env traderx.Environment, svc traderx.Service) (string, error) {
	if !svc.BlueGreen {
		return "", nil
	}
	sp, err := r.space(ctx, env)
	if err != nil {
		return "", err
	}
	name := manifests.ServiceUnitName(svc)
	eu, err := r.unitBySlug(ctx, sp, name)
	if err != nil {
		return "", err
	}
	objs, err := manifests.Decode(eu.Unit.Data)
	if err != nil {
		return "", fmt.Errorf("unit %s/%s: malformed data: %w", sp.Slug, name, err)
	}
	for _, o := range objs {
		if o.GetKind() != "Service" || o.GetName() != svc.Name {
			continue
		}
		c, _, _ := unstructured.NestedString(o.Object, "spec", "selector", manifests.LabelColour)
		if !slices.Contains(traderx.Colours(), c) {
			return "", inputf("unit %s/%s: the selector of Service %s names no colour (%s=%q): cannot tell the active colour", sp.Slug, name, svc.Name, manifests.LabelColour, c)
		}
		return c, nil
	}
	return "", inputf("unit %s/%s holds no Service %s", sp.Slug, name, svc.Name)
}

// ---- restart ----

// RestartOptions name the service to restart.
type RestartOptions struct {
	Service string
	ChangeOptions
}

// Restart rolls the pods of a service (its active colour) by setting the
// pod-template annotation kubectl.kubernetes.io/restartedAt to the clock's
// time in the Deployment unit, then applies it.
func (r *Rollout) Restart(ctx context.Context, env traderx.Environment, o RestartOptions) (*ChangeResult, error) {
	svc, err := traderx.LookupService(o.Service)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	colour, err := r.ActiveColour(ctx, env, svc)
	if err != nil {
		return nil, err
	}
	at := r.clock().Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	edit := Edit{Unit: manifests.DeploymentUnitName(svc, colour), Mutate: func(objs []*unstructured.Unstructured) error {
		d, err := deploymentIn(objs)
		if err != nil {
			return err
		}
		ann, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
		if ann == nil {
			ann = map[string]string{}
		}
		ann[RestartedAtAnnotation] = at
		return unstructured.SetNestedStringMap(d.Object, ann, "spec", "template", "metadata", "annotations")
	}}
	return r.change(ctx, env, svc, fmt.Sprintf("restart %s at %s", svc.DeploymentName(colour), at), o.ChangeOptions, nil, edit)
}

// ---- set-env ----

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
	Service string
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
func (r *Rollout) SetEnv(ctx context.Context, env traderx.Environment, o SetEnvOptions) (*ChangeResult, error) {
	svc, err := traderx.LookupService(o.Service)
	if err != nil {
		return nil, &InputError{Err: err}
	}
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
		d, err := deploymentIn(objs)
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
	return r.change(ctx, env, svc, action, o.ChangeOptions, r.validateEdits(env), edits...)
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
func (r *Rollout) validateEdits(env traderx.Environment) func(ctx context.Context, preview []EditResult, res *ChangeResult) error {
	return func(ctx context.Context, preview []EditResult, res *ChangeResult) error {
		sp, err := r.space(ctx, env)
		if err != nil {
			return err
		}
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

// ---- helpers over unit objects ----

// deploymentUnits names a service's Deployment units (both colours of a
// blue-green service).
func deploymentUnits(svc traderx.Service, colours []string) []string {
	if !svc.BlueGreen {
		return []string{manifests.DeploymentUnitName(svc, "")}
	}
	var out []string
	for _, c := range colours {
		out = append(out, manifests.DeploymentUnitName(svc, c))
	}
	return out
}

// deploymentIn returns the one Deployment of a unit's objects.
func deploymentIn(objs []*unstructured.Unstructured) (*unstructured.Unstructured, error) {
	var found *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			if found != nil {
				return nil, fmt.Errorf("more than one Deployment (%s, %s)", found.GetName(), o.GetName())
			}
			found = o
		}
	}
	if found == nil {
		return nil, errors.New("no Deployment")
	}
	return found, nil
}

// mainContainer returns the container named after the service (the only
// one TraderX renders), as a map that edits change in place.
func mainContainer(d *unstructured.Unstructured, svc traderx.Service) (map[string]any, error) {
	v, _, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "template", "spec", "containers")
	cs, _ := v.([]any)
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["name"] == svc.Name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("Deployment %s has no container %s", d.GetName(), svc.Name)
}

// BlueGreenImageError refuses set-image on a blue-green service without
// --all-colours, naming both ways forward.
func BlueGreenImageError(env traderx.Environment, svc traderx.Service, project string) error {
	return fmt.Errorf("%s is a blue-green service: deploy a new version to the standby colour and switch when it is healthy with `%s`, "+
		"or change both colours in place with `%s`", svc.Name,
		hint.BlueGreen(svc.Name, hint.Version, env.Name).InProject(project), hint.SetImage(env.Name, svc.Name, hint.Tag, true).InProject(project))
}
