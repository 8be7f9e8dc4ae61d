package rollout

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// ReleaseTagPrefix starts the slug of every release tag: release-1, release-2, …
const ReleaseTagPrefix = "release-"

// Labels of a release tag: short machine values, for filtering.
const (
	ReleaseLabelNumber      = "traderx-release"
	ReleaseLabelEnvironment = LabelEnvironment
)

// Annotations of a release tag, so history can show them. They are free text
// (spaces, colons, arrows), which belongs in Annotations, not Labels.
const (
	ReleaseAnnotationDescription = "description"
	ReleaseAnnotationUser        = "user"
	ReleaseAnnotationTime        = "time"
)

// ReleaseTag is the tag slug of release n.
func ReleaseTag(n int) string { return ReleaseTagPrefix + strconv.Itoa(n) }

// RecordRelease records release N of the environment (N = highest existing
// release + 1): a tag release-N in the environment space carrying the
// description, user and time as annotations, applied to the live revision of
// every unit that is live.
func (r *Rollout) RecordRelease(ctx context.Context, sp *confighub.Space, env traderx.Environment, desc string, res *ApplyResult) (*Release, error) {
	user, err := r.user(ctx)
	if err != nil {
		return nil, err
	}
	if desc == "" {
		desc = generatedDescription(env, res)
	}
	now := r.clock().Now().UTC().Truncate(time.Second)
	start := r.clock().Now()
	annotations := map[string]string{
		ReleaseAnnotationDescription: desc, ReleaseAnnotationUser: user, ReleaseAnnotationTime: now.Format(time.RFC3339),
	}
	r.Stamp.annotate(annotations)
	var tag *confighub.Tag
	var n int
	for try := 0; ; try++ {
		tags, err := r.Hub.ListTags(ctx, sp.SpaceID, "")
		if err != nil {
			return nil, fmt.Errorf("list release tags of %s: %w", sp.Slug, err)
		}
		n = nextRelease(tags)
		tag, err = r.Hub.CreateTag(ctx, sp.SpaceID, confighub.Tag{Slug: ReleaseTag(n), DisplayName: fmt.Sprintf("%s release %d", env.Name, n),
			Labels:      map[string]string{ReleaseLabelNumber: strconv.Itoa(n), ReleaseLabelEnvironment: env.Name},
			Annotations: annotations})
		if err == nil {
			break
		}
		if !confighub.IsConflict(err) || try >= 2 {
			r.record("record-release", env.Name, nil, nil, start, err)
			return nil, fmt.Errorf("record release %d of %s: %w", n, env.Name, err)
		}
		// Another run took this number meanwhile: take the next one.
	}
	where, err := confighub.Where().Eq("SpaceID", sp.SpaceID.String()).Raw("LiveRevisionNum > 0").Build()
	if err != nil {
		return nil, err
	}
	_, err = r.Hub.TagUnits(ctx, where, confighub.UnitTagRequest{TagID: tag.TagID, Revision: confighub.LiveRevisionNum})
	rel := &Release{Number: n, Tag: tag.Slug, TagID: tag.TagID, Environment: env.Name, Description: desc, User: user, Time: now}
	units, lerr := r.Hub.ListUnits(ctx, sp.SpaceID, "")
	if lerr == nil {
		rel.Units = map[string]int64{}
		for _, u := range units {
			if u.Unit != nil && u.Unit.LiveRevisionNum > 0 {
				rel.Units[u.Unit.Slug] = u.Unit.LiveRevisionNum
			}
		}
	}
	var names []string
	for k := range rel.Units {
		names = append(names, k)
	}
	sort.Strings(names)
	r.record("record-release", env.Name, names, rel.Units, start, err)
	if err != nil {
		return rel, fmt.Errorf("release %d of %s: tagging the live revisions failed: %w", n, env.Name, err)
	}
	r.log().Info(fmt.Sprintf("%s: recorded release %d (tag %s on %d units): %s", env.Name, n, tag.Slug, len(rel.Units), desc))
	return rel, nil
}

func generatedDescription(env traderx.Environment, res *ApplyResult) string {
	var applied []string
	for _, t := range res.Tiers {
		for _, u := range t.Units {
			if u.Outcome == UnitApplied {
				applied = append(applied, fmt.Sprintf("%s@%d", u.Unit, u.Revision))
			}
		}
	}
	d := fmt.Sprintf("apply %s: %d units", env.Name, len(applied))
	if len(applied) <= 4 {
		d += " (" + strings.Join(applied, ", ") + ")"
	}
	return d
}
