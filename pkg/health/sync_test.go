package health

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// The sync check reads real ConfigHub state over HTTP (the stand-in): live
// at head passes, an unapplied change warns, a missing space warns.
func TestConfigHubSyncOverHTTP(t *testing.T) {
	srv := confighubtest.NewServer()
	t.Cleanup(srv.Close)
	c, err := confighub.New(srv.Credentials())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env, _ := traderx.LookupEnvironment("dev")
	sync := ConfigHubSync{Client: c, Project: "traderx"}

	if cs := syncChecks(ctx, sync, env); len(cs) != 1 || cs[0].Status != check.StatusWarn || !strings.Contains(cs[0].Message, "space traderx-dev not found") {
		t.Fatalf("missing space: %+v", cs)
	}
	w, err := srv.StartWorker(ctx, "traderx-dev", "worker", nil, confighubtest.NoopBackend{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	sp, err := c.GetSpaceBySlug(ctx, "traderx-dev")
	if err != nil {
		t.Fatal(err)
	}
	target, err := w.TargetID(ctx, w.Targets()[0])
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.CreateUnit(ctx, sp.SpaceID, confighub.Unit{Slug: "namespace", ToolchainType: "Kubernetes/YAML", TargetID: target,
		Data: []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: traderx-dev\n")}, uuid.Nil, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	op, err := c.Apply(ctx, sp.SpaceID, u.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForOperation(ctx, sp.SpaceID, u.UnitID, op); err != nil {
		t.Fatal(err)
	}
	cs := syncChecks(ctx, sync, env)
	if len(cs) != 2 || cs[0].Status != check.StatusPass || cs[0].Target != "unit/namespace" {
		t.Fatalf("live at head: %+v", cs)
	}
	if cs[1].Name != "drift" || cs[1].Status != check.StatusSkip || !strings.Contains(cs[1].Message, "unit namespace: never refreshed") {
		t.Fatalf("drift before any refresh must be SKIP, saying why: %+v", cs[1])
	}
	ops, err := c.RefreshUnits(ctx, "SpaceID = '"+sp.SpaceID.String()+"'", true)
	if err != nil || len(ops) != 1 || ops[0].Action == nil {
		t.Fatalf("refresh: %v %+v", err, ops)
	}
	if _, err := c.WaitForOperation(ctx, sp.SpaceID, u.UnitID, ops[0].Action); err != nil {
		t.Fatal(err)
	}
	if cs := syncChecks(ctx, sync, env); len(cs) != 2 || cs[1].Status != check.StatusPass || !strings.Contains(cs[1].Message, "no drift on 1 units") {
		t.Fatalf("drift after a refresh that found none: %+v", cs)
	}
	patch := map[string]any{"Data": []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: traderx-dev\n  labels: {a: b}\n")}
	if _, err := c.PatchUnit(ctx, sp.SpaceID, u.UnitID, patch, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	if cs := syncChecks(ctx, sync, env); len(cs) != 2 || cs[0].Status != check.StatusWarn || !strings.Contains(cs[0].Message, "unapplied changes: head 2, live 1") {
		t.Fatalf("unapplied change: %+v", cs)
	}
}
