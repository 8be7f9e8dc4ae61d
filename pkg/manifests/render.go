// Package manifests renders the Kubernetes objects of a TraderX environment from
// embedded templates and the application model. Output is deterministic: the same
// model and environment always give the same bytes, so rendered units can be
// diffed, stored in ConfigHub and compared with live state.
package manifests

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

//go:embed templates/*.yaml.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"json": func(v any) (string, error) {
		// JSON is valid YAML, so structured values are inlined as JSON: no
		// indentation bookkeeping in the templates.
		b, err := json.Marshal(v)
		return string(b), err
	},
}).ParseFS(templateFS, "templates/*.yaml.tmpl"))

// Well-known names and labels shared by every rendered object.
const (
	ServiceAccountName = "traderx"
	PartOf             = "traderx"

	LabelName        = "app.kubernetes.io/name"
	LabelPartOf      = "app.kubernetes.io/part-of"
	LabelVersion     = "app.kubernetes.io/version"
	LabelComponent   = "app.kubernetes.io/component"
	LabelApp         = "app"
	LabelColour      = "color"
	LabelTier        = "traderx.finos.org/tier"
	LabelEnvironment = "traderx.finos.org/environment"

	// IngressControllerNamespace is where the ingress controller runs; the
	// network policies admit it to every routed service.
	IngressControllerNamespace = "ingress-nginx"
	// MonitoringNamespace is where Prometheus and the blackbox exporter run;
	// they may reach every service's main port to probe it.
	MonitoringNamespace = "monitoring"
	IngressClassName    = "nginx"

	// APIIngressName strips path prefixes; WebIngressName keeps them. They are
	// two objects because ingress-nginx applies rewrite-target to every path of
	// an Ingress, and socket.io and the front end must keep their paths.
	APIIngressName = "traderx-api"
	WebIngressName = "traderx-web"

	DefaultDenyPolicyName = "default-deny-ingress"
	MonitoringPolicyName  = "allow-monitoring-probes"
)

// Unit names of environment-level objects.
const (
	NamespaceUnit       = "namespace"
	NetworkPoliciesUnit = "network-policies"
	IngressUnit         = "ingress"
)

// Unit is a group of objects managed together, one ConfigHub unit.
type Unit struct {
	Name    string
	Tier    int
	Service string // empty for environment-level units
	Colour  string // set for the Deployment units of blue-green services
	Objects []*unstructured.Unstructured
}

// DeploymentUnitName is the unit holding a service's Deployment (of a colour
// for blue-green services).
func DeploymentUnitName(s traderx.Service, colour string) string {
	return s.DeploymentName(colour) + "-deployment"
}

// ServiceUnitName is the unit holding a service's Service (and its
// PodDisruptionBudget where there is one).
func ServiceUnitName(s traderx.Service) string { return s.Name + "-service" }

// ActiveColour is the colour a fresh environment serves from.
const ActiveColour = traderx.Blue

// Render returns the units of an environment in apply order.
func Render(env traderx.Environment) ([]Unit, error) {
	r := renderer{env: env}
	var units []Unit

	ns, err := r.objects("namespace.yaml.tmpl", map[string]any{
		"Namespace": env.Namespace(), "ServiceAccount": ServiceAccountName,
		"Labels": r.labels("namespace", "namespace", traderx.NamespaceTier),
	})
	if err != nil {
		return nil, err
	}
	units = append(units, Unit{Name: NamespaceUnit, Tier: traderx.NamespaceTier, Objects: ns})

	policies, err := r.networkPolicies()
	if err != nil {
		return nil, err
	}
	// Policies go with the first service tier so no pod ever runs unprotected.
	units = append(units, Unit{Name: NetworkPoliciesUnit, Tier: 1, Objects: policies})

	for _, s := range traderx.Services() {
		colours := []string{""}
		if s.BlueGreen {
			colours = traderx.Colours()
		}
		for _, c := range colours {
			d, err := r.deployment(s, c)
			if err != nil {
				return nil, err
			}
			units = append(units, Unit{Name: DeploymentUnitName(s, c), Tier: traderx.TierOf(s.Name), Service: s.Name, Colour: c, Objects: d})
		}
		svc, err := r.service(s)
		if err != nil {
			return nil, err
		}
		units = append(units, Unit{Name: ServiceUnitName(s), Tier: traderx.TierOf(s.Name), Service: s.Name, Objects: svc})
	}

	ing, err := r.ingresses()
	if err != nil {
		return nil, err
	}
	units = append(units, Unit{Name: IngressUnit, Tier: traderx.IngressTier(), Objects: ing})

	sort.SliceStable(units, func(i, j int) bool { return units[i].Tier < units[j].Tier })
	return units, nil
}

// Objects flattens units into their objects, in apply order.
func Objects(units []Unit) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range units {
		out = append(out, u.Objects...)
	}
	return out
}

type renderer struct{ env traderx.Environment }

func (r renderer) labels(name, component string, tier int) map[string]string {
	return map[string]string{
		LabelName:        name,
		LabelPartOf:      PartOf,
		LabelVersion:     r.env.ImageTag,
		LabelComponent:   component,
		LabelApp:         name,
		LabelTier:        strconv.Itoa(tier),
		LabelEnvironment: r.env.Name,
	}
}

// Selector returns the pod selector of a service's Service: the active colour
// only for blue-green services.
func Selector(s traderx.Service, colour string) map[string]string {
	sel := map[string]string{LabelApp: s.Name}
	if s.BlueGreen && colour != "" {
		sel[LabelColour] = colour
	}
	return sel
}

func (r renderer) deployment(s traderx.Service, colour string) ([]*unstructured.Unstructured, error) {
	replicas := r.env.ReplicasFor(s)
	if s.BlueGreen && colour != ActiveColour {
		// The standby colour exists so a blue-green switch only changes data of
		// existing units; it runs nothing until a switch scales it up.
		replicas = 0
	}
	labels := r.labels(s.Name, "service", traderx.TierOf(s.Name))
	sel := map[string]string{LabelApp: s.Name}
	if s.BlueGreen {
		labels[LabelColour] = colour
		sel[LabelColour] = colour
	}
	podLabels := maps.Clone(labels)

	var strategy appsv1.DeploymentStrategy
	if s.Singleton {
		strategy.Type = appsv1.RecreateDeploymentStrategyType
	} else {
		one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
		strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
		strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &one, MaxUnavailable: &zero}
	}

	var spread []corev1.TopologySpreadConstraint
	if r.env.Protected && r.env.ReplicasFor(s) > 1 {
		spread = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
			WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: sel},
		}}
	}

	var annotations map[string]string
	if s.Metrics {
		annotations = map[string]string{
			"prometheus.io/scrape": "true",
			"prometheus.io/port":   strconv.Itoa(int(s.Port)),
			"prometheus.io/path":   "/metrics",
		}
	}

	res, err := containerResources(r.env.ResourcesFor(s))
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", s.Name, err)
	}
	env, err := r.containerEnv(s)
	if err != nil {
		return nil, err
	}

	var startup *corev1.Probe
	if s.Probes.Startup != nil {
		// Up to 5 minutes to start; liveness takes over afterwards.
		startup = probe(*s.Probes.Startup, s.Port, 0, 10, 3, 30)
	}
	return r.objects("deployment.yaml.tmpl", map[string]any{
		"Name": s.DeploymentName(colour), "Namespace": r.env.Namespace(), "Labels": labels,
		"Replicas": replicas, "Selector": sel, "Strategy": strategy,
		"PodLabels": podLabels, "PodAnnotations": annotations, "ServiceAccount": ServiceAccountName,
		"TopologySpread": spread, "Container": s.Name, "Image": s.Image(r.env.ImageTag),
		"Ports": containerPorts(s), "Env": env, "Resources": res,
		"Readiness": probe(s.Probes.Readiness, s.Port, 5, 5, 3, 3),
		"Liveness":  probe(s.Probes.Liveness, s.Port, 10, 10, 5, 3),
		"Startup":   startup,
	})
}

// PortName is the name of a service's main port.
func PortName(s traderx.Service) string {
	if s.Name == "database" {
		return "jdbc"
	}
	return "http"
}

func containerPorts(s traderx.Service) []corev1.ContainerPort {
	ports := []corev1.ContainerPort{{Name: PortName(s), ContainerPort: s.Port, Protocol: corev1.ProtocolTCP}}
	for _, p := range s.ExtraPorts {
		ports = append(ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.Port, Protocol: corev1.ProtocolTCP})
	}
	return ports
}

func (r renderer) containerEnv(s traderx.Service) ([]corev1.EnvVar, error) {
	env := []corev1.EnvVar{{Name: s.PortEnv, Value: strconv.Itoa(int(s.Port))}}
	for _, w := range s.Wires {
		v, err := traderx.WireValue(w)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
		env = append(env, corev1.EnvVar{Name: w.Env, Value: v})
	}
	for _, e := range s.Env {
		env = append(env, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	for _, e := range s.SecretEnv {
		env = append(env, corev1.EnvVar{Name: e.Name, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: e.Secret}, Key: e.Key}}})
	}
	if len(s.Wires) > 0 {
		cb := r.env.CircuitBreaker
		env = append(env,
			corev1.EnvVar{Name: "CIRCUIT_BREAKER_ENABLED", Value: strconv.FormatBool(cb.Enabled)},
			corev1.EnvVar{Name: "CIRCUIT_BREAKER_THRESHOLD", Value: strconv.Itoa(cb.Threshold)},
			corev1.EnvVar{Name: "CIRCUIT_BREAKER_TIMEOUT", Value: cb.Timeout},
		)
	}
	// A service wired twice to the same variable would be a model bug; the
	// second value would silently win in Kubernetes.
	seen := map[string]bool{}
	for _, e := range env {
		if seen[e.Name] {
			return nil, fmt.Errorf("service %s: env %s set twice", s.Name, e.Name)
		}
		seen[e.Name] = true
	}
	return env, nil
}

func containerResources(r traderx.Resources) (corev1.ResourceRequirements, error) {
	parse := func(field, v string) (resource.Quantity, error) {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return q, fmt.Errorf("resource %s %q: %w", field, v, err)
		}
		return q, nil
	}
	var out corev1.ResourceRequirements
	out.Requests, out.Limits = corev1.ResourceList{}, corev1.ResourceList{}
	for _, f := range []struct {
		list corev1.ResourceList
		name corev1.ResourceName
		v    string
	}{
		{out.Requests, corev1.ResourceCPU, r.RequestCPU}, {out.Requests, corev1.ResourceMemory, r.RequestMemory},
		{out.Limits, corev1.ResourceCPU, r.LimitCPU}, {out.Limits, corev1.ResourceMemory, r.LimitMemory},
	} {
		q, err := parse(string(f.name), f.v)
		if err != nil {
			return out, err
		}
		f.list[f.name] = q
	}
	return out, nil
}

func probe(p traderx.Probe, defaultPort int32, delay, period, timeout, failures int32) *corev1.Probe {
	port := p.Port
	if port == 0 {
		port = defaultPort
	}
	out := &corev1.Probe{InitialDelaySeconds: delay, PeriodSeconds: period, TimeoutSeconds: timeout, FailureThreshold: failures}
	if p.Kind == traderx.ProbeHTTP {
		out.HTTPGet = &corev1.HTTPGetAction{Path: p.Path, Port: intstr.FromInt32(port)}
	} else {
		out.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}
	}
	return out
}

func (r renderer) service(s traderx.Service) ([]*unstructured.Unstructured, error) {
	ports := []corev1.ServicePort{{Name: PortName(s), Port: s.Port, TargetPort: intstr.FromInt32(s.Port), Protocol: corev1.ProtocolTCP}}
	for _, p := range s.ExtraPorts {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Port: p.Port, TargetPort: intstr.FromInt32(p.Port), Protocol: corev1.ProtocolTCP})
	}
	labels := r.labels(s.Name, "service", traderx.TierOf(s.Name))
	objs, err := r.objects("service.yaml.tmpl", map[string]any{
		"Name": s.Name, "Namespace": r.env.Namespace(), "Labels": labels,
		"Selector": Selector(s, ActiveColour), "Ports": ports,
	})
	if err != nil {
		return nil, err
	}
	if r.env.Protected && r.env.ReplicasFor(s) > 1 {
		// Selects every colour, so the budget still holds after a blue-green switch.
		pdb, err := r.objects("pdb.yaml.tmpl", map[string]any{
			"Name": s.Name, "Namespace": r.env.Namespace(), "Labels": labels,
			"Selector": map[string]string{LabelApp: s.Name},
		})
		if err != nil {
			return nil, err
		}
		objs = append(objs, pdb...)
	}
	return objs, nil
}

func (r renderer) ingresses() ([]*unstructured.Unstructured, error) {
	prefix := networkingv1.PathTypePrefix
	regex := networkingv1.PathTypeImplementationSpecific
	var api, web []networkingv1.HTTPIngressPath
	for _, s := range traderx.Services() {
		for _, rt := range s.Routes {
			backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: s.Name, Port: networkingv1.ServiceBackendPort{Number: s.Port}}}
			if rt.StripPrefix {
				api = append(api, networkingv1.HTTPIngressPath{Path: rt.Path + "(/|$)(.*)", PathType: &regex, Backend: backend})
			} else {
				web = append(web, networkingv1.HTTPIngressPath{Path: rt.Path, PathType: &prefix, Backend: backend})
			}
		}
	}
	labels := r.labels("ingress", "ingress", traderx.IngressTier())
	var out []*unstructured.Unstructured
	for _, ing := range []struct {
		name        string
		paths       []networkingv1.HTTPIngressPath
		annotations map[string]string
	}{
		{APIIngressName, api, map[string]string{
			"nginx.ingress.kubernetes.io/use-regex":      "true",
			"nginx.ingress.kubernetes.io/rewrite-target": "/$2",
		}},
		// socket.io keeps long-lived WebSocket connections open.
		{WebIngressName, web, map[string]string{
			"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
			"nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
		}},
	} {
		objs, err := r.objects("ingress.yaml.tmpl", map[string]any{
			"Name": ing.name, "Namespace": r.env.Namespace(), "Labels": labels, "Annotations": ing.annotations,
			"ClassName": IngressClassName, "Host": r.env.Host, "Paths": ing.paths,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// EdgePolicyName names the policy admitting one dependency edge.
func EdgePolicyName(e traderx.Edge) string { return "allow-" + e.From + "-to-" + e.To }

// IngressPolicyName names the policy admitting the ingress controller to a service.
func IngressPolicyName(service string) string { return "allow-ingress-controller-to-" + service }

func (r renderer) networkPolicies() ([]*unstructured.Unstructured, error) {
	tier := 1
	labels := r.labels("network-policies", "network-policy", tier)
	tcp := corev1.ProtocolTCP
	type policy struct {
		name     string
		selector metav1.LabelSelector
		ingress  []networkingv1.NetworkPolicyIngressRule
	}
	policies := []policy{{name: DefaultDenyPolicyName, ingress: []networkingv1.NetworkPolicyIngressRule{}}}
	for _, e := range traderx.Edges() {
		to, err := traderx.LookupService(e.To)
		if err != nil {
			return nil, err
		}
		port := intstr.FromInt32(to.Port)
		policies = append(policies, policy{
			name:     EdgePolicyName(e),
			selector: metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: e.To}},
			ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: e.From}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
			}},
		})
	}
	for _, s := range traderx.Services() {
		if len(s.Routes) == 0 {
			continue
		}
		port := intstr.FromInt32(s.Port)
		policies = append(policies, policy{
			name:     IngressPolicyName(s.Name),
			selector: metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: s.Name}},
			ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"kubernetes.io/metadata.name": IngressControllerNamespace}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
			}},
		})
	}
	var probePorts []networkingv1.NetworkPolicyPort
	for _, s := range traderx.Services() {
		port := intstr.FromInt32(s.Port)
		probePorts = append(probePorts, networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &port})
	}
	policies = append(policies, policy{
		name:     MonitoringPolicyName,
		selector: metav1.LabelSelector{MatchLabels: map[string]string{LabelPartOf: PartOf}},
		ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": MonitoringNamespace}}}},
			Ports: probePorts,
		}},
	})
	var out []*unstructured.Unstructured
	for _, p := range policies {
		objs, err := r.objects("networkpolicy.yaml.tmpl", map[string]any{
			"Name": p.name, "Namespace": r.env.Namespace(), "Labels": labels,
			"PodSelector": p.selector, "Ingress": p.ingress,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// objects executes a template and decodes each YAML document, strictly checking
// it against its Kubernetes type so a template mistake fails rendering instead
// of reaching a cluster.
func (r renderer) objects(name string, data any) ([]*unstructured.Unstructured, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	objs, err := Decode(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	for _, o := range objs {
		if err := strictCheck(o); err != nil {
			return nil, fmt.Errorf("render %s: %s %s: %w", name, o.GetKind(), o.GetName(), err)
		}
	}
	return objs, nil
}

var typedKinds = map[string]func() any{
	"Namespace":           func() any { return &corev1.Namespace{} },
	"ServiceAccount":      func() any { return &corev1.ServiceAccount{} },
	"Service":             func() any { return &corev1.Service{} },
	"Deployment":          func() any { return &appsv1.Deployment{} },
	"PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
	"Ingress":             func() any { return &networkingv1.Ingress{} },
	"NetworkPolicy":       func() any { return &networkingv1.NetworkPolicy{} },
}

func strictCheck(o *unstructured.Unstructured) error {
	newObj, ok := typedKinds[o.GetKind()]
	if !ok {
		return fmt.Errorf("unexpected kind %q", o.GetKind())
	}
	b, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, newObj())
}

// Decode parses a multi-document YAML or JSON stream into objects; empty
// documents are skipped and a document without apiVersion/kind is an error.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for i, doc := range splitDocuments(data) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("document %d: missing apiVersion or kind", i+1)
		}
		if u.IsList() {
			items, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i+1, err)
			}
			for j := range items.Items {
				out = append(out, &items.Items[j])
			}
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimRight(line, " \t\r") == "---" {
			docs = append(docs, []byte(strings.Join(cur, "\n")))
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return append(docs, []byte(strings.Join(cur, "\n")))
}
