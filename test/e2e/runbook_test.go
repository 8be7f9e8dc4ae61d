//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/finos/traderx-plugins/test/cluster"
)

// TestRunbook runs docs/runbook.md's daily, promotion and emergency
// procedures with the real binaries: cub-traderx as cub runs it, against a
// ConfigHub stand-in whose worker applies to the control plane, and
// kubectl-traderx through kubectl's plugin dispatch. Every step checks its
// outcome in the cluster or in ConfigHub, not only the exit code.
func TestRunbook(t *testing.T) {
	cluster.Require(t, testCluster)
	hub := newHub(t, "traderx")
	p := installCubPlugin(t)
	home := t.TempDir()
	cubEnv := []string{"CUB_SERVER=" + hub.URL, "CUB_TOKEN=" + hub.Token}
	p.env = append([]string{"CUB_PLUGIN=1", "CUB_CONTEXT=e2e", "CUB_CONFIG=" + filepath.Join(home, ".confighub"), "HOME=" + home,
		"XDG_STATE_HOME=" + filepath.Join(home, "state"), "KUBECONFIG=" + testCluster.Kubeconfig, "NO_COLOR=1"}, cubEnv...)
	fast := []string{"--settle", "1s", "--timeout", "90s", "--retry-delay", "200ms"}
	cub := func(args ...string) result {
		t.Helper()
		r := p.run(t, args...)
		if strings.Contains(r.stdout+r.stderr, hub.Token) {
			t.Fatalf("cub traderx %v printed the token", args)
		}
		return r
	}
	must := func(r result, args ...string) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("cub traderx %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}
	// kubectl traderx with ConfigHub credentials, as an operator's shell has them.
	ktx := func(args ...string) result {
		t.Helper()
		return kubectlWith(t, nil, cubEnv, append([]string{"traderx"}, args...)...)
	}
	ctx := context.Background()

	// Setup: the database Secret, once per namespace (never a ConfigHub unit).
	for _, env := range []string{"dev", "staging", "prod"} {
		ns := "traderx-" + env
		kubectl(t, nil, "create", "namespace", ns)
		kubectl(t, nil, "-n", ns, "create", "secret", "generic", "traderx-database", "--from-literal=username=sa", "--from-literal=password=runbook")
	}

	// Daily: install, roll dev out, check it.
	must(cub("install"), "install")
	r := must(cub(append([]string{"apply", "dev"}, fast...)...), "apply dev")
	if !strings.Contains(r.stdout, "release 1 recorded") {
		t.Fatalf("apply dev recorded no release:\n%s", r.stdout)
	}
	if v := ktx("validate", "dev"); v.code != 0 || strings.Contains(v.stdout, "no ConfigHub credentials") {
		t.Fatalf("validate dev (with ConfigHub): exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	if h := ktx("health", "dev", "--wait", "--timeout", "60s"); h.code != 0 || !strings.Contains(h.stdout, "Status: HEALTHY") {
		t.Fatalf("health dev: exit %d\n%s%s", h.code, h.stdout, h.stderr)
	}

	// Day-2 changes, each through ConfigHub with health gates.
	must(cub("restart", "dev", "trade-feed", "--settle", "1s", "--timeout", "90s"), "restart dev trade-feed")
	d, err := testCluster.Client.AppsV1().Deployments("traderx-dev").Get(ctx, "trade-feed", metav1.GetOptions{})
	if err != nil || d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("restart left no restartedAt on trade-feed's pod template (%v)", err)
	}

	// Promotion: dev → staging → prod, each applied with health gates.
	must(cub("set-image", "dev", "people-service", "1.1", "--settle", "1s", "--timeout", "90s"), "set-image dev")
	if d := cub("diff", "dev", "staging", "people-service"); d.code != 0 || !strings.Contains(d.stdout, "people-service:1.1") {
		t.Fatalf("diff dev staging: exit %d\n%s%s", d.code, d.stdout, d.stderr)
	}
	r = must(cub(append([]string{"promote", "dev", "staging"}, fast...)...), "promote dev staging")
	if !strings.Contains(r.stdout, "people-service-deployment: upstream revision") {
		t.Fatalf("promote showed no change:\n%s", r.stdout)
	}
	if img := liveImage(t, "traderx-staging", "people-service"); img != "ghcr.io/finos/traderx/people-service:1.1" {
		t.Fatalf("staging runs %s after the promotion", img)
	}
	if v := ktx("validate", "staging"); v.code != 0 {
		t.Fatalf("validate staging: exit %d\n%s", v.code, v.stdout)
	}
	must(cub(append([]string{"promote", "staging", "prod", "--yes"}, fast...)...), "promote staging prod")
	if img := liveImage(t, "traderx-prod", "people-service"); img != "ghcr.io/finos/traderx/people-service:1.1" {
		t.Fatalf("prod runs %s after the promotion", img)
	}

	// A scale in staging after the promotion (a promotion would carry it on).
	must(cub("scale", "staging", "account-service", "3", "--settle", "1s", "--timeout", "90s"), "scale staging")
	if d, err := testCluster.Client.AppsV1().Deployments("traderx-staging").Get(ctx, "account-service", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 3 {
		t.Fatalf("account-service in staging after scale: %v", err)
	}

	// Blue-green releases in prod.
	for _, svc := range []string{"trade-service", "reference-data"} {
		must(cub("blue-green", svc, "2.0", "prod", "--yes", "--soak", "3s", "--soak-interval", "1s", "--standby", "1s",
			"--settle", "1s", "--timeout", "90s"), "blue-green "+svc)
		s, err := testCluster.Client.CoreV1().Services("traderx-prod").Get(ctx, svc, metav1.GetOptions{})
		if err != nil || s.Spec.Selector["color"] != "green" {
			t.Fatalf("%s Service selects %v after the switch (%v)", svc, s.Spec.Selector, err)
		}
		if img := liveImage(t, "traderx-prod", svc+"-green"); img != "ghcr.io/finos/traderx/"+svc+":2.0" {
			t.Fatalf("%s-green runs %s", svc, img)
		}
	}
	if st := must(cub("blue-green", "status", "trade-service", "prod"), "blue-green status"); !strings.Contains(st.stdout, "green") {
		t.Fatalf("blue-green status:\n%s", st.stdout)
	}
	if r := must(cub("apply", "prod", "--yes"), "apply prod"); !strings.Contains(r.stdout, "nothing to apply") {
		t.Fatalf("apply prod after the releases:\n%s", r.stdout)
	}
	if v := ktx("validate", "prod"); v.code != 0 {
		t.Fatalf("validate prod: exit %d\n%s", v.code, v.stdout)
	}
	if h := ktx("health", "prod", "--wait", "--timeout", "60s"); h.code != 0 {
		t.Fatalf("health prod: exit %d\n%s", h.code, h.stdout)
	}

	// Emergency: a bad change in prod, rolled back.
	if h := ktx("health", "prod"); h.code != 0 {
		t.Fatalf("health prod: exit %d\n%s", h.code, h.stdout)
	}
	must(cub("set-env", "prod", "people-service", "FEATURE_X=on", "--yes", "--settle", "1s", "--timeout", "90s"), "set-env prod")
	must(cub("history", "prod"), "history prod")
	if !hasEnv(t, "traderx-prod", "people-service", "FEATURE_X") {
		t.Fatal("the change never reached prod")
	}
	r = must(cub(append([]string{"rollback", "prod", "--yes"}, fast...)...), "rollback prod")
	if !strings.Contains(r.stdout, "Health after rollback: HEALTHY") || hasEnv(t, "traderx-prod", "people-service", "FEATURE_X") {
		t.Fatalf("rollback prod did not remove the change:\n%s", r.stdout)
	}
	// Back to the first prod release: before the blue-green switches.
	h := must(cub("history", "prod", "-o", "json"), "history prod")
	if !strings.Contains(h.stdout, `"description": "promote from staging`) {
		t.Fatalf("history prod:\n%s", h.stdout)
	}
	first := firstRelease(t, h.stdout)
	must(cub(append([]string{"rollback", "prod", first, "--yes"}, fast...)...), "rollback prod "+first)
	s, err := testCluster.Client.CoreV1().Services("traderx-prod").Get(ctx, "trade-service", metav1.GetOptions{})
	if err != nil || s.Spec.Selector["color"] != "blue" {
		t.Fatalf("trade-service selects %v after rolling back to release %s (%v)", s.Spec.Selector, first, err)
	}
	if r := must(cub("history", "prod"), "history prod"); !strings.Contains(r.stdout, "rollback to release "+first) {
		t.Fatalf("history prod:\n%s", r.stdout)
	}
	if h := ktx("health", "prod", "--wait", "--timeout", "60s"); h.code != 0 {
		t.Fatalf("health prod after the rollbacks: exit %d\n%s", h.code, h.stdout)
	}
	// Troubleshooting reads: nothing is left unapplied.
	if st := must(cub("status", "prod"), "status prod"); !strings.Contains(st.stdout, "0 with unapplied changes") {
		t.Fatalf("status prod:\n%s", st.stdout)
	}
	must(cub("diff", "prod", "--live"), "diff prod --live")
}

func liveImage(t *testing.T, ns, deployment string) string {
	t.Helper()
	d, err := testCluster.Client.AppsV1().Deployments(ns).Get(context.Background(), deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

func hasEnv(t *testing.T, ns, deployment, name string) bool {
	t.Helper()
	d, err := testCluster.Client.AppsV1().Deployments(ns).Get(context.Background(), deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// firstRelease is the lowest release number in `history -o json` output.
func firstRelease(t *testing.T, js string) string {
	t.Helper()
	i := strings.LastIndex(js, `"number": `)
	if i < 0 {
		t.Fatalf("no release in %s", js)
	}
	rest := js[i+len(`"number": `):]
	return rest[:strings.IndexAny(rest, ",\n")]
}
