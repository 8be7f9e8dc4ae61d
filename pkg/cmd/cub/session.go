package cub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/finos/traderx-plugins/pkg/audit"
	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"k8s.io/client-go/kubernetes"
)

// session is one run against ConfigHub: credentials, client, log.
type session struct {
	g       *globals
	creds   confighub.Credentials
	client  *confighub.Client
	log     *audit.Log
	project string
	// user is who the token belongs to, from the run's one GET /me (whoami).
	user string
	// progress shows the steps of applies and installs; console lines pass
	// through it.
	progress *progressView
	// confirmation says how a protected change was confirmed ("" when none was needed).
	confirmation string
}

// open resolves the project and credentials, opens the run's log and
// builds the client. Bad input (project, credentials) is exit 2.
func (g *globals) open(command string) (*session, error) {
	if err := g.approval.validate(); err != nil {
		return nil, err
	}
	project, err := traderx.ResolveProject(g.project, g.env.Getenv)
	if err != nil {
		return nil, cli.UsageError(err)
	}
	creds, err := confighub.ResolveCredentials(g.env.Getenv, g.env.HomeDir)
	if err != nil {
		// The error names the places looked at and the fix (cub auth login).
		return nil, cli.UsageError(err)
	}
	dir := g.logDirOrDefault()
	progress := newProgressView(g.streams.ErrOut, cli.IsTerminal(g.streams.ErrOut), cli.Width(g.streams.ErrOut, g.env.Getenv), g.env.Clock.Now, tick)
	log, err := audit.Open(audit.Options{Dir: dir, Command: command, Console: progress, Verbose: g.verbose,
		Secrets: []string{creds.Token}, Now: g.env.Clock.Now})
	if err != nil {
		progress.close()
		return nil, cli.UsageError(err)
	}
	opts := append([]confighub.Option{confighub.WithUserAgent(Name + "/" + cli.Build().Version), confighub.WithLogger(log.Logger())},
		g.env.ClientOptions...)
	client, err := confighub.New(creds, opts...)
	if err != nil {
		progress.close()
		log.Close()
		return nil, cli.UsageError(err)
	}
	log.Logger().Debug("run", "command", command, "project", project, "credentials", creds, "log", log.Path())
	s := &session{g: g, creds: creds, client: client, log: log, project: project, progress: progress}
	g.session = s // the cluster mapping reads the environments' targets through it
	return s, nil
}

// logDirOrDefault is --log-dir, else the default log directory.
func (g *globals) logDirOrDefault() string {
	if g.logDir != "" {
		return g.logDir
	}
	return audit.DefaultDir(g.env.Getenv, g.env.HomeDir)
}

func (s *session) close() {
	s.progress.close()
	_ = s.log.Close()
}

// rollout builds the orchestrator; gate may be nil (dry runs, status).
// With -v the console has every per-unit line instead of the progress.
func (s *session) rollout(gate rollout.Gate) *rollout.Rollout {
	r := &rollout.Rollout{Hub: s.client, Gate: gate, Clock: s.g.env.Clock, Log: s.log.Logger(), Audit: s.log, Project: s.project,
		User: s.user, Stamp: s.stamp()}
	if !s.g.verbose {
		r.Progress = s.progress
	}
	return r
}

// begin opens a session for a command that changes something: before any
// request, check (a confirmation; nil: none) may refuse; then the
// credentials are checked with the run's one GET /me, whose user the
// session's rollouts record.
func (g *globals) begin(ctx context.Context, command string, check func() error) (*session, error) {
	s, err := g.open(command)
	if err != nil {
		return nil, err
	}
	if check != nil {
		err = check()
	}
	if err == nil {
		err = s.whoami(ctx)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// whoami checks the credentials (GET /me) and records the user on the log
// and the session.
func (s *session) whoami(ctx context.Context) error {
	m, err := s.client.Me(ctx)
	if err != nil {
		return s.explain(err)
	}
	s.user = m.Username
	if s.user == "" {
		s.user = m.Slug
	}
	s.log.SetUser(s.user)
	return nil
}

// space reads the environment's ConfigHub space, once per run: the
// operations of the run take it (see rollout.Rollout.Space).
func (s *session) space(ctx context.Context, env traderx.Environment) (*confighub.Space, error) {
	sp, err := s.rollout(nil).Space(ctx, env)
	return sp, s.explain(err)
}

// explain maps an error to its exit code with a line the user can act on.
func (s *session) explain(err error) error {
	if err == nil {
		return nil
	}
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		return err
	}
	var ie *rollout.InputError
	if errors.As(err, &ie) {
		return cli.UsageError(err)
	}
	var te *rollout.TierError
	if errors.As(err, &te) {
		if te.Unreachable {
			return cli.Unavailable(err)
		}
		return cli.Failed(err)
	}
	var wu *rollout.WorkerUnavailableError
	if errors.As(err, &wu) || rollout.IsClusterUnreadable(err) {
		return cli.Unavailable(err)
	}
	if confighub.IsUnauthorized(err) {
		return cli.Unavailable(fmt.Errorf("ConfigHub at %s rejected the token (run `cub auth login`, or check CUB_TOKEN): %w", s.creds.Server, err))
	}
	if rollout.IsUnreachable(err) {
		return cli.Unavailable(fmt.Errorf("cannot reach ConfigHub at %s (nothing more was changed): %w", s.creds.Server, err))
	}
	return cli.Failed(err)
}

// cluster is the read-only client of env's cluster: Env.Cluster, else the
// client of env's own cluster through the mapping (see clusterAccess).
func (g *globals) cluster(ctx context.Context, env traderx.Environment) (kubernetes.Interface, error) {
	if g.env.Cluster != nil {
		return g.env.Cluster(ctx, env)
	}
	access, err := g.clusterAccess(ctx, env)
	if err != nil {
		return nil, err
	}
	return access.Client, nil
}

// HealthGate judges a tier's services with pkg/health over a read-only client.
type HealthGate struct {
	Client kubernetes.Interface
}

// Check implements rollout.Gate.
func (h HealthGate) Check(ctx context.Context, env traderx.Environment, services []string) (*check.Report, error) {
	return health.Run(ctx, h.Client, env, health.Options{Services: services})
}

// Stuck implements rollout.StuckFinder: the persistent failures of the
// services' pods created since a change was applied.
func (h HealthGate) Stuck(ctx context.Context, env traderx.Environment, services []string, since time.Time) ([]check.Check, error) {
	rep, err := health.Run(ctx, h.Client, env, health.Options{Services: services, PodsSince: since})
	if err != nil {
		return nil, err
	}
	return health.Persistent(rep), nil
}
