package confighub

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{"no secrets here", "no secrets here"},
		{"token tok-12345 leaked", "token REDACTED leaked"},
		{`Get "https://user:pass@hub.example/api/space?token=abc&where=x": EOF`, `Get "https://REDACTED@hub.example/api/space?token=REDACTED&where=x": EOF`},
		{"Authorization: Bearer abc.def.ghi", "Authorization: Bearer REDACTED"},
		{"url http://h/x?access_token=zzz end", "url http://h/x?access_token=REDACTED end"},
	}
	for _, tc := range cases {
		if got := Redact(tc.in, "tok-12345"); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	u, _ := url.Parse("https://a:b@h.example/p?api_key=k&x=1")
	if got := RedactURL(u); strings.Contains(got, ":b@") || strings.Contains(got, "api_key=k") || !strings.Contains(got, "x=1") {
		t.Errorf("RedactURL = %s", got)
	}
}

func TestAPIErrorText(t *testing.T) {
	e := &APIError{Status: 404, RequestID: "abc", Code: "NotFound", Message: "unit not found", Method: "GET", Path: "/space/s/unit/u"}
	if got, want := e.Error(), "ConfigHub: HTTP 404 for req abc: unit not found (GET /space/s/unit/u)"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	e401 := &APIError{Status: 401, RequestID: "r", Message: "bad token", Method: "GET", Path: "/me"}
	if !strings.Contains(e401.Error(), "authentication problem: run `cub auth login` or check CUB_TOKEN") {
		t.Errorf("401 text: %s", e401.Error())
	}
	wrapped := errors.Join(errors.New("ctx"), e)
	if !IsNotFound(wrapped) || IsConflict(wrapped) || IsUnauthorized(wrapped) {
		t.Error("helpers")
	}
}

// A transport failure against a URL carrying userinfo and a token query must
// not leak them, nor the bearer token.
func TestTransportErrorRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connection refused from now on
	c, err := New(Credentials{Server: "http://admin:hunter2@" + addr, Token: "bearer-secret-123"},
		WithRetryPolicy(RetryPolicy{Attempts: 2, Base: time.Millisecond, Factor: 2}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.ListSpaces(ctx, "Slug = 'x'")
	var te *TransportError
	if !errors.As(err, &te) || te.Attempts != 2 {
		t.Fatalf("want TransportError after 2 attempts, got %v", err)
	}
	for _, s := range []string{"hunter2", "bearer-secret-123"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error leaks %q: %v", s, err)
		}
	}
	if strings.Contains(c.BaseURL(), "hunter2") {
		t.Errorf("BaseURL leaks: %s", c.BaseURL())
	}
}
