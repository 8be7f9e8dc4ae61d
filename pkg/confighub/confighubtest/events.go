package confighubtest

import (
	"net/http"
	"sort"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// listAllEvents is ListAllUnitEvents (GET /unit_event): across the
// organization, the newest event per unit among those matching where — the
// spec says "at most one per unit".
func (s *Server) listAllEvents(r *http.Request) (int, any, error) {
	f, err := queryWhere(r.URL.Query(), eventSchema)
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.UnitEvent{}
	for _, rec := range s.units {
		var newest *confighub.UnitEvent
		for _, ev := range rec.events {
			if f.match(plainView("UnitEvent", ev)) && (newest == nil || !ev.CreatedAt.Before(newest.CreatedAt)) {
				newest = ev
			}
		}
		if newest != nil {
			out = append(out, *newest)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UnitID.String() < out[j].UnitID.String() })
	return http.StatusOK, out, nil
}
