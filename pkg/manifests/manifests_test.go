package manifests

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

var update = flag.Bool("update", false, "rewrite golden files")

func render(t *testing.T, envName string) []Unit {
	t.Helper()
	env, err := traderx.LookupEnvironment(envName)
	if err != nil {
		t.Fatal(err)
	}
	units, err := Render(env)
	if err != nil {
		t.Fatal(err)
	}
	return units
}

func typed[T any](t *testing.T, o *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func deploymentOf(t *testing.T, objs []*unstructured.Unstructured, name string) *appsv1.Deployment {
	t.Helper()
	o := find(objs, "Deployment", name)
	if o == nil {
		t.Fatalf("no Deployment %s", name)
	}
	return typed[appsv1.Deployment](t, o)
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// The whole rendered dev environment is pinned, so any change to the output
// shows up in review as a diff of testdata/dev.golden.yaml.
func TestGoldenDev(t *testing.T) {
	out, err := EncodeYAML(Objects(render(t, "dev")))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "dev.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/manifests -update)", err)
	}
	if diff := cmp.Diff(string(want), string(out)); diff != "" {
		t.Errorf("rendered dev differs from %s (-want +got):\n%s", golden, diff)
	}
}

func TestDeterministic(t *testing.T) {
	encoders := map[string]func([]*unstructured.Unstructured) ([]byte, error){"yaml": EncodeYAML, "json": EncodeJSON}
	for _, env := range traderx.EnvironmentNames() {
		for name, encode := range encoders {
			var out [2][]byte
			for i := range out {
				b, err := encode(Objects(render(t, env)))
				if err != nil {
					t.Fatalf("%s: %s render %d: %v", env, name, i+1, err)
				}
				out[i] = b
			}
			// Two empty outputs are equal too: the render must say something.
			if len(out[0]) == 0 || !bytes.Contains(out[0], []byte("Deployment")) {
				t.Errorf("%s: %s render holds no Deployment (%d bytes)", env, name, len(out[0]))
			}
			if !bytes.Equal(out[0], out[1]) {
				t.Errorf("%s: two %s renders differ", env, name)
			}
		}
	}
}

func TestEveryObjectLabelledAndNamespaced(t *testing.T) {
	for _, envName := range traderx.EnvironmentNames() {
		env, _ := traderx.LookupEnvironment(envName)
		for _, o := range Objects(render(t, envName)) {
			for _, l := range []string{LabelName, LabelPartOf, LabelVersion, LabelApp, LabelTier} {
				if o.GetLabels()[l] == "" {
					t.Errorf("%s: %s %s lacks label %s", envName, o.GetKind(), o.GetName(), l)
				}
			}
			if o.GetKind() != "Namespace" && o.GetNamespace() != env.Namespace() {
				t.Errorf("%s: %s %s in namespace %q, want %q", envName, o.GetKind(), o.GetName(), o.GetNamespace(), env.Namespace())
			}
		}
	}
}

func TestDeployments(t *testing.T) {
	for _, envName := range traderx.EnvironmentNames() {
		env, _ := traderx.LookupEnvironment(envName)
		objs := Objects(render(t, envName))
		for _, s := range traderx.Services() {
			name := s.DeploymentName(ActiveColour)
			d := deploymentOf(t, objs, name)
			c := d.Spec.Template.Spec.Containers[0]
			t.Run(envName+"/"+name, func(t *testing.T) {
				if s.Singleton {
					if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
						t.Errorf("singleton: replicas %d strategy %s, want 1 Recreate", *d.Spec.Replicas, d.Spec.Strategy.Type)
					}
				} else {
					ru := d.Spec.Strategy.RollingUpdate
					if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxSurge.IntValue() != 1 || ru.MaxUnavailable.IntValue() != 0 {
						t.Errorf("stateless: strategy %+v, want RollingUpdate surge 1 unavailable 0", d.Spec.Strategy)
					}
					if *d.Spec.Replicas != env.ReplicasFor(s) {
						t.Errorf("replicas %d, want %d", *d.Spec.Replicas, env.ReplicasFor(s))
					}
				}
				if c.Image != "ghcr.io/finos/traderx/"+s.Name+":"+env.ImageTag {
					t.Errorf("image %s", c.Image)
				}
				if c.Ports[0].ContainerPort != s.Port {
					t.Errorf("port %d, want %d", c.Ports[0].ContainerPort, s.Port)
				}
				if c.ReadinessProbe == nil || c.LivenessProbe == nil {
					t.Error("missing readiness or liveness probe")
				}
				if (s.Probes.Startup != nil) != (c.StartupProbe != nil) {
					t.Errorf("startup probe presence %v, model says %v", c.StartupProbe != nil, s.Probes.Startup != nil)
				}
				if c.WorkingDir != "" {
					t.Errorf("workingDir %q breaks the images' relative start commands", c.WorkingDir)
				}
				sc, psc := c.SecurityContext, d.Spec.Template.Spec.SecurityContext
				if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || *psc.RunAsUser != 1000 || *psc.FSGroup != 1000 ||
					psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("pod securityContext %+v", psc)
				}
				if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
					t.Errorf("container securityContext %+v", sc)
				}
				if len(d.Spec.Template.Annotations) != 0 {
					t.Errorf("pod annotations %v: no v1 image serves metrics", d.Spec.Template.Annotations)
				}
				if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
					t.Errorf("resources %+v", c.Resources)
				}
				wantSpread := env.Protected && env.ReplicasFor(s) > 1
				if got := len(d.Spec.Template.Spec.TopologySpreadConstraints) > 0; got != wantSpread {
					t.Errorf("topology spread %v, want %v", got, wantSpread)
				}
				if hasPDB := find(objs, "PodDisruptionBudget", s.Name) != nil; hasPDB != wantSpread {
					t.Errorf("PodDisruptionBudget present %v, want %v", hasPDB, wantSpread)
				}
			})
		}
	}
}

func TestWiring(t *testing.T) {
	objs := Objects(render(t, "dev"))
	tests := []struct {
		deployment string
		want       map[string]string
	}{
		{"account-service", map[string]string{"PEOPLE_SERVICE_HOST": "people-service", "DATABASE_TCP_HOST": "database", "DATABASE_TCP_PORT": "18082", "ACCOUNT_SERVICE_PORT": "18088"}},
		{"trade-processor", map[string]string{"DATABASE_TCP_HOST": "database", "TRADE_FEED_HOST": "trade-feed", "TRADE_PROCESSOR_SERVICE_PORT": "18091"}},
		{"trade-service-blue", map[string]string{"REFERENCE_DATA_HOST": "reference-data", "ACCOUNT_SERVICE_HOST": "account-service", "TRADE_FEED_HOST": "trade-feed", "TRADING_SERVICE_PORT": "18092", "CIRCUIT_BREAKER_ENABLED": "false"}},
		{"position-service-blue", map[string]string{"DATABASE_TCP_HOST": "database", "POSITION_SERVICE_PORT": "18090"}},
		{"people-service", map[string]string{"ASPNETCORE_HTTP_PORTS": "18089"}},
		{"web-front-end-angular", map[string]string{"WEB_SERVICE_PORT": "18093"}},
	}
	for _, tt := range tests {
		env := envOf(deploymentOf(t, objs, tt.deployment).Spec.Template.Spec.Containers[0])
		for k, v := range tt.want {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", tt.deployment, k, env[k], v)
			}
		}
	}
	// Variables from the older demo material that point the services nowhere.
	for _, name := range []string{"trade-processor"} {
		env := envOf(deploymentOf(t, objs, name).Spec.Template.Spec.Containers[0])
		for _, bad := range []string{"PYTHON_ENV", "TRADE_SERVICE_URL"} {
			if _, ok := env[bad]; ok {
				t.Errorf("%s sets %s", name, bad)
			}
		}
	}
}

func TestBlueGreen(t *testing.T) {
	objs := Objects(render(t, "prod"))
	for _, s := range traderx.Services() {
		if !s.BlueGreen {
			if find(objs, "Deployment", s.Name+"-blue") != nil {
				t.Errorf("%s is not blue-green but has a blue Deployment", s.Name)
			}
			continue
		}
		blue, green := deploymentOf(t, objs, s.Name+"-blue"), deploymentOf(t, objs, s.Name+"-green")
		if blue.Spec.Template.Labels[LabelColour] != "blue" || green.Spec.Template.Labels[LabelColour] != "green" {
			t.Errorf("%s: colour labels %v / %v", s.Name, blue.Spec.Template.Labels, green.Spec.Template.Labels)
		}
		if *green.Spec.Replicas != 0 {
			t.Errorf("%s-green: %d replicas, want 0 until a switch", s.Name, *green.Spec.Replicas)
		}
		svc := typed[corev1.Service](t, find(objs, "Service", s.Name))
		if diff := cmp.Diff(map[string]string{"app": s.Name, "color": "blue"}, svc.Spec.Selector); diff != "" {
			t.Errorf("%s Service selector (-want +got):\n%s", s.Name, diff)
		}
	}
}

func TestServicesListenOnNativePorts(t *testing.T) {
	objs := Objects(render(t, "staging"))
	for _, s := range traderx.Services() {
		svc := typed[corev1.Service](t, find(objs, "Service", s.Name))
		if svc.Spec.Ports[0].Port != s.Port || svc.Spec.Ports[0].TargetPort.IntValue() != int(s.Port) {
			t.Errorf("%s: port %d→%s, want %d→%d (consumers append the native port to *_HOST)", s.Name, svc.Spec.Ports[0].Port, svc.Spec.Ports[0].TargetPort.String(), s.Port, s.Port)
		}
	}
}

func TestIngressRoutes(t *testing.T) {
	objs := Objects(render(t, "dev"))
	type route struct {
		path, backend string
		port          int32
	}
	var api, web []route
	for name, dst := range map[string]*[]route{APIIngressName: &api, WebIngressName: &web} {
		ing := typed[networkingv1.Ingress](t, find(objs, "Ingress", name))
		if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "traderx-dev.local" {
			t.Fatalf("%s: rules %+v", name, ing.Spec.Rules)
		}
		for _, p := range ing.Spec.Rules[0].HTTP.Paths {
			*dst = append(*dst, route{p.Path, p.Backend.Service.Name, p.Backend.Service.Port.Number})
		}
		_, rewrites := ing.Annotations["nginx.ingress.kubernetes.io/rewrite-target"]
		if rewrites != (name == APIIngressName) {
			t.Errorf("%s: rewrite-target present=%v", name, rewrites)
		}
	}
	wantAPI := []route{
		{"/reference-data(/|$)(.*)", "reference-data", 18085},
		{"/people-service(/|$)(.*)", "people-service", 18089},
		{"/account-service(/|$)(.*)", "account-service", 18088},
		{"/position-service(/|$)(.*)", "position-service", 18090},
		{"/trade-service(/|$)(.*)", "trade-service", 18092},
	}
	wantWeb := []route{{"/socket.io/", "trade-feed", 18086}, {"/", "web-front-end-angular", 18093}}
	if diff := cmp.Diff(wantAPI, api, cmp.AllowUnexported(route{})); diff != "" {
		t.Errorf("API routes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantWeb, web, cmp.AllowUnexported(route{})); diff != "" {
		t.Errorf("web routes (-want +got):\n%s", diff)
	}
}

func TestUnits(t *testing.T) {
	units := render(t, "dev")
	var names []string
	last := -1
	for _, u := range units {
		names = append(names, u.Name)
		if u.Tier < last {
			t.Errorf("unit %s (tier %d) after tier %d", u.Name, u.Tier, last)
		}
		last = u.Tier
		if len(u.Objects) == 0 {
			t.Errorf("unit %s is empty", u.Name)
		}
	}
	for _, want := range []string{"namespace", "network-policies", "database-deployment", "database-service", "trade-service-blue-deployment", "trade-service-green-deployment", "trade-service-service", "ingress"} {
		if !slices.Contains(names, want) {
			t.Errorf("no unit %s in %v", want, names)
		}
	}
	if names[0] != NamespaceUnit || names[len(names)-1] != IngressUnit {
		t.Errorf("order %v: namespace first and ingress last", names)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		wantErr  string
	}{
		{"multi-doc", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n", 2, ""},
		{"list", `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]}`, 1, ""},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", 0, "missing apiVersion or kind"},
		{"bad yaml", "a: [b\n", 0, "document 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Decode([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(objs) != tt.want {
				t.Fatalf("got %d objects, %v; want %d", len(objs), err, tt.want)
			}
		})
	}
}
