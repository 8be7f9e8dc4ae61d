package envcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// TargetReader is what finding an environment's target needs; *confighub.Client
// implements it.
type TargetReader interface {
	GetSpaceBySlug(ctx context.Context, slug string) (*confighub.Space, error)
	ListUnits(ctx context.Context, spaceID uuid.UUID, where string, include ...string) ([]confighub.ExtendedUnit, error)
	ListTargets(ctx context.Context, spaceID uuid.UUID, where string) ([]confighub.ExtendedTarget, error)
}

// TargetContext is the KubeContext parameter of the target an environment's
// units are bound to, and that target's slug; empty when the space does not
// exist, its units are bound to no target, or the target has no KubeContext
// (a worker running in its cluster advertises none; SDK
// bridge-worker/impl/kubernetes.go, KubernetesWorkerParams). Units bound to
// targets of different contexts are an error: which cluster is the
// environment's is then a question only the user can answer.
func TargetContext(ctx context.Context, r TargetReader, space string) (kubeContext, target string, err error) {
	sp, err := r.GetSpaceBySlug(ctx, space)
	switch {
	case confighub.IsNotFound(err):
		return "", "", nil
	case err != nil:
		return "", "", fmt.Errorf("read ConfigHub space %s for its target: %w", space, err)
	}
	units, err := r.ListUnits(ctx, sp.SpaceID, "")
	if err != nil {
		return "", "", fmt.Errorf("list units of ConfigHub space %s: %w", space, err)
	}
	used := map[uuid.UUID]bool{}
	for _, u := range units {
		if u.Unit != nil && u.Unit.TargetID != uuid.Nil {
			used[u.Unit.TargetID] = true
		}
	}
	if len(used) == 0 {
		return "", "", nil
	}
	targets, err := r.ListTargets(ctx, sp.SpaceID, "")
	if err != nil {
		return "", "", fmt.Errorf("list targets of ConfigHub space %s: %w", space, err)
	}
	byContext := map[string][]string{}
	for _, t := range targets {
		if t.Target == nil || !used[t.Target.TargetID] {
			continue
		}
		kc, err := kubeContextOf(t.Target)
		if err != nil {
			return "", "", fmt.Errorf("ConfigHub target %s of space %s: %w", t.Target.Slug, space, err)
		}
		byContext[kc] = append(byContext[kc], t.Target.Slug)
	}
	if len(byContext) > 1 {
		var parts []string
		for kc, slugs := range byContext {
			parts = append(parts, fmt.Sprintf("%s (%s)", strings.Join(slugs, ", "), cmpContext(kc)))
		}
		slices.Sort(parts)
		return "", "", fmt.Errorf("the units of ConfigHub space %s are bound to targets of different kube contexts: %s", space, strings.Join(parts, "; "))
	}
	for kc, slugs := range byContext {
		slices.Sort(slugs)
		return kc, slugs[0], nil
	}
	return "", "", nil
}

func cmpContext(kc string) string {
	if kc == "" {
		return "no KubeContext"
	}
	return "KubeContext " + kc
}

// kubeContextOf reads the KubeContext parameter; Parameters is a JSON object
// in a string (SDK openapi Target.Parameters).
func kubeContextOf(t *confighub.Target) (string, error) {
	if strings.TrimSpace(t.Parameters) == "" {
		return "", nil
	}
	var p struct{ KubeContext string }
	if err := json.Unmarshal([]byte(t.Parameters), &p); err != nil {
		return "", fmt.Errorf("parameters are not a JSON object: %w", err)
	}
	return p.KubeContext, nil
}
