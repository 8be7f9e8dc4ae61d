package envcluster

import (
	"errors"
	"testing"
)

func TestResolve(t *testing.T) {
	known := []string{"dev-ctx", "prod-ctx", "worker-prod"}
	tests := []struct {
		name       string
		in         Inputs
		want       Cluster
		wantErr    any
		wantErrMsg string
	}{
		{name: "the flag wins over everything",
			in:   Inputs{Env: "prod", Flag: "dev-ctx", File: "prod-ctx", Target: "worker-prod", Current: "prod-ctx", Known: known},
			want: Cluster{Env: "prod", Context: "dev-ctx", Source: SourceFlag}},
		{name: "the file over the target",
			in:   Inputs{Env: "prod", File: "prod-ctx", Target: "worker-prod", Current: "dev-ctx", Known: known},
			want: Cluster{Env: "prod", Context: "prod-ctx", Source: SourceFile}},
		{name: "the target over the current context",
			in:   Inputs{Env: "prod", Target: "worker-prod", TargetName: "w-worker-prod", Current: "dev-ctx", Known: known},
			want: Cluster{Env: "prod", Context: "worker-prod", Source: SourceTarget}},
		{name: "the current context last",
			in:   Inputs{Env: "dev", Current: "dev-ctx", Known: known},
			want: Cluster{Env: "dev", Context: "dev-ctx", Source: SourceCurrent}},
		{name: "an unknown context in the file never falls back to the target or current",
			in:      Inputs{Env: "prod", File: "gone", FilePath: "/cfg/clusters.yaml", Target: "worker-prod", Current: "dev-ctx", Known: known},
			wantErr: &UnknownContextError{},
			wantErrMsg: `environment prod: the config file /cfg/clusters.yaml names kube context "gone", which the kubeconfig does not have ` +
				`(it has: dev-ctx, prod-ctx, worker-prod); nothing was read. Fix the mapping (kubectl traderx config set-context prod <context>) or the kubeconfig`},
		{name: "an unknown flag context",
			in:      Inputs{Env: "dev", Flag: "nope", Current: "dev-ctx", Known: known},
			wantErr: &UnknownContextError{}},
		{name: "an unknown target context never falls back to current",
			in:      Inputs{Env: "prod", Target: "elsewhere", TargetName: "w-elsewhere", Current: "dev-ctx", Known: known},
			wantErr: &UnknownContextError{}},
		{name: "an unknown current context",
			in:      Inputs{Env: "dev", Current: "deleted", Known: known},
			wantErr: &UnknownContextError{}},
		{name: "nothing at all",
			in:      Inputs{Env: "dev", Known: known},
			wantErr: &NoContextError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.in)
			if tt.wantErr != nil {
				if !errors.As(err, &tt.wantErr) {
					t.Fatalf("error %v (%T), want %T", err, err, tt.wantErr)
				}
				if tt.wantErrMsg != "" && err.Error() != tt.wantErrMsg {
					t.Errorf("message\n%s\nwant\n%s", err, tt.wantErrMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
