package cub

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

// One real control plane for the package (skipped with -short).
var testCluster *cluster.Cluster

func TestMain(m *testing.M) { cluster.Exit(cluster.Main(m, &testCluster, cluster.Options{})) }

// harness is a ConfigHub stand-in over HTTP plus the Env a command run gets.
type harness struct {
	t   *testing.T
	srv *confighubtest.Server
	// workers serve the environment spaces, by space slug.
	workers map[string]*confighubtest.Worker
	client  *confighub.Client
	env     map[string]string
	home    string
	logDir  string
	gate    rollout.Gate // nil: the real health gate over --kubeconfig
	// cluster is Env.Cluster (nil: --kubeconfig's cluster).
	cluster func(context.Context, traderx.Environment) (kubernetes.Interface, error)
	ctx     context.Context
}

func fastRetry() confighub.RetryPolicy {
	return confighub.RetryPolicy{Attempts: 4, Base: 20 * time.Millisecond, Factor: 2, Cap: 200 * time.Millisecond,
		MaxRetryAfter: 2 * time.Second, PerTryTimeout: 2 * time.Second}
}

func fastWait() confighub.WaitPolicy {
	return confighub.WaitPolicy{Initial: 20 * time.Millisecond, Cap: 300 * time.Millisecond, Timeout: time.Minute}
}

// newHarness starts a stand-in. With kube, its worker applies to the test
// cluster and the real health gate reads it; without, applies just succeed
// and the gate is a fake that says HEALTHY.
func newHarness(t *testing.T, kube bool) *harness {
	t.Helper()
	h := &harness{t: t, home: t.TempDir(), logDir: t.TempDir()}
	var backend confighubtest.Backend = confighubtest.NoopBackend{}
	if kube {
		cluster.Require(t, testCluster)
		backend = confighubtest.NewKubeBackend(confighubtest.SingleCluster(testCluster.Config))
	} else {
		h.gate = healthyGate()
	}
	h.srv = confighubtest.NewServer(confighubtest.WithUser(confighub.OrganizationMember{Username: "alice"}))
	t.Cleanup(h.srv.Close)
	// A connected worker in every environment space, as an operator sets
	// up before the first install.
	var spaces []string
	for _, e := range traderx.Environments() {
		spaces = append(spaces, e.Space(traderx.DefaultProject))
	}
	ws, err := h.srv.StartWorkers(context.Background(), backend, nil, spaces...)
	if err != nil {
		t.Fatal(err)
	}
	h.workers = ws
	t.Cleanup(func() {
		for _, w := range ws {
			w.Stop()
		}
	})
	h.client, err = confighub.New(h.srv.Credentials(), confighub.WithRetryPolicy(fastRetry()), confighub.WithWaitPolicy(fastWait()))
	if err != nil {
		t.Fatal(err)
	}
	h.env = map[string]string{"CUB_SERVER": h.srv.URL, "CUB_TOKEN": h.srv.Token, "CUB_PLUGIN": "1", "NO_COLOR": "1"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	h.ctx = ctx
	return h
}

func healthyGate() rollout.Gate {
	return rollout.GateFunc(func(_ context.Context, env traderx.Environment, services []string) (*check.Report, error) {
		r := check.NewReport(check.KindHealth, env.Name, env.Namespace())
		for _, s := range services {
			r.Add(check.Check{Suite: "deployment", Name: "rollout-complete", Target: s, Status: check.StatusPass, Message: "ok"})
		}
		r.Finalize()
		return r, nil
	})
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
}

// run runs cub-traderx in-process as cub would start it.
func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}
	code := Run("cub-traderx", h.args(args, args[0] == "apply"), streams, h.cmdEnv(false))
	return result{code, out.String(), errOut.String()}
}

// cmdEnv is the Env a run gets: the stand-in's credentials, quick retries
// and polls, stdin a terminal or not.
func (h *harness) cmdEnv(terminal bool) Env {
	return Env{
		Getenv:        func(k string) string { return h.env[k] },
		HomeDir:       h.home,
		Gate:          h.gate,
		Cluster:       h.cluster,
		ClientOptions: []confighub.Option{confighub.WithRetryPolicy(fastRetry()), confighub.WithWaitPolicy(fastWait())},
		PollInterval:  300 * time.Millisecond,
		IsTerminal:    func(io.Reader) bool { return terminal },
	}
}

// args adds the run's log directory, the test cluster's kubeconfig when the
// real gate reads it, and with applies a short retry delay and a settle
// (none with a fake gate, which does not flap).
func (h *harness) args(args []string, applies bool) []string {
	full := append(slices.Clone(args), "--log-dir", h.logDir)
	if applies {
		full = append(full, "--retry-delay", "50ms")
		if !slices.Contains(args, "--settle") {
			settle := "1s"
			if h.gate != nil {
				settle = "0s"
			}
			full = append(full, "--settle", settle)
		}
	}
	if testCluster != nil && h.gate == nil {
		full = append(full, "--kubeconfig", testCluster.Kubeconfig)
	}
	return full
}

// space returns a space by slug.
func (h *harness) space(slug string) *confighub.Space {
	h.t.Helper()
	sp, err := h.client.GetSpaceBySlug(h.ctx, slug)
	if err != nil {
		h.t.Fatalf("space %s: %v", slug, err)
	}
	return sp
}

// units returns the units of a space by slug.
func (h *harness) units(slug string) map[string]*confighub.Unit {
	h.t.Helper()
	sp := h.space(slug)
	list, err := h.client.ListUnits(h.ctx, sp.SpaceID, "")
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*confighub.Unit{}
	for _, eu := range list {
		out[eu.Unit.Slug] = eu.Unit
	}
	return out
}

// revisions sums head revisions of every unit of every space: a change
// anywhere moves it.
func (h *harness) revisions() map[string]int64 {
	h.t.Helper()
	spaces, err := h.client.ListSpaces(h.ctx, "")
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sp := range spaces {
		for slug, u := range h.units(sp.Space.Slug) {
			out[sp.Space.Slug+"/"+slug] = u.HeadRevisionNum
		}
	}
	return out
}

func (h *harness) tags(space string) []string {
	h.t.Helper()
	list, err := h.client.ListTags(h.ctx, h.space(space).SpaceID, "")
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, t := range list {
		out = append(out, t.Tag.Slug)
	}
	return out
}

// mutations counts requests that could change something.
// mutations counts the requests that may change ConfigHub: every method but
// GET, except dry-run refreshes (they only read the cluster).
func (h *harness) mutations() int {
	n := 0
	for _, r := range h.srv.Requests() {
		if r.Method != "GET" && !(r.Path == "/api/unit/refresh" && strings.Contains(r.Query, "dry_run=true")) {
			n++
		}
	}
	return n
}

// operations counts the distinct queued operations of a unit.
func (h *harness) operations(space, unit string) int {
	h.t.Helper()
	sp := h.space(space)
	u := h.units(space)[unit]
	evs, err := h.client.ListUnitEvents(h.ctx, sp.SpaceID, u.UnitID, "")
	if err != nil {
		h.t.Fatal(err)
	}
	ops := map[uuid.UUID]bool{}
	for _, e := range evs {
		ops[e.QueuedOperationID] = true
	}
	return len(ops)
}

func (h *harness) logFiles() []string {
	h.t.Helper()
	m, _ := filepath.Glob(filepath.Join(h.logDir, "*.log"))
	return m
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (h *harness) releaseTag(space, slug string) *confighub.Tag {
	h.t.Helper()
	list, err := h.client.ListTags(h.ctx, h.space(space).SpaceID, "")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, t := range list {
		if t.Tag.Slug == slug {
			return t.Tag
		}
	}
	h.t.Fatalf("tag %s not found in %s", slug, space)
	return nil
}

// taggedUnits counts the units whose live revision carries the tag.
func (h *harness) taggedUnits(space string, tag uuid.UUID) int {
	h.t.Helper()
	sp := h.space(space)
	n := 0
	for _, u := range h.units(space) {
		rev, err := h.client.GetRevisionByNum(h.ctx, sp.SpaceID, u.UnitID, u.LiveRevisionNum)
		if err != nil {
			h.t.Fatal(err)
		}
		if rev.HasTag(tag) {
			n++
		}
	}
	return n
}
