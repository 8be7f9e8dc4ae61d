// Package traderxplugins holds the repository-root files that the programs
// embed: plugins.yaml (the description of both plugins) and the krew manifest
// template. Go's embed cannot reach parent directories, so the embed lives
// here, beside the files; pkg/plugins parses and renders them.
package traderxplugins

import _ "embed"

var (
	//go:embed plugins.yaml
	pluginsYAML string
	//go:embed krew/traderx.krew.yaml.tmpl
	krewTemplate string
)

// PluginsYAML returns the text of plugins.yaml.
func PluginsYAML() string { return pluginsYAML }

// KrewTemplate returns the text of krew/traderx.krew.yaml.tmpl.
func KrewTemplate() string { return krewTemplate }
