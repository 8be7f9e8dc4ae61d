// Command gen writes the generated monitoring files from the application model
// and the typed dashboard:
//
//	monitoring/prometheus/prometheus.yml
//	monitoring/grafana/traderx-overview.json
//	monitoring/prometheus/rules/slo.yml
//
// Run it from the repository root with `go run ./monitoring/gen`; tests fail
// when the committed files differ from what it writes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/finos/traderx-plugins/monitoring/grafana"
	"github.com/finos/traderx-plugins/monitoring/scrape"
	"github.com/finos/traderx-plugins/monitoring/slo"
)

func main() {
	dir := flag.String("dir", "monitoring", "the monitoring directory to write into")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	config, err := scrape.Config()
	if err != nil {
		return err
	}
	dashboard, err := grafana.JSON()
	if err != nil {
		return err
	}
	rules, err := slo.Rules()
	if err != nil {
		return err
	}
	for path, data := range map[string][]byte{
		filepath.Join(dir, "prometheus", "prometheus.yml"):      config,
		filepath.Join(dir, "grafana", grafana.FileName):         dashboard,
		filepath.Join(dir, "prometheus", "rules", slo.FileName): rules,
	} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Fprintln(os.Stderr, "wrote", path)
	}
	return nil
}
