// Package traderx is the single model of the TraderX (v1) application: which
// services exist, how they are wired to each other, and how environments differ.
// Every other package derives its objects, checks and orderings from it.
//
// Facts (ports, images, env variables, health endpoints, dependency edges) follow
// the upstream finos/traderX v1 code, not the older ConfigHub demo material, which
// has wrong ports, runtimes and dependencies.
package traderx

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ImageRepository is where FINOS publishes the v1 images.
const ImageRepository = "ghcr.io/finos/traderx"

// ProbeKind says how the kubelet probes a container.
type ProbeKind string

const (
	ProbeHTTP ProbeKind = "http"
	ProbeTCP  ProbeKind = "tcp"
)

// Probe is one probe handler. Port is always the service's native port unless set.
type Probe struct {
	Kind ProbeKind
	Path string // HTTP only
	Port int32
}

// ProbeSet is the recommended probing of a service. Startup is set for services
// that are slow to start (Spring Boot, ng serve), so liveness does not kill them
// while they boot.
type ProbeSet struct {
	Readiness Probe
	Liveness  Probe
	Startup   *Probe
}

// WireKind says what an environment variable carries about its target service.
type WireKind int

const (
	// WireHost carries the target's Service name; the application appends the
	// native port itself, so the Service must listen on that port.
	WireHost WireKind = iota
	// WirePort carries the target's native port.
	WirePort
)

// Wire is one environment variable through which a service finds another.
type Wire struct {
	Env    string
	Target string
	Kind   WireKind
}

// DatabaseSecret is the Secret holding the H2 credentials. It is created in
// each environment's namespace by an operator, never stored in ConfigHub:
// unit data carries only references to it.
const DatabaseSecret = "traderx-database"

// SecretEnv is an environment variable read from a key of a Secret.
type SecretEnv struct {
	Name, Secret, Key string
}

// databaseCredentials are the variables through which the database and its
// clients read the H2 user and password.
var databaseCredentials = []SecretEnv{
	{Name: "DATABASE_DBUSER", Secret: DatabaseSecret, Key: "username"},
	{Name: "DATABASE_DBPASS", Secret: DatabaseSecret, Key: "password"},
}

// EnvVar is a literal environment variable a service needs to start correctly.
type EnvVar struct {
	Name  string
	Value string
}

// NamedPort is an extra container port besides the service's main port.
type NamedPort struct {
	Name string
	Port int32
}

// Resources are container requests and limits in Kubernetes quantity notation.
type Resources struct {
	RequestCPU, RequestMemory string
	LimitCPU, LimitMemory     string
}

// Route is a path of the front end's single host that the ingress sends to a service.
type Route struct {
	Path string
	// StripPrefix removes Path before forwarding (the backend serves at /).
	StripPrefix bool
}

// Service is one TraderX microservice.
type Service struct {
	Name    string
	Runtime string
	Port    int32
	// PortEnv is the variable the application reads its listening port from.
	PortEnv    string
	ExtraPorts []NamedPort
	// HealthPath is the HTTP path that tells whether the service works; empty when
	// the service has none and is judged by TCP only.
	HealthPath string
	Probes     ProbeSet
	Wires      []Wire
	Env        []EnvVar
	// SecretEnv are variables read from Secrets (credentials), never literals.
	SecretEnv []SecretEnv
	Resources Resources
	// Singleton services must run exactly one replica; SingletonReason says
	// why, for the people reading a report or a refusal.
	Singleton       bool
	SingletonReason string
	// BlueGreen services run as <name>-blue and <name>-green Deployments.
	BlueGreen bool
	// Metrics is true only when the image serves Prometheus metrics; no v1 image does.
	Metrics bool
	Routes  []Route
	// Frontend services have no server-side dependencies but are useless until
	// every backend answers, so they are applied after all of them.
	Frontend bool
	// SLO is the seed's availability tier and latency target of the service;
	// alert rules, dashboard and docs are generated from it.
	SLO SLO
}

// Image returns the service's image reference for a tag.
func (s Service) Image(tag string) string {
	return fmt.Sprintf("%s/%s:%s", ImageRepository, s.Name, tag)
}

// Dependencies returns the services this one calls, sorted, derived from its wiring.
func (s Service) Dependencies() []string {
	var deps []string
	for _, w := range s.Wires {
		if !slices.Contains(deps, w.Target) {
			deps = append(deps, w.Target)
		}
	}
	sort.Strings(deps)
	return deps
}

// HasDependency reports whether s calls the named service.
func (s Service) HasDependency(name string) bool {
	return slices.ContainsFunc(s.Wires, func(w Wire) bool { return w.Target == name })
}

// Stateless reports whether the service may run several replicas.
func (s Service) Stateless() bool { return !s.Singleton }

// Colours of blue-green Deployments.
const (
	Blue  = "blue"
	Green = "green"
)

// Colours lists the colours in a stable order.
func Colours() []string { return []string{Blue, Green} }

// OtherColour returns the colour that is not c.
func OtherColour(c string) string {
	if c == Blue {
		return Green
	}
	return Blue
}

// DeploymentName returns the Deployment name of a service, for a colour when the
// service is blue-green (colour is ignored otherwise).
func (s Service) DeploymentName(colour string) string {
	if s.BlueGreen {
		return s.Name + "-" + colour
	}
	return s.Name
}

func httpProbe(path string, port int32) Probe { return Probe{Kind: ProbeHTTP, Path: path, Port: port} }
func tcpProbe(port int32) Probe               { return Probe{Kind: ProbeTCP, Port: port} }

func portString(p int32) string { return strconv.Itoa(int(p)) }

var (
	smallResources    = Resources{RequestCPU: "200m", RequestMemory: "256Mi", LimitCPU: "500m", LimitMemory: "512Mi"}
	criticalResources = Resources{RequestCPU: "500m", RequestMemory: "512Mi", LimitCPU: "1000m", LimitMemory: "1Gi"}
)

// services is the whole application. Keep it the only list of services.
var services = []Service{
	{
		Name: "database", Runtime: "Java 21, H2 server", Port: 18082, PortEnv: "DATABASE_TCP_PORT",
		ExtraPorts: []NamedPort{{Name: "pg", Port: 18083}, {Name: "web", Port: 18084}},
		Probes:     ProbeSet{Readiness: tcpProbe(18082), Liveness: tcpProbe(18082)},
		Env: []EnvVar{
			{Name: "DATABASE_PG_PORT", Value: "18083"},
			{Name: "DATABASE_WEB_PORT", Value: "18084"},
			{Name: "DATABASE_DBNAME", Value: "traderx"},
			{Name: "DATABASE_WEB_HOSTNAMES", Value: "database"},
		},
		SecretEnv:       databaseCredentials,
		Resources:       smallResources,
		Singleton:       true,
		SingletonReason: "the H2 database keeps its data inside the pod, so a second replica would be a second, different database",
		SLO: SLO{Tier: SLOCritical,
			TierReason: "every booked trade, position and account lives in it; account-service, position-service and trade-processor fail without it"},
	},
	{
		Name: "reference-data", Runtime: "Node.js, NestJS", Port: 18085, PortEnv: "REFERENCE_DATA_SERVICE_PORT",
		HealthPath: "/health",
		Probes:     ProbeSet{Readiness: httpProbe("/health", 18085), Liveness: httpProbe("/health", 18085)},
		Env:        []EnvVar{{Name: "REFERENCE_DATA_HOSTNAME", Value: "0.0.0.0"}},
		Resources:  Resources{RequestCPU: "250m", RequestMemory: "256Mi", LimitCPU: "500m", LimitMemory: "512Mi"},
		BlueGreen:  true,
		Routes:     []Route{{Path: "/reference-data", StripPrefix: true}},
		SLO: SLO{Tier: SLOCritical,
			TierReason: "trade-service validates every order's ticker against it: while it is down every order is rejected",
			LatencyP95: 50 * time.Millisecond, LatencyProbed: true,
			LatencyNote: "the probe times GET /health, an in-process handler like GET /stocks: a lower bound, seen from the blackbox-exporter"},
	},
	{
		Name: "trade-feed", Runtime: "Node.js, express + socket.io", Port: 18086, PortEnv: "TRADE_FEED_PORT",
		HealthPath: "/",
		Probes:     ProbeSet{Readiness: httpProbe("/", 18086), Liveness: httpProbe("/", 18086)},
		Resources:  smallResources,
		Routes:     []Route{{Path: "/socket.io/"}},
		SLO: SLO{Tier: SLOCritical,
			TierReason: "carries every order from trade-service to trade-processor and every update to the blotters: while it is down no order is booked or shown"},
	},
	{
		Name: "people-service", Runtime: ".NET 9", Port: 18089, PortEnv: "ASPNETCORE_HTTP_PORTS",
		Probes:    ProbeSet{Readiness: tcpProbe(18089), Liveness: tcpProbe(18089)},
		Resources: smallResources,
		Routes:    []Route{{Path: "/people-service", StripPrefix: true}},
		SLO: SLO{Tier: SLOMedium,
			TierReason: "only account-user administration looks people up; no order, booking or position needs it"},
	},
	{
		Name: "account-service", Runtime: "Java, Spring Boot", Port: 18088, PortEnv: "ACCOUNT_SERVICE_PORT",
		HealthPath: "/",
		Probes: ProbeSet{Readiness: httpProbe("/", 18088), Liveness: tcpProbe(18088),
			Startup: &Probe{Kind: ProbeTCP, Port: 18088}},
		Wires: []Wire{
			{Env: "DATABASE_TCP_HOST", Target: "database", Kind: WireHost},
			{Env: "DATABASE_TCP_PORT", Target: "database", Kind: WirePort},
			{Env: "PEOPLE_SERVICE_HOST", Target: "people-service", Kind: WireHost},
		},
		Env:       []EnvVar{{Name: "DATABASE_NAME", Value: "traderx"}},
		SecretEnv: databaseCredentials,
		Resources: smallResources,
		Routes:    []Route{{Path: "/account-service", StripPrefix: true}},
		SLO: SLO{Tier: SLOCritical,
			TierReason: "trade-service validates every order's account against it: while it is down every order is rejected"},
	},
	{
		Name: "position-service", Runtime: "Java, Spring Boot", Port: 18090, PortEnv: "POSITION_SERVICE_PORT",
		HealthPath: "/health/ready",
		// Readiness runs a database query; liveness must not, or a database outage
		// would restart every position-service pod.
		Probes: ProbeSet{Readiness: httpProbe("/health/ready", 18090), Liveness: httpProbe("/health/alive", 18090),
			Startup: &Probe{Kind: ProbeHTTP, Path: "/health/alive", Port: 18090}},
		Wires: []Wire{
			{Env: "DATABASE_TCP_HOST", Target: "database", Kind: WireHost},
			{Env: "DATABASE_TCP_PORT", Target: "database", Kind: WirePort},
		},
		Env:       []EnvVar{{Name: "DATABASE_NAME", Value: "traderx"}},
		SecretEnv: databaseCredentials,
		Resources: criticalResources,
		BlueGreen: true,
		Routes:    []Route{{Path: "/position-service", StripPrefix: true}},
		SLO: SLO{Tier: SLOHigh,
			TierReason: "serves positions and trade blotters; orders are still taken and booked while it is down",
			LatencyP95: 100 * time.Millisecond, LatencyProbed: true,
			LatencyNote: "the probe times GET /health/ready, which runs a database query as the position reads do: a lower bound"},
	},
	{
		Name: "trade-processor", Runtime: "Java, Spring Boot", Port: 18091, PortEnv: "TRADE_PROCESSOR_SERVICE_PORT",
		HealthPath: "/",
		Probes: ProbeSet{Readiness: httpProbe("/", 18091), Liveness: tcpProbe(18091),
			Startup: &Probe{Kind: ProbeTCP, Port: 18091}},
		Wires: []Wire{
			{Env: "DATABASE_TCP_HOST", Target: "database", Kind: WireHost},
			{Env: "DATABASE_TCP_PORT", Target: "database", Kind: WirePort},
			{Env: "TRADE_FEED_HOST", Target: "trade-feed", Kind: WireHost},
		},
		Env:             []EnvVar{{Name: "DATABASE_NAME", Value: "traderx"}},
		SecretEnv:       databaseCredentials,
		Resources:       smallResources,
		Singleton:       true,
		SingletonReason: "every trade-processor replica receives every trade from trade-feed, so a second replica books every trade twice",
		SLO: SLO{Tier: SLOCritical,
			TierReason: "books every order into trades and positions: while it is down orders are taken but never booked"},
	},
	{
		Name: "trade-service", Runtime: "Java, Spring Boot", Port: 18092, PortEnv: "TRADING_SERVICE_PORT",
		HealthPath: "/",
		Probes: ProbeSet{Readiness: httpProbe("/", 18092), Liveness: tcpProbe(18092),
			Startup: &Probe{Kind: ProbeTCP, Port: 18092}},
		Wires: []Wire{
			{Env: "REFERENCE_DATA_HOST", Target: "reference-data", Kind: WireHost},
			{Env: "ACCOUNT_SERVICE_HOST", Target: "account-service", Kind: WireHost},
			{Env: "TRADE_FEED_HOST", Target: "trade-feed", Kind: WireHost},
		},
		Resources: criticalResources,
		BlueGreen: true,
		Routes:    []Route{{Path: "/trade-service", StripPrefix: true}},
		SLO: SLO{Tier: SLOCritical,
			TierReason: "takes every order: while it is down nobody can trade",
			LatencyP95: 200 * time.Millisecond,
			LatencyNote: "not measurable on v1: the probe's GET / is a redirect to Swagger UI, nothing like POST /trade/ (which calls reference-data and account-service); " +
				"the target needs Micrometer's http_server_requests_seconds_bucket{uri=\"/trade/\"}, which the v1 image does not emit"},
	},
	{
		Name: "web-front-end-angular", Runtime: "Node 22, ng serve", Port: 18093, PortEnv: "WEB_SERVICE_PORT",
		HealthPath: "/",
		// ng serve compiles the whole application before it answers.
		Probes: ProbeSet{Readiness: httpProbe("/", 18093), Liveness: httpProbe("/", 18093),
			Startup: &Probe{Kind: ProbeHTTP, Path: "/", Port: 18093}},
		// ng serve needs far more memory than the other Node services.
		Resources: Resources{RequestCPU: "500m", RequestMemory: "768Mi", LimitCPU: "1000m", LimitMemory: "1536Mi"},
		Routes:    []Route{{Path: "/"}},
		Frontend:  true,
		SLO: SLO{Tier: SLOHigh,
			TierReason: "serves the traders' UI; pages already loaded call the backends directly, so an outage stops new sessions, not trading",
			LatencyP95: 2 * time.Second, LatencyProbed: true,
			LatencyNote: "the probe times GET / of the index page from inside the cluster; a browser's page load adds the bundles and the network: a lower bound"},
	},
}

// Services returns every service in apply order (tier, then the upstream order).
func Services() []Service {
	out := slices.Clone(services)
	for i := range out {
		out[i].Wires = slices.Clone(out[i].Wires)
		out[i].Env = slices.Clone(out[i].Env)
		out[i].SecretEnv = slices.Clone(out[i].SecretEnv)
		out[i].ExtraPorts = slices.Clone(out[i].ExtraPorts)
		out[i].Routes = slices.Clone(out[i].Routes)
	}
	sort.SliceStable(out, func(i, j int) bool { return TierOf(out[i].Name) < TierOf(out[j].Name) })
	return out
}

// ServiceNames returns the names of every service in apply order.
func ServiceNames() []string {
	var names []string
	for _, s := range Services() {
		names = append(names, s.Name)
	}
	return names
}

// LookupService returns the named service or an error listing the valid names.
func LookupService(name string) (Service, error) {
	for _, s := range Services() {
		if s.Name == name {
			return s, nil
		}
	}
	return Service{}, fmt.Errorf("unknown service %q (valid: %s)", name, strings.Join(ServiceNames(), ", "))
}

// LookupServices resolves a list of names; an empty list means every service.
func LookupServices(names []string) ([]Service, error) {
	if len(names) == 0 {
		return Services(), nil
	}
	var out []Service
	for _, n := range names {
		s, err := LookupService(strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o Service) bool { return o.Name == s.Name }) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return TierOf(out[i].Name) < TierOf(out[j].Name) })
	return out, nil
}

// Dependents returns the services that call the named one, sorted.
func Dependents(name string) []string {
	var out []string
	for _, s := range services {
		if s.HasDependency(name) {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Edge is one server-side call from a service to another.
type Edge struct{ From, To string }

// Edges returns every dependency edge of the application, sorted.
func Edges() []Edge {
	var out []Edge
	for _, s := range services {
		for _, d := range s.Dependencies() {
			out = append(out, Edge{From: s.Name, To: d})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// WireValue returns the value an env variable of a wire must carry.
func WireValue(w Wire) (string, error) {
	t, err := LookupService(w.Target)
	if err != nil {
		return "", err
	}
	if w.Kind == WirePort {
		return portString(t.Port), nil
	}
	return t.Name, nil
}

// RequiredSecrets are the Secrets the services reference, sorted.
func RequiredSecrets() []string {
	var out []string
	for _, s := range services {
		for _, e := range s.SecretEnv {
			if !slices.Contains(out, e.Secret) {
				out = append(out, e.Secret)
			}
		}
	}
	sort.Strings(out)
	return out
}
