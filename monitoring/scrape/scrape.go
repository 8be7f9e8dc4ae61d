// Package scrape renders the Prometheus scrape configuration of TraderX from the
// application model, so the blackbox probe targets cannot drift from
// pkg/traderx: every service is probed on its native port, over HTTP at its
// health path when it has one, over TCP otherwise.
package scrape

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Blackbox is the address of the blackbox-exporter, resolved in the namespace
// Prometheus runs in.
const Blackbox = "blackbox-exporter:9115"

// Blackbox-exporter module names (the defaults of its example configuration).
const (
	ModuleHTTP = "http_2xx"
	ModuleTCP  = "tcp_connect"
)

// Job names of the probe jobs; rules select them with job=~"blackbox-(http|tcp)".
const (
	JobHTTP = "blackbox-http"
	JobTCP  = "blackbox-tcp"
)

// Probe is one blackbox probe of a service's Service.
type Probe struct {
	Service string
	Port    int32
	Module  string
	// Path is the HTTP path probed; empty for TCP probes.
	Path string
}

// Target returns the probe target with the namespace left as the regex group
// $1 of the relabel rule that sets it.
func (p Probe) Target() string {
	host := fmt.Sprintf("%s.$1.svc:%d", p.Service, p.Port)
	if p.Module == ModuleTCP {
		return host
	}
	return "http://" + host + p.Path
}

// URL returns the probe target of the service in a namespace.
func (p Probe) URL(namespace string) string {
	return strings.ReplaceAll(p.Target(), "$1", namespace)
}

// Job returns the scrape job that runs the probe.
func (p Probe) Job() string {
	if p.Module == ModuleTCP {
		return JobTCP
	}
	return JobHTTP
}

// Probes returns one probe per service of the model, in apply order.
func Probes() []Probe {
	var out []Probe
	for _, s := range traderx.Services() {
		p := Probe{Service: s.Name, Port: s.Port, Module: ModuleTCP}
		if s.HealthPath != "" {
			p.Module, p.Path = ModuleHTTP, s.HealthPath
		}
		out = append(out, p)
	}
	return out
}

type job struct {
	Name, Module, Summary, KeepRegex string
	Probes                           []Probe
}

//go:embed prometheus.yml.tmpl
var configTemplate string

var tmpl = template.Must(template.New("prometheus.yml").Parse(configTemplate))

// Config renders prometheus.yml. The output is deterministic.
func Config() ([]byte, error) {
	var jobs []job
	for _, j := range []job{
		{Name: JobHTTP, Module: ModuleHTTP, Summary: "services with an HTTP health endpoint"},
		{Name: JobTCP, Module: ModuleTCP, Summary: "services without one, by TCP connect"},
	} {
		var keep []string
		for _, p := range Probes() {
			if p.Module == j.Module {
				j.Probes = append(j.Probes, p)
				keep = append(keep, fmt.Sprintf("%s;%d", regexp.QuoteMeta(p.Service), p.Port))
			}
		}
		if len(j.Probes) == 0 {
			continue
		}
		j.KeepRegex = strings.Join(keep, "|")
		jobs = append(jobs, j)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]any{"Jobs": jobs, "Blackbox": Blackbox}); err != nil {
		return nil, fmt.Errorf("render prometheus.yml: %w", err)
	}
	return buf.Bytes(), nil
}
