package health

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Overview is the compact view of a health report: the namespace, one row
// per service with the colour it serves from (blue-green services) and its
// ready pods, the ingress and ConfigHub. Each check goes to the row of what
// it judged; one that fits none gets a row of its own.
func Overview(s *cluster.Snapshot, env traderx.Environment, o Options, r *check.Report) check.Overview {
	ov := check.Overview{Columns: []string{"SERVICE", "ACTIVE", "READY"}}
	services, err := traderx.LookupServices(o.Services)
	if err != nil {
		services = nil // Evaluate reported it as a check; its row comes below
	}
	rows := map[string]int{}
	add := func(cells ...string) {
		rows[cells[0]] = len(ov.Rows)
		ov.Rows = append(ov.Rows, check.OverviewRow{Cells: cells})
	}
	add("namespace", "", "")
	for _, svc := range services {
		add(svc.Name, active(s, svc, o), ready(s, svc, o))
	}
	add("ingress", "", "")
	add("confighub", "", "")
	for _, c := range r.Checks {
		key := c.Target
		switch {
		case c.Suite == SuiteNamespace && strings.HasPrefix(c.Target, "namespace/"):
			key = "namespace"
		case c.Suite == SuiteIngress:
			key = "ingress"
		case c.Suite == SuiteConfigHub:
			key = "confighub"
		}
		i, ok := rows[key]
		if !ok {
			add(key, "", "")
			i = rows[key]
		}
		ov.Rows[i].Checks = append(ov.Rows[i].Checks, c)
	}
	// Rows nothing was checked for (the ingress of a --services run) go.
	kept := ov.Rows[:0]
	for _, row := range ov.Rows {
		if len(row.Checks) > 0 {
			kept = append(kept, row)
		}
	}
	ov.Rows = kept
	return ov
}

// deployment is the Deployment health judges for the service.
func deployment(s *cluster.Snapshot, svc traderx.Service, o Options) *appsv1.Deployment {
	return s.Deployment(svc.DeploymentName(activeColour(s, svc, o)))
}

// active is "colour/version" for a blue-green service, the version from the
// pod template's version label or else the image tag.
func active(s *cluster.Snapshot, svc traderx.Service, o Options) string {
	colour := activeColour(s, svc, o)
	if colour == "" {
		return ""
	}
	d := deployment(s, svc, o)
	if d == nil {
		return colour
	}
	version := d.Spec.Template.Labels[manifests.LabelVersion]
	if c := cluster.MainContainer(d, svc.Name); version == "" && c != nil {
		if i := strings.LastIndex(c.Image, ":"); i >= 0 && !strings.Contains(c.Image[i:], "/") {
			version = c.Image[i+1:]
		}
	}
	if version == "" {
		return colour
	}
	return colour + "/" + version
}

// ready is "ready pods/desired replicas" of the judged Deployment, "-"
// without one.
func ready(s *cluster.Snapshot, svc traderx.Service, o Options) string {
	d := deployment(s, svc, o)
	if d == nil {
		return "-"
	}
	want := cluster.DesiredReplicas(d)
	n := 0
	for _, p := range s.PodsOf(d) {
		if p.DeletionTimestamp == nil && isReady(p) {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, want)
}
