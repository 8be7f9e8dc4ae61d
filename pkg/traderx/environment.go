package traderx

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultProject names the ConfigHub project when neither --project nor
// TRADERX_PROJECT says otherwise.
const DefaultProject = "traderx"

// ProjectEnv is the environment variable that overrides the project name.
const ProjectEnv = "TRADERX_PROJECT"

// CircuitBreaker is the circuit-breaker configuration passed to services that
// call others.
type CircuitBreaker struct {
	Enabled   bool
	Threshold int
	Timeout   string
}

// Bounds limit what one container of an environment may request.
type Bounds struct {
	MaxCPU, MaxMemory string
}

// Environment is one deployment of TraderX.
type Environment struct {
	Name string
	// Protected environments need an explicit confirmation for every change.
	Protected bool
	// Replicas of every stateless service; singletons always run one.
	Replicas int32
	// ReplicaOverrides sets replicas per service (stateless services only).
	ReplicaOverrides map[string]int32
	// ResourceOverrides replace the model's resources per service.
	ResourceOverrides map[string]Resources
	Bounds            Bounds
	CircuitBreaker    CircuitBreaker
	// Host is the single host the front end and its APIs are served on.
	Host string
	// ImageTag is the tag every service image uses in this environment.
	ImageTag string
	// Upstream is the environment this one is promoted from; empty for the first.
	Upstream string
	// NamespaceOverride replaces the conventional namespace (-n, tests).
	NamespaceOverride string
}

// Namespace is the Kubernetes namespace of the environment: traderx-<name>
// unless overridden.
func (e Environment) Namespace() string {
	if e.NamespaceOverride != "" {
		return e.NamespaceOverride
	}
	return "traderx-" + e.Name
}

// Space is the ConfigHub space of the environment within a project.
func (e Environment) Space(project string) string { return project + "-" + e.Name }

// BaseSpace is the ConfigHub space holding the environment-neutral units.
func BaseSpace(project string) string { return project + "-base" }

// ReplicasFor returns how many replicas the service runs in the environment.
func (e Environment) ReplicasFor(s Service) int32 {
	if s.Singleton {
		return 1
	}
	if r, ok := e.ReplicaOverrides[s.Name]; ok {
		return r
	}
	return e.Replicas
}

// ResourcesFor returns the service's container resources in the environment.
func (e Environment) ResourcesFor(s Service) Resources {
	if r, ok := e.ResourceOverrides[s.Name]; ok {
		return r
	}
	return s.Resources
}

// devResources halves requests so the whole application fits a laptop cluster;
// limits stay as in production so behaviour under load is comparable.
func devResources() map[string]Resources {
	out := map[string]Resources{}
	for _, s := range services {
		r := s.Resources
		r.RequestCPU, r.RequestMemory = halve(r.RequestCPU), halve(r.RequestMemory)
		out[s.Name] = r
	}
	return out
}

func halve(q string) string {
	v := resource.MustParse(q)
	if v.Format == resource.BinarySI {
		return resource.NewQuantity(v.Value()/2, resource.BinarySI).String()
	}
	return resource.NewMilliQuantity(v.MilliValue()/2, resource.DecimalSI).String()
}

var environments = []Environment{
	{
		Name: "dev", Replicas: 1, ResourceOverrides: devResources(),
		Bounds:         Bounds{MaxCPU: "1", MaxMemory: "1536Mi"},
		CircuitBreaker: CircuitBreaker{Enabled: false, Threshold: 5, Timeout: "30s"},
		Host:           "traderx-dev.local", ImageTag: "latest",
	},
	{
		Name: "staging", Replicas: 2, Upstream: "dev",
		Bounds:         Bounds{MaxCPU: "2", MaxMemory: "2Gi"},
		CircuitBreaker: CircuitBreaker{Enabled: true, Threshold: 5, Timeout: "30s"},
		Host:           "traderx-staging.local", ImageTag: "latest",
	},
	{
		Name: "prod", Protected: true, Replicas: 2, Upstream: "staging",
		ReplicaOverrides: map[string]int32{"trade-service": 3, "reference-data": 3, "position-service": 3},
		Bounds:           Bounds{MaxCPU: "2", MaxMemory: "4Gi"},
		CircuitBreaker:   CircuitBreaker{Enabled: true, Threshold: 3, Timeout: "10s"},
		Host:             "traderx.local", ImageTag: "latest",
	},
}

func cloneEnv(e Environment) Environment {
	e.ReplicaOverrides = maps.Clone(e.ReplicaOverrides)
	e.ResourceOverrides = maps.Clone(e.ResourceOverrides)
	return e
}

// Environments returns every environment in promotion order.
func Environments() []Environment {
	out := make([]Environment, len(environments))
	for i, e := range environments {
		out[i] = cloneEnv(e)
	}
	return out
}

// EnvironmentNames returns the environment names in promotion order.
func EnvironmentNames() []string {
	var names []string
	for _, e := range environments {
		names = append(names, e.Name)
	}
	return names
}

// LookupEnvironment returns the named environment or an error listing valid names.
func LookupEnvironment(name string) (Environment, error) {
	for _, e := range environments {
		if e.Name == name {
			return cloneEnv(e), nil
		}
	}
	return Environment{}, fmt.Errorf("unknown environment %q (valid: %s)", name, strings.Join(EnvironmentNames(), ", "))
}

var projectPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// ResolveProject returns the project name from a flag value, else
// TRADERX_PROJECT as getenv reads it (the command's environment, which
// tests replace), else the default, and checks it can name ConfigHub spaces.
func ResolveProject(flag string, getenv func(string) string) (string, error) {
	p := flag
	if p == "" {
		p = getenv(ProjectEnv)
	}
	if p == "" {
		p = DefaultProject
	}
	if !projectPattern.MatchString(p) {
		return "", fmt.Errorf("invalid project %q: use 1-40 lower-case letters, digits and '-'", p)
	}
	return p, nil
}
