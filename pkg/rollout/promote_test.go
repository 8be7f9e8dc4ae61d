package rollout

import (
	"context"
	"errors"
	"testing"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

// A promotion against the chain names the chain and what to type instead,
// before ConfigHub is asked anything (the Rollout has no Hub).
func TestPromoteOffTheChain(t *testing.T) {
	env := func(n string) traderx.Environment {
		e, err := traderx.LookupEnvironment(n)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		from, to, project, want string
	}{
		{"prod", "dev", "", "cannot promote prod into dev: changes move base → dev → staging → prod, one step at a time; " +
			"dev is the first environment: its units follow base, which `cub traderx install --envs dev` keeps at the model"},
		{"dev", "prod", "", "cannot promote dev into prod: changes move base → dev → staging → prod, one step at a time; " +
			"prod takes its changes from staging: `cub traderx promote staging prod`; dev's changes move on with `cub traderx promote dev staging`"},
		{"staging", "dev", "acme", "cannot promote staging into dev: changes move base → dev → staging → prod, one step at a time; " +
			"dev is the first environment: its units follow base, which `cub traderx install --envs dev --project acme` keeps at the model; " +
			"staging's changes move on with `cub traderx promote staging prod --project acme`"},
	}
	for _, tt := range tests {
		r := &Rollout{Project: tt.project}
		_, err := r.Promote(context.Background(), nil, nil, env(tt.from), env(tt.to), PromoteOptions{DryRun: true})
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("promote %s %s: %v, want an InputError", tt.from, tt.to, err)
		}
		if err.Error() != tt.want {
			t.Errorf("promote %s %s:\n got %s\nwant %s", tt.from, tt.to, err, tt.want)
		}
	}
}
