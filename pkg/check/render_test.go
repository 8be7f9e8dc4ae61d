package check

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// healthReport is a representative health run: two services, every status,
// a hint on each problem.
func healthReport() Report {
	r := NewReport(KindHealth, "dev", "traderx-dev")
	r.Cluster = &Cluster{Context: "kind-dev", Server: "https://127.0.0.1:6443", Source: "config file"}
	r.Add(
		Check{Suite: "deployment", Name: "rollout-complete", Target: "trade-service", Status: StatusPass,
			Message: "3/3 replicas updated and available"},
		Check{Suite: "pods", Name: "pods-ready", Target: "trade-service", Status: StatusFail,
			Message: "1/3 pods ready; trade-service-7d9f4-x2k8p is in CrashLoopBackOff",
			Hint:    "kubectl -n traderx-dev logs trade-service-7d9f4-x2k8p --previous"},
		Check{Suite: "pods", Name: "restarts", Target: "trade-service", Status: StatusWarn,
			Message: "12 restarts in the last hour", Hint: "look for OOMKilled in kubectl describe pod"},
		Check{Suite: "deployment", Name: "rollout-complete", Target: "web-front-end-angular", Status: StatusPass,
			Message: "1/1 replicas updated and available"},
		Check{Suite: "endpoints", Name: "endpoints-ready", Target: "web-front-end-angular", Status: StatusSkip,
			Message: "no Service selects the pods"},
	)
	r.Finalize()
	return *r
}

// validateReport is a validation run grouped by suite, with warnings only.
func validateReport() Report {
	r := NewReport(KindValidate, "prod", "traderx-prod")
	r.Add(
		Check{Suite: "03-namespace", Name: "exists", Target: "namespace/traderx-prod", Status: StatusPass,
			Message: "namespace exists"},
		Check{Suite: "03-namespace", Name: "network-policy", Target: "namespace/traderx-prod", Status: StatusWarn,
			Message: "no default-deny NetworkPolicy", Hint: "kubectl traderx apply prod --only networkpolicy"},
		Check{Suite: "05-resources", Name: "limits-set", Target: "trade-service", Status: StatusPass,
			Message: "requests and limits within bounds"},
	)
	r.Finalize()
	return *r
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		file   string
		report Report
		opts   RenderOptions
	}{
		{"health.table.golden", healthReport(), RenderOptions{Format: FormatTable}},
		{"health.table-80.golden", healthReport(), RenderOptions{Format: FormatTable, Width: 80}},
		{"health.table-color.golden", healthReport(), RenderOptions{Format: FormatTable, Color: true}},
		{"health.wide.golden", healthReport(), RenderOptions{Format: FormatWide}},
		{"health.wide-color.golden", healthReport(), RenderOptions{Format: FormatWide, Color: true}},
		{"health.json.golden", healthReport(), RenderOptions{Format: FormatJSON}},
		{"health.yaml.golden", healthReport(), RenderOptions{Format: FormatYAML}},
		{"health.junit.golden", healthReport(), RenderOptions{Format: FormatJUnit}},
		{"validate.table.golden", validateReport(), RenderOptions{Format: FormatTable, GroupBy: GroupBySuite}},
		{"validate.table-failon-warn.golden", validateReport(), RenderOptions{Format: FormatTable, GroupBy: GroupBySuite, FailOn: FailOnWarn}},
		{"validate.wide.golden", validateReport(), RenderOptions{Format: FormatWide, GroupBy: GroupBySuite}},
		{"validate.junit-failon-warn.golden", validateReport(), RenderOptions{Format: FormatJUnit, FailOn: FailOnWarn}},
		{"empty.table.golden", *NewReport(KindHealth, "dev", "traderx-dev"), RenderOptions{}},
		{"empty.wide.golden", *NewReport(KindHealth, "dev", "traderx-dev"), RenderOptions{Format: FormatWide}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tt.report, tt.opts); err != nil {
				t.Fatalf("Render: %v", err)
			}
			golden(t, tt.file, buf.Bytes())

			hasEscape := bytes.Contains(buf.Bytes(), []byte("\x1b["))
			if hasEscape != tt.opts.Color {
				t.Errorf("ANSI escapes in output = %v, want %v (Color %v)", hasEscape, tt.opts.Color, tt.opts.Color)
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/check -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); refresh with -update if intended:\n%s", path, diff)
	}
}

func TestRenderDoesNotFinalizeCallersReport(t *testing.T) {
	r := NewReport(KindHealth, "dev", "traderx-dev")
	r.Add(chk("a", "x", StatusFail))
	var buf bytes.Buffer
	if err := Render(&buf, *r, RenderOptions{Format: FormatTable}); err != nil {
		t.Fatal(err)
	}
	if r.Verdict != "" {
		t.Errorf("caller's report was changed: verdict %q", r.Verdict)
	}
	if !strings.Contains(buf.String(), "Status: UNHEALTHY — 1 check failed: a x") {
		t.Errorf("unfinalized report rendered without its verdict:\n%s", buf.String())
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	err := Render(&bytes.Buffer{}, healthReport(), RenderOptions{Format: "xml"})
	if err == nil || !strings.Contains(err.Error(), "table, wide, json, yaml, junit") {
		t.Errorf("Render(xml) error = %v, want one listing the valid formats", err)
	}
}

func TestJSONAndYAMLRoundTrip(t *testing.T) {
	want := healthReport()
	for _, f := range []Format{FormatJSON, FormatYAML} {
		var buf bytes.Buffer
		if err := Render(&buf, want, RenderOptions{Format: f}); err != nil {
			t.Fatal(err)
		}
		var got Report
		var err error
		if f == FormatJSON {
			err = json.Unmarshal(buf.Bytes(), &got)
		} else {
			err = yaml.Unmarshal(buf.Bytes(), &got)
		}
		if err != nil {
			t.Fatalf("%s does not parse back: %v", f, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", f, diff)
		}
	}
}

func TestJUnitParsesBack(t *testing.T) {
	type counts struct{ Tests, Failures, Skipped, Out int }
	tests := []struct {
		name   string
		failOn FailOn
		want   map[string]counts
		total  counts
	}{
		{
			name: "fail-on fail",
			want: map[string]counts{
				"deployment": {Tests: 2},
				"pods":       {Tests: 2, Failures: 1, Out: 1},
				"endpoints":  {Tests: 1, Skipped: 1},
			},
			total: counts{Tests: 5, Failures: 1, Skipped: 1},
		},
		{
			name:   "fail-on warn",
			failOn: FailOnWarn,
			want: map[string]counts{
				"deployment": {Tests: 2},
				"pods":       {Tests: 2, Failures: 2, Out: 1},
				"endpoints":  {Tests: 1, Skipped: 1},
			},
			total: counts{Tests: 5, Failures: 2, Skipped: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, healthReport(), RenderOptions{Format: FormatJUnit, FailOn: tt.failOn}); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte(xml.Header)) {
				t.Error("JUnit output lacks the XML header")
			}
			var doc junitSuites
			if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("JUnit output does not parse: %v", err)
			}
			if diff := cmp.Diff(tt.total, counts{Tests: doc.Tests, Failures: doc.Failures, Skipped: doc.Skipped}); diff != "" {
				t.Errorf("<testsuites> counts (-want +got):\n%s", diff)
			}
			got := map[string]counts{}
			for _, s := range doc.Suites {
				// Count the elements, not just the attributes, so both must agree.
				c := counts{Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped}
				var failures, skipped int
				for _, tc := range s.TestCases {
					if want := "traderx.health." + s.Name; tc.ClassName != want {
						t.Errorf("classname = %q, want %q", tc.ClassName, want)
					}
					if tc.Failure != nil {
						failures++
					}
					if tc.Skipped != nil {
						skipped++
					}
					if strings.HasPrefix(tc.SystemOut, "WARN: ") {
						c.Out++
					}
				}
				if len(s.TestCases) != s.Tests || failures != s.Failures || skipped != s.Skipped {
					t.Errorf("suite %s: attributes %d/%d/%d disagree with elements %d/%d/%d",
						s.Name, s.Tests, s.Failures, s.Skipped, len(s.TestCases), failures, skipped)
				}
				got[s.Name] = c
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("suites (-want +got):\n%s", diff)
			}
		})
	}
}
