package cub

import (
	"testing"
)

// A run reads what it works on once: a scale of a blue-green service (the
// active colour from the Service unit, a preview, the edit, the apply) reads
// the environment's space once and asks who the user is once; so do the
// other verbs. Install reads the base and the environment space once each,
// promote its two environments' spaces.
func TestEachSpaceReadOncePerRun(t *testing.T) {
	h := installedApplied(t, "dev,staging")
	for _, tc := range []struct {
		name           string
		run            func() result
		spaces, whoami int
	}{
		{"scale of a blue-green service", func() result { return h.day2(nil, "", "scale", "dev", "trade-service", "2") }, 1, 1},
		{"restart", func() result { return h.day2(nil, "", "restart", "dev", "trade-service") }, 1, 1},
		{"set-env", func() result { return h.day2(nil, "", "set-env", "dev", "account-service", "LOG_LEVEL=debug") }, 1, 1},
		{"status --refresh", func() result { return h.run("", "status", "dev", "--refresh") }, 1, 0},
		{"blue-green --dry-run", func() result { return h.run("", "blue-green", "trade-service", "1.0.0", "dev", "--dry-run") }, 1, 1},
		{"promote (plan, then promote)", func() result { return h.run("", "promote", "dev", "staging", "--no-apply") }, 2, 1},
		{"apply", func() result { return h.run("", "apply", "dev") }, 1, 1},
		{"install", func() result { return h.run("", "install", "--envs", "dev") }, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.srv.Requests())
			if r := tc.run(); r.code != 0 {
				t.Fatalf("%s", r)
			}
			// A space is read by slug: GET /space?where=Slug = '...'.
			reads, whoami := map[string]int{}, 0
			for _, r := range h.srv.Requests()[before:] {
				switch {
				case r.Method == "GET" && r.Path == "/api/space":
					reads[r.Query]++
				case r.Method == "GET" && r.Path == "/api/me":
					whoami++
				}
			}
			for q, n := range reads {
				if n != 1 {
					t.Errorf("space read %d times (%s), want once", n, q)
				}
			}
			if len(reads) != tc.spaces || whoami != tc.whoami {
				t.Errorf("%d spaces read and %d GET /me, want %d and %d", len(reads), whoami, tc.spaces, tc.whoami)
			}
		})
	}
}
