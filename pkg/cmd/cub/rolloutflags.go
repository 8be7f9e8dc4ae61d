package cub

import (
	"context"
	"time"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// checkDurations refuses negative values of the flags in nonNegative and
// values that are not positive in positive, naming the flag.
func checkDurations(nonNegative, positive map[string]time.Duration) error {
	for name, d := range nonNegative {
		if d < 0 {
			return cli.Usagef("%s must not be negative, got %s", name, d)
		}
	}
	for name, d := range positive {
		if d <= 0 {
			return cli.Usagef("%s must be positive, got %s", name, d)
		}
	}
	return nil
}

// statusReader reads the cluster for a status command when it can; a
// status without the cluster still shows what ConfigHub holds.
func (s *session) statusReader(ctx context.Context, env traderx.Environment) rollout.Reader {
	client, err := s.g.cluster(ctx, env)
	if err != nil {
		s.log.Logger().Warn("cluster not read: " + err.Error())
		return nil
	}
	return SnapshotReader{Client: client}
}

// openStatus opens a read-only session for a status command and reads env's
// space; the caller closes the session.
func (g *globals) openStatus(ctx context.Context, command string, env traderx.Environment) (*session, *confighub.Space, error) {
	s, err := g.open(command)
	if err != nil {
		return nil, nil, err
	}
	sp, err := s.space(ctx, env)
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, sp, nil
}
