package confighub_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
)

const unitPathRE = `^/api/space/[^/]+/unit/[^/]+$`

func TestFaultMatrixIdempotentCalls(t *testing.T) {
	cases := []struct {
		name      string
		fault     confighubtest.Fault
		wantTries int
		minTime   time.Duration
	}{
		{"500 twice", confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Status: 500, Times: 2}, 3, 0},
		{"502", confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Status: 502}, 2, 0},
		{"503", confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Status: 503}, 2, 0},
		{"429 Retry-After", confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Status: 429, RetryAfter: time.Second}, 2, 900 * time.Millisecond},
		{"connection reset", confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Reset: true}, 2, 0},
		{"slow beyond per-try timeout", confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Delay: 600 * time.Millisecond}, 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := fastRetry()
			p.PerTryTimeout = 200 * time.Millisecond
			c, _ := confighub.New(e.srv.Credentials(), confighub.WithRetryPolicy(p))
			sp := e.space("s")
			u := e.unit(sp, "u", "kind: A\n")
			e.srv.InjectFault(tc.fault)
			start := time.Now()
			eu, err := c.GetUnit(e.ctx, sp.SpaceID, u.UnitID)
			if err != nil {
				t.Fatalf("GetUnit through %s: %v", tc.name, err)
			}
			if eu.Unit.UnitID != u.UnitID {
				t.Errorf("wrong unit")
			}
			if n := e.srv.CountRequests("GET", unitPathRE); n != tc.wantTries {
				t.Errorf("tries = %d, want %d", n, tc.wantTries)
			}
			if el := time.Since(start); el < tc.minTime {
				t.Errorf("elapsed %v < %v: Retry-After not honoured", el, tc.minTime)
			}
		})
	}
}

func TestFaultExhaustedAndTerminal(t *testing.T) {
	e := newEnv(t)
	sp := e.space("s")
	u := e.unit(sp, "u", "kind: A\n")

	e.srv.InjectFault(confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Status: 500, Times: 10})
	_, err := e.c.GetUnit(e.ctx, sp.SpaceID, u.UnitID)
	var ae *confighub.APIError
	if !errors.As(err, &ae) || ae.Status != 500 || ae.RequestID == "" || ae.Code != "InternalServerError" {
		t.Fatalf("want APIError 500 with request id, got %v", err)
	}
	if n := e.srv.CountRequests("GET", unitPathRE); n != 4 {
		t.Errorf("tries = %d, want 4", n)
	}
	e.srv.ClearFaults()

	// 400-class answers are not retried.
	e.srv.InjectFault(confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Status: 403, Times: 3})
	before := e.srv.CountRequests("GET", unitPathRE)
	if _, err := e.c.GetUnit(e.ctx, sp.SpaceID, u.UnitID); err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("want 403, got %v", err)
	}
	if n := e.srv.CountRequests("GET", unitPathRE) - before; n != 1 {
		t.Errorf("403 retried: %d tries", n)
	}
	e.srv.ClearFaults()

	// A slow answer past the caller's deadline: one try, prompt context error.
	e.srv.InjectFault(confighubtest.Fault{Method: "GET", PathPattern: unitPathRE, Delay: 3 * time.Second})
	ctx, cancel := context.WithTimeout(e.ctx, 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	before = e.srv.CountRequests("GET", unitPathRE)
	_, err = e.c.GetUnit(ctx, sp.SpaceID, u.UnitID)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v past a 150ms deadline", el)
	}
	var te *confighub.TransportError
	if !errors.As(err, &te) || strings.Contains(err.Error(), e.srv.Token) {
		t.Errorf("want TransportError without token, got %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := e.srv.CountRequests("GET", unitPathRE) - before; n > 1 {
		t.Errorf("retried past the deadline: %d tries", n)
	}
}

func TestCreateNeverDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     confighubtest.Fault
		wantPosts int
		// a retry that may follow a landed POST asks for allow_exists; a 429
		// (surely not handled) is re-sent as is.
		retryAllowsExisting bool
	}{
		{"answer lost after landing", confighubtest.Fault{Method: "POST", PathPattern: `/unit$`, Reset: true, AfterHandling: true}, 1, false},
		{"500 after landing", confighubtest.Fault{Method: "POST", PathPattern: `/unit$`, Status: 500, AfterHandling: true}, 1, false},
		{"503 before landing", confighubtest.Fault{Method: "POST", PathPattern: `/unit$`, Status: 503}, 2, true},
		{"reset before landing", confighubtest.Fault{Method: "POST", PathPattern: `/unit$`, Reset: true}, 2, true},
		{"429", confighubtest.Fault{Method: "POST", PathPattern: `/unit$`, Status: 429}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			sp := e.space("s")
			e.srv.InjectFault(tc.fault)
			u, err := e.c.CreateUnit(e.ctx, sp.SpaceID, confighub.Unit{Slug: "database-deployment", Data: []byte("kind: A\n")}, uuid.Nil, uuid.Nil)
			if err != nil {
				t.Fatalf("CreateUnit: %v", err)
			}
			if u.UnitID == uuid.Nil || u.Slug != "database-deployment" {
				t.Errorf("unit = %+v", u)
			}
			units, _ := e.c.ListUnits(e.ctx, sp.SpaceID, "")
			if len(units) != 1 {
				t.Errorf("%d units, want exactly 1", len(units))
			}
			if revs := e.revisions(sp, u); len(revs) != 1 {
				t.Errorf("%d revisions, want 1", len(revs))
			}
			if n := e.srv.CountRequests("POST", `/unit$`); n != tc.wantPosts {
				t.Errorf("POSTs = %d, want %d", n, tc.wantPosts)
			}
			// Only a repeated POST that may follow a landed one asks the server to accept an existing entity.
			var posts []confighubtest.Request
			for _, r := range e.srv.Requests() {
				if r.Method == "POST" && strings.HasSuffix(r.Path, "/unit") {
					posts = append(posts, r)
				}
			}
			for i, r := range posts {
				if got, want := strings.Contains(r.Query, "allow_exists=true"), i > 0 && tc.retryAllowsExisting; got != want {
					t.Errorf("POST %d query %q: allow_exists=true is %v, want %v", i+1, r.Query, got, want)
				}
			}
		})
	}
	t.Run("space answer lost", func(t *testing.T) {
		e := newEnv(t)
		e.srv.InjectFault(confighubtest.Fault{Method: "POST", PathPattern: `^/api/space$`, Reset: true, AfterHandling: true})
		sp, err := e.c.CreateSpace(e.ctx, confighub.Space{Slug: "traderx-dev"})
		if err != nil || sp.Slug != "traderx-dev" {
			t.Fatalf("CreateSpace: %+v %v", sp, err)
		}
		if l, _ := e.c.ListSpaces(e.ctx, ""); len(l) != 1 {
			t.Errorf("%d spaces", len(l))
		}
	})
}

func TestApplyIsNotRetriedBlindly(t *testing.T) {
	e := newEnv(t)
	sp := e.space("s")
	u := e.unit(sp, "u", "kind: A\n")
	tg := e.target(sp)
	if _, err := e.c.SetTarget(e.ctx, sp.SpaceID, u.UnitID, tg.TargetID); err != nil {
		t.Fatal(err)
	}
	applyRE := `/apply$`
	countOps := func() int {
		t.Helper()
		if err := e.srv.WaitIdle(e.ctx); err != nil {
			t.Fatal(err)
		}
		evs, err := e.c.ListUnitEvents(e.ctx, sp.SpaceID, u.UnitID, "Status = 'Completed'")
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}

	// Landed, answer lost: reported as unknown outcome, not re-sent.
	e.srv.InjectFault(confighubtest.Fault{Method: "POST", PathPattern: applyRE, Reset: true, AfterHandling: true})
	_, err := e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
	if !errors.Is(err, confighub.ErrApplyOutcomeUnknown) {
		t.Fatalf("want ErrApplyOutcomeUnknown, got %v", err)
	}
	if n := e.srv.CountRequests("POST", applyRE); n != 1 {
		t.Errorf("apply POSTs = %d, want 1", n)
	}
	if n := countOps(); n != 1 {
		t.Errorf("completed operations = %d, want 1", n)
	}

	// 502: may have landed; not re-sent.
	e.srv.InjectFault(confighubtest.Fault{Method: "POST", PathPattern: applyRE, Status: 502})
	if _, err := e.c.Apply(e.ctx, sp.SpaceID, u.UnitID); !errors.Is(err, confighub.ErrApplyOutcomeUnknown) {
		t.Fatalf("502: want ErrApplyOutcomeUnknown, got %v", err)
	}
	if n := e.srv.CountRequests("POST", applyRE); n != 2 {
		t.Errorf("apply POSTs = %d, want 2", n)
	}

	// 429: the server refused it, so a retry is safe.
	e.srv.InjectFault(confighubtest.Fault{Method: "POST", PathPattern: applyRE, Status: 429})
	op, err := e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
	if err != nil {
		t.Fatalf("429 then success: %v", err)
	}
	if _, err := e.c.WaitForOperation(e.ctx, sp.SpaceID, u.UnitID, op); err != nil {
		t.Fatal(err)
	}
	if n := countOps(); n != 2 {
		t.Errorf("completed operations = %d, want 2", n)
	}
}

func TestMutationsUnderFaults(t *testing.T) {
	e := newEnv(t)
	sp := e.space("s")
	u := e.unit(sp, "u", "kind: A\n")

	// PATCH with data: idempotent, retried; only one new revision.
	e.srv.InjectFault(confighubtest.Fault{Method: "PATCH", PathPattern: unitPathRE, Status: 502, AfterHandling: true})
	p, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": []byte("kind: B\n")}, confighub.UnitUpdateParams{})
	if err != nil || p.HeadRevisionNum != 2 {
		t.Fatalf("patch through 502: %+v %v", p, err)
	}

	// Restore whose answer is lost: re-read shows head moved; no second restore.
	e.srv.InjectFault(confighubtest.Fault{Method: "PATCH", PathPattern: unitPathRE, Reset: true, AfterHandling: true})
	r, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, nil, confighub.UnitUpdateParams{Restore: "1"})
	if err != nil || r.HeadRevisionNum != 3 || string(r.Data) != "kind: A\n" {
		t.Fatalf("restore through reset: %+v %v", r, err)
	}
	// Restore refused before landing: re-sent once.
	e.srv.InjectFault(confighubtest.Fault{Method: "PATCH", PathPattern: unitPathRE, Status: 503})
	r, err = e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, nil, confighub.UnitUpdateParams{Restore: "2"})
	if err != nil || r.HeadRevisionNum != 4 {
		t.Fatalf("restore through 503: %+v %v", r, err)
	}
	if revs := e.revisions(sp, u); len(revs) != 4 {
		t.Errorf("%d revisions, want 4 (no duplicates)", len(revs))
	}

	// PUT whose first try landed but answered 500: the retry meets 409, and
	// UpdateUnit re-reads and re-applies the mutation.
	e.srv.InjectFault(confighubtest.Fault{Method: "PUT", PathPattern: unitPathRE, Status: 500, AfterHandling: true})
	calls := 0
	got, err := e.c.UpdateUnit(e.ctx, sp.SpaceID, u.UnitID, func(x *confighub.Unit) error {
		calls++
		x.Data = []byte("kind: C\n")
		return nil
	}, confighub.UnitUpdateParams{})
	if err != nil || string(got.Data) != "kind: C\n" || got.HeadRevisionNum != 5 {
		t.Fatalf("PUT through landed 500: %+v %v", got, err)
	}
	if calls != 2 {
		t.Errorf("mutation calls = %d, want 2", calls)
	}
	// An injected 409 is retried once, then reported.
	e.srv.InjectFault(confighubtest.Fault{Method: "PUT", PathPattern: unitPathRE, Status: 409, Times: 2})
	_, err = e.c.UpdateUnit(e.ctx, sp.SpaceID, u.UnitID, func(x *confighub.Unit) error { x.DisplayName = "y"; return nil }, confighub.UnitUpdateParams{})
	if !confighub.IsConflict(err) || !strings.Contains(err.Error(), "giving up") {
		t.Errorf("want clear conflict, got %v", err)
	}
	if revs := e.revisions(sp, u); len(revs) != 5 {
		t.Errorf("%d revisions, want 5", len(revs))
	}

	// Bulk tag is idempotent and retried.
	tag, _ := e.c.CreateTag(e.ctx, sp.SpaceID, confighub.Tag{Slug: "release-1"})
	e.srv.InjectFault(confighubtest.Fault{Method: "POST", PathPattern: `/unit/tag$`, Status: 500, AfterHandling: true})
	if _, err := e.c.TagUnits(e.ctx, "SpaceID = '"+sp.SpaceID.String()+"'", confighub.UnitTagRequest{TagID: tag.TagID, Revision: "HeadRevisionNum"}); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.CountRequests(http.MethodPost, `/unit/tag$`); n != 2 {
		t.Errorf("tag POSTs = %d", n)
	}
}
