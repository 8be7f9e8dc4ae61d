package manifests

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/finos/traderx-plugins/pkg/netpol"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

var testCluster *cluster.Cluster

func TestMain(m *testing.M) {
	cluster.Exit(cluster.Main(m, &testCluster, cluster.Options{
		Users:  []string{"worker"},
		Groups: map[string][]string{"worker": {WorkersGroup}},
	}))
}

// renderInto renders an environment into a namespace of its own, so tests of
// one package share a cluster without colliding.
func renderInto(t *testing.T, envName, ns string) []Unit {
	t.Helper()
	env, err := traderx.LookupEnvironment(envName)
	if err != nil {
		t.Fatal(err)
	}
	env.NamespaceOverride = ns
	units, err := Render(env)
	if err != nil {
		t.Fatal(err)
	}
	return units
}

// Every object of every environment passes the API server's validation and
// admission (server-side dry-run apply). The namespace unit is applied for
// real first: a dry-run namespace does not exist for the objects inside it.
func TestServerSideDryRunEveryEnvironment(t *testing.T) {
	c := cluster.Require(t, testCluster)
	ctx := context.Background()
	for _, envName := range traderx.EnvironmentNames() {
		t.Run(envName, func(t *testing.T) {
			units := renderInto(t, envName, c.NamespaceName(t))
			if err := cluster.Apply(ctx, c.Config, units[0].Objects, false); err != nil {
				t.Fatal(err)
			}
			if err := cluster.Apply(ctx, c.Config, Objects(units[1:]), true); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDevEnvironmentBecomesAvailable(t *testing.T) {
	c := cluster.Require(t, testCluster)
	ctx := context.Background()
	ns := c.NamespaceName(t)
	if err := cluster.Apply(ctx, c.Config, Objects(renderInto(t, "dev", ns)), false); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitDeploymentsAvailable(ctx, c.Client, ns, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	deps, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 9 services, 3 of them blue-green with a standby colour.
	if len(deps.Items) != 12 {
		t.Errorf("%d Deployments, want 12", len(deps.Items))
	}
}

// The policies, as stored by the API server, admit exactly the model's
// dependency edges between services, the ingress controller to routed
// services, and nothing from other namespaces.
func TestNetworkPoliciesAllowExactlyDependencyEdges(t *testing.T) {
	c := cluster.Require(t, testCluster)
	ctx := context.Background()
	ns := c.NamespaceName(t)
	if err := cluster.Apply(ctx, c.Config, Objects(renderInto(t, "dev", ns)), false); err != nil {
		t.Fatal(err)
	}
	stored, err := c.Client.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := map[string]netpol.Pod{} // by Deployment, so both colours are covered
	for _, d := range deps.Items {
		pods[d.Name] = netpol.Pod{Namespace: ns, NamespaceLabels: nsObj.Labels, Labels: d.Spec.Template.Labels}
	}
	edges := map[traderx.Edge]bool{}
	for _, e := range traderx.Edges() {
		edges[e] = true
	}
	for fromDep, from := range pods {
		for toDep, to := range pods {
			fromSvc, toSvc := from.Labels[LabelApp], to.Labels[LabelApp]
			target, _ := traderx.LookupService(toSvc)
			for _, port := range append([]int32{target.Port}, extraPorts(target)...) {
				want := edges[traderx.Edge{From: fromSvc, To: toSvc}] && port == target.Port
				if got := netpol.Allowed(stored.Items, from, to, netpol.Port{Number: port, Protocol: corev1.ProtocolTCP}); got != want {
					t.Errorf("%s → %s:%d allowed=%v, want %v", fromDep, toDep, port, got, want)
				}
			}
		}
		if !netpol.Isolated(stored.Items, from) {
			t.Errorf("%s is not isolated by a default deny", fromDep)
		}
	}
	controller := netpol.Pod{Namespace: IngressControllerNamespace,
		NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": IngressControllerNamespace},
		Labels:          map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
	prober := netpol.Pod{Namespace: MonitoringNamespace,
		NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": MonitoringNamespace},
		Labels:          map[string]string{"app.kubernetes.io/name": "blackbox-exporter"}}
	stranger := netpol.Pod{Namespace: "elsewhere", NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "elsewhere"},
		Labels: map[string]string{LabelApp: "trade-service"}}
	for dep, to := range pods {
		s, _ := traderx.LookupService(to.Labels[LabelApp])
		port := netpol.Port{Number: s.Port}
		if got, want := netpol.Allowed(stored.Items, controller, to, port), len(s.Routes) > 0; got != want {
			t.Errorf("ingress controller → %s allowed=%v, want %v", dep, got, want)
		}
		if !netpol.Allowed(stored.Items, prober, to, port) {
			t.Errorf("the monitoring namespace cannot probe %s on its port %d", dep, s.Port)
		}
		if len(s.ExtraPorts) > 0 && netpol.Allowed(stored.Items, prober, to, netpol.Port{Number: s.ExtraPorts[0].Port}) {
			t.Errorf("the monitoring namespace reaches %s beyond its main port", dep)
		}
		if netpol.Allowed(stored.Items, stranger, to, port) {
			t.Errorf("a pod from another namespace reaches %s", dep)
		}
	}
}

func extraPorts(s traderx.Service) []int32 {
	var out []int32
	for _, p := range s.ExtraPorts {
		out = append(out, p.Port)
	}
	return out
}

// The ConfigHub worker's role is enough to apply every unit of an
// environment, and nothing outside the environment's namespace.
func TestWorkerRoleAppliesTheEnvironmentOnly(t *testing.T) {
	c := cluster.Require(t, testCluster)
	ctx := context.Background()
	env, _ := traderx.LookupEnvironment("prod")
	env.NamespaceOverride = c.NamespaceName(t)
	units, err := Render(env)
	if err != nil {
		t.Fatal(err)
	}
	// An administrator sets up the namespace and the roles once.
	if err := cluster.Apply(ctx, c.Config, units[0].Objects, false); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Apply(ctx, c.Config, RBAC(env), false); err != nil {
		t.Fatal(err)
	}
	worker, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigFor("worker"))
	if err != nil {
		t.Fatal(err)
	}
	// RBAC changes reach the authorizer within moments.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		return cluster.Apply(ctx, worker, Objects(units), false) == nil, nil
	})
	if err != nil {
		t.Fatalf("the worker role cannot apply the environment: %v", cluster.Apply(ctx, worker, Objects(units), false))
	}
	var other *unstructured.Unstructured
	for _, o := range Objects(units) {
		if o.GetKind() == "Deployment" {
			other = o.DeepCopy()
			break
		}
	}
	other.SetNamespace("default")
	if err := cluster.Apply(ctx, worker, []*unstructured.Unstructured{other}, false); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("the worker applied a Deployment outside its namespace: %v", err)
	}
}
