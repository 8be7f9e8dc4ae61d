//go:build bench

package bench

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
)

// counter is a reverse proxy that counts the requests passing through it.
// The binaries under test are pointed at it instead of the server (their
// kubeconfig's server URL, CUB_SERVER), so every request they make is
// counted, whatever client library made it, and nothing else is: the
// stand-in's workers and the benchmark's own clients talk to the servers
// directly.
type counter struct {
	URL string
	n   atomic.Int64
	srv *httptest.Server
}

// newCounter starts a counting proxy to target using transport (which holds
// the upstream's TLS trust; the client's own credentials pass through). With
// tls it serves HTTPS: client-go sends no credentials over plain HTTP.
func newCounter(target *url.URL, transport http.RoundTripper, tls bool) *counter {
	p := httputil.NewSingleHostReverseProxy(target)
	p.Transport = transport
	// Watches stream: pass every byte on at once.
	p.FlushInterval = -1
	c := &counter{}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		p.ServeHTTP(w, r)
	}))
	if tls {
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	c.URL = c.srv.URL
	return c
}

// CA is the PEM certificate a client of an HTTPS proxy trusts.
func (c *counter) CA() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.srv.Certificate().Raw})
}

// Count is the number of requests so far.
func (c *counter) Count() int { return int(c.n.Load()) }

func (c *counter) Close() { c.srv.Close() }
