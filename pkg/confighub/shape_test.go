package confighub_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
)

// The two unit shapes the client reads (docs/confighub.md, "The newest API").
const (
	// shapeInline is a c110dd78-era server: Data and the live revisions
	// inline, and no data routes (the oldest servers had none).
	shapeInline = "c110dd78"
	// shapeRelease is a 41892a1 server: no Data, no live revisions, data
	// from U/data and U/revision/R/data, LastReleasedRevisionNum instead.
	shapeRelease = "41892a1"
)

var dataRoute = regexp.MustCompile(`^/api/space/[^/]+/unit/[^/]+(/revision/[^/]+)?/data$`)

// shapeServer puts the stand-in behind a rewrite into one of the shapes, and
// counts the requests that reach it. The rewrite follows the facts of each
// spec (models.gen.go at the commit the shape is named after); it exists
// only to read, so the writes of a test go to the stand-in directly.
type shapeServer struct {
	srv   *confighubtest.Server
	shape string

	mu       sync.Mutex
	requests int
}

func (p *shapeServer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

func (p *shapeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	p.mu.Unlock()
	if p.shape == shapeInline {
		if dataRoute.MatchString(r.URL.Path) {
			http.Error(w, `{"Code":"NotFound","Message":"no such route"}`, http.StatusNotFound)
			return
		}
		p.srv.ServeHTTP(w, r)
		return
	}
	// 41892a1 unit include keys: LastReleasedRevisionNum, and none of the
	// live ones.
	q := r.URL.Query()
	if inc := q.Get("include"); inc != "" {
		var keys []string
		for _, k := range strings.Split(inc, ",") {
			switch k {
			case "LiveRevisionNum", "LastAppliedRevisionNum", "PreviousLiveRevisionNum":
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"Code":"BadRequest","Message":"invalid include attribute %s"}`, k)
				return
			case "LastReleasedRevisionNum":
				k = "LiveRevisionNum"
			}
			keys = append(keys, k)
		}
		q.Set("include", strings.Join(keys, ","))
		r.URL.RawQuery = q.Encode()
	}
	rec := httptest.NewRecorder()
	p.srv.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if strings.Contains(rec.Header().Get("Content-Type"), "json") {
		var v any
		if err := json.Unmarshal(body, &v); err == nil {
			body, _ = json.Marshal(releaseShape(v))
		}
	}
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// releaseShape rewrites a stand-in answer into the 41892a1 shape.
func releaseShape(v any) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = releaseShape(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = releaseShape(x[k])
		}
		_, isUnit := x["ToolchainType"]
		_, isRevision := x["RevisionID"]
		_, isEvent := x["UnitEventID"]
		_, isExtended := x["Unit"]
		switch {
		case isUnit && x["UnitID"] != nil:
			moveData(x)
			if live, _ := x["LiveRevisionNum"].(float64); live > 0 {
				x["LastReleasedRevisionNum"] = live
			}
			for _, k := range []string{"LiveRevisionNum", "LastAppliedRevisionNum", "PreviousLiveRevisionNum",
				"LiveState", "LiveData", "MutationSources"} {
				delete(x, k)
			}
		case isRevision && x["RevisionNum"] != nil && !isEvent:
			moveData(x)
			delete(x, "LiveAt")
			delete(x, "MutationSources")
		case isExtended:
			if lr, ok := x["LiveRevision"]; ok {
				x["LastReleasedRevision"] = lr
			}
			for _, k := range []string{"LiveRevision", "LastAppliedRevision", "PreviousLiveRevision", "UnitStatus"} {
				delete(x, k)
			}
		}
	}
	return v
}

// moveData replaces inline Data with DataSize, as 41892a1 does.
func moveData(x map[string]any) {
	if s, ok := x["Data"].(string); ok {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) > 0 {
			x["DataSize"] = len(b)
		}
	}
	delete(x, "Data")
}

func TestClientReadsBothUnitShapes(t *testing.T) {
	for _, shape := range []string{shapeInline, shapeRelease} {
		t.Run(shape, func(t *testing.T) {
			e := newEnv(t)
			sp := e.space("traderx-dev")
			tg := e.target(sp)
			const nUnits = 24
			units := make([]*confighub.Unit, nUnits)
			for i := range units {
				units[i] = e.unit(sp, fmt.Sprintf("unit-%02d", i), deployV1)
				if _, err := e.c.SetTarget(e.ctx, sp.SpaceID, units[i].UnitID, tg.TargetID); err != nil {
					t.Fatal(err)
				}
			}
			// unit-00 and unit-01 are applied; unit-00 then changes (head 3, live 2).
			for _, u := range units[:2] {
				op, err := e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.c.WaitForOperation(e.ctx, sp.SpaceID, u.UnitID, op); err != nil {
					t.Fatal(err)
				}
			}
			v2 := strings.Replace(deployV1, ":v1", ":v2", 1)
			if _, err := e.c.PatchUnit(e.ctx, sp.SpaceID, units[0].UnitID, map[string]any{"Data": []byte(v2)}, confighub.UnitUpdateParams{}); err != nil {
				t.Fatal(err)
			}
			raw, err := e.c.GetUnit(e.ctx, sp.SpaceID, units[0].UnitID)
			if err != nil {
				t.Fatal(err)
			}
			wantHead, wantLive := raw.Unit.HeadRevisionNum, raw.Unit.LiveRevisionNum
			if wantLive == 0 || wantHead <= wantLive {
				t.Fatalf("setup: head %d, live %d", wantHead, wantLive)
			}

			proxy := &shapeServer{srv: e.srv, shape: shape}
			hs := httptest.NewServer(proxy)
			t.Cleanup(hs.Close)
			c, err := confighub.New(confighub.Credentials{Server: hs.URL, Token: e.srv.Token}, confighub.WithRetryPolicy(fastRetry()))
			if err != nil {
				t.Fatal(err)
			}
			requests := func(f func()) int {
				before := proxy.count()
				f()
				return proxy.count() - before
			}

			// ReadSpace: every unit with its live revision, in the same
			// number of requests whatever the number of units. The first
			// read of a 41892a1 server learns its include keys (one 400).
			wantReadSpace := map[string][]int{shapeInline: {3, 3}, shapeRelease: {4, 3}}[shape]
			for i, want := range wantReadSpace {
				var st *confighub.SpaceState
				n := requests(func() {
					if st, err = confighub.ReadSpace(e.ctx, c, sp.Slug); err != nil {
						t.Fatal(err)
					}
				})
				if n != want {
					t.Errorf("ReadSpace #%d of %d units: %d requests, want %d", i+1, nUnits, n, want)
				}
				if len(st.Units) != nUnits {
					t.Fatalf("ReadSpace: %d units, want %d", len(st.Units), nUnits)
				}
				u0 := st.Units["unit-00"]
				if u0.Unit.HeadRevisionNum != wantHead || u0.Unit.LiveRevisionNum != wantLive || !u0.Unit.HasUnappliedChanges() {
					t.Errorf("ReadSpace unit-00: head %d live %d, want %d %d", u0.Unit.HeadRevisionNum, u0.Unit.LiveRevisionNum, wantHead, wantLive)
				}
				if u0.LiveRevision == nil || u0.LiveRevision.RevisionNum != wantLive {
					t.Errorf("ReadSpace unit-00: LiveRevision = %+v, want revision %d", u0.LiveRevision, wantLive)
				}
				if u5 := st.Units["unit-05"].Unit; u5.LiveRevisionNum != 0 {
					t.Errorf("ReadSpace unit-05 was never applied: live %d", u5.LiveRevisionNum)
				}
			}

			// GetUnit: the head data, from U/data on 41892a1.
			wantGet := map[string]int{shapeInline: 1, shapeRelease: 2}[shape]
			var eu *confighub.ExtendedUnit
			if n := requests(func() {
				if eu, err = c.GetUnit(e.ctx, sp.SpaceID, units[0].UnitID); err != nil {
					t.Fatal(err)
				}
			}); n != wantGet {
				t.Errorf("GetUnit: %d requests, want %d", n, wantGet)
			}
			if !bytes.Equal(eu.Unit.Data, []byte(v2)) || eu.Unit.LiveRevisionNum != wantLive {
				t.Errorf("GetUnit: data %q, live %d; want %q, %d", eu.Unit.Data, eu.Unit.LiveRevisionNum, v2, wantLive)
			}

			// A revision by number carries its data on both shapes.
			rev, err := c.GetRevisionByNum(e.ctx, sp.SpaceID, units[0].UnitID, wantLive)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rev.Data, []byte(deployV1)) {
				t.Errorf("GetRevisionByNum(%d): data %q, want %q", wantLive, rev.Data, deployV1)
			}
			// A list carries DataSize instead on 41892a1.
			revs, err := c.ListRevisions(e.ctx, sp.SpaceID, units[1].UnitID, "")
			if err != nil || len(revs) == 0 {
				t.Fatalf("ListRevisions = %v, %v", revs, err)
			}
			if got := revs[0].Revision; (shape == shapeRelease) != (len(got.Data) == 0 && got.DataSize == int64(len(deployV1))) {
				t.Errorf("ListRevisions on %s: Data %d bytes, DataSize %d", shape, len(got.Data), got.DataSize)
			}
		})
	}
}

// A unit of a 41892a1 server with no data (DataSize omitted, as it is 0)
// needs no data request.
func TestGetUnitWithoutDataNeedsNoDataRequest(t *testing.T) {
	e := newEnv(t)
	sp := e.space("traderx-dev")
	u := e.unit(sp, "empty", "")
	proxy := &shapeServer{srv: e.srv, shape: shapeRelease}
	hs := httptest.NewServer(proxy)
	t.Cleanup(hs.Close)
	c, err := confighub.New(confighub.Credentials{Server: hs.URL, Token: e.srv.Token}, confighub.WithRetryPolicy(fastRetry()))
	if err != nil {
		t.Fatal(err)
	}
	eu, err := c.GetUnit(e.ctx, sp.SpaceID, u.UnitID)
	if err != nil || eu.Unit.UnitID != u.UnitID || len(eu.Unit.Data) != 0 {
		t.Fatalf("GetUnit = %+v, %v", eu, err)
	}
	if n := proxy.count(); n != 1 {
		t.Errorf("GetUnit of an empty unit: %d requests, want 1", n)
	}
}
