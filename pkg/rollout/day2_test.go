package rollout_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

func TestWithTag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ghcr.io/finos/traderx/people-service:latest", "ghcr.io/finos/traderx/people-service:1.2"},
		{"registry:5000/traderx/people-service", "registry:5000/traderx/people-service:1.2"},
		{"registry:5000/people-service:old@sha256:abc", "registry:5000/people-service:1.2"},
	} {
		if got := rollout.WithTag(tc.in, "1.2"); got != tc.want {
			t.Errorf("WithTag(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "-x", ".x", "a/b", "a:b", strings.Repeat("x", 129)} {
		if rollout.ValidateTag(bad) == nil {
			t.Errorf("tag %q accepted", bad)
		}
	}
}

func TestCheckScale(t *testing.T) {
	dev, _ := traderx.LookupEnvironment("dev")
	prod, _ := traderx.LookupEnvironment("prod")
	db, _ := traderx.LookupService("database")
	people, _ := traderx.LookupService("people-service")
	for _, tc := range []struct {
		env      traderx.Environment
		svc      traderx.Service
		replicas int32
		force    bool
		want     string
	}{
		{dev, db, 2, false, "H2 database keeps its data inside the pod"},
		{dev, db, 2, true, "at most 1 replica"},
		{dev, db, 0, false, ""},
		{prod, people, 0, false, "pass --force"},
		{prod, people, 0, true, ""},
		{dev, people, 0, false, ""},
		{dev, people, -1, false, "0 or more"},
		{prod, people, 5, false, ""},
	} {
		err := rollout.CheckScale(tc.env, tc.svc, tc.replicas, tc.force)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s %d force=%v: %v, want %q", tc.env.Name, tc.svc.Name, tc.replicas, tc.force, err, tc.want)
		}
	}
}

func TestModelOwnedEnv(t *testing.T) {
	acc, _ := traderx.LookupService("account-service")
	for k, owned := range map[string]bool{"PEOPLE_SERVICE_HOST": true, "ACCOUNT_SERVICE_PORT": true, "CIRCUIT_BREAKER_ENABLED": true,
		"CIRCUIT_BREAKER_NEW": true, "LOG_LEVEL": false, "DATABASE_NAME": false} {
		if got := rollout.ModelOwnedEnv(acc, k) != ""; got != owned {
			t.Errorf("%s owned = %v, want %v", k, got, owned)
		}
	}
	got, err := rollout.ParseEnvAssignments([]string{"A=1", "B=", "C=x=y"})
	if err != nil || len(got) != 3 || got[1].Value != "" || got[2].Value != "x=y" {
		t.Errorf("parse: %v %v", got, err)
	}
	for _, bad := range [][]string{{"A"}, {"1A=x"}, {"A=1", "A=2"}} {
		if _, err := rollout.ParseEnvAssignments(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func renderedUnits(t *testing.T, name string) map[string]manifests.Unit {
	t.Helper()
	env, err := traderx.LookupEnvironment(name)
	if err != nil {
		t.Fatal(err)
	}
	units, err := manifests.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]manifests.Unit{}
	for _, u := range units {
		out[u.Name] = u
	}
	return out
}

func encode(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	b, err := manifests.EncodeYAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Environments exactly as the model renders them differ only as expected.
func TestCompareUnitsIgnoresModelDifferences(t *testing.T) {
	for _, pair := range [][2]string{{"dev", "staging"}, {"staging", "prod"}, {"dev", "prod"}} {
		a, b := renderedUnits(t, pair[0]), renderedUnits(t, pair[1])
		ignored := 0
		for name, ua := range a {
			ub := b[name]
			d, err := rollout.CompareUnits(ua.Objects, ub.Objects, encode(t, ua.Objects), encode(t, ub.Objects))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Changes) > 0 {
				t.Errorf("%s→%s %s: unexpected changes %v", pair[0], pair[1], name, d.Changes)
			}
			ignored += d.Ignored
		}
		if ignored == 0 {
			t.Errorf("%s→%s: nothing ignored", pair[0], pair[1])
		}
	}
}

// A change in one environment, or a value that departs from the model,
// shows; the expected differences around it do not.
func TestCompareUnitsShowsRealDifferences(t *testing.T) {
	dev, staging := renderedUnits(t, "dev"), renderedUnits(t, "staging")
	const unit = "account-service-deployment"
	devData := strings.Replace(string(encode(t, dev[unit].Objects)), "account-service:latest", "account-service:1.2", 1)
	stData := strings.Replace(string(encode(t, staging[unit].Objects)), "replicas: 2", "replicas: 4", 1)
	d, err := rollout.CompareUnits(dev[unit].Objects, staging[unit].Objects, []byte(devData), []byte(stData))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, c := range d.Changes {
		fields = append(fields, c.Field)
	}
	want := "spec.replicas spec.template.spec.containers[0].image"
	if strings.Join(fields, " ") != want {
		t.Errorf("changes = %v, want %s", fields, want)
	}
	if strings.Contains(string(d.From), "traderx-dev") {
		t.Errorf("the namespace is not reconciled:\n%s", d.From)
	}
}

const headYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: traderx-dev
spec:
  replicas: 1
  minReadySeconds: 0
  paused: false
  template:
    metadata:
      annotations: {}
    spec:
      containers:
      - name: web
        image: web:1
        env:
        - {name: A, value: "1"}
        resources:
          limits: {cpu: 1000m, memory: 1Gi}
`

const liveYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: traderx-dev
  uid: 123
  annotations: {deployment.kubernetes.io/revision: "2"}
spec:
  replicas: 1
  progressDeadlineSeconds: 600
  template:
    spec:
      containers:
      - name: web
        image: web:1
        imagePullPolicy: IfNotPresent
        env:
        - {name: A, value: "1"}
        resources:
          limits: {cpu: "1", memory: 1Gi}
status:
  replicas: 1
`

func TestCompareLive(t *testing.T) {
	d, err := rollout.CompareLive([]byte(headYAML), []byte(liveYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Changes) != 0 {
		t.Errorf("defaults, status and quantity spelling count as changes: %v\n%s", d.Changes, d.From)
	}
	head := strings.Replace(headYAML, "web:1", "web:2", 1)
	head = strings.Replace(head, `- {name: A, value: "1"}`, "- {name: A, value: \"1\"}\n        - {name: B, value: \"2\"}", 1)
	d, err = rollout.CompareLive([]byte(head), []byte(liveYAML))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, c := range d.Changes {
		fields = append(fields, c.Field)
	}
	if got := strings.Join(fields, " "); got != "spec.template.spec.containers[0].env spec.template.spec.containers[0].image" {
		t.Errorf("changes = %s", got)
	}
	d, _ = rollout.CompareLive([]byte(headYAML), nil)
	if len(d.Changes) != 1 || d.Changes[0].To != "added" {
		t.Errorf("never applied: %v", d.Changes)
	}
}

func healthy() rollout.Gate {
	return rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		return report(env, check.StatusPass, s), nil
	})
}

func headOf(t *testing.T, r *rollout.Rollout, unit string) *confighub.Unit {
	t.Helper()
	c := r.Hub.(*confighub.Client)
	sp, err := c.GetSpaceBySlug(context.Background(), "traderx-dev")
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.GetUnitBySlug(context.Background(), sp.SpaceID, unit)
	if err != nil {
		t.Fatal(err)
	}
	return u.Unit
}

// Day-2 operations write one new revision per changed unit, apply, and
// record a release named after the operation; a dry run writes nothing.
func TestDay2Operations(t *testing.T) {
	r, _, _ := setup(t, healthy())
	ctx := context.Background()
	dev, _ := traderx.LookupEnvironment("dev")
	quick := rollout.ApplyOptions{Settle: -1}
	if _, err := r.Apply(ctx, dev, quick); err != nil {
		t.Fatal(err)
	}
	const unit = "people-service-deployment"
	before := headOf(t, r, unit).HeadRevisionNum

	res, err := r.SetImage(ctx, spaceOf(t, r, dev), dev, rollout.SetImageOptions{Service: service(t, "people-service"), Tag: "1.2",
		ChangeOptions: rollout.ChangeOptions{DryRun: true}})
	if err != nil || !res.Changed() || !strings.Contains(string(res.Edits[0].After), "people-service:1.2") {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if headOf(t, r, unit).HeadRevisionNum != before {
		t.Fatal("a dry run wrote a revision")
	}

	res, err = r.SetImage(ctx, spaceOf(t, r, dev), dev, rollout.SetImageOptions{Service: service(t, "people-service"), Tag: "1.2",
		ChangeOptions: rollout.ChangeOptions{ChangeDesc: "CVE fix", Apply: quick}})
	if err != nil {
		t.Fatal(err)
	}
	u := headOf(t, r, unit)
	if u.HeadRevisionNum != before+1 || u.LiveRevisionNum != u.HeadRevisionNum || !strings.Contains(string(u.Data), "image: ghcr.io/finos/traderx/people-service:1.2") {
		t.Errorf("unit after set-image: head %d live %d\n%s", u.HeadRevisionNum, u.LiveRevisionNum, u.Data)
	}
	if res.Apply == nil || res.Apply.Release == nil || res.Apply.Release.Description != "set-image people-service 1.2: CVE fix" || res.Apply.Applied != 1 {
		t.Errorf("release: %+v", res.Apply)
	}
	// Again: nothing to write, nothing to apply, no release.
	res, err = r.SetImage(ctx, spaceOf(t, r, dev), dev, rollout.SetImageOptions{Service: service(t, "people-service"), Tag: "1.2", ChangeOptions: rollout.ChangeOptions{Apply: quick}})
	if err != nil || res.Changed() || res.Apply.Release != nil {
		t.Errorf("repeat: changed=%v %+v %v", res.Changed(), res.Apply, err)
	}

	// Blue-green services are refused without AllColours.
	_, err = r.SetImage(ctx, spaceOf(t, r, dev), dev, rollout.SetImageOptions{Service: service(t, "trade-service"), Tag: "1.2"})
	var ie *rollout.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "cub traderx blue-green") {
		t.Errorf("blue-green set-image: %v", err)
	}
	res, err = r.SetImage(ctx, spaceOf(t, r, dev), dev, rollout.SetImageOptions{Service: service(t, "trade-service"), Tag: "1.2", AllColours: true, ChangeOptions: rollout.ChangeOptions{Apply: quick}})
	if err != nil || len(res.Edits) != 2 || !res.Edits[0].Changed || !res.Edits[1].Changed {
		t.Errorf("--all-colours: %+v %v", res, err)
	}

	// Restart stamps the clock's time; scale picks the active colour.
	res, err = r.Restart(ctx, spaceOf(t, r, dev), dev, rollout.RestartOptions{Service: service(t, "trade-service"), ChangeOptions: rollout.ChangeOptions{Apply: quick}})
	if err != nil || len(res.Edits) != 1 || res.Edits[0].Unit != "trade-service-blue-deployment" ||
		!strings.Contains(string(res.Edits[0].After), rollout.RestartedAtAnnotation+": \"2026-01-02T03:04:05Z\"") {
		t.Errorf("restart: %v\n%s", err, res.Edits[0].After)
	}
	res, err = r.Scale(ctx, spaceOf(t, r, dev), dev, rollout.ScaleOptions{Service: service(t, "trade-service"), Replicas: 2, ChangeOptions: rollout.ChangeOptions{Apply: quick}})
	if err != nil || res.Edits[0].Unit != "trade-service-blue-deployment" || !strings.Contains(string(res.Edits[0].After), "replicas: 2") {
		t.Errorf("scale: %v %+v", err, res)
	}

	// set-env: a broken wire is refused by validation before anything is written.
	acc := headOf(t, r, "account-service-deployment").HeadRevisionNum
	_, err = r.SetEnv(ctx, spaceOf(t, r, dev), dev, rollout.SetEnvOptions{Service: service(t, "account-service"), Set: []rollout.EnvVar{{Name: "PEOPLE_SERVICE_HOST", Value: "people"}}})
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "model owns PEOPLE_SERVICE_HOST") {
		t.Errorf("model-owned: %v", err)
	}
	_, err = r.SetEnv(ctx, spaceOf(t, r, dev), dev, rollout.SetEnvOptions{Service: service(t, "account-service"), Force: true, Set: []rollout.EnvVar{{Name: "PEOPLE_SERVICE_HOST", Value: "people"}}})
	var re *rollout.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "PEOPLE_SERVICE_HOST=people names no Service") {
		t.Errorf("broken wire: %v", err)
	}
	if headOf(t, r, "account-service-deployment").HeadRevisionNum != acc {
		t.Error("a refused set-env wrote a revision")
	}
	res, err = r.SetEnv(ctx, spaceOf(t, r, dev), dev, rollout.SetEnvOptions{Service: service(t, "account-service"), Set: []rollout.EnvVar{{Name: "LOG_LEVEL", Value: "debug"}},
		ChangeOptions: rollout.ChangeOptions{Apply: quick}})
	if err != nil || !res.Changed() || !strings.Contains(string(res.Edits[0].After), "LOG_LEVEL") {
		t.Errorf("set-env: %v", err)
	}
	res, err = r.SetEnv(ctx, spaceOf(t, r, dev), dev, rollout.SetEnvOptions{Service: service(t, "account-service"), Unset: []string{"LOG_LEVEL"}, ChangeOptions: rollout.ChangeOptions{Apply: quick}})
	if err != nil || !res.Changed() || strings.Contains(string(res.Edits[0].After), "LOG_LEVEL") {
		t.Errorf("unset: %v", err)
	}
}

// A failing health gate after a change says how to roll back.
func TestChangeGateFailureSaysRollback(t *testing.T) {
	fail := false
	gate := rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		if fail {
			return report(env, check.StatusFail, s), nil
		}
		return report(env, check.StatusPass, s), nil
	})
	r, _, _ := setup(t, gate)
	ctx := context.Background()
	dev, _ := traderx.LookupEnvironment("dev")
	if _, err := r.Apply(ctx, dev, rollout.ApplyOptions{Settle: -1}); err != nil {
		t.Fatal(err)
	}
	fail = true
	_, err := r.SetImage(ctx, spaceOf(t, r, dev), dev, rollout.SetImageOptions{Service: service(t, "people-service"), Tag: "bad",
		ChangeOptions: rollout.ChangeOptions{Apply: rollout.ApplyOptions{Timeout: 10e9}}})
	var ce *rollout.ChangeError
	var te *rollout.TierError
	if !errors.As(err, &ce) || !errors.As(err, &te) || !ce.Written || !strings.Contains(err.Error(), "to roll back: cub traderx rollback dev --services people-service (the whole environment: cub traderx rollback dev)") {
		t.Fatalf("want a ChangeError wrapping a TierError with the rollback command, got %v", err)
	}
}
