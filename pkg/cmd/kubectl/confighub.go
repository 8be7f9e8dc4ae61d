package kubectl

import (
	"errors"
	"fmt"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
)

// newConfigHubClient returns a ConfigHub client when credentials are
// configured (CUB_SERVER/CUB_TOKEN or the cub config), and nil when none are:
// the ConfigHub checks then SKIP visibly instead of failing.
func newConfigHubClient(getenv func(string) string, home string) (*confighub.Client, error) {
	creds, err := confighub.ResolveCredentials(getenv, home)
	if errors.Is(err, confighub.ErrNoCredentials) {
		return nil, nil
	}
	if err != nil {
		return nil, cli.UsageError(fmt.Errorf("ConfigHub credentials: %w", err))
	}
	client, err := confighub.New(creds, confighub.WithUserAgent(Name+"/"+cli.Build().Version))
	if err != nil {
		return nil, cli.UsageError(err)
	}
	return client, nil
}
