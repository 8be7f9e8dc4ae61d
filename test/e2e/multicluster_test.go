//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
	"github.com/finos/traderx-plugins/test/multicluster"
)

// TestPromoteToProdLandsOnProdsClusterOnly runs the runbook's promotion
// across two clusters, as `make sandbox` lays them out: dev and staging on
// one control plane, prod on another, each environment's ConfigHub worker
// reaching only its own. After install, apply dev and the two promotions,
// each environment's Deployments are on its own cluster and on no other, and
// `kubectl traderx health prod`, with the current context on the nonprod
// cluster, reads prod's through the mapping.
func TestPromoteToProdLandsOnProdsClusterOnly(t *testing.T) {
	cluster.Require(t, testCluster) // skipped with -short like the rest of the package
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ground, err := multicluster.Start(ctx, t.TempDir(), cluster.Options{})
	t.Cleanup(ground.Stop)
	if err != nil {
		t.Fatal(err)
	}
	hub := confighubtest.NewServer()
	t.Cleanup(hub.Close)
	workers, err := ground.StartWorkers(ctx, hub, traderx.DefaultProject, nil, workerOptions...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, w := range workers {
			w.Stop()
		}
	})
	// The database Secret, once per namespace, on the environment's cluster
	// (never a ConfigHub unit).
	for _, e := range traderx.Environments() {
		client := ground.Clusters[multicluster.ContextOf(e)].Client
		if _, err := client.CoreV1().Namespaces().Create(ctx,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.Namespace()}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: traderx.DatabaseSecret, Namespace: e.Namespace()},
			StringData: map[string]string{"username": "sa", "password": "multicluster"}}
		if _, err := client.CoreV1().Secrets(e.Namespace()).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// The operator's shell: both contexts, the mapping, ConfigHub credentials.
	shell := []string{"KUBECONFIG=" + ground.Kubeconfig, "XDG_CONFIG_HOME=" + ground.ConfigHome,
		"CUB_SERVER=" + hub.URL, "CUB_TOKEN=" + hub.Token, "NO_COLOR=1"}
	p := installCubPlugin(t)
	home := t.TempDir()
	p.env = append([]string{"CUB_PLUGIN=1", "CUB_CONTEXT=e2e", "CUB_CONFIG=" + filepath.Join(home, ".confighub"),
		"HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state")}, shell...)
	fast := []string{"--settle", "1s", "--timeout", "90s", "--retry-delay", "200ms"}
	for _, args := range [][]string{
		{"install"},
		append([]string{"apply", "dev"}, fast...),
		append([]string{"promote", "dev", "staging"}, fast...),
		append([]string{"promote", "staging", "prod", "--yes"}, fast...),
	} {
		if r := p.run(t, args...); r.code != 0 {
			t.Fatalf("cub traderx %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}

	// Each cluster holds the Deployments of its own environments only, all
	// of them (the same set in every namespace).
	want := map[string][]string{
		multicluster.NonProdContext: {"traderx-dev", "traderx-staging"},
		multicluster.ProdContext:    {"traderx-prod"},
	}
	var names []string
	for kubeContext, c := range ground.Clusters {
		list, err := c.Client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		byNS := map[string][]string{}
		for _, d := range list.Items {
			byNS[d.Namespace] = append(byNS[d.Namespace], d.Name)
		}
		if got := slices.Sorted(maps.Keys(byNS)); !slices.Equal(got, want[kubeContext]) {
			t.Errorf("cluster %s has Deployments in %v, want %v", kubeContext, got, want[kubeContext])
		}
		for ns, n := range byNS {
			slices.Sort(n)
			if names == nil {
				names = n
			} else if !slices.Equal(n, names) {
				t.Errorf("cluster %s, namespace %s has Deployments %v, want %v", kubeContext, ns, n, names)
			}
		}
	}
	if len(names) == 0 {
		t.Error("no Deployment on either cluster")
	}

	// kubectl traderx health prod, the current context on nonprod: the
	// mapping sends it to prod's cluster, and it says so.
	h := kubectlWith(t, nil, shell, "traderx", "health", "prod", "-o", "json")
	var report check.Report
	if err := json.Unmarshal([]byte(h.stdout), &report); err != nil || h.code != 0 {
		t.Fatalf("kubectl traderx health prod: exit %d, %v\n%s%s", h.code, err, h.stdout, h.stderr)
	}
	prod := ground.Clusters[multicluster.ProdContext].Config.Host
	if c := report.Cluster; c == nil || c.Context != multicluster.ProdContext || c.Server != prod || c.Source != "config file" {
		t.Errorf("health prod judged %+v, want context %s (%s) from the config file", c, multicluster.ProdContext, prod)
	}
}
