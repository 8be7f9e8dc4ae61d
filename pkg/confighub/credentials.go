package confighub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Credentials are a server URL (without /api) and a bearer token. Its String,
// GoString and LogValue never reveal the token.
type Credentials struct {
	Server  string // e.g. https://hub.confighub.com
	Token   string
	Context string // cub context name, when read from the cub config
	Source  string // "env" or the config file path
}

// String renders the credentials with the token redacted.
func (c Credentials) String() string {
	tok := "<none>"
	if c.Token != "" {
		tok = "<redacted>"
	}
	s := fmt.Sprintf("server=%s token=%s", redactServer(c.Server), tok)
	if c.Context != "" {
		s += " context=" + c.Context
	}
	if c.Source != "" {
		s += " source=" + c.Source
	}
	return s
}

// GoString keeps %#v from printing the token.
func (c Credentials) GoString() string { return "confighub.Credentials{" + c.String() + "}" }

// LogValue implements slog.LogValuer.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("server", redactServer(c.Server)),
		slog.Bool("token_set", c.Token != ""),
		slog.String("context", c.Context),
		slog.String("source", c.Source),
	)
}

func redactServer(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable server URL>"
	}
	return RedactURL(u)
}

// cubConfig is the subset of cub's config.yaml we read.
type cubConfig struct {
	CurrentContext string `json:"currentContext"`
	Contexts       []struct {
		Name       string `json:"name"`
		Coordinate struct {
			ServerURL string `json:"serverURL"`
		} `json:"coordinate"`
		Metadata struct {
			TokenFile string `json:"tokenFile"`
		} `json:"metadata"`
	} `json:"contexts"`
}

// ResolveCredentials finds credentials as the cub plugin SDK does:
//  1. CUB_SERVER and CUB_TOKEN when both are set;
//  2. else $CUB_CONFIG/config.yaml (CUB_CONFIG is a directory), else
//     <homeDir>/.confighub/config.yaml; the context is $CUB_CONTEXT, else
//     currentContext; the server is coordinate.serverURL; the token is
//     accessToken in the JSON file named by metadata.tokenFile (absolute,
//     ~/…, or a bare name under <config dir>/tokens/).
//
// A missing config file yields an error wrapping ErrNoCredentials.
func ResolveCredentials(getenv func(string) string, homeDir string) (Credentials, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	server, token := getenv("CUB_SERVER"), getenv("CUB_TOKEN")
	if server != "" && token != "" {
		return Credentials{Server: server, Token: token, Context: getenv("CUB_CONTEXT"), Source: "env"}, nil
	}
	dir := getenv("CUB_CONFIG")
	if dir == "" {
		if homeDir == "" {
			return Credentials{}, fmt.Errorf("%w (no home directory to find ~/.confighub)", ErrNoCredentials)
		}
		dir = filepath.Join(homeDir, ".confighub")
	}
	path := filepath.Join(dir, "config.yaml")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, fmt.Errorf("%w (no %s)", ErrNoCredentials, path)
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("read cub config: %w", err)
	}
	var cfg cubConfig
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return Credentials{}, fmt.Errorf("parse cub config %s: %w", path, err)
	}
	name := getenv("CUB_CONTEXT")
	if name == "" {
		name = cfg.CurrentContext
	}
	if name == "" {
		return Credentials{}, fmt.Errorf("%w (%s has no currentContext and CUB_CONTEXT is unset)", ErrNoCredentials, path)
	}
	for _, c := range cfg.Contexts {
		if c.Name != name {
			continue
		}
		// A lone CUB_SERVER or CUB_TOKEN is ignored, as the SDK does: mixing a
		// token of one context with another server would leak it.
		creds := Credentials{Server: c.Coordinate.ServerURL, Context: name, Source: path}
		if creds.Server == "" {
			return Credentials{}, fmt.Errorf("%w (context %q in %s has no coordinate.serverURL)", ErrNoCredentials, name, path)
		}
		tf := c.Metadata.TokenFile
		if tf == "" {
			return Credentials{}, fmt.Errorf("%w (context %q in %s has no metadata.tokenFile)", ErrNoCredentials, name, path)
		}
		tokPath := resolveTokenFile(tf, dir, homeDir)
		tok, err := readTokenFile(tokPath)
		if err != nil {
			return Credentials{}, err
		}
		creds.Token = tok
		return creds, nil
	}
	return Credentials{}, fmt.Errorf("%w (context %q not found in %s)", ErrNoCredentials, name, path)
}

func resolveTokenFile(tf, configDir, homeDir string) string {
	switch {
	case filepath.IsAbs(tf):
		return tf
	case tf == "~" || strings.HasPrefix(tf, "~/"):
		return filepath.Join(homeDir, strings.TrimPrefix(tf, "~"))
	case !strings.ContainsRune(tf, filepath.Separator):
		return filepath.Join(configDir, "tokens", tf)
	default:
		return filepath.Join(configDir, tf)
	}
}

func readTokenFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w (token file %s is missing)", ErrNoCredentials, path)
	}
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	var tf struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(raw, &tf); err != nil {
		// Never echo the content: it is a secret.
		return "", fmt.Errorf("token file %s is not JSON with an accessToken", path)
	}
	if tf.AccessToken == "" {
		return "", fmt.Errorf("%w (token file %s has no accessToken)", ErrNoCredentials, path)
	}
	return tf.AccessToken, nil
}
