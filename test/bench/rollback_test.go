//go:build bench

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/check"
	pkgcluster "github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/cmd/cub"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

// prodWorld is prod installed in a ConfigHub stand-in and applied: with kube,
// to the local control plane and judged by the real health gate; without, to
// nothing and judged HEALTHY at once, which leaves the tool's own cost.
func prodWorld(b *testing.B, kube bool) (*rollout.Rollout, *confighubtest.Server, traderx.Environment) {
	b.Helper()
	r, srv, prod := installedProd(b, kube)
	if _, err := r.Apply(context.Background(), prod, rollout.ApplyOptions{Settle: -1, PollInterval: 200 * time.Millisecond}); err != nil {
		b.Fatal(err)
	}
	return r, srv, prod
}

// freshProd is prod installed in a new stand-in, not applied yet.
func freshProd(b *testing.B) (*rollout.Rollout, *confighubtest.Server, traderx.Environment) {
	b.Helper()
	return installedProd(b, true)
}

func installedProd(b *testing.B, kube bool) (*rollout.Rollout, *confighubtest.Server, traderx.Environment) {
	b.Helper()
	var backend confighubtest.Backend = confighubtest.NoopBackend{}
	var gate rollout.Gate = rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		r := check.NewReport(check.KindHealth, env.Name, env.Namespace())
		r.Add(check.Check{Suite: "deployment", Name: "rollout-complete", Target: "all", Status: check.StatusPass})
		r.Finalize()
		return r, nil
	})
	if kube {
		c := cluster.Require(b, testCluster)
		backend = confighubtest.NewKubeBackend(confighubtest.SingleCluster(c.Config))
		gate = cub.HealthGate{Client: kubernetes.NewForConfigOrDie(pkgcluster.ReadOnly(c.Config))}
	}
	srv := confighubtest.NewServer()
	b.Cleanup(srv.Close)
	ws, err := srv.StartWorkers(context.Background(), backend, nil, "traderx-dev", "traderx-staging", "traderx-prod")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, w := range ws {
			w.Stop()
		}
	})
	client, err := confighub.New(srv.Credentials(), confighub.WithWaitPolicy(confighub.WaitPolicy{Initial: 20 * time.Millisecond, Cap: 200 * time.Millisecond, Timeout: 2 * time.Minute}))
	if err != nil {
		b.Fatal(err)
	}
	r := &rollout.Rollout{Hub: client, Gate: gate}
	var envs []traderx.Environment
	for _, name := range []string{"dev", "staging", "prod"} {
		e, _ := traderx.LookupEnvironment(name)
		envs = append(envs, e)
	}
	ctx := context.Background()
	if _, err := r.Install(ctx, rollout.InstallOptions{Envs: envs}); err != nil {
		b.Fatal(err)
	}
	return r, srv, envs[2]
}

// release records a new release of env with a new trade-service image.
func release(b *testing.B, r *rollout.Rollout, env traderx.Environment, tag string) {
	b.Helper()
	ctx := context.Background()
	sp, err := r.Space(ctx, env)
	if err != nil {
		b.Fatal(err)
	}
	_, err = r.EditUnits(ctx, sp, env, "bench "+tag, false, rollout.Edit{Unit: "trade-service-blue-deployment", Mutate: func(objs []*unstructured.Unstructured) error {
		cs, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
		cs[0].(map[string]any)["image"] = "ghcr.io/finos/traderx/trade-service:" + tag
		return unstructured.SetNestedSlice(objs[0].Object, cs, "spec", "template", "spec", "containers")
	}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Apply(ctx, env, rollout.ApplyOptions{Settle: -1, PollInterval: 200 * time.Millisecond}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRollbackProd rolls the whole of prod back one release on the
// control plane: restores, reverse-order apply with a health gate per tier,
// final health verdict. settle is how long each tier must stay healthy.
func BenchmarkRollbackProd(b *testing.B) {
	for _, settle := range []time.Duration{5 * time.Second, time.Second} {
		b.Run(fmt.Sprintf("settle=%s", settle), func(b *testing.B) {
			r, srv, prod := prodWorld(b, true)
			benchRollback(b, r, srv, prod, settle)
		})
	}
}

// BenchmarkRollbackOverhead is the same rollback without a cluster: what the
// tool itself costs (ConfigHub round trips, diffs, bookkeeping).
func BenchmarkRollbackOverhead(b *testing.B) {
	r, srv, prod := prodWorld(b, false)
	benchRollback(b, r, srv, prod, -1)
}

func benchRollback(b *testing.B, r *rollout.Rollout, srv *confighubtest.Server, prod traderx.Environment, settle time.Duration) {
	requests := 0
	i := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		i++
		release(b, r, prod, fmt.Sprintf("bench-%d", i))
		before := len(srv.Requests())
		b.StartTimer()
		res, err := r.Rollback(context.Background(), prod, rollout.RollbackOptions{
			Apply: rollout.ApplyOptions{Settle: settle, PollInterval: 200 * time.Millisecond}})
		if err != nil {
			b.Fatal(err)
		}
		if res.Verdict == check.VerdictUnhealthy {
			b.Fatalf("unhealthy after rollback: %s", res.Reason)
		}
		b.StopTimer()
		requests += len(srv.Requests()) - before
		b.StartTimer()
	}
	b.ReportMetric(float64(requests)/float64(i), "confighub-requests/op")
}
