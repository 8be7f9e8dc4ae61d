package scrape

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

const committed = "../prometheus/prometheus.yml"

func TestCommittedConfigIsGenerated(t *testing.T) {
	want, err := Config()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is out of date with the model: run `go run ./monitoring/gen`", committed)
	}
}

type relabel struct {
	SourceLabels []string `json:"source_labels"`
	Regex        string   `json:"regex"`
	TargetLabel  string   `json:"target_label"`
	Replacement  string   `json:"replacement"`
	Action       string   `json:"action"`
}

type scrapeConfig struct {
	JobName        string              `json:"job_name"`
	Params         map[string][]string `json:"params"`
	RelabelConfigs []relabel           `json:"relabel_configs"`
}

// Every service of the model is probed exactly once, by HTTP on its health
// path when it has one, by TCP otherwise, on its native port.
func TestEveryServiceIsProbed(t *testing.T) {
	b, err := Config()
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{} // service -> job:url in traderx-prod
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
		if !strings.HasPrefix(sc.JobName, "blackbox-") {
			continue
		}
		for _, r := range sc.RelabelConfigs {
			if r.TargetLabel != "__param_target" {
				continue
			}
			svc, _, _ := strings.Cut(r.Regex, ";")
			if _, dup := targets[svc]; dup {
				t.Errorf("%s probed twice", svc)
			}
			targets[svc] = sc.JobName + ":" + sc.Params["module"][0] + ":" + strings.ReplaceAll(r.Replacement, "$1", "traderx-prod")
		}
	}
	for _, j := range []string{"traderx-pods", "kube-state-metrics", "kubelet-cadvisor", JobHTTP, JobTCP} {
		if !jobs[j] {
			t.Errorf("job %s missing", j)
		}
	}
	for _, s := range traderx.Services() {
		want := "blackbox-tcp:tcp_connect:" + s.Name + ".traderx-prod.svc:" + itoa(s.Port)
		if s.HealthPath != "" {
			want = "blackbox-http:http_2xx:http://" + s.Name + ".traderx-prod.svc:" + itoa(s.Port) + s.HealthPath
		}
		if targets[s.Name] != want {
			t.Errorf("%s: probe %q, want %q", s.Name, targets[s.Name], want)
		}
		delete(targets, s.Name)
	}
	for svc := range targets {
		t.Errorf("probe of %s, which is not in the model", svc)
	}
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }
