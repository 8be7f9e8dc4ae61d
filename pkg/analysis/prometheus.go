// Package analysis evaluates the metric gates of a progressive rollout: a
// PromQL query asked of a Prometheus-compatible server through its HTTP API
// (GET /api/v1/query), judged true, false or inconclusive.
//
// It is a small client over net/http rather than prometheus/client_golang:
// one endpoint and three result types are all a gate needs.
package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInconclusive marks an evaluation that says nothing about the rollout:
// the server could not be reached or did not answer the query. Callers
// count these rather than fail at the first one.
var ErrInconclusive = errors.New("analysis inconclusive")

// Query is a PromQL expression that must stay true, asked of the
// Prometheus-compatible server at URL.
type Query struct {
	URL  string
	Expr string
	// Client defaults to an http.Client with a 10s timeout.
	Client *http.Client
}

// Result is one evaluation of a Query.
type Result struct {
	// True when the query returned at least one sample and none of them is
	// zero (a comparison without `bool` drops the series it finds false, so
	// an empty result is false; with `bool`, false is 0).
	True bool
	// Detail is what the query returned, for the log and the status.
	Detail string
}

// response is the envelope of /api/v1/query.
type response struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// sample is an instant-vector element: labels and [time, "value"].
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Evaluate asks the server once, at the server's current time. Network
// errors, 5xx answers and answers that are not the API's JSON wrap
// ErrInconclusive; a query the server rejects (4xx, status "error" with a
// bad_data type) is a plain error, since asking again cannot help.
func (q Query) Evaluate(ctx context.Context) (Result, error) {
	u, err := url.Parse(strings.TrimSuffix(q.URL, "/") + "/api/v1/query")
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Result{}, fmt.Errorf("prometheus URL %q is not an absolute http(s) URL", q.URL)
	}
	u.RawQuery = url.Values{"query": {q.Expr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Result{}, err
	}
	client := q.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s unreachable: %v", ErrInconclusive, q.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Result{}, fmt.Errorf("%w: reading the answer of %s: %v", ErrInconclusive, q.URL, err)
	}
	var r response
	if jerr := json.Unmarshal(body, &r); jerr != nil || r.Status == "" {
		return Result{}, fmt.Errorf("%w: %s answered %s, not the Prometheus query API's JSON", ErrInconclusive, q.URL, resp.Status)
	}
	if r.Status != "success" {
		err := fmt.Errorf("query %q failed on %s: %s: %s", q.Expr, q.URL, r.ErrorType, r.Error)
		// The API answers 400/422 for a query that cannot work; 503 and
		// timeouts are the server's trouble, not the query's.
		if resp.StatusCode >= 500 || r.ErrorType == "timeout" || r.ErrorType == "canceled" || r.ErrorType == "unavailable" {
			return Result{}, fmt.Errorf("%w: %v", ErrInconclusive, err)
		}
		return Result{}, err
	}
	return judge(r.Data.ResultType, r.Data.Result)
}

func judge(resultType string, raw json.RawMessage) (Result, error) {
	switch resultType {
	case "vector":
		var samples []sample
		if err := json.Unmarshal(raw, &samples); err != nil {
			return Result{}, fmt.Errorf("%w: malformed vector: %v", ErrInconclusive, err)
		}
		if len(samples) == 0 {
			return Result{Detail: "empty result"}, nil
		}
		res := Result{True: true}
		var parts []string
		for _, s := range samples {
			v, err := value(s.Value)
			if err != nil {
				return Result{}, err
			}
			if v == 0 {
				res.True = false
			}
			parts = append(parts, fmt.Sprintf("%s=%s", labels(s.Metric), strconv.FormatFloat(v, 'g', 6, 64)))
		}
		res.Detail = strings.Join(parts, ", ")
		return res, nil
	case "scalar":
		var pair [2]any
		if err := json.Unmarshal(raw, &pair); err != nil {
			return Result{}, fmt.Errorf("%w: malformed scalar: %v", ErrInconclusive, err)
		}
		v, err := value(pair)
		if err != nil {
			return Result{}, err
		}
		return Result{True: v != 0, Detail: "scalar " + strconv.FormatFloat(v, 'g', 6, 64)}, nil
	}
	return Result{}, fmt.Errorf("the query returns a %s; an analysis query must return an instant vector or a scalar", resultType)
}

func value(pair [2]any) (float64, error) {
	s, ok := pair[1].(string)
	if !ok {
		return 0, fmt.Errorf("%w: sample value %v is not a string", ErrInconclusive, pair[1])
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: sample value %q: %v", ErrInconclusive, s, err)
	}
	return v, nil
}

func labels(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	var b strings.Builder
	b.WriteString("{")
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	b.WriteString("}")
	return b.String()
}
