// Package dashboardcheck checks the PromQL of the TraderX Grafana dashboard with
// the Prometheus parser. It lives in the tools module so the heavy Prometheus
// dependency never enters the root module.
package dashboardcheck

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/finos/traderx-plugins/monitoring/grafana"
)

// Values are the template variable values substituted before parsing.
type Values struct {
	Environment string // a namespace, e.g. traderx-prod
	// Service is the value Grafana interpolates into a regex matcher: a name,
	// "(a|b)" for several, or ".*" for All.
	Service string
}

// Substitute replaces Grafana's variables in a query the way Grafana would.
func Substitute(expr string, v Values) string {
	r := strings.NewReplacer(
		"$__rate_interval", "5m",
		"$__interval", "1m",
		"$__range", "1h",
		"${"+grafana.VarDatasource+"}", "prometheus",
		"${"+grafana.VarEnvironment+"}", v.Environment,
		"${"+grafana.VarService+"}", v.Service,
		"$"+grafana.VarEnvironment, v.Environment,
		"$"+grafana.VarService, v.Service,
	)
	return r.Replace(expr)
}

// ParseErrors parses every query after substitution and returns one error per
// query that is not valid PromQL or still holds a Grafana variable.
func ParseErrors(queries []grafana.Query, v Values) []error {
	p := parser.NewParser(parser.Options{})
	var errs []error
	for _, q := range queries {
		expr := Substitute(q.Expr, v)
		if _, err := p.ParseExpr(expr); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w\n  query: %s", q.Where, q.RefID, err, expr))
			continue
		}
		// "$1" is a label_replace replacement, not a Grafana variable.
		if rest := strings.ReplaceAll(expr, `"$1"`, ""); strings.Contains(rest, "$") {
			errs = append(errs, fmt.Errorf("%s %s: unsubstituted variable in %s", q.Where, q.RefID, expr))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}
