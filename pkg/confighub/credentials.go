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

// DefaultServer is the ConfigHub the Aug-2025 cub used when neither
// CONFIGHUB_URL nor context.json named one.
const DefaultServer = "https://hub.confighub.com"

// ResolveCredentials finds credentials the way cub stores them, first match wins:
//  1. CUB_SERVER and CUB_TOKEN when both are set (cub sets them when it runs a
//     plugin);
//  2. else the newer cub's config: $CUB_CONFIG/config.yaml (CUB_CONFIG is a
//     directory), else <homeDir>/.confighub/config.yaml; the context is
//     $CUB_CONTEXT, else currentContext; the server is coordinate.serverURL;
//     the token is accessToken in the JSON file named by metadata.tokenFile
//     (absolute, ~/…, or a bare name under <config dir>/tokens/);
//  3. else, when no config.yaml exists, what the Aug-2025 cub (before
//     plugins and config.yaml) stored: access_token in
//     <homeDir>/.confighub/session.json, and the server from CONFIGHUB_URL,
//     else confighub_url in <homeDir>/.confighub/context.json, else
//     DefaultServer. Its space_id is not read: the space comes from the
//     project.
//
// An existing config.yaml is authoritative: its problems are reported rather
// than hidden by an older session. When nothing is found the error wraps
// ErrNoCredentials and names every place looked at.
func ResolveCredentials(getenv func(string) string, homeDir string) (Credentials, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	server, token := getenv("CUB_SERVER"), getenv("CUB_TOKEN")
	if server != "" && token != "" {
		return Credentials{Server: server, Token: token, Context: getenv("CUB_CONTEXT"), Source: "env"}, nil
	}
	looked := []string{"CUB_SERVER/CUB_TOKEN"}
	dir := getenv("CUB_CONFIG")
	if dir == "" && homeDir != "" {
		dir = filepath.Join(homeDir, ".confighub")
	}
	if dir != "" {
		path := filepath.Join(dir, "config.yaml")
		creds, err := fromCubConfig(getenv, path, dir, homeDir)
		if !errors.Is(err, fs.ErrNotExist) {
			return creds, err
		}
		looked = append(looked, path)
	}
	if homeDir == "" {
		return Credentials{}, fmt.Errorf("%w (looked at %s; no home directory to find ~/.confighub)", ErrNoCredentials, strings.Join(looked, ", "))
	}
	session := filepath.Join(homeDir, ".confighub", "session.json")
	creds, err := fromAug2025Session(getenv, session, filepath.Join(homeDir, ".confighub", "context.json"))
	if errors.Is(err, fs.ErrNotExist) {
		looked = append(looked, session)
		return Credentials{}, fmt.Errorf("%w (looked at %s: none found)", ErrNoCredentials, strings.Join(looked, ", "))
	}
	return creds, err
}

// fromCubConfig reads the newer cub's config.yaml at path; a missing file is
// an error wrapping fs.ErrNotExist.
func fromCubConfig(getenv func(string) string, path, dir, homeDir string) (Credentials, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, err
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
		tok, err := readTokenFile(resolveTokenFile(tf, dir, homeDir))
		if err != nil {
			return Credentials{}, err
		}
		creds.Token = tok
		return creds, nil
	}
	return Credentials{}, fmt.Errorf("%w (context %q not found in %s)", ErrNoCredentials, name, path)
}

// fromAug2025Session reads what the Aug-2025 cub stored; a missing
// session.json is an error wrapping fs.ErrNotExist, a missing context.json
// is not (that cub wrote it only on `cub context set`).
func fromAug2025Session(getenv func(string) string, sessionPath, contextPath string) (Credentials, error) {
	raw, err := os.ReadFile(sessionPath)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, err
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("read cub session: %w", err)
	}
	var session struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &session); err != nil {
		// Never echo the content: it holds secrets.
		return Credentials{}, fmt.Errorf("%s is not JSON with an access_token: run `cub auth login` again", sessionPath)
	}
	if session.AccessToken == "" {
		return Credentials{}, fmt.Errorf("%w (%s has no access_token)", ErrNoCredentials, sessionPath)
	}
	server, origin := getenv("CONFIGHUB_URL"), "CONFIGHUB_URL"
	if server == "" {
		server, origin, err = savedServer(contextPath)
		if err != nil {
			return Credentials{}, err
		}
	}
	base, err := serverBase(server)
	if err != nil {
		return Credentials{}, fmt.Errorf("ConfigHub URL %q (from %s): %w", server, origin, err)
	}
	return Credentials{Server: base, Token: session.AccessToken, Source: sessionPath}, nil
}

// savedServer is confighub_url from the Aug-2025 context.json, else
// DefaultServer; it also says where the URL came from.
func savedServer(path string) (string, string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultServer, "the default", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read cub context: %w", err)
	}
	var ctx struct {
		ConfigHubURL string `json:"confighub_url"`
	}
	if err := json.Unmarshal(raw, &ctx); err != nil {
		return "", "", fmt.Errorf("parse cub context %s: %w", path, err)
	}
	if ctx.ConfigHubURL == "" {
		return DefaultServer, "the default", nil
	}
	return ctx.ConfigHubURL, path, nil
}

// serverBase reduces a URL to scheme://host, as the Aug-2025 cub did (it
// always talked to <scheme>://<host>/api); a URL without a scheme is https.
func serverBase(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	return u.Scheme + "://" + u.Host, nil
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
