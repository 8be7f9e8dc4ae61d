package confighubtest_test

import (
	"encoding/base64"
	"testing"

	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
)

func num(v any, path ...string) float64 {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	f, _ := v.(float64)
	return f
}

// TestCloneLinkAndMutations follows a clone through upgrade, restore and the
// removal of its upstream link, checking the Link and Mutation records and
// the space counts the stand-in derives from them.
func TestCloneLinkAndMutations(t *testing.T) {
	srv := confighubtest.NewServer()
	t.Cleanup(srv.Close)
	c := &conformanceClient{t: t, srv: srv}
	data := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	base := str(c.must("POST", "/space", map[string]any{"Slug": "base"}), "SpaceID")
	dev := str(c.must("POST", "/space", map[string]any{"Slug": "dev"}), "SpaceID")
	w, err := srv.StartWorker(t.Context(), "dev", "worker", nil, confighubtest.NoopBackend{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	up := str(c.must("POST", "/space/"+base+"/unit", map[string]any{"Slug": "app", "ToolchainType": "Kubernetes/YAML",
		"Data": data("kind: ConfigMap\ndata:\n  a: \"1\"\n")}), "UnitID")
	clone := c.must("POST", "/space/"+dev+"/unit"+q("upstream_space_id", base, "upstream_unit_id", up),
		map[string]any{"Slug": "app", "ToolchainType": "Kubernetes/YAML"})
	cloneID := str(clone, "UnitID")
	unitPath := "/space/" + dev + "/unit/" + cloneID

	links := c.must("GET", "/space/"+dev+"/link", nil).([]any)
	if len(links) != 1 {
		t.Fatalf("%d links after a clone, want 1", len(links))
	}
	link := links[0].(map[string]any)["Link"]
	linkID := str(link, "LinkID")
	if str(link, "UpdateType") != "UpgradeUnit" || str(link, "FromUnitID") != cloneID || str(link, "ToUnitID") != up ||
		str(link, "ToSpaceID") != base || num(link, "UpstreamLastMergedRevisionNum") != 1 {
		t.Errorf("clone link = %v", link)
	}
	if ids, _ := clone.(map[string]any)["FromLinkID"].([]any); len(ids) != 1 || ids[0] != linkID {
		t.Errorf("clone FromLinkID = %v, want [%s]", clone.(map[string]any)["FromLinkID"], linkID)
	}
	sp := c.must("GET", "/space/"+dev, nil)
	if num(sp, "TotalLinkCount") != 1 || num(sp, "TotalUnitCount") != 1 || num(sp, "TargetCountByToolchainType", "Kubernetes/YAML") != 1 {
		t.Errorf("space counts = %v", sp)
	}

	// Upstream moves on; the clone upgrades, then restores revision 1.
	c.must("PATCH", "/space/"+base+"/unit/"+up, map[string]any{"Data": data("kind: ConfigMap\ndata:\n  a: \"2\"\n")})
	c.must("PATCH", unitPath+q("upgrade", "true"), nil)
	c.must("PATCH", unitPath+q("restore", "1"), map[string]any{"LastChangeDescription": "back to 1"})

	muts := c.must("GET", unitPath+"/mutation", nil).([]any)
	if len(muts) != 3 {
		t.Fatalf("%d mutations, want one per revision (3)", len(muts))
	}
	m := func(i int) any { return muts[i].(map[string]any)["Mutation"] }
	if str(m(0), "MergeSourceID") != up || str(m(0), "LinkID") != linkID {
		t.Errorf("clone mutation = %v", m(0))
	}
	if str(m(1), "MergeSourceID") != up || num(m(1), "UpgradedFromUpstreamRevisionNum") != 1 || num(m(1), "MergeEndRevisionNum") != 2 {
		t.Errorf("upgrade mutation = %v", m(1))
	}
	if num(m(2), "RestoredRevisionNum") != 1 || num(m(2), "RevisionNum") != 3 {
		t.Errorf("restore mutation = %v", m(2))
	}
	u := c.must("GET", unitPath+q("include", "HeadMutationNum"), nil)
	if num(u, "Unit", "HeadMutationNum") != 3 || str(u, "HeadMutation", "MutationID") != str(m(2), "MutationID") {
		t.Errorf("unit head mutation = %v", u)
	}
	if l := c.must("GET", "/space/"+dev+"/link/"+linkID, nil); num(l, "Link", "UpstreamLastMergedRevisionNum") != 2 ||
		num(l, "Link", "DownstreamLastMergedRevisionNum") != 2 {
		t.Errorf("link after upgrade = %v", l)
	}

	// Deleting the UpgradeUnit link removes the upstream.
	c.must("DELETE", "/space/"+dev+"/link/"+linkID, nil)
	u = c.must("GET", unitPath, nil)
	if str(u, "Unit", "UpstreamUnitID") != "" || num(u, "Unit", "UpstreamRevisionNum") != 0 {
		t.Errorf("unit still has an upstream after its link was deleted: %v", u)
	}
	if a := c.do("PATCH", unitPath+q("upgrade", "true"), srv.Token, nil); a.status != 400 {
		t.Errorf("upgrade without an upstream = %d %s, want 400", a.status, a.raw)
	}
	if n := len(c.must("GET", "/space/"+dev+"/link", nil).([]any)); n != 0 {
		t.Errorf("%d links after the delete, want 0", n)
	}
}
