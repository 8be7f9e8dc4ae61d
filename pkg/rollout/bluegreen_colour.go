package rollout

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// converge brings the service to keep: keep's Deployment running (scaled to
// replicas if its unit is at zero) and ready, the Service selecting it with
// only its pods behind it, the other colour at zero, no run recorded.
func (r *Rollout) converge(ctx context.Context, st *BlueGreenState, env traderx.Environment, svc traderx.Service, keep string, replicas int32, desc string, o BlueGreenOptions) error {
	drop := traderx.OtherColour(keep)
	if st.Colour(keep).Replicas == 0 {
		if err := r.scaleColour(ctx, st, env, svc, keep, replicas, desc+": scale "+keep+" up", o); err != nil {
			return err
		}
		if err := r.waitColour(ctx, env, svc, keep, "", replicas, 0, o); err != nil {
			return err
		}
	}
	if err := r.selectColour(ctx, st, env, svc, keep, desc+": select "+keep, o); err != nil {
		return err
	}
	if err := r.scaleColour(ctx, st, env, svc, drop, 0, desc+": scale "+drop+" to zero", o); err != nil {
		return err
	}
	if err := r.waitColourGone(ctx, env, svc, drop, o); err != nil {
		r.log().Warn(fmt.Sprintf("%s: %s: %v", env.Name, svc.Name, err))
	}
	return r.setRun(ctx, st, nil)
}

// scaleColour sets a colour's replicas in its unit and applies it.
func (r *Rollout) scaleColour(ctx context.Context, st *BlueGreenState, env traderx.Environment, svc traderx.Service, colour string, n int32, desc string, o BlueGreenOptions) error {
	e := scaleEdit(svc, colour, n)
	if _, err := r.EditUnits(ctx, st.sp, env, desc, false, e); err != nil {
		return err
	}
	for i := range st.Colours {
		if st.Colours[i].Colour == colour {
			st.Colours[i].Replicas = n
		}
	}
	return r.applyUnits(ctx, st.sp, env, svc, o, e.Unit)
}

// selectColour points the Service unit's selector at a colour, applies it
// and waits until the EndpointSlices list only that colour's pods.
func (r *Rollout) selectColour(ctx context.Context, st *BlueGreenState, env traderx.Environment, svc traderx.Service, colour, desc string, o BlueGreenOptions) error {
	if _, err := r.EditUnits(ctx, st.sp, env, desc, false, selectorEdit(svc, colour)); err != nil {
		return err
	}
	st.Active = colour
	if err := r.applyUnits(ctx, st.sp, env, svc, o, st.ServiceUnit); err != nil {
		return err
	}
	var failure error
	err := r.poll(ctx, env, o, fmt.Sprintf("Service %s endpoints to be only %s pods", svc.Name, colour), func(snap *cluster.Snapshot) (string, bool) {
		if fatal, _ := colourProblems(snap, env, svc, colour, "", 0); len(fatal) > 0 {
			failure = fmt.Errorf("%s of %s: %s", colour, svc.Name, strings.Join(fatal, "; "))
			return "", true
		}
		msg, ok := health.EndpointsOnly(snap, svc, colour)
		if ok {
			r.log().Info(fmt.Sprintf("%s: Service %s: %s", env.Name, svc.Name, msg))
		}
		return msg, ok
	})
	if failure != nil {
		return failure
	}
	return err
}

// applyUnits applies units one by one (skipping those live at head) with
// Apply's retries and lost-answer handling, each waited for.
func (r *Rollout) applyUnits(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service, o BlueGreenOptions, slugs ...string) error {
	ao := o.apply()
	for _, slug := range slugs {
		eu, err := r.unitBySlug(ctx, sp, slug)
		if err != nil {
			return err
		}
		u := eu.Unit
		if u.LiveRevisionNum == u.HeadRevisionNum && u.HeadRevisionNum > 0 {
			r.log().Info(fmt.Sprintf("%s: %s is live at head revision %d", env.Name, slug, u.HeadRevisionNum))
			continue
		}
		if u.TargetID == uuid.Nil {
			return inputf("unit %s has no target (run `%s`)", slug, r.next(hint.Install()))
		}
		p := planned{eu: eu, name: slug, service: svc.Name, tier: traderx.TierOf(svc.Name)}
		if _, _, err := r.applyUnit(ctx, sp, env, p, ao); err != nil {
			if c := cause(err); c != err.Error() {
				return fmt.Errorf("apply of %s failed: %s (%w)", slug, c, err)
			}
			return fmt.Errorf("apply of %s failed: %w", slug, err)
		}
	}
	return nil
}

// waitColour waits until a colour's Deployment has replicas ready pods of
// image (any image when empty) without restarts, crash loops or pull
// errors, and stays so for settle. A crash loop, pull error or restart
// fails at once; not being ready fails after the timeout.
func (r *Rollout) waitColour(ctx context.Context, env traderx.Environment, svc traderx.Service, colour, image string, replicas int32, settle time.Duration, o BlueGreenOptions) error {
	clock := r.clock()
	var since time.Time
	var failure error
	err := r.poll(ctx, env, o, fmt.Sprintf("%s of %s to be ready", colour, svc.Name), func(snap *cluster.Snapshot) (string, bool) {
		fatal, pending := colourProblems(snap, env, svc, colour, image, replicas)
		if len(fatal) > 0 {
			failure = fmt.Errorf("%s of %s: %s", colour, svc.Name, strings.Join(fatal, "; "))
			return "", true
		}
		if len(pending) > 0 {
			since = time.Time{}
			return strings.Join(pending, "; "), false
		}
		now := clock.Now()
		if since.IsZero() {
			since = now
			r.log().Info(fmt.Sprintf("%s: %s of %s: %d/%d pods ready, no restarts", env.Name, colour, svc.Name, replicas, replicas))
		}
		return fmt.Sprintf("%s ready, checking it stays so for %s", colour, settle), now.Sub(since) >= settle
	})
	if failure != nil {
		return failure
	}
	return err
}

// waitColourGone waits until a colour scaled to zero has no pods left.
func (r *Rollout) waitColourGone(ctx context.Context, env traderx.Environment, svc traderx.Service, colour string, o BlueGreenOptions) error {
	return r.poll(ctx, env, o, fmt.Sprintf("%s of %s to scale to zero", colour, svc.Name), func(snap *cluster.Snapshot) (string, bool) {
		d := snap.Deployment(svc.DeploymentName(colour))
		if d == nil {
			return "", true
		}
		n := len(snap.PodsOf(d))
		return fmt.Sprintf("%d pod(s) left", n), n == 0 && d.Status.Replicas == 0
	})
}

// poll re-reads the cluster every PollInterval until cond holds or the
// timeout; read errors are retried up to Retries times in a row.
func (r *Rollout) poll(ctx context.Context, env traderx.Environment, o BlueGreenOptions, what string, cond func(*cluster.Snapshot) (string, bool)) error {
	clock := r.clock()
	deadline := clock.Now().Add(o.Timeout)
	readErrors, last := 0, ""
	for {
		snap, err := o.Cluster.Snapshot(ctx, env.Namespace())
		if err != nil {
			if readErrors++; readErrors > max(o.Retries, 1) || ctx.Err() != nil {
				return &unreachableError{fmt.Errorf("cannot read the cluster while waiting for %s: %w", what, err)}
			}
		} else {
			readErrors = 0
			msg, ok := cond(snap)
			if ok {
				return nil
			}
			if msg != last {
				r.log().Debug(fmt.Sprintf("%s: waiting for %s: %s", env.Name, what, msg))
				last = msg
			}
		}
		if !clock.Now().Before(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s: %s", o.Timeout, what, last)
		}
		if err := clock.Sleep(ctx, o.PollInterval); err != nil {
			return err
		}
	}
}

// colourProblems judges one colour's Deployment: fatal problems (crash
// loops, pull errors, failed pods, any restart) and pending ones (not
// rolled out, not ready, wrong image, wrong count).
func colourProblems(snap *cluster.Snapshot, env traderx.Environment, svc traderx.Service, colour, image string, replicas int32) (fatal, pending []string) {
	w := health.JudgeDeployment(snap, env, svc, colour, health.Options{})
	fatal, pending = append(w.Stuck(), w.Restarted()...), w.Pending()
	if !w.Found {
		return fatal, pending
	}
	for _, p := range w.Pods {
		if image != "" && p.Image != "" && p.Image != image {
			pending = append(pending, fmt.Sprintf("pod %s still runs %s", p.Name, p.Image))
		}
	}
	if w.Want != replicas {
		pending = append(pending, fmt.Sprintf("Deployment %s wants %d replicas, not %d (unit not applied yet?)", w.Deployment, w.Want, replicas))
	}
	if w.Ready < replicas || w.Total != replicas || !w.RolledOut {
		pending = append(pending, fmt.Sprintf("%d/%d pods ready (%d in total)", w.Ready, replicas, w.Total))
	}
	return fatal, pending
}
