package confighub

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const cubConfigYAML = `apiVersion: v1
kind: Config
currentContext: main
contexts:
- name: main
  coordinate:
    serverURL: https://hub.confighub.com
    organizationID: org_1
  settings:
    defaultSpace: default
  metadata:
    tokenFile: main.json
- name: local
  coordinate:
    serverURL: http://127.0.0.1:9999
  metadata:
    tokenFile: TOKENFILE
- name: home
  coordinate:
    serverURL: https://home.example
  metadata:
    tokenFile: ~/.confighub/tokens/home.json
- name: notoken
  coordinate:
    serverURL: https://x.example
  metadata:
    tokenFile: missing.json
`

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolveCredentials(t *testing.T) {
	home := t.TempDir()
	cfgDir := filepath.Join(home, ".confighub")
	abs := filepath.Join(t.TempDir(), "abs-token.json")
	writeFile(t, filepath.Join(cfgDir, "config.yaml"), strings.Replace(cubConfigYAML, "TOKENFILE", abs, 1))
	writeFile(t, filepath.Join(cfgDir, "tokens", "main.json"), `{"accessToken":"tok-main","refreshToken":"r"}`)
	writeFile(t, abs, `{"accessToken":"tok-abs"}`)
	writeFile(t, filepath.Join(home, ".confighub", "tokens", "home.json"), `{"accessToken":"tok-home"}`)
	altDir := filepath.Join(t.TempDir(), "alt")
	writeFile(t, filepath.Join(altDir, "config.yaml"), "currentContext: alt\ncontexts:\n- name: alt\n  coordinate:\n    serverURL: https://alt.example/\n  metadata:\n    tokenFile: alt.json\n")
	writeFile(t, filepath.Join(altDir, "tokens", "alt.json"), `{"accessToken":"tok-alt"}`)

	cases := []struct {
		name    string
		env     map[string]string
		home    string
		want    Credentials
		wantErr error
		errText string
	}{
		{name: "env wins", env: map[string]string{"CUB_SERVER": "https://env.example", "CUB_TOKEN": "tok-env"}, home: home,
			want: Credentials{Server: "https://env.example", Token: "tok-env", Source: "env"}},
		{name: "config current context, bare token file", home: home,
			want: Credentials{Server: "https://hub.confighub.com", Token: "tok-main", Context: "main", Source: filepath.Join(cfgDir, "config.yaml")}},
		{name: "CUB_CONTEXT override, absolute token file", env: map[string]string{"CUB_CONTEXT": "local"}, home: home,
			want: Credentials{Server: "http://127.0.0.1:9999", Token: "tok-abs", Context: "local", Source: filepath.Join(cfgDir, "config.yaml")}},
		{name: "tilde token file", env: map[string]string{"CUB_CONTEXT": "home"}, home: home,
			want: Credentials{Server: "https://home.example", Token: "tok-home", Context: "home", Source: filepath.Join(cfgDir, "config.yaml")}},
		{name: "CUB_CONFIG directory", env: map[string]string{"CUB_CONFIG": altDir}, home: home,
			want: Credentials{Server: "https://alt.example/", Token: "tok-alt", Context: "alt", Source: filepath.Join(altDir, "config.yaml")}},
		{name: "only CUB_SERVER set falls back to config", env: map[string]string{"CUB_SERVER": "https://evil.example"}, home: home,
			want: Credentials{Server: "https://hub.confighub.com", Token: "tok-main", Context: "main", Source: filepath.Join(cfgDir, "config.yaml")}},
		{name: "missing config file", home: t.TempDir(), wantErr: ErrNoCredentials, errText: "cub auth login"},
		{name: "no home", home: "", wantErr: ErrNoCredentials},
		{name: "unknown context", env: map[string]string{"CUB_CONTEXT": "nope"}, home: home, wantErr: ErrNoCredentials, errText: `context "nope" not found`},
		{name: "missing token file", env: map[string]string{"CUB_CONTEXT": "notoken"}, home: home, wantErr: ErrNoCredentials, errText: "missing.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveCredentials(func(k string) string { return tc.env[k] }, tc.home)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolveCredentialsAug2025 covers the files the Aug-2025 cub wrote
// (session.json, context.json) and their place in the precedence: the
// environment, then the newer cub's config.yaml, then these.
func TestResolveCredentialsAug2025(t *testing.T) {
	const session = `{"user":{"email":"a@example.com"},"access_token":"tok-aug","refresh_token":"r","auth_type":"JWT"}`
	newerConfig := "currentContext: main\ncontexts:\n- name: main\n  coordinate:\n    serverURL: https://new.example\n  metadata:\n    tokenFile: main.json\n"
	type files map[string]string // path under HOME -> content
	cases := []struct {
		name    string
		files   files
		env     map[string]string
		want    Credentials // Source is relative to HOME
		wantErr error
		errText []string // each must appear; paths relative to HOME are made absolute
	}{
		{name: "session only: the default server",
			files: files{".confighub/session.json": session},
			want:  Credentials{Server: DefaultServer, Token: "tok-aug", Source: ".confighub/session.json"}},
		{name: "context.json names the server",
			files: files{".confighub/session.json": session,
				".confighub/context.json": `{"confighub_url":"https://saved.example/","space":"s","space_id":"0b0e4f4a-0000-4000-8000-000000000000"}`},
			want: Credentials{Server: "https://saved.example", Token: "tok-aug", Source: ".confighub/session.json"}},
		{name: "context.json without a URL: the default server",
			files: files{".confighub/session.json": session, ".confighub/context.json": `{"space_id":""}`},
			want:  Credentials{Server: DefaultServer, Token: "tok-aug", Source: ".confighub/session.json"}},
		{name: "CONFIGHUB_URL wins over context.json, /api dropped",
			files: files{".confighub/session.json": session, ".confighub/context.json": `{"confighub_url":"https://saved.example"}`},
			env:   map[string]string{"CONFIGHUB_URL": "http://127.0.0.1:8080/api"},
			want:  Credentials{Server: "http://127.0.0.1:8080", Token: "tok-aug", Source: ".confighub/session.json"}},
		{name: "CONFIGHUB_URL without a scheme is https",
			files: files{".confighub/session.json": session},
			env:   map[string]string{"CONFIGHUB_URL": "hub.example.org"},
			want:  Credentials{Server: "https://hub.example.org", Token: "tok-aug", Source: ".confighub/session.json"}},
		{name: "CUB_CONFIG without config.yaml still finds the session in HOME",
			files: files{".confighub/session.json": session, "elsewhere/.keep": ""},
			env:   map[string]string{"CUB_CONFIG": "elsewhere"},
			want:  Credentials{Server: DefaultServer, Token: "tok-aug", Source: ".confighub/session.json"}},
		{name: "a lone CUB_TOKEN is ignored",
			files: files{".confighub/session.json": session},
			env:   map[string]string{"CUB_TOKEN": "tok-env"},
			want:  Credentials{Server: DefaultServer, Token: "tok-aug", Source: ".confighub/session.json"}},
		{name: "the environment wins over the session",
			files: files{".confighub/session.json": session},
			env:   map[string]string{"CUB_SERVER": "https://env.example", "CUB_TOKEN": "tok-env"},
			want:  Credentials{Server: "https://env.example", Token: "tok-env", Source: "env"}},
		{name: "config.yaml wins over the session",
			files: files{".confighub/session.json": session, ".confighub/config.yaml": newerConfig,
				".confighub/tokens/main.json": `{"accessToken":"tok-new"}`},
			want: Credentials{Server: "https://new.example", Token: "tok-new", Context: "main", Source: ".confighub/config.yaml"}},
		{name: "a broken config.yaml is reported, not hidden by the session",
			files:   files{".confighub/session.json": session, ".confighub/config.yaml": newerConfig},
			wantErr: ErrNoCredentials, errText: []string{".confighub/tokens/main.json", "missing"}},
		{name: "session without access_token",
			files:   files{".confighub/session.json": `{"auth_type":"Basic"}`},
			wantErr: ErrNoCredentials, errText: []string{".confighub/session.json has no access_token", "cub auth login"}},
		{name: "nothing at all names every place looked at",
			files:   files{},
			wantErr: ErrNoCredentials,
			errText: []string{"CUB_SERVER/CUB_TOKEN", ".confighub/config.yaml", ".confighub/session.json", "none found", "run `cub auth login`"}},
		{name: "bad CONFIGHUB_URL",
			files:   files{".confighub/session.json": session},
			env:     map[string]string{"CONFIGHUB_URL": "https://"},
			errText: []string{`ConfigHub URL "https://" (from CONFIGHUB_URL)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			abs := func(rel string) string { return filepath.Join(home, filepath.FromSlash(rel)) }
			for rel, content := range tc.files {
				writeFile(t, abs(rel), content)
			}
			env := map[string]string{}
			for k, v := range tc.env {
				if k == "CUB_CONFIG" {
					v = abs(v)
				}
				env[k] = v
			}
			got, err := ResolveCredentials(func(k string) string { return env[k] }, home)
			if tc.errText != nil {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, want := range tc.errText {
					if strings.HasPrefix(want, ".confighub/") {
						want = abs(want)
					}
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error lacks %q:\n%v", want, err)
					}
				}
				if strings.Contains(err.Error(), "tok-aug") {
					t.Errorf("error leaks the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.Source != "env" {
				tc.want.Source = abs(tc.want.Source)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionNotJSONDoesNotLeak(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".confighub", "session.json"), "raw-secret-session-value")
	_, err := ResolveCredentials(func(string) string { return "" }, home)
	if err == nil || strings.Contains(err.Error(), "raw-secret-session-value") || !strings.Contains(err.Error(), "cub auth login") {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenFileNotJSONDoesNotLeak(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".confighub", "config.yaml"), cubConfigYAML)
	writeFile(t, filepath.Join(home, ".confighub", "tokens", "main.json"), "raw-secret-token-value")
	_, err := ResolveCredentials(func(string) string { return "" }, home)
	if err == nil || strings.Contains(err.Error(), "raw-secret-token-value") {
		t.Fatalf("err = %v", err)
	}
}

func TestCredentialsNeverPrintToken(t *testing.T) {
	c := Credentials{Server: "https://user:pw@hub.example/?token=abc123", Token: "super-secret-token", Context: "main", Source: "env"}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("creds", "c", c)
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("creds", "c", c)
	outs := []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(&c), logBuf.String()}
	for _, s := range outs {
		for _, secret := range []string{"super-secret-token", "pw@", "abc123"} {
			if strings.Contains(s, secret) {
				t.Errorf("output leaks %q: %s", secret, s)
			}
		}
	}
	if !strings.Contains(c.String(), "hub.example") || !strings.Contains(logBuf.String(), "token_set=true") {
		t.Errorf("redacted output lost useful info: %s / %s", c.String(), logBuf.String())
	}
}

func TestNewValidatesServer(t *testing.T) {
	for _, s := range []string{"", "ftp://x", "https://hub.example/api", "not a url"} {
		if _, err := New(Credentials{Server: s, Token: "t"}); err == nil {
			t.Errorf("New(%q) accepted", s)
		}
	}
	if _, err := New(Credentials{Server: "https://hub.example"}); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no token: %v", err)
	}
	c, err := New(Credentials{Server: "https://hub.example///", Token: "t"})
	if err != nil || c.BaseURL() != "https://hub.example/api" {
		t.Errorf("base = %v, %v", c, err)
	}
}
