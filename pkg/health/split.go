package health

import (
	"fmt"
	"sort"
	"strings"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// EndpointSplit is how the live Service of a blue-green service divides its
// ready endpoints between the colours: what a replica-weighted canary
// sends to each.
type EndpointSplit struct {
	// Found is false when the live Service does not exist.
	Found bool
	// Selector is the colour the Service selects, "" when it selects both.
	Selector string
	// Ready counts the ready endpoints that are pods of each colour's
	// Deployment.
	Ready map[string]int
	// Foreign are endpoints that are no colour's pod, sorted.
	Foreign []string
}

// SplitEndpoints reads the split from a snapshot.
func SplitEndpoints(snap *cluster.Snapshot, svc traderx.Service) EndpointSplit {
	sp := EndpointSplit{Ready: map[string]int{}}
	s := snap.Service(svc.Name)
	if s == nil {
		return sp
	}
	sp.Found, sp.Selector = true, s.Spec.Selector[manifests.LabelColour]
	colourOf := map[string]string{}
	for _, c := range traderx.Colours() {
		if d := snap.Deployment(svc.DeploymentName(c)); d != nil {
			for _, p := range snap.PodsOf(d) {
				colourOf[p.Name] = c
			}
		}
	}
	for _, es := range snap.EndpointSlicesOf(svc.Name) {
		for _, ep := range es.Endpoints {
			c := ""
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				c = colourOf[ep.TargetRef.Name]
			}
			if c == "" {
				name := "?"
				if ep.TargetRef != nil {
					name = ep.TargetRef.Name
				}
				sp.Foreign = append(sp.Foreign, name)
				continue
			}
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				sp.Ready[c]++
			}
		}
	}
	sort.Strings(sp.Foreign)
	return sp
}

// Matches reports whether the split is exactly want (ready endpoints by
// colour; a colour left out must have none), with the selector the split
// needs: both colours when both get traffic, else the one colour. The
// message says what differs, or what was seen.
func (sp EndpointSplit) Matches(svc traderx.Service, want map[string]int) (string, bool) {
	if !sp.Found {
		return "Service " + svc.Name + " not found", false
	}
	var serving []string
	for _, c := range traderx.Colours() {
		if want[c] > 0 {
			serving = append(serving, c)
		}
	}
	wantSel := ""
	if len(serving) == 1 {
		wantSel = serving[0]
	}
	var diffs []string
	if sp.Selector != wantSel {
		diffs = append(diffs, fmt.Sprintf("the live Service selects colour %q, not %q", sp.Selector, wantSel))
	}
	if len(sp.Foreign) > 0 {
		diffs = append(diffs, "endpoints of other pods remain: "+strings.Join(sp.Foreign, ", "))
	}
	if got := sp.String(); got != split(want) {
		diffs = append(diffs, fmt.Sprintf("ready endpoints %s, want %s", got, split(want)))
	}
	if len(diffs) > 0 {
		return strings.Join(diffs, "; "), false
	}
	return "ready endpoints " + sp.String(), true
}

// String is the ready endpoints by colour, such as "blue 3, green 1".
func (sp EndpointSplit) String() string { return split(sp.Ready) }

func split(n map[string]int) string {
	var parts []string
	for _, c := range traderx.Colours() {
		parts = append(parts, fmt.Sprintf("%s %d", c, n[c]))
	}
	return strings.Join(parts, ", ")
}
