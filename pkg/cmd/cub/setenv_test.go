package cub

import (
	"strings"
	"testing"
)

func TestSetEnv(t *testing.T) {
	h := installedApplied(t, "dev")
	before, mut := h.revisions(), h.mutations()

	r := h.day2(nil, "", "set-env", "dev", "account-service", "PEOPLE_SERVICE_HOST=people")
	if r.code != 2 || !strings.Contains(r.stderr, "the TraderX model owns PEOPLE_SERVICE_HOST (it wires account-service to people-service)") {
		t.Errorf("model-owned: %s", r)
	}
	for _, args := range [][]string{
		{"set-env", "dev", "account-service", "CIRCUIT_BREAKER_ENABLED=true"},
		{"set-env", "dev", "account-service", "--unset", "ACCOUNT_SERVICE_PORT"},
		{"set-env", "dev", "account-service", "NOEQUALS"},
		{"set-env", "dev", "account-service"},
		{"set-env", "dev", "account-service", "A=1", "--unset", "A"},
	} {
		if r := h.day2(nil, "", args...); r.code != 2 {
			t.Errorf("%v: want exit 2: %s", args, r)
		}
	}
	// With --force the wire may change, but a value naming no Service fails
	// validation before anything is written.
	r = h.day2(nil, "", "set-env", "dev", "account-service", "PEOPLE_SERVICE_HOST=people", "--force")
	if r.code != 1 {
		t.Fatalf("broken wire: want exit 1: %s", r)
	}
	for _, want := range []string{"FAIL 05-dependencies deployment/account-service PEOPLE_SERVICE_HOST: PEOPLE_SERVICE_HOST=people names no Service",
		"refused, nothing was written"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal lacks %q:\n%s", want, r.stderr)
		}
	}
	r = h.day2(nil, "", "set-env", "dev", "account-service", "LOG_LEVEL=debug", "--dry-run")
	if r.code != 0 {
		t.Errorf("dry run: %s", r)
	}
	golden(t, "set-env.dry-run.golden", r.stdout)
	h.unchanged("refused set-envs and a dry run", before, mut)

	r = h.day2(nil, "", "set-env", "dev", "account-service", "LOG_LEVEL=debug", "JAVA_OPTS=-Xmx256m -Dx=y")
	if r.code != 0 {
		t.Fatalf("set-env: %s", r)
	}
	u := h.units("traderx-dev")["account-service-deployment"]
	if !strings.Contains(string(u.Data), "value: debug") || !strings.Contains(string(u.Data), "value: -Xmx256m -Dx=y") || u.LiveRevisionNum != u.HeadRevisionNum {
		t.Errorf("unit after set-env:\n%s", u.Data)
	}
	r = h.day2(nil, "", "set-env", "dev", "account-service", "--unset", "LOG_LEVEL")
	if r.code != 0 || strings.Contains(string(h.units("traderx-dev")["account-service-deployment"].Data), "LOG_LEVEL") {
		t.Errorf("unset: %s", r)
	}
	// Blue-green services: both colours, so a switch keeps the setting.
	r = h.day2(nil, "", "set-env", "dev", "trade-service", "LOG_LEVEL=debug")
	if r.code != 0 {
		t.Errorf("blue-green set-env: %s", r)
	}
	golden(t, "set-env.both-colours.golden", r.stdout)
}
