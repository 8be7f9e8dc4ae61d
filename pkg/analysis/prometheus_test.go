package analysis_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/finos/traderx-plugins/pkg/analysis"
)

// Each answer of the query API maps to true, false, inconclusive or a
// plain error.
func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name         string
		status       int
		body         string
		want         bool
		detail       string
		inconclusive bool
		fails        bool
	}{
		{name: "one true sample", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"colour":"green"},"value":[1,"1"]}]}}`,
			want: true, detail: `{colour="green"}=1`},
		{name: "a zero sample", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]},{"metric":{"a":"b"},"value":[1,"0"]}]}}`,
			detail: `{}=1, {a="b"}=0`},
		{name: "empty vector", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, detail: "empty result"},
		{name: "scalar true", status: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1,"0.995"]}}`, want: true, detail: "scalar 0.995"},
		{name: "scalar false", status: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1,"0"]}}`, detail: "scalar 0"},
		{name: "matrix", status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, fails: true},
		{name: "bad query", status: 400, body: `{"status":"error","errorType":"bad_data","error":"parse error"}`, fails: true},
		{name: "server unavailable", status: 503, body: `{"status":"error","errorType":"unavailable","error":"shutting down"}`, inconclusive: true},
		{name: "not the API", status: 502, body: `<html>bad gateway</html>`, inconclusive: true},
		{name: "NaN value", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}`, inconclusive: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotQuery string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v1/query" {
					http.NotFound(w, r)
					return
				}
				gotQuery = r.URL.Query().Get("query")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			res, err := analysis.Query{URL: srv.URL + "/", Expr: `up{job="x"} >= 1`}.Evaluate(context.Background())
			if gotQuery != `up{job="x"} >= 1` {
				t.Errorf("query sent: %q", gotQuery)
			}
			switch {
			case tc.inconclusive:
				if !errors.Is(err, analysis.ErrInconclusive) {
					t.Errorf("want inconclusive, got %v", err)
				}
			case tc.fails:
				if err == nil || errors.Is(err, analysis.ErrInconclusive) {
					t.Errorf("want a conclusive error, got %v", err)
				}
			case err != nil:
				t.Fatal(err)
			case res.True != tc.want || res.Detail != tc.detail:
				t.Errorf("got %+v, want true=%v detail %q", res, tc.want, tc.detail)
			}
		})
	}
}

// A server nobody answers on is inconclusive, a URL that is not one is not.
func TestEvaluateUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, err := (analysis.Query{URL: url, Expr: "1"}).Evaluate(context.Background()); !errors.Is(err, analysis.ErrInconclusive) {
		t.Errorf("closed server: %v", err)
	}
	if _, err := (analysis.Query{URL: "localhost:9090", Expr: "1"}).Evaluate(context.Background()); err == nil || errors.Is(err, analysis.ErrInconclusive) {
		t.Errorf("relative URL: %v", err)
	}
}
