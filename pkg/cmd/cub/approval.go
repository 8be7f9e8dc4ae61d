package cub

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/finos/traderx-plugins/pkg/audit"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// approvalFlags are --approved-by and --ticket, which every mutating verb
// takes, registered with the change flags (changeFlags.addTo); the session stamps them,
// with the run ID, on every revision and release it writes (rollout.Stamp).
// One value in globals serves every verb, since a process runs one command.
type approvalFlags struct {
	approvedBy string
	ticket     string
}

func (a *approvalFlags) addTo(fs *pflag.FlagSet) {
	fs.StringVar(&a.approvedBy, "approved-by", "", "Who approved the change (recorded on the new revisions, the release and the log)")
	fs.StringVar(&a.ticket, "ticket", "", "The change ticket that approved it, e.g. CHG-1234 (recorded like --approved-by)")
}

func (a *approvalFlags) validate() error {
	for flag, v := range map[string]string{"--approved-by": a.approvedBy, "--ticket": a.ticket} {
		if err := rollout.ValidateStampValue(flag, v); err != nil {
			return cli.UsageError(err)
		}
	}
	return nil
}

// ciIdentity names the CI job a run is part of, from the variables the
// common CI systems set; "" outside CI.
func ciIdentity(getenv func(string) string) string {
	var parts []string
	for _, k := range []string{
		"GITHUB_ACTOR", "GITHUB_REPOSITORY", "GITHUB_WORKFLOW", "GITHUB_RUN_ID", // GitHub Actions
		"GITLAB_USER_LOGIN", "CI_PROJECT_PATH", "CI_PIPELINE_ID", "CI_JOB_ID", // GitLab CI
		"BUILD_USER_ID", "JOB_NAME", "BUILD_NUMBER", // Jenkins (BUILD_USER_ID: build-user-vars plugin)
		"BUILD_REQUESTEDFOR", "BUILD_BUILDID", // Azure Pipelines
	} {
		if v := getenv(k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 && getenv("CI") != "" {
		parts = append(parts, "CI="+getenv("CI"))
	}
	return strings.Join(parts, " ")
}

// confirmationBy says how a protected change was confirmed: by --yes (with
// the CI job, if any) or by an answer at a terminal (with the OS user).
func confirmationBy(yes bool, getenv func(string) string) string {
	if yes {
		if ci := ciIdentity(getenv); ci != "" {
			return "--yes in CI (" + ci + ")"
		}
		return "--yes outside CI (no CI variables set)"
	}
	user := getenv("USER")
	if user == "" {
		user = getenv("USERNAME")
	}
	return fmt.Sprintf("answered yes at a terminal (OS user %q)", user)
}

// confirmed records a protected environment's confirmation on the run's log
// and on the release the run records.
func (s *session) confirmed(env traderx.Environment, how string) {
	s.confirmation = how
	s.log.Record(audit.Record{Action: "confirm", Environment: env.Name, Detail: how})
}

// stamp is what the run writes into ConfigHub beside each change.
func (s *session) stamp() rollout.Stamp {
	return rollout.Stamp{RunID: s.log.RunID(), ApprovedBy: s.g.approval.approvedBy, Ticket: s.g.approval.ticket,
		Confirmation: s.confirmation}
}
