package envcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// fakeHub holds one space per slug with its units' targets.
type fakeHub struct {
	spaces  map[string]uuid.UUID
	units   map[uuid.UUID][]confighub.ExtendedUnit
	targets map[uuid.UUID][]confighub.ExtendedTarget
	err     error
	calls   int
}

func (f *fakeHub) GetSpaceBySlug(_ context.Context, slug string) (*confighub.Space, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	id, ok := f.spaces[slug]
	if !ok {
		return nil, &confighub.APIError{Status: 404, Method: "GET", Path: "/space"}
	}
	return &confighub.Space{SpaceID: id, Slug: slug}, nil
}

func (f *fakeHub) ListUnits(_ context.Context, id uuid.UUID, _ string, _ ...string) ([]confighub.ExtendedUnit, error) {
	return f.units[id], nil
}

func (f *fakeHub) ListTargets(_ context.Context, id uuid.UUID, _ string) ([]confighub.ExtendedTarget, error) {
	return f.targets[id], nil
}

// hubWith makes space traderx-<env> whose units are bound to targets with
// the given KubeContext parameters (one unit per target).
func hubWith(env string, params ...string) *fakeHub {
	f := &fakeHub{spaces: map[string]uuid.UUID{}, units: map[uuid.UUID][]confighub.ExtendedUnit{}, targets: map[uuid.UUID][]confighub.ExtendedTarget{}}
	sp := uuid.New()
	f.spaces["traderx-"+env] = sp
	for i, p := range params {
		tid := uuid.New()
		f.units[sp] = append(f.units[sp], confighub.ExtendedUnit{Unit: &confighub.Unit{UnitID: uuid.New(), TargetID: tid}})
		f.targets[sp] = append(f.targets[sp], confighub.ExtendedTarget{Target: &confighub.Target{TargetID: tid,
			Slug: "worker-" + string(rune('a'+i)), Parameters: p}})
	}
	// A target no unit uses must not count.
	f.targets[sp] = append(f.targets[sp], confighub.ExtendedTarget{Target: &confighub.Target{TargetID: uuid.New(),
		Slug: "unused", Parameters: `{"KubeContext":"unused-ctx"}`}})
	return f
}

func TestTargetContext(t *testing.T) {
	tests := []struct {
		name              string
		hub               *fakeHub
		wantCtx, wantSlug string
		wantErr           string
	}{
		{"the units' target", hubWith("prod", `{"KubeContext":"prod-ctx","WaitTimeout":"2m0s"}`), "prod-ctx", "worker-a", ""},
		{"two targets of one context", hubWith("prod", `{"KubeContext":"prod-ctx"}`, `{"KubeContext":"prod-ctx"}`), "prod-ctx", "worker-a", ""},
		{"an in-cluster target has none", hubWith("prod", `{"WaitTimeout":"2m0s"}`), "", "worker-a", ""},
		{"no units bound", hubWith("prod"), "", "", ""},
		{"no space", hubWith("dev", `{"KubeContext":"dev-ctx"}`), "", "", ""},
		{"targets of two contexts", hubWith("prod", `{"KubeContext":"eu"}`, `{"KubeContext":"us"}`), "", "",
			"bound to targets of different kube contexts: worker-a (KubeContext eu); worker-b (KubeContext us)"},
		{"bad parameters", hubWith("prod", `not json`), "", "", "ConfigHub target worker-a of space traderx-prod: parameters are not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc, slug, err := TargetContext(context.Background(), tt.hub, "traderx-prod")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || kc != tt.wantCtx || slug != tt.wantSlug {
				t.Errorf("got %q, %q, %v; want %q, %q", kc, slug, err, tt.wantCtx, tt.wantSlug)
			}
		})
	}
}

// writeKubeconfig writes a kubeconfig with the named contexts, each on its
// own server https://<name>.example:6443, the first current.
func writeKubeconfig(t *testing.T, contexts ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: t}}]\ncurrent-context: " + contexts[0] + "\nclusters:\n")
	for _, c := range contexts {
		b.WriteString("- {name: " + c + ", cluster: {server: \"https://" + c + ".example:6443\"}}\n")
	}
	b.WriteString("contexts:\n")
	for _, c := range contexts {
		b.WriteString("- {name: " + c + ", context: {cluster: " + c + ", user: u}}\n")
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolver(t *testing.T) {
	kc := writeKubeconfig(t, "dev-ctx", "prod-ctx")
	prod, _ := traderx.LookupEnvironment("prod")
	tests := []struct {
		name      string
		r         *Resolver
		want      Cluster
		wantInput bool
		wantErr   string
		noHub     bool // ConfigHub must not be asked
	}{
		{name: "the file, ConfigHub not asked", r: &Resolver{File: &File{Contexts: map[string]string{"prod": "prod-ctx"}}, Targets: &fakeHub{err: errors.New("down")}},
			want: Cluster{Env: "prod", Context: "prod-ctx", Server: "https://prod-ctx.example:6443", Source: SourceFile}, noHub: true},
		{name: "the target", r: &Resolver{Targets: hubWith("prod", `{"KubeContext":"prod-ctx"}`)},
			want: Cluster{Env: "prod", Context: "prod-ctx", Server: "https://prod-ctx.example:6443", Source: SourceTarget}},
		{name: "without credentials: the current context", r: &Resolver{},
			want: Cluster{Env: "prod", Context: "dev-ctx", Server: "https://dev-ctx.example:6443", Source: SourceCurrent}},
		{name: "a target context the kubeconfig lacks is input", r: &Resolver{Targets: hubWith("prod", `{"KubeContext":"worker-side-name"}`)},
			wantInput: true, wantErr: `names kube context "worker-side-name"`},
		{name: "ConfigHub down is not input", r: &Resolver{Targets: &fakeHub{err: errors.New("connection refused")}},
			wantErr: "environment prod: read ConfigHub space traderx-prod for its target: connection refused"},
		{name: "a missing kubeconfig is input", r: &Resolver{Kubeconfig: filepath.Join(t.TempDir(), "none")}, wantInput: true, wantErr: "load kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Project = "traderx"
			if tt.r.Kubeconfig == "" {
				tt.r.Kubeconfig = kc
			}
			got, err := tt.r.Resolve(context.Background(), prod)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || IsInput(err) != tt.wantInput {
					t.Fatalf("error %v (input %v), want %q (input %v)", err, IsInput(err), tt.wantErr, tt.wantInput)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if h, ok := tt.r.Targets.(*fakeHub); ok && tt.noHub && h.calls > 0 {
				t.Error("ConfigHub was asked although the file decided")
			}
		})
	}
}
