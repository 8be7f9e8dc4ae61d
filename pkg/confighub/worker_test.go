package confighub_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
)

func TestBridgeWorkers(t *testing.T) {
	e := newEnv(t)
	sp := e.space("traderx-dev")
	const workerRE = `^/api/space/[^/]+/bridge_worker$`

	// A lost answer to the create is resolved by slug, not by a second POST.
	e.srv.InjectFault(confighubtest.Fault{Method: "POST", PathPattern: workerRE, Reset: true, AfterHandling: true})
	bw, err := e.c.CreateBridgeWorker(e.ctx, sp.SpaceID, confighub.BridgeWorker{Slug: "dev-worker"})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.srv.CountRequests("POST", workerRE); n != 1 {
		t.Errorf("create POSTs = %d, want 1", n)
	}
	if bw.Secret == "" || bw.Condition != confighub.WorkerDisconnected || bw.SpaceID != sp.SpaceID {
		t.Errorf("created worker = %+v", bw)
	}
	list, err := e.c.ListBridgeWorkers(e.ctx, sp.SpaceID, confighub.Where().Eq("Condition", confighub.WorkerDisconnected).String())
	if err != nil || len(list) != 1 || list[0].BridgeWorker.BridgeWorkerID != bw.BridgeWorkerID || list[0].Space == nil {
		t.Fatalf("ListBridgeWorkers = %+v, %v", list, err)
	}

	statuses := func() string {
		t.Helper()
		l, err := e.c.ListBridgeWorkerStatuses(e.ctx, sp.SpaceID, bw.BridgeWorkerID)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, st := range l {
			if st.BridgeWorkerID != bw.BridgeWorkerID || st.BridgeWorkerSlug != "dev-worker" || st.SeenAt.IsZero() {
				t.Errorf("status record = %+v", st)
			}
			s = append(s, st.Status)
		}
		return strings.Join(s, ",")
	}
	condition := func() string {
		t.Helper()
		ew, err := e.c.GetBridgeWorker(e.ctx, sp.SpaceID, bw.BridgeWorkerID)
		if err != nil {
			t.Fatal(err)
		}
		return ew.BridgeWorker.Condition
	}
	if s := statuses(); s != "" {
		t.Errorf("statuses of a worker never run = %q", s)
	}
	// `cub worker run` of the created worker, twice.
	for i, want := range []string{"Connected,Disconnected", "Connected,Disconnected,Connected,Disconnected"} {
		w, err := e.srv.StartWorker(e.ctx, sp.Slug, "dev-worker", nil, confighubtest.NoopBackend{})
		if err != nil {
			t.Fatal(err)
		}
		if w.ID != bw.BridgeWorkerID || condition() != confighub.WorkerReady {
			t.Errorf("run %d: worker %s is %s", i, w.ID, condition())
		}
		w.Stop()
		for deadline := time.Now().Add(5 * time.Second); condition() != confighub.WorkerDisconnected; {
			if time.Now().After(deadline) {
				t.Fatalf("run %d: still %s after Stop", i, condition())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if s := statuses(); s != want {
			t.Errorf("run %d: statuses = %s, want %s", i, s, want)
		}
	}

	// Hand-made targets must name their worker.
	_, err = e.c.CreateTarget(e.ctx, sp.SpaceID, confighub.Target{Slug: "orphan"})
	var ae *confighub.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "BridgeWorkerID is required") {
		t.Errorf("target without a worker: %v", err)
	}
	tg, err := e.c.CreateTarget(e.ctx, sp.SpaceID, confighub.Target{Slug: "manual", BridgeWorkerID: bw.BridgeWorkerID,
		Parameters: `{"KubeContext":"kwok","WaitTimeout":"30s"}`})
	if err != nil || tg.BridgeWorkerID != bw.BridgeWorkerID || tg.ProviderType != confighub.ProviderKubernetes {
		t.Errorf("target with a worker = %+v, %v", tg, err)
	}
}
