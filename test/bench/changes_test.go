//go:build bench

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	pkgcluster "github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/cmd/cub"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

// BenchmarkValidateBinary runs `kubectl traderx validate dev` on the scaled
// namespace (500 Deployments, 2,000 pods) and reports peak RSS.
func BenchmarkValidateBinary(b *testing.B) {
	benchBinary(b, "validate", "dev")
}

// BenchmarkApplyProd applies a freshly installed prod (24 units) through
// ConfigHub, tier by tier with health gates (settle 1s).
func BenchmarkApplyProd(b *testing.B) {
	requests, i := 0, 0
	for b.Loop() {
		b.StopTimer()
		r, srv, prod := freshProd(b)
		before := len(srv.Requests())
		b.StartTimer()
		if _, err := r.Apply(context.Background(), prod, rollout.ApplyOptions{Settle: time.Second, PollInterval: 200 * time.Millisecond}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		requests += len(srv.Requests()) - before
		i++
		b.StartTimer()
	}
	b.ReportMetric(float64(requests)/float64(i), "confighub-requests/op")
}

// BenchmarkPromoteStagingProd promotes one changed unit from staging to prod
// and applies prod with health gates (settle 1s).
func BenchmarkPromoteStagingProd(b *testing.B) {
	r, srv, prod := prodWorld(b, true)
	staging, _ := traderx.LookupEnvironment("staging")
	src, err := r.Space(context.Background(), staging)
	if err != nil {
		b.Fatal(err)
	}
	dst, err := r.Space(context.Background(), prod)
	if err != nil {
		b.Fatal(err)
	}
	requests, i := 0, 0
	for b.Loop() {
		b.StopTimer()
		i++
		release(b, r, staging, fmt.Sprintf("promote-%d", i))
		before := len(srv.Requests())
		b.StartTimer()
		if _, err := r.Promote(context.Background(), src, dst, staging, prod, rollout.PromoteOptions{
			Apply: rollout.ApplyOptions{Settle: time.Second, PollInterval: 200 * time.Millisecond}}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		requests += len(srv.Requests()) - before
		b.StartTimer()
	}
	b.ReportMetric(float64(requests)/float64(i), "confighub-requests/op")
}

// BenchmarkBlueGreenProd switches trade-service in prod to a new version:
// deploy, validate (settle 1s), switch, soak 2s, standby 1s, decommission.
func BenchmarkBlueGreenProd(b *testing.B) {
	r, srv, prod := prodWorld(b, true)
	c := cluster.Require(b, testCluster)
	reader := cub.SnapshotReader{Client: kubernetes.NewForConfigOrDie(pkgcluster.ReadOnly(c.Config))}
	svc, _ := traderx.LookupService("trade-service")
	sp, err := r.Space(context.Background(), prod)
	if err != nil {
		b.Fatal(err)
	}
	requests, i := 0, 0
	for b.Loop() {
		i++
		before := len(srv.Requests())
		_, err := r.BlueGreen(context.Background(), sp, prod, rollout.BlueGreenOptions{Service: svc, Version: fmt.Sprintf("bench-%d", i),
			Cluster: reader, Settle: time.Second, Soak: 2 * time.Second, SoakInterval: time.Second, Standby: time.Second,
			PollInterval: 200 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		requests += len(srv.Requests()) - before
		b.StartTimer()
	}
	b.ReportMetric(float64(requests)/float64(i), "confighub-requests/op")
}
