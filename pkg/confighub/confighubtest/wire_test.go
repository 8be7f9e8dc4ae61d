package confighubtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// These tests pin the stand-in's wire format to shared/confighub-api.md using
// raw HTTP, with no help from the confighub client.

type rawClient struct {
	t   *testing.T
	srv *Server
}

type rawResp struct {
	status int
	header http.Header
	body   []byte
}

func (c rawClient) do(method, path, token string, body any, ctype string) rawResp {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{resp.StatusCode, resp.Header, b}
}

func (c rawClient) ok(method, path string, body any) map[string]any {
	c.t.Helper()
	r := c.do(method, path, c.srv.Token, body, "application/json")
	if r.status != 200 {
		c.t.Fatalf("%s %s = %d %s", method, path, r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		c.t.Fatalf("%s %s: not a JSON object: %s", method, path, r.body)
	}
	return m
}

func (r rawResp) list(t *testing.T) []map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("not a JSON array: %s", r.body)
	}
	return l
}

func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks field %q: %v", what, k, m)
		}
	}
}

func checkErrorBody(t *testing.T, r rawResp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (%s)", r.status, status, r.body)
	}
	if !strings.Contains(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("error Content-Type = %q", r.header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("error body not JSON: %s", r.body)
	}
	code, _ := m["Code"].(string)
	msg, _ := m["Message"].(string)
	if code == "" || msg == "" || len(m) != 2 {
		t.Errorf(`error body is not {"Code","Message"}: %s`, r.body)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on error")
	}
}

func TestWireFormat(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	c := rawClient{t, srv}

	// Auth: missing and wrong bearer.
	checkErrorBody(t, c.do("GET", "/api/space", "", nil, ""), 401)
	checkErrorBody(t, c.do("GET", "/api/space", "nope", nil, ""), 401)

	me := c.ok("GET", "/api/me", nil)
	hasKeys(t, "OrganizationMember", me, "OrganizationID", "UserID", "Username", "DisplayName", "Slug", "ExternalID")

	sp := c.ok("POST", "/api/space", map[string]any{"Slug": "traderx-base", "Labels": map[string]string{"project": "traderx"}})
	hasKeys(t, "Space", sp, "SpaceID", "Slug", "Version", "CreatedAt", "OrganizationID")
	sid := sp["SpaceID"].(string)

	// Empty list, not 404, for an unknown slug.
	r := c.do("GET", "/api/space/"+sid+"/unit?where="+url.QueryEscape("Slug = 'nope'"), srv.Token, nil, "")
	if r.status != 200 || strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("unknown slug: %d %s, want 200 []", r.status, r.body)
	}
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("X-Request-Id") == "" {
		t.Errorf("headers: %v", r.header)
	}

	data := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: traderx\n"
	u := c.ok("POST", "/api/space/"+sid+"/unit", map[string]any{"Slug": "namespace", "ToolchainType": "Kubernetes/YAML",
		"Data": base64.StdEncoding.EncodeToString([]byte(data)), "LastChangeDescription": "first",
		"TargetID": nil, "UnitID": "00000000-0000-0000-0000-000000000000", "HeadRevisionNum": 99})
	hasKeys(t, "Unit", u, "UnitID", "SpaceID", "Slug", "ToolchainType", "Data", "HeadRevisionNum", "LiveRevisionNum",
		"LastAppliedRevisionNum", "PreviousLiveRevisionNum", "UpstreamRevisionNum", "Version", "ContentHash", "CreatedAt")
	if u["HeadRevisionNum"].(float64) != 1 {
		t.Errorf("server-owned HeadRevisionNum taken from body: %v", u["HeadRevisionNum"])
	}
	if u["Data"] != base64.StdEncoding.EncodeToString([]byte(data)) {
		t.Errorf("Data is not standard base64 of the config: %v", u["Data"])
	}
	if _, ok := u["TargetID"]; ok && u["TargetID"] != nil && u["TargetID"] != "00000000-0000-0000-0000-000000000000" {
		t.Errorf("unset TargetID rendered as %v", u["TargetID"])
	}
	uid := u["UnitID"].(string)
	unitPath := "/api/space/" + sid + "/unit/" + uid

	// Clone: query params are snake_case, no Data.
	dev := c.ok("POST", "/api/space", map[string]any{"Slug": "traderx-dev"})
	did := dev["SpaceID"].(string)
	cl := c.ok("POST", "/api/space/"+did+"/unit?upstream_space_id="+sid+"&upstream_unit_id="+uid,
		map[string]any{"Slug": "namespace", "ToolchainType": "Kubernetes/YAML"})
	if cl["UpstreamUnitID"] != uid || cl["UpstreamSpaceID"] != sid || cl["UpstreamRevisionNum"].(float64) != 1 || cl["Data"] != u["Data"] {
		t.Errorf("clone = %v", cl)
	}

	// Extended envelope on get and list.
	eu := c.ok("GET", unitPath+"?include=UnitEventID,TargetID,UpstreamUnitID,SpaceID", nil)
	hasKeys(t, "ExtendedUnit", eu, "Unit", "Space", "UnitStatus")
	l := c.do("GET", "/api/space/"+sid+"/unit", srv.Token, nil, "").list(t)
	if len(l) != 1 || l[0]["Unit"] == nil {
		t.Errorf("list = %v", l)
	}

	// PATCH merge patch with a new Data appends a revision with the description.
	data2 := data + "  labels:\n    a: b\n"
	p := c.do("PATCH", unitPath, srv.Token, map[string]any{"Data": base64.StdEncoding.EncodeToString([]byte(data2)), "LastChangeDescription": "second"},
		"application/merge-patch+json")
	if p.status != 200 {
		t.Fatalf("patch: %d %s", p.status, p.body)
	}
	checkErrorBody(t, c.do("PATCH", unitPath, srv.Token, map[string]any{}, "text/plain"), 415)
	revs := c.do("GET", unitPath+"/revision", srv.Token, nil, "").list(t)
	if len(revs) != 2 {
		t.Fatalf("revisions = %d", len(revs))
	}
	rev2 := revs[1]["Revision"].(map[string]any)
	hasKeys(t, "Revision", rev2, "RevisionID", "RevisionNum", "UnitID", "SpaceID", "Data", "Description", "CreatedAt", "LiveAt")
	if rev2["Description"] != "second" || rev2["RevisionNum"].(float64) != 2 {
		t.Errorf("revision 2 = %v", rev2)
	}
	raw := c.do("GET", unitPath+"/revision/"+rev2["RevisionID"].(string)+"/data", srv.Token, nil, "")
	if raw.status != 200 || string(raw.body) != data2 {
		t.Errorf("revision data = %d %q", raw.status, raw.body)
	}
	one := c.do("GET", unitPath+"/revision?where="+url.QueryEscape("RevisionNum = 1"), srv.Token, nil, "").list(t)
	if len(one) != 1 {
		t.Errorf("RevisionNum = 1 matched %d", len(one))
	}

	// PUT with a stale Version: 409.
	cur := c.ok("GET", unitPath, nil)["Unit"].(map[string]any)
	cur["Version"] = cur["Version"].(float64) - 1
	checkErrorBody(t, c.do("PUT", unitPath, srv.Token, cur, "application/json"), 409)
	cur["Version"] = cur["Version"].(float64) + 1
	cur["DisplayName"] = "ns"
	if r := c.do("PUT", unitPath, srv.Token, cur, "application/json"); r.status != 200 {
		t.Errorf("PUT with current Version: %d %s", r.status, r.body)
	}

	// 404 unknown id, 400 bad where / bad id.
	checkErrorBody(t, c.do("GET", "/api/space/"+sid+"/unit/6a1f7a36-2d58-4d8a-9d37-2f4e9b3c1a10", srv.Token, nil, ""), 404)
	checkErrorBody(t, c.do("GET", "/api/space/6a1f7a36-2d58-4d8a-9d37-2f4e9b3c1a10", srv.Token, nil, ""), 404)
	checkErrorBody(t, c.do("GET", "/api/space/"+sid+"/unit?where="+url.QueryEscape("Slug = "), srv.Token, nil, ""), 400)
	checkErrorBody(t, c.do("GET", "/api/space/"+sid+"/unit?where="+url.QueryEscape("Nope = 'x'"), srv.Token, nil, ""), 400)
	checkErrorBody(t, c.do("GET", "/api/space/"+sid+"/unit?where="+url.QueryEscape(`Slug = 'a\b'`), srv.Token, nil, ""), 400)
	checkErrorBody(t, c.do("GET", "/api/space/not-a-uuid/unit", srv.Token, nil, ""), 400)
	checkErrorBody(t, c.do("GET", "/api/nothing", srv.Token, nil, ""), 404)

	// Apply without target: a clear error; with a target: a QueuedOperation.
	checkErrorBody(t, c.do("POST", unitPath+"/apply", srv.Token, nil, ""), 422)
	// Targets come from a worker: it registers, connects and advertises one.
	w, err := srv.StartWorker(t.Context(), "traderx-base", "base-worker", nil, NoopBackend{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	tgs := c.do("GET", "/api/space/"+sid+"/target", srv.Token, nil, "").list(t)
	if len(tgs) != 1 {
		t.Fatalf("targets = %v", tgs)
	}
	tg := tgs[0]["Target"].(map[string]any)
	hasKeys(t, "Target", tg, "TargetID", "Slug", "SpaceID", "ToolchainType", "ProviderType", "BridgeWorkerID", "Parameters")
	c.ok("PATCH", unitPath, map[string]any{"TargetID": tg["TargetID"]})
	op := c.ok("POST", unitPath+"/apply", nil)
	hasKeys(t, "QueuedOperation", op, "QueuedOperationID", "Action", "UnitID", "SpaceID", "RevisionNum")
	if op["RevisionNum"].(float64) != 2 || op["Action"] != "Apply" {
		t.Errorf("op = %v", op)
	}

	// Tags and the bulk tag endpoint: 200 all good, 207 mixed.
	tag := c.ok("POST", "/api/space/"+sid+"/tag", map[string]any{"Slug": "release-1"})
	hasKeys(t, "Tag", tag, "TagID", "Slug", "SpaceID")
	c.ok("POST", "/api/space/"+sid+"/unit", map[string]any{"Slug": "other", "ToolchainType": "Kubernetes/YAML"})
	where := url.QueryEscape("SpaceID = '" + sid + "'")
	r = c.do("POST", "/api/unit/tag?where="+where, srv.Token, map[string]any{"TagID": tag["TagID"], "Revision": "HeadRevisionNum"}, "application/json")
	if r.status != 200 || len(r.list(t)) != 2 {
		t.Errorf("bulk tag head: %d %s", r.status, r.body)
	}
	if err := srv.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	r = c.do("POST", "/api/unit/tag?where="+where, srv.Token, map[string]any{"TagID": tag["TagID"], "Revision": "LiveRevisionNum"}, "application/json")
	if r.status != 207 {
		t.Fatalf("mixed bulk: %d %s", r.status, r.body)
	}
	var errs int
	for _, el := range r.list(t) {
		if e, ok := el["Error"].(map[string]any); ok && e != nil {
			errs++
			hasKeys(t, "ResponseError", e, "Message", "Status", "ErrorMetadata")
		}
	}
	if errs != 1 {
		t.Errorf("element errors = %d: %s", errs, r.body)
	}
	tagged := c.do("GET", unitPath+"/revision?where="+url.QueryEscape("Tags ? '"+tag["TagID"].(string)+"'"), srv.Token, nil, "").list(t)
	if len(tagged) != 1 {
		t.Errorf("tagged revisions = %d", len(tagged))
	}

	// Events of the operation, live state raw bytes.
	evs := c.do("GET", unitPath+"/unit_event?where="+url.QueryEscape("QueuedOperationID = '"+op["QueuedOperationID"].(string)+"'"), srv.Token, nil, "").list(t)
	if len(evs) < 2 || evs[0]["Status"] != "Progressing" {
		t.Fatalf("events = %v", evs)
	}
	last := evs[len(evs)-1]
	hasKeys(t, "UnitEvent", last, "UnitEventID", "QueuedOperationID", "Action", "Status", "Result", "RevisionNum", "Message", "CreatedAt")
	if last["Status"] != "Completed" || last["Result"] != "ApplyCompleted" {
		t.Errorf("terminal event = %v", last)
	}
	ls := c.do("GET", unitPath+"/live_state", srv.Token, nil, "")
	if ls.status != 200 || string(ls.body) != data2 {
		t.Errorf("live state = %d %q", ls.status, ls.body)
	}
	info := c.do("GET", "/api/info", "", nil, "")
	if info.status != 200 {
		t.Errorf("info: %d", info.status)
	}
}

func TestFaultInjectionOrderAndTimes(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	c := rawClient{t, srv}
	srv.InjectFault(Fault{Method: "GET", PathPattern: "^/api/me$", Status: 503, Times: 2, RetryAfter: 3 * 1e9})
	srv.InjectFault(Fault{Method: "GET", PathPattern: "^/api/me$", Status: 429})
	r := c.do("GET", "/api/me", srv.Token, nil, "")
	checkErrorBody(t, r, 503)
	if r.header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	checkErrorBody(t, c.do("GET", "/api/me", srv.Token, nil, ""), 503)
	checkErrorBody(t, c.do("GET", "/api/me", srv.Token, nil, ""), 429)
	if r := c.do("GET", "/api/me", srv.Token, nil, ""); r.status != 200 {
		t.Errorf("faults not consumed: %d", r.status)
	}
	if srv.PendingFaults() != 0 {
		t.Error("pending faults")
	}
	reqs := srv.Requests()
	if len(reqs) != 4 || !reqs[0].Faulted || reqs[3].Faulted || reqs[0].Status != 503 {
		t.Errorf("requests = %+v", reqs)
	}
}
