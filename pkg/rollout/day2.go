package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
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

// change runs a day-2 operation in the environment's space sp: the edits
// are computed first without writing (and judged by preflight when set),
// then written and the service's units applied with health gates.
func (r *Rollout) change(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service, action string, o ChangeOptions,
	preflight func(ctx context.Context, preview []EditResult, res *ChangeResult) error, edits ...Edit) (*ChangeResult, error) {
	desc := action
	if o.ChangeDesc != "" {
		desc += ": " + o.ChangeDesc
	}
	res := &ChangeResult{Environment: env.Name, Service: svc.Name, Description: desc, DryRun: o.DryRun}
	preview, err := r.EditUnits(ctx, sp, env, desc, true, edits...)
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
	written, err := r.EditUnits(ctx, sp, env, desc, false, edits...)
	res.Edits = written
	if err != nil {
		r.record(actionName(action), env.Name, editedUnits(written), editedRevisions(written), start, err)
		return res, err
	}
	ao := o.Apply
	ao.Services, ao.ChangeDesc, ao.DryRun = []string{svc.Name}, desc, false
	ar, err := r.applyIn(ctx, sp, env, ao)
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
	Service traderx.Service
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

// SetImage changes the image tag of a service's Deployment unit(s) in the
// environment's space sp, applies the service's units and records a release
// "set-image <service> <tag>".
func (r *Rollout) SetImage(ctx context.Context, sp *confighub.Space, env traderx.Environment, o SetImageOptions) (*ChangeResult, error) {
	svc := o.Service
	if err := ValidateTag(o.Tag); err != nil {
		return nil, &InputError{Err: err}
	}
	if svc.BlueGreen && !o.AllColours {
		return nil, &InputError{Err: BlueGreenImageError(env, svc, r.project())}
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
	return r.change(ctx, sp, env, svc, fmt.Sprintf("set-image %s %s", svc.Name, o.Tag), o.ChangeOptions, nil, edits...)
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
	Service  traderx.Service
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
// it and records a release "scale <service> <replicas>"; sp is the
// environment's space.
func (r *Rollout) Scale(ctx context.Context, sp *confighub.Space, env traderx.Environment, o ScaleOptions) (*ChangeResult, error) {
	svc := o.Service
	if err := CheckScale(env, svc, o.Replicas, o.Force); err != nil {
		return nil, &InputError{Err: err}
	}
	colour, err := r.ActiveColour(ctx, sp, svc)
	if err != nil {
		return nil, err
	}
	edit := scaleEdit(svc, colour, o.Replicas)
	return r.change(ctx, sp, env, svc, fmt.Sprintf("scale %s %d", svc.DeploymentName(colour), o.Replicas), o.ChangeOptions, nil, edit)
}

// ActiveColour returns the colour the service's Service unit in space sp
// selects ("" for a service that is not blue-green).
func (r *Rollout) ActiveColour(ctx context.Context, sp *confighub.Space, svc traderx.Service) (string, error) {
	if !svc.BlueGreen {
		return "", nil
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
	Service traderx.Service
	ChangeOptions
}

// Restart rolls the pods of a service (its active colour) by setting the
// pod-template annotation kubectl.kubernetes.io/restartedAt to the clock's
// time in the Deployment unit (in the environment's space sp), then applies it.
func (r *Rollout) Restart(ctx context.Context, sp *confighub.Space, env traderx.Environment, o RestartOptions) (*ChangeResult, error) {
	svc := o.Service
	colour, err := r.ActiveColour(ctx, sp, svc)
	if err != nil {
		return nil, err
	}
	at := r.clock().Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	edit := Edit{Unit: manifests.DeploymentUnitName(svc, colour), Mutate: func(objs []*unstructured.Unstructured) error {
		d, err := objectOf(objs, "Deployment")
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
	return r.change(ctx, sp, env, svc, fmt.Sprintf("restart %s at %s", svc.DeploymentName(colour), at), o.ChangeOptions, nil, edit)
}

// BlueGreenImageError refuses set-image on a blue-green service without
// --all-colours, naming both ways forward.
func BlueGreenImageError(env traderx.Environment, svc traderx.Service, project string) error {
	return fmt.Errorf("%s is a blue-green service: deploy a new version to the standby colour and switch when it is healthy with `%s`, "+
		"or change both colours in place with `%s`", svc.Name,
		hint.BlueGreen(svc.Name, hint.Version, env.Name).InProject(project), hint.SetImage(env.Name, svc.Name, hint.Tag, true).InProject(project))
}
