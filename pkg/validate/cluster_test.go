package validate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	testcluster "github.com/finos/traderx-plugins/test/cluster"
)

var testCluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.Exit(testcluster.Main(m, &testCluster, testcluster.Options{}))
}

// live is one environment deployed into a namespace of its own.
type live struct {
	c    *testcluster.Cluster
	env  traderx.Environment
	objs []*unstructured.Unstructured
}

func deploy(t *testing.T, envName string) *live {
	t.Helper()
	c := testcluster.Require(t, testCluster)
	env, err := traderx.LookupEnvironment(envName)
	if err != nil {
		t.Fatal(err)
	}
	env.NamespaceOverride = fmt.Sprintf("validate-%s-%d", envName, time.Now().UnixNano()%10000000)
	t.Cleanup(func() {
		_ = c.Client.CoreV1().Namespaces().Delete(context.Background(), env.Namespace(), metav1.DeleteOptions{})
	})
	units, err := manifests.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	l := &live{c: c, env: env, objs: manifests.Objects(units)}
	ctx := context.Background()
	if err := testcluster.Apply(ctx, c.Config, l.objs, false); err != nil {
		t.Fatal(err)
	}
	if err := testcluster.WaitDeploymentsAvailable(ctx, c.Client, env.Namespace(), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	// What an operator creates by hand: Secrets are never ConfigHub units.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: traderx.DatabaseSecret, Namespace: env.Namespace()},
		StringData: map[string]string{"username": "sa", "password": "not-the-default"}}
	if _, err := c.Client.CoreV1().Secrets(env.Namespace()).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return l
}

// validate takes a snapshot and validates it; ConfigHub is not configured.
func (l *live) validate(t *testing.T) *check.Report {
	t.Helper()
	snap, err := cluster.Take(context.Background(), l.c.Client, l.env.Namespace())
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := cluster.SecretsPresent(context.Background(), l.c.Config, l.env.Namespace(), traderx.RequiredSecrets())
	if err != nil {
		t.Fatal(err)
	}
	return runWith(t, Input{Env: l.env, Snapshot: snap, Secrets: secrets, ConfigHub: ConfigHubSkipped(NoCredentialsReason)})
}

// eventually validates until cond holds (controllers and kwok need a moment).
func (l *live) eventually(t *testing.T, what string, cond func(*check.Report) bool) *check.Report {
	t.Helper()
	var last *check.Report
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 90*time.Second, true,
		func(context.Context) (bool, error) {
			last = l.validate(t)
			return cond(last), nil
		})
	if err != nil {
		t.Fatalf("%s: not within 90s; last report:\n%s", what, bad(last))
	}
	return last
}

// (re)apply changed rendered objects.
func (l *live) apply(t *testing.T, objs ...*unstructured.Unstructured) {
	t.Helper()
	if err := testcluster.Apply(context.Background(), l.c.Config, objs, false); err != nil {
		t.Fatal(err)
	}
}

func failing(r *check.Report, suite, name, target, msg string) bool {
	for _, c := range find(r, suite, name, target) {
		if c.Status == check.StatusFail && strings.Contains(c.Message, msg) {
			return true
		}
	}
	return false
}

// A clean dev, applied to a real control plane, passes every validation live;
// only the ConfigHub suites (no credentials) and the protected-only
// availability suite SKIP.
func TestLiveCleanDevPasses(t *testing.T) {
	t.Parallel()
	l := deploy(t, "dev")
	r := l.eventually(t, "clean dev passes", func(r *check.Report) bool { return r.Summary.Failed == 0 && r.Summary.Warnings == 0 })
	for _, c := range r.Checks {
		if c.Status != check.StatusSkip {
			continue
		}
		switch c.Suite {
		case SuiteConfigHubSpace, SuiteConfigHubUnits, SuiteConfigHubSync:
			if c.Message != NoCredentialsReason {
				t.Errorf("%s SKIP %q", c.Suite, c.Message)
			}
		case SuiteAvailability:
		default:
			t.Errorf("unexpected SKIP live: %s %s %s: %s", c.Suite, c.Name, c.Target, c.Message)
		}
	}
	// The live-only validations ran and passed.
	counts := map[string]int{}
	for _, c := range r.Checks {
		if c.Status == check.StatusPass {
			counts[c.Suite+"/"+c.Name]++
		}
	}
	deployments := len((&view{Snapshot: &cluster.Snapshot{}}).workloads()) // 9 services, 3 of them in two colours
	for key, want := range map[string]int{
		SuiteNamespace + "/active":               1,
		SuiteReplicas + "/running-replicas":      deployments,
		SuiteEndpoints + "/ready-endpoints":      len(traderx.Services()),
		SuitePods + "/no-crash-loop":             deployments,
		SuitePods + "/no-failed-pods":            deployments,
		SuiteNamespace + "/objects-in-namespace": 1,
	} {
		if counts[key] != want {
			t.Errorf("%d passing %s, want %d", counts[key], key, want)
		}
	}
}

func TestLiveDeletedService(t *testing.T) {
	t.Parallel()
	l := deploy(t, "dev")
	if err := l.c.Client.CoreV1().Services(l.env.Namespace()).Delete(context.Background(), "people-service", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r := l.validate(t)
	for _, want := range []struct{ suite, name, target, msg string }{
		{SuiteEndpoints, "exists", "service/people-service", "Service people-service not found"},
		{SuiteDependencies, "PEOPLE_SERVICE_HOST", "deployment/account-service", "Service people-service does not exist"},
		{SuiteIngress, "route", "/people-service", "backend Service people-service does not exist"},
	} {
		if !failing(r, want.suite, want.name, want.target, want.msg) {
			t.Errorf("%s %s %s does not fail with %q: %+v", want.suite, want.name, want.target, want.msg, find(r, want.suite, want.name, want.target))
		}
	}
	if r.ExitCode(check.FailOnFail) != check.ExitFailed {
		t.Errorf("exit code %d, want 1", r.ExitCode(check.FailOnFail))
	}
}

func TestLiveScaledDownDeployment(t *testing.T) {
	t.Parallel()
	l := deploy(t, "dev")
	d := obj(t, l.objs, "Deployment", "trade-feed")
	m(t, d.Object, "spec")["replicas"] = int64(0)
	l.apply(t, d)
	r := l.eventually(t, "trade-feed scaled down", func(r *check.Report) bool {
		return failing(r, SuiteReplicas, "running-replicas", "deployment/trade-feed", "0/1 available") &&
			failing(r, SuiteEndpoints, "ready-endpoints", "service/trade-feed", "no ready endpoints")
	})
	if !failing(r, SuiteReplicas, "desired-replicas", "deployment/trade-feed", "spec.replicas 0, the dev environment runs 1") {
		t.Errorf("desired-replicas: %+v", find(r, SuiteReplicas, "desired-replicas", "deployment/trade-feed"))
	}
}

func TestLiveCrashLoopingPod(t *testing.T) {
	t.Parallel()
	l := deploy(t, "dev")
	d := obj(t, l.objs, "Deployment", "people-service")
	m(t, d.Object, "spec", "template", "metadata", "labels")[testcluster.SimulationLabel] = testcluster.SimCrashLoop
	l.apply(t, d)
	r := l.eventually(t, "people-service crash-loops", func(r *check.Report) bool {
		return failing(r, SuitePods, "no-crash-loop", "deployment/people-service", "CrashLoopBackOff")
	})
	for _, c := range r.Checks {
		if c.Suite == SuitePods && c.Status == check.StatusFail && c.Target != "deployment/people-service" {
			t.Errorf("%s %s fails too: %s", c.Name, c.Target, c.Message)
		}
	}
}

// A missing namespace fails 03-namespace and SKIPs what lives inside it.
func TestLiveMissingNamespace(t *testing.T) {
	c := testcluster.Require(t, testCluster)
	env, _ := traderx.LookupEnvironment("dev")
	env.NamespaceOverride = fmt.Sprintf("validate-missing-%d", time.Now().UnixNano()%10000000)
	snap, err := cluster.Take(context.Background(), c.Client, env.Namespace())
	if err != nil {
		t.Fatal(err)
	}
	r := runWith(t, Input{Env: env, Snapshot: snap, ConfigHub: ConfigHubSkipped(NoCredentialsReason)})
	if !failing(r, SuiteNamespace, "exists", "namespace/"+env.Namespace(), "not found") {
		t.Errorf("namespace exists: %+v", find(r, SuiteNamespace, "exists", "namespace/"+env.Namespace()))
	}
	if r.Summary.Failed != 1 || r.Summary.Passed != 0 {
		t.Errorf("want exactly one failure and nothing passed:\n%s", bad(r))
	}
	for _, c := range r.Checks {
		if c.Suite != SuiteNamespace && c.Status != check.StatusSkip {
			t.Errorf("%s %s %s: %s, want SKIP", c.Suite, c.Name, c.Target, c.Status)
		}
	}
	if r.ExitCode(check.FailOnFail) != check.ExitFailed {
		t.Errorf("exit code %d, want 1", r.ExitCode(check.FailOnFail))
	}
}

// Without the database Secret the pods that reference it cannot start:
// suite 16 says so, reading the Secret's metadata only.
func TestLiveMissingSecret(t *testing.T) {
	t.Parallel()
	l := deploy(t, "dev")
	if err := l.c.Client.CoreV1().Secrets(l.env.Namespace()).Delete(context.Background(), traderx.DatabaseSecret, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	l.eventually(t, "missing Secret fails 16-secrets", func(r *check.Report) bool {
		return failing(r, SuiteSecrets, "secret-exists", "secret/"+traderx.DatabaseSecret, "not found in namespace "+l.env.Namespace())
	})
}
