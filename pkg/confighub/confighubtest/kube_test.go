package confighubtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/test/cluster"
)

var _ Applier = (*KubeApplier)(nil)
var _ Applier = NoopApplier{}

func TestDecodeObjects(t *testing.T) {
	objs, err := DecodeObjects([]byte("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"))
	if err != nil || len(objs) != 2 || objs[1].GetKind() != "ConfigMap" {
		t.Fatalf("DecodeObjects = %v, %v", objs, err)
	}
	if _, err := DecodeObjects([]byte("kind: ConfigMap\nmetadata:\n  name: b\n")); err == nil {
		t.Error("object without apiVersion accepted")
	}
}

var testCluster *cluster.Cluster

func TestMain(m *testing.M) { cluster.Exit(cluster.Main(m, &testCluster, cluster.Options{})) }

// TestKubeApplier runs against the real local control plane.
func TestKubeApplier(t *testing.T) {
	cfg := cluster.Require(t, testCluster).Config
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := "confighubtest-" + time.Now().Format("150405")
	data := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  k: v\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n"
	a := NewKubeApplier(cfg)
	live, err := a.Apply(ctx, confighub.Target{Slug: "local", Parameters: `{"KubeNamespace":"` + ns + `"}`}, confighub.Unit{Slug: "probe"}, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(live), "namespace: "+ns) || !strings.Contains(string(live), "kind: ConfigMap") || strings.Contains(string(live), "managedFields") {
		t.Errorf("live state:\n%s", live)
	}
	// Re-applying is idempotent.
	if _, err := a.Apply(ctx, confighub.Target{Slug: "local", Parameters: `{"KubeNamespace":"` + ns + `"}`}, confighub.Unit{Slug: "probe"}, []byte(data)); err != nil {
		t.Fatal(err)
	}
}
