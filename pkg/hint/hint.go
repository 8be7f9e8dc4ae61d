// Package hint builds the commands the plugins suggest typing next — in
// check hints, errors and resume lines — from one description of each
// command's syntax, so a suggestion cannot drift from the command it names:
// argument order, flag names and which flags carry the project live here
// only. A test parses every command built here through the real cobra trees.
//
// Suggested commands never carry --yes: a pasted command still asks before
// it changes a protected environment, and a script decides that itself.
package hint

import (
	"strconv"
	"strings"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

// How users type the two plugins.
const (
	Cub     = "cub traderx"
	Kubectl = "kubectl traderx"
)

// Placeholders for the values only the user knows.
const (
	Version = "<version>"
	Tag     = "<tag>"
	Context = "<context>"
)

// Command is a command line to suggest.
type Command struct {
	plugin string
	words  []string // the subcommand, then positional arguments
	flags  []string // flags, each with its value when it takes one
}

func cub(words ...string) Command     { return Command{plugin: Cub, words: words} }
func kubectl(words ...string) Command { return Command{plugin: Kubectl, words: words} }

// String is the command as the user types it.
func (c Command) String() string {
	return strings.Join(append(append([]string{c.plugin}, c.words...), c.flags...), " ")
}

// flag adds --name value when value is set.
func (c Command) flag(name, value string) Command {
	if value == "" {
		return c
	}
	c.flags = append(append([]string(nil), c.flags...), name, value)
	return c
}

// InProject makes a cub traderx command reach the spaces of project: the
// default project needs no flag ($TRADERX_PROJECT is the user's own
// setting and reaches them too).
func (c Command) InProject(project string) Command {
	if c.plugin != Cub || project == traderx.DefaultProject {
		return c
	}
	return c.flag("--project", project)
}

// Install creates the spaces and units of the environments (all when none
// are named).
func Install(envs ...string) Command {
	return cub("install").flag("--envs", strings.Join(envs, ","))
}

// Apply rolls an environment out, or only the units of services.
func Apply(env string, services ...string) Command {
	return cub("apply", env).flag("--services", strings.Join(services, ","))
}

// Status shows the environment's units.
func Status(env string) Command { return cub("status", env) }

// StatusRefresh shows the units after the worker compared them with the cluster.
func StatusRefresh(env string) Command {
	c := Status(env)
	c.flags = append(c.flags, "--refresh")
	return c
}

// History lists the environment's releases.
func History(env string) Command { return cub("history", env) }

// Rollback restores release (0: the previous one), or only the units of services.
func Rollback(env string, release int, services ...string) Command {
	c := cub("rollback", env)
	if release > 0 {
		c.words = append(c.words, strconv.Itoa(release))
	}
	return c.flag("--services", strings.Join(services, ","))
}

// Promote merges from's changes into to and rolls it out.
func Promote(from, to string) Command { return cub("promote", from, to) }

// SetImage changes a service's image tag; a blue-green service's both
// colours with allColours.
func SetImage(env, service, tag string, allColours bool) Command {
	c := cub("set-image", env, service, tag)
	if allColours {
		c.flags = append(c.flags, "--all-colours")
	}
	return c
}

// BlueGreen deploys version to the standby colour of service and switches.
func BlueGreen(service, version, env string) Command {
	return cub("blue-green", service, version, env)
}

// BlueGreenAbort ends an unfinished blue-green of service.
func BlueGreenAbort(service, env string) Command {
	return cub("blue-green", "abort", service, env)
}

// Canary moves service to version step by step, or resumes its unfinished
// canary.
func Canary(service, version, env string) Command {
	return cub("canary", service, version, env)
}

// CanaryPromote asks a canary of service to skip its remaining steps.
func CanaryPromote(service, env string) Command {
	return cub("canary", "promote", service, env)
}

// CanaryAbort restores the colour that served before a canary of service.
func CanaryAbort(service, env string) Command {
	return cub("canary", "abort", service, env)
}

// AuditVerify checks the hash chain of the local audit logs.
func AuditVerify() Command { return cub("audit", "verify") }

// Health judges an environment in the cluster.
func Health(env string) Command { return kubectl("health", env) }

// Validate runs the validation suites against an environment.
func Validate(env string) Command { return kubectl("validate", env) }

// Manifests renders an environment's objects from the model.
func Manifests(env string) Command { return kubectl("manifests", env) }

// SetContext maps an environment to the kube context of its cluster.
func SetContext(env, context string) Command { return kubectl("config", "set-context", env, context) }

// ConfigView shows the cluster each environment is read on, and why.
func ConfigView() Command { return kubectl("config", "view") }
