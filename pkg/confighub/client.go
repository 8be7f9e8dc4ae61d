package confighub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// DefaultUserAgent is sent when WithUserAgent is not used.
const DefaultUserAgent = "cub-traderx/dev"

// maxBody bounds how much of a response is read (unit data is capped at 64 MiB).
const maxBody = 80 << 20

// RetryPolicy controls retries of failed requests (see the package doc for
// which requests are retried).
type RetryPolicy struct {
	Attempts      int           // total tries including the first; 1 disables retries
	Base          time.Duration // first delay
	Factor        float64       // growth per try
	Jitter        float64       // +0..Jitter fraction of random extra delay
	Cap           time.Duration // largest delay between tries (Retry-After may exceed it up to MaxRetryAfter)
	MaxRetryAfter time.Duration // largest Retry-After honoured
	PerTryTimeout time.Duration // bound on one try; 0 = only the caller's context
}

// DefaultRetryPolicy is 4 tries, 250ms doubling with 20% jitter, 30s per try.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Attempts: 4, Base: 250 * time.Millisecond, Factor: 2, Jitter: 0.2,
		Cap: 10 * time.Second, MaxRetryAfter: 60 * time.Second, PerTryTimeout: 30 * time.Second}
}

// WaitPolicy controls WaitForOperation polling.
type WaitPolicy struct {
	Initial time.Duration // first poll delay (cub: 200ms)
	Cap     time.Duration // largest delay (cub: 6.4s; ours: 1s)
	Timeout time.Duration // used when the context has no deadline (cub: 2m)
}

// DefaultWaitPolicy is cub's, 200ms doubling for 2 minutes, but capped at 1s
// instead of 6.4s: an apply waits for readiness and a refresh for the worker,
// a few seconds each, and cub's cap made the run notice them up to 6 s late
// (a no-op apply's drift check took 13 s for 3 s of work).
func DefaultWaitPolicy() WaitPolicy {
	return WaitPolicy{Initial: 200 * time.Millisecond, Cap: time.Second, Timeout: 2 * time.Minute}
}

// Client is a typed ConfigHub REST client. It is safe for concurrent use.
type Client struct {
	base  string // server + "/api"
	token string
	hc    *http.Client
	ua    string
	retry RetryPolicy
	wait  WaitPolicy
	log   *slog.Logger
	// releaseShape is set once the server turned out to answer in the
	// newest unit shape (no live revisions; see compat.go).
	releaseShape atomic.Bool
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: a client with no overall timeout;
// RetryPolicy.PerTryTimeout bounds each try).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent, e.g. "cub-traderx/1.2.3".
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// WithRetryPolicy replaces the retry policy.
func WithRetryPolicy(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithWaitPolicy replaces the WaitForOperation polling policy.
func WithWaitPolicy(p WaitPolicy) Option { return func(c *Client) { c.wait = p } }

// WithLogger sets the debug logger (default: discard). The token is never logged.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// New builds a client for creds. The base URL is creds.Server without a
// trailing slash, plus "/api".
func New(creds Credentials, opts ...Option) (*Client, error) {
	server := strings.TrimRight(strings.TrimSpace(creds.Server), "/")
	if server == "" || creds.Token == "" {
		return nil, ErrNoCredentials
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ConfigHub server URL %q is not an http(s) URL", redactServer(server))
	}
	if strings.HasSuffix(u.Path, "/api") {
		return nil, fmt.Errorf("ConfigHub server URL %s must not end in /api (CUB_SERVER is the bare server)", RedactURL(u))
	}
	c := &Client{
		base:  server + "/api",
		token: creds.Token,
		hc:    &http.Client{},
		ua:    DefaultUserAgent,
		retry: DefaultRetryPolicy(),
		wait:  DefaultWaitPolicy(),
		log:   slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(c)
	}
	if c.retry.Attempts < 1 {
		c.retry.Attempts = 1
	}
	return c, nil
}

// BaseURL is the API base (server + "/api"), redacted.
func (c *Client) BaseURL() string { return redactServer(c.base) }

// retryMode says how a request may be retried.
type retryMode int

const (
	retryIdempotent retryMode = iota // retry any transient failure
	retryUnsentOnly                  // retry only when the server surely did not act (dial error, 429)
	retryNever
)

type request struct {
	method      string
	path        string // below /api, starting with /
	query       url.Values
	body        []byte
	contentType string
	mode        retryMode
}

type response struct {
	status    int
	header    http.Header
	body      []byte
	requestID string
}

func (r *response) decode(v any) error {
	if v == nil {
		return nil
	}
	if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "json") {
		return fmt.Errorf("ConfigHub: HTTP %d for req %s: expected JSON, got Content-Type %q", r.status, r.requestID, ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("ConfigHub: decode response of req %s: %w", r.requestID, err)
	}
	return nil
}

// failure classifies the outcome of one try.
type failure struct {
	retryable  bool
	unsent     bool // the server surely did not act on the request
	retryAfter time.Duration
}

func (c *Client) do(ctx context.Context, req request) (*response, error) {
	p := c.retry
	b := wait.Backoff{Duration: p.Base, Factor: p.Factor, Jitter: p.Jitter, Steps: p.Attempts + 1, Cap: p.Cap}
	for attempt := 1; ; attempt++ {
		resp, err, f := c.once(ctx, req, attempt)
		if err == nil {
			return resp, nil
		}
		canRetry := f.retryable && attempt < p.Attempts && ctx.Err() == nil &&
			(req.mode == retryIdempotent || (req.mode == retryUnsentOnly && f.unsent))
		if !canRetry {
			return nil, err
		}
		delay := b.Step()
		if f.retryAfter > delay {
			delay = min(f.retryAfter, p.MaxRetryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			c.log.Debug("confighub: no time left to retry", "method", req.method, "path", req.path, "attempt", attempt)
			return nil, err
		}
		c.log.Debug("confighub: retrying", "method", req.method, "path", req.path, "attempt", attempt,
			"delay", delay, "error", err.Error())
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, req request, attempt int) (*response, error, failure) {
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	tryCtx := ctx
	if c.retry.PerTryTimeout > 0 {
		var cancel context.CancelFunc
		tryCtx, cancel = context.WithTimeout(ctx, c.retry.PerTryTimeout)
		defer cancel()
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(tryCtx, req.method, u, body)
	if err != nil {
		return nil, &TransportError{Method: req.method, Path: req.path, Attempts: attempt, Err: errors.New(Redact(err.Error(), c.token))}, failure{}
	}
	hr.Header.Set("Authorization", "Bearer "+c.token)
	hr.Header.Set("User-Agent", c.ua)
	hr.Header.Set("Accept", "application/json")
	if req.body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	start := time.Now()
	hresp, err := c.hc.Do(hr)
	if err != nil {
		f := classifyTransport(ctx, err)
		c.log.Debug("confighub: request failed", "method", req.method, "path", req.path, "attempt", attempt,
			"elapsed", time.Since(start), "retryable", f.retryable)
		return nil, &TransportError{Method: req.method, Path: req.path, Attempts: attempt, Err: sanitizeTransport(err, c.token), unsent: f.unsent}, f
	}
	defer hresp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(hresp.Body, maxBody))
	resp := &response{status: hresp.StatusCode, header: hresp.Header, body: data, requestID: hresp.Header.Get("X-Request-Id")}
	c.log.Debug("confighub: response", "method", req.method, "path", req.path, "status", hresp.StatusCode,
		"request_id", resp.requestID, "attempt", attempt, "elapsed", time.Since(start))
	if rerr != nil {
		f := classifyTransport(ctx, rerr)
		return nil, &TransportError{Method: req.method, Path: req.path, Attempts: attempt, Err: sanitizeTransport(rerr, c.token)}, f
	}
	if hresp.StatusCode == http.StatusOK || hresp.StatusCode == http.StatusMultiStatus {
		return resp, nil, failure{}
	}
	ae := &APIError{Status: hresp.StatusCode, RequestID: resp.requestID, Method: req.method, Path: req.path}
	var se StandardErrorResponse
	if strings.Contains(hresp.Header.Get("Content-Type"), "json") && json.Unmarshal(data, &se) == nil && (se.Message != "" || se.Code != "") {
		ae.Code, ae.Message = se.Code, se.Message
	} else {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		ae.Message = msg
	}
	ae.Message = Redact(ae.Message, c.token)
	f := failure{}
	switch hresp.StatusCode {
	case http.StatusTooManyRequests:
		f = failure{retryable: true, unsent: true, retryAfter: parseRetryAfter(hresp.Header.Get("Retry-After"))}
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		f = failure{retryable: true, retryAfter: parseRetryAfter(hresp.Header.Get("Retry-After"))}
	}
	return nil, ae, f
}

func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func classifyTransport(parent context.Context, err error) failure {
	if parent.Err() != nil {
		return failure{} // the caller gave up; never retry past its context
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return failure{retryable: true, unsent: true}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return failure{retryable: true, unsent: true}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return failure{retryable: dnsErr.Temporary(), unsent: true}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return failure{retryable: true}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failure{retryable: true}
	}
	if strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "server closed idle connection") {
		return failure{retryable: true}
	}
	return failure{}
}

// sanitizeTransport keeps the error chain (for errors.Is) but removes the URL's
// secrets from *url.Error and the token from anything else.
func sanitizeTransport(err error, token string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		cp := *ue
		if pu, perr := url.Parse(ue.URL); perr == nil {
			cp.URL = RedactURL(pu)
		} else {
			cp.URL = "<url>"
		}
		if token != "" && strings.Contains(cp.URL, token) {
			cp.URL = strings.ReplaceAll(cp.URL, token, "REDACTED")
		}
		return &cp
	}
	if token != "" && strings.Contains(err.Error(), token) {
		return errors.New(Redact(err.Error(), token))
	}
	return err
}

// call sends a JSON request and decodes a JSON answer into out.
func (c *Client) call(ctx context.Context, req request, in, out any) (*response, error) {
	if in != nil && req.body == nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("ConfigHub: encode %s %s body: %w", req.method, req.path, err)
		}
		req.body = b
	}
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := resp.decode(out); err != nil {
		return resp, err
	}
	return resp, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	_, err := c.call(ctx, request{method: http.MethodGet, path: path, query: q}, nil, out)
	return err
}

func listQuery(where string, include ...string) (url.Values, error) {
	q := url.Values{}
	if where != "" {
		if err := validateWhere(where); err != nil {
			return nil, err
		}
		q.Set("where", where)
	}
	var inc []string
	for _, i := range include {
		if i != "" {
			inc = append(inc, i)
		}
	}
	if len(inc) > 0 {
		q.Set("include", strings.Join(inc, ","))
	}
	return q, nil
}
