package confighubtest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
)

// The conformance test checks the stand-in's wire format against facts read
// from the ConfigHub SDK, not against this project's Go types: each table
// below says which fields an answer must carry and with which JSON types. It
// decodes every answer into map[string]any, so a field dropped from, or
// retyped in, pkg/confighub/types.go or the handlers makes it fail.

// sdkCommit is the confighub/sdk commit whose core/openapi/goclient-new/models.gen.go
// (and the openapi.yaml summarised in shared/confighub-openapi-facts.md) the
// tables were written from. "req" fields are those the SDK declares without
// omitempty, plus identifiers that are never zero in the scenario; "opt"
// fields are checked only for their type when present.
const sdkCommit = "c110dd78eee5fe4632f0c0054f53fa66c9f1b6a1"

type jsonKind string

const (
	jString jsonKind = "string"
	jNumber jsonKind = "number"
	jBool   jsonKind = "bool"
	jObject jsonKind = "object"
	jArray  jsonKind = "array"
	jNull   jsonKind = "null"
)

func kindOf(v any) jsonKind {
	switch v.(type) {
	case nil:
		return jNull
	case string:
		return jString
	case float64:
		return jNumber
	case bool:
		return jBool
	case map[string]any:
		return jObject
	case []any:
		return jArray
	}
	return "?"
}

type fieldRule struct {
	required bool
	kinds    []jsonKind
}

func req(k ...jsonKind) fieldRule { return fieldRule{required: true, kinds: k} }
func opt(k ...jsonKind) fieldRule { return fieldRule{kinds: k} }

// shape maps a field name to its rule; nested shapes are checked with sub.
type shape map[string]fieldRule

// Entity shapes, from the SDK's generated models at sdkCommit.
var (
	spaceShape = shape{"Slug": req(jString), "SpaceID": req(jString), "OrganizationID": opt(jString),
		"DisplayName": opt(jString), "Labels": opt(jObject), "Annotations": opt(jObject), "Version": opt(jNumber),
		"CreatedAt": opt(jString), "UpdatedAt": opt(jString)}
	// MutationSources is nullable in the SDK, but cub's `unit get` dereferences
	// it, so the stand-in must send an array.
	unitShape = shape{"Slug": req(jString), "ToolchainType": req(jString), "UnitID": req(jString), "SpaceID": req(jString),
		"ApprovedBy": req(jArray, jNull), "FromLinkID": req(jArray, jNull), "MutationSources": req(jArray),
		"HeadRevisionNum": req(jNumber), "HeadMutationNum": req(jNumber), "Data": opt(jString),
		"TargetID": opt(jString), "UpstreamUnitID": opt(jString), "UpstreamSpaceID": opt(jString),
		"UpstreamRevisionNum": opt(jNumber), "LiveRevisionNum": opt(jNumber), "LastAppliedRevisionNum": opt(jNumber),
		"PreviousLiveRevisionNum": opt(jNumber), "LiveState": opt(jString), "Labels": opt(jObject),
		"ApplyGates": opt(jObject), "LastChangeDescription": opt(jString), "Version": opt(jNumber), "ContentHash": opt(jNumber)}
	// Revision.MutationSources likewise: cub's `revision get` dereferences it.
	revisionShape = shape{"RevisionID": req(jString), "RevisionNum": req(jNumber), "UnitID": req(jString),
		"MutationSources": req(jArray), "Data": opt(jString), "Description": opt(jString), "Tags": opt(jObject),
		"LiveAt": opt(jString), "UserID": opt(jString), "Source": opt(jString)}
	targetShape = shape{"Slug": req(jString), "TargetID": req(jString), "BridgeWorkerID": req(jString),
		"ToolchainType": req(jString), "ProviderType": req(jString), "Parameters": opt(jString), "Labels": opt(jObject)}
	workerShape = shape{"Slug": req(jString), "BridgeWorkerID": req(jString), "SpaceID": req(jString), "Condition": opt(jString),
		"LastSeenAt": opt(jString), "Labels": opt(jObject), "Version": opt(jNumber)}
	workerStatusShape = shape{"BridgeWorkerID": req(jString), "Status": req(jString), "SeenAt": opt(jString)}
	tagShape          = shape{"Slug": req(jString), "TagID": req(jString), "Labels": opt(jObject), "Annotations": opt(jObject)}
	eventShape        = shape{"UnitEventID": req(jString), "QueuedOperationID": req(jString), "TerminatedAt": req(jString),
		"Action": opt(jString), "Status": opt(jString), "Result": opt(jString), "RevisionNum": opt(jNumber),
		"StartedAt": opt(jString), "Message": opt(jString)}
	queuedOpShape = shape{"QueuedOperationID": req(jString), "Dependencies": req(jArray, jNull), "Action": opt(jString),
		"RevisionNum": opt(jNumber), "Status": opt(jString), "UnitID": opt(jString), "TargetID": opt(jString)}
	linkShape = shape{"LinkID": req(jString), "Slug": req(jString), "FromUnitID": req(jString), "ToUnitID": req(jString),
		"ToSpaceID": opt(jString), "UpdateType": opt(jString), "UpstreamLastMergedRevisionNum": opt(jNumber)}
	mutationShape = shape{"MutationID": req(jString), "RevisionID": opt(jString), "RevisionNum": opt(jNumber),
		"MutationNum": opt(jNumber), "MergeSourceID": opt(jString), "RestoredRevisionNum": opt(jNumber)}
	unitStatusShape = shape{"ActionStartedAt": req(jString), "ActionTerminatedAt": req(jString), "Status": opt(jString),
		"Drift": opt(jString), "Action": opt(jString), "ActionResult": opt(jString)}
	userShape      = shape{"Slug": req(jString), "UserID": opt(jString), "Username": opt(jString)}
	memberShape    = shape{"UserID": req(jString), "OrganizationID": req(jString), "Username": req(jString), "Slug": opt(jString)}
	infoShape      = shape{"Version": opt(jString), "Build": opt(jString), "BuiltAt": opt(jString), "WorkerPort": opt(jString)}
	extSpaceShape  = shape{"Space": req(jObject), "TargetCountByToolchainType": req(jObject, jNull), "TriggerCountByEventType": req(jObject, jNull), "TotalUnitCount": opt(jNumber), "TotalBridgeWorkerCount": opt(jNumber), "UnappliedUnitCount": opt(jNumber)}
	errorShape     = shape{"Code": req(jString), "Message": req(jString)}
	deleteShape    = shape{"Message": opt(jString), "Error": opt(jObject)}
	tagRespShape   = shape{"Message": opt(jString), "Error": opt(jObject)}
	bulkUnitShape  = shape{"Unit": opt(jObject), "Error": opt(jObject)}
	bulkApplyShape = shape{"Action": opt(jObject), "Error": opt(jObject)}
)

// envelope says which parts of an Extended* answer must be present (and with
// which shape) and which must be absent.
type envelope struct {
	parts  map[string]shape
	absent []string
}

func checkShape(t *testing.T, where string, v any, s shape) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: want a JSON object, got %s", where, kindOf(v))
		return
	}
	for name, r := range s {
		fv, present := m[name]
		if !present {
			if r.required {
				t.Errorf("%s: field %s is missing (SDK %s declares it without omitempty or it is never zero here)", where, name, sdkCommit[:8])
			}
			continue
		}
		k := kindOf(fv)
		ok := false
		for _, want := range r.kinds {
			ok = ok || k == want
		}
		if !ok {
			t.Errorf("%s: field %s is %s, want %v", where, name, k, r.kinds)
		}
	}
}

func checkEnvelope(t *testing.T, where string, v any, e envelope) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: want a JSON object, got %s", where, kindOf(v))
		return
	}
	for part, s := range e.parts {
		if _, ok := m[part]; !ok {
			t.Errorf("%s: part %s is missing", where, part)
			continue
		}
		checkShape(t, where+"."+part, m[part], s)
	}
	for _, part := range e.absent {
		if _, ok := m[part]; ok {
			t.Errorf("%s: part %s is present but was not asked for with include", where, part)
		}
	}
}

// conformanceClient talks raw HTTP to the stand-in, as cub's generated client does.
type conformanceClient struct {
	t   *testing.T
	srv *confighubtest.Server
}

type answer struct {
	status int
	ctype  string
	raw    []byte
	body   any
}

func (c *conformanceClient) do(method, path, token string, body any) answer {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.srv.URL+"/api"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		ct := "application/json"
		if method == http.MethodPatch {
			ct = "application/merge-patch+json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), raw: raw}
	if strings.Contains(a.ctype, "json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			c.t.Fatalf("%s %s: invalid JSON %q: %v", method, path, raw, err)
		}
	}
	return a
}

// must answers a call that has to succeed with 200.
func (c *conformanceClient) must(method, path string, body any) any {
	c.t.Helper()
	a := c.do(method, path, c.srv.Token, body)
	if a.status != http.StatusOK {
		c.t.Fatalf("%s %s = %d %s, want 200", method, path, a.status, a.raw)
	}
	return a.body
}

func str(v any, path ...string) string {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func q(params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return "?" + v.Encode()
}

func TestConformance(t *testing.T) {
	srv := confighubtest.NewServer()
	t.Cleanup(srv.Close)
	c := &conformanceClient{t: t, srv: srv}

	// Scenario: a base unit, its clone in an environment space with a target,
	// applied and tagged.
	base := str(c.must("POST", "/space", map[string]any{"Slug": "conf-base"}), "SpaceID")
	dev := str(c.must("POST", "/space", map[string]any{"Slug": "conf-dev", "Labels": map[string]string{"Environment": "dev"}}), "SpaceID")
	// A target belongs to a bridge worker (BridgeWorkerID is required).
	w, err := srv.StartWorker(t.Context(), "conf-dev", "conf-worker", nil, confighubtest.NoopBackend{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	target := str(c.must("POST", "/space/"+dev+"/target", map[string]any{"Slug": "conf-target", "BridgeWorkerID": w.ID.String(),
		"ToolchainType": "Kubernetes/YAML", "ProviderType": "Kubernetes"}), "TargetID")
	up := str(c.must("POST", "/space/"+base+"/unit", map[string]any{"Slug": "app", "ToolchainType": "Kubernetes/YAML",
		"Data": base64.StdEncoding.EncodeToString([]byte("kind: ConfigMap\nmetadata:\n  name: app\n"))}), "UnitID")
	clone := str(c.must("POST", "/space/"+dev+"/unit"+q("upstream_space_id", base, "upstream_unit_id", up),
		map[string]any{"Slug": "app", "ToolchainType": "Kubernetes/YAML"}), "UnitID")
	c.must("PATCH", "/space/"+dev+"/unit/"+clone, map[string]any{"TargetID": target})
	c.must("POST", "/unit/apply"+q("where", "SpaceID = '"+dev+"'"), nil)
	if err := srv.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	tag := str(c.must("POST", "/space/"+dev+"/tag", map[string]any{"Slug": "release-1"}), "TagID")
	c.must("POST", "/unit/tag"+q("where", "SpaceID = '"+dev+"'"), map[string]any{"TagID": tag, "Revision": "LiveRevisionNum"})
	cloneRevs := c.must("GET", "/space/"+dev+"/unit/"+clone+"/revision", nil).([]any)
	revID := str(cloneRevs[0], "Revision", "RevisionID")
	mutID := str(c.must("GET", "/space/"+dev+"/unit/"+clone+"/mutation", nil).([]any)[0], "Mutation", "MutationID")
	linkList := c.must("GET", "/space/"+dev+"/link", nil).([]any)
	if len(linkList) != 1 || str(linkList[0], "Link", "UpdateType") != "UpgradeUnit" {
		t.Fatalf("a clone's upstream is a Link of UpdateType UpgradeUnit; links = %v", linkList)
	}
	linkID := str(linkList[0], "Link", "LinkID")
	unitPath := "/space/" + dev + "/unit/" + clone
	doomed := str(c.must("POST", "/space/"+dev+"/unit", map[string]any{"Slug": "doomed", "ToolchainType": "Kubernetes/YAML"}), "UnitID")

	extUnitAll := envelope{parts: map[string]shape{"Unit": unitShape, "Space": spaceShape, "Target": targetShape,
		"UpstreamUnit": unitShape, "LatestUnitEvent": eventShape, "UnitStatus": unitStatusShape}}
	extUnitBare := envelope{parts: map[string]shape{"Unit": unitShape},
		absent: []string{"Space", "Target", "UpstreamUnit", "UpstreamSpace", "LatestUnitEvent", "UnitStatus",
			"HeadRevision", "LiveRevision", "LastAppliedRevision"}}
	cubInclude := "UnitEventID,TargetID,UpstreamUnitID,SpaceID"

	type single struct {
		name, method, path string
		body               any
		object             *shape
		env                *envelope
		list               bool // the answer is a non-empty array of the object/envelope
		raw                bool // octet-stream
	}
	sh := func(s shape) *shape { return &s }
	env := func(e envelope) *envelope { return &e }
	ok := []single{
		{name: "me", method: "GET", path: "/me", object: sh(memberShape)},
		{name: "info", method: "GET", path: "/info", object: sh(infoShape)},
		{name: "spaces list", method: "GET", path: "/space", list: true, env: env(envelope{parts: map[string]shape{"Space": spaceShape}})},
		{name: "spaces list counts", method: "GET", path: "/space", list: true, object: sh(extSpaceShape)},
		{name: "space get", method: "GET", path: "/space/" + dev, object: sh(extSpaceShape)},
		{name: "space create", method: "POST", path: "/space", body: map[string]any{"Slug": "conf-new"}, object: sh(spaceShape)},
		{name: "units list, cub's include", method: "GET", path: "/space/" + dev + "/unit" + q("where", "Slug = 'app'", "include", cubInclude), list: true, env: env(extUnitAll)},
		{name: "units list, no include", method: "GET", path: "/space/" + dev + "/unit", list: true, env: env(extUnitBare)},
		{name: "units list org-wide", method: "GET", path: "/unit" + q("where", "Space.Slug = 'conf-dev' AND UpstreamUnit.HeadRevisionNum >= Unit.UpstreamRevisionNum", "include", cubInclude), list: true, env: env(extUnitAll)},
		{name: "unit get, cub's include", method: "GET", path: unitPath + q("include", cubInclude), env: env(extUnitAll)},
		{name: "unit get, no include", method: "GET", path: unitPath, env: env(extUnitBare)},
		{name: "unit get, revision includes", method: "GET", path: unitPath + q("include", "HeadRevisionNum,LiveRevisionNum,LastAppliedRevisionNum,UpstreamSpaceID"),
			env: env(envelope{parts: map[string]shape{"Unit": unitShape, "HeadRevision": revisionShape, "LiveRevision": revisionShape,
				"LastAppliedRevision": revisionShape, "UpstreamSpace": spaceShape}, absent: []string{"Space", "UnitStatus"}})},
		{name: "unit create", method: "POST", path: "/space/" + dev + "/unit", body: map[string]any{"Slug": "other", "ToolchainType": "Kubernetes/YAML",
			"Data": base64.StdEncoding.EncodeToString([]byte("kind: Secret\n"))}, object: sh(unitShape)},
		{name: "space patch", method: "PATCH", path: "/space/" + dev, body: map[string]any{"Labels": map[string]string{"Environment": "dev"}}, object: sh(spaceShape)},
		{name: "unit patch", method: "PATCH", path: unitPath, body: map[string]any{"Labels": map[string]string{"tier": "1"}}, object: sh(unitShape)},
		{name: "unit restore number", method: "PATCH", path: unitPath + q("restore", "1"), body: map[string]any{"LastChangeDescription": "restore 1"}, object: sh(unitShape)},
		{name: "unit restore Before:", method: "PATCH", path: unitPath + q("restore", "Before:HeadRevisionNum"), body: map[string]any{"LastChangeDescription": "restore"}, object: sh(unitShape)},
		{name: "unit restore Tag:", method: "PATCH", path: unitPath + q("restore", "Tag:"+tag), body: map[string]any{}, object: sh(unitShape)},
		{name: "bulk patch", method: "PATCH", path: "/unit" + q("where", "SpaceID = '"+dev+"' AND Slug = 'app'"), body: map[string]any{"Labels": map[string]string{"x": "y"}}, list: true, object: sh(bulkUnitShape)},
		{name: "bulk apply", method: "POST", path: "/unit/apply" + q("where", "SpaceID = '"+dev+"' AND Slug = 'app'"), list: true, object: sh(bulkApplyShape)},
		{name: "bulk tag", method: "POST", path: "/unit/tag" + q("where", "SpaceID = '"+dev+"'"), body: map[string]any{"TagID": tag, "Revision": "HeadRevisionNum"}, list: true, object: sh(tagRespShape)},
		{name: "bulk tag Remove", method: "POST", path: "/unit/tag" + q("where", "SpaceID = '"+dev+"'"), body: map[string]any{"TagID": tag, "Revision": "Remove"}, list: true, object: sh(tagRespShape)},
		{name: "revisions list", method: "GET", path: unitPath + "/revision", list: true, env: env(envelope{parts: map[string]shape{"Revision": revisionShape}, absent: []string{"Space", "Unit", "User"}})},
		{name: "revision get, UserID", method: "GET", path: unitPath + "/revision/" + revID + q("include", "UserID,SpaceID,UnitID"),
			env: env(envelope{parts: map[string]shape{"Revision": revisionShape, "User": userShape, "Space": spaceShape, "Unit": unitShape}})},
		{name: "revisions org-wide", method: "GET", path: "/revision" + q("where", "SpaceID = '"+dev+"'"), list: true, env: env(envelope{parts: map[string]shape{"Revision": revisionShape}})},
		{name: "revision data", method: "GET", path: unitPath + "/revision/" + revID + "/data", raw: true},
		{name: "unit data", method: "GET", path: unitPath + "/data", raw: true},
		{name: "live_state", method: "GET", path: unitPath + "/live_state", raw: true},
		{name: "unit events", method: "GET", path: unitPath + "/unit_event", list: true, object: sh(eventShape)},
		{name: "unit events org-wide", method: "GET", path: "/unit_event" + q("where", "SpaceID = '"+dev+"'"), list: true, object: sh(eventShape)},
		{name: "tags list", method: "GET", path: "/space/" + dev + "/tag" + q("include", "SpaceID"), list: true, env: env(envelope{parts: map[string]shape{"Tag": tagShape, "Space": spaceShape}})},
		{name: "tag get", method: "GET", path: "/space/" + dev + "/tag/" + tag, env: env(envelope{parts: map[string]shape{"Tag": tagShape}, absent: []string{"Space"}})},
		{name: "tag create", method: "POST", path: "/space/" + dev + "/tag", body: map[string]any{"Slug": "release-2"}, object: sh(tagShape)},
		{name: "targets list", method: "GET", path: "/space/" + dev + "/target", list: true, env: env(envelope{parts: map[string]shape{"Target": targetShape}, absent: []string{"Space"}})},
		// cub target list asks for SpaceID,BridgeWorkerID and prints the worker's slug.
		{name: "targets list with worker", method: "GET", path: "/space/" + dev + "/target" + q("include", "SpaceID,BridgeWorkerID"), list: true,
			env: env(envelope{parts: map[string]shape{"Target": targetShape, "Space": spaceShape, "BridgeWorker": workerShape}})},
		{name: "target get", method: "GET", path: "/space/" + dev + "/target/" + target + q("include", "SpaceID"), env: env(envelope{parts: map[string]shape{"Target": targetShape, "Space": spaceShape}})},
		{name: "links list", method: "GET", path: "/space/" + dev + "/link" + q("include", "FromUnitID,ToUnitID"), list: true,
			env: env(envelope{parts: map[string]shape{"Link": linkShape, "FromUnit": unitShape, "ToUnit": unitShape}})},
		{name: "link get", method: "GET", path: "/space/" + dev + "/link/" + linkID, env: env(envelope{parts: map[string]shape{"Link": linkShape}})},
		{name: "mutations list", method: "GET", path: unitPath + "/mutation" + q("include", "RevisionID"), list: true,
			env: env(envelope{parts: map[string]shape{"Mutation": mutationShape, "Revision": revisionShape}})},
		{name: "mutation get", method: "GET", path: unitPath + "/mutation/" + mutID, env: env(envelope{parts: map[string]shape{"Mutation": mutationShape}})},
		{name: "workers list", method: "GET", path: "/space/" + dev + "/bridge_worker", list: true,
			env: env(envelope{parts: map[string]shape{"BridgeWorker": workerShape}})},
		{name: "worker get", method: "GET", path: "/space/" + dev + "/bridge_worker/" + w.ID.String(),
			env: env(envelope{parts: map[string]shape{"BridgeWorker": workerShape}})},
		{name: "worker statuses", method: "GET", path: "/space/" + dev + "/bridge_worker/" + w.ID.String() + "/status", list: true, object: sh(workerStatusShape)},
		{name: "bulk refresh, dry run", method: "POST", path: "/unit/refresh" + q("where", "SpaceID = '"+dev+"' AND Slug = 'app'", "dry_run", "true"), list: true, object: sh(bulkApplyShape)},
		{name: "unit delete", method: "DELETE", path: "/space/" + dev + "/unit/" + doomed, object: sh(deleteShape)},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			c := &conformanceClient{t: t, srv: srv}
			a := c.do(tc.method, tc.path, srv.Token, tc.body)
			if a.status != http.StatusOK {
				t.Fatalf("%s %s = %d %s, want 200 (every success is 200, creates included)", tc.method, tc.path, a.status, a.raw)
			}
			if tc.raw {
				if !strings.HasPrefix(a.ctype, "application/octet-stream") || len(a.raw) == 0 {
					t.Errorf("want non-empty application/octet-stream, got %q (%d bytes)", a.ctype, len(a.raw))
				}
				return
			}
			if !strings.HasPrefix(a.ctype, "application/json") {
				t.Fatalf("Content-Type %q, want application/json", a.ctype)
			}
			items := []any{a.body}
			if tc.list {
				arr, isArr := a.body.([]any)
				if !isArr || len(arr) == 0 {
					t.Fatalf("want a non-empty JSON array, got %s", a.raw)
				}
				items = arr
			}
			for i, it := range items {
				where := fmt.Sprintf("%s[%d]", tc.name, i)
				if tc.object != nil {
					checkShape(t, where, it, *tc.object)
				}
				if tc.env != nil {
					checkEnvelope(t, where, it, *tc.env)
				}
			}
		})
	}

	// Failures: status and the StandardErrorResponse shape.
	bad := []struct {
		name, method, path, token string
		body                      any
		status                    int
	}{
		{"bad token", "GET", "/space", "wrong", nil, http.StatusUnauthorized},
		{"no token", "GET", "/me", "", nil, http.StatusUnauthorized},
		{"unknown space", "GET", "/space/6a3c1b52-6f7e-4a0d-9d7e-0c2a8f1e9b11", srv.Token, nil, http.StatusNotFound},
		{"unknown unit", "GET", "/space/" + dev + "/unit/6a3c1b52-6f7e-4a0d-9d7e-0c2a8f1e9b11", srv.Token, nil, http.StatusNotFound},
		{"unknown link", "GET", "/space/" + dev + "/link/6a3c1b52-6f7e-4a0d-9d7e-0c2a8f1e9b11", srv.Token, nil, http.StatusNotFound},
		{"unknown route", "GET", "/space/" + dev + "/no_such_collection", srv.Token, nil, http.StatusNotFound},
		{"where: unknown attribute", "GET", "/space/" + dev + "/unit" + q("where", "Bogus = 1"), srv.Token, nil, http.StatusBadRequest},
		{"where: Go-only field", "GET", "/space/" + dev + "/unit" + q("where", "MutationSources IS NULL"), srv.Token, nil, http.StatusBadRequest},
		{"where: undocumented prefix", "GET", "/space/" + dev + "/unit" + q("where", "Target.Slug = 'x'"), srv.Token, nil, http.StatusBadRequest},
		{"where: unit attribute on revisions", "GET", unitPath + "/revision" + q("where", "Slug = 'app'"), srv.Token, nil, http.StatusBadRequest},
		{"where: does not parse", "GET", "/space" + q("where", "Slug = "), srv.Token, nil, http.StatusBadRequest},
		{"include: unknown attribute", "GET", "/space/" + dev + "/unit" + q("include", "Space"), srv.Token, nil, http.StatusBadRequest},
		{"include: unit key on revisions", "GET", unitPath + "/revision" + q("include", "TargetID"), srv.Token, nil, http.StatusBadRequest},
		{"duplicate space slug", "POST", "/space", srv.Token, map[string]any{"Slug": "conf-dev"}, http.StatusConflict},
		{"duplicate unit slug", "POST", "/space/" + dev + "/unit", srv.Token, map[string]any{"Slug": "app", "ToolchainType": "Kubernetes/YAML"}, http.StatusConflict},
		{"allow_exists not a bool", "POST", "/space" + q("allow_exists", "yes"), srv.Token, map[string]any{"Slug": "conf-dev"}, http.StatusBadRequest},
		{"duplicate worker slug", "POST", "/space/" + dev + "/bridge_worker", srv.Token, map[string]any{"Slug": "conf-worker"}, http.StatusConflict},
		{"worker allow_exists not a bool", "POST", "/space/" + dev + "/bridge_worker" + q("allow_exists", "yes"), srv.Token, map[string]any{"Slug": "conf-worker"}, http.StatusBadRequest},
		{"restore: negative number", "PATCH", unitPath + q("restore", "-1"), srv.Token, map[string]any{}, http.StatusBadRequest},
		{"restore: unknown name", "PATCH", unitPath + q("restore", "LatestRevisionNum"), srv.Token, map[string]any{}, http.StatusBadRequest},
		{"restore: Tag without uuid", "PATCH", unitPath + q("restore", "Tag:release-1"), srv.Token, map[string]any{}, http.StatusBadRequest},
		{"tag: number revision", "POST", "/unit/tag" + q("where", "SpaceID = '"+dev+"'"), srv.Token, map[string]any{"TagID": tag, "Revision": "1"}, http.StatusBadRequest},
		{"tag: Tag: revision", "POST", "/unit/tag" + q("where", "SpaceID = '"+dev+"'"), srv.Token, map[string]any{"TagID": tag, "Revision": "Tag:" + tag}, http.StatusBadRequest},
		{"bulk apply without where", "POST", "/unit/apply", srv.Token, nil, http.StatusBadRequest},
		{"bulk refresh without where", "POST", "/unit/refresh", srv.Token, nil, http.StatusBadRequest},
		{"target without its worker", "POST", "/space/" + dev + "/target", srv.Token,
			map[string]any{"Slug": "orphan", "ToolchainType": "Kubernetes/YAML", "ProviderType": "Kubernetes"}, http.StatusBadRequest},
		{"worker route with a user token", "GET", "/bridge_worker/" + w.ID.String() + "/me", srv.Token, nil, http.StatusUnauthorized},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := &conformanceClient{t: t, srv: srv}
			a := c.do(tc.method, tc.path, tc.token, tc.body)
			if a.status != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, a.status, a.raw, tc.status)
			}
			checkShape(t, tc.name, a.body, errorShape)
			if code := str(a.body, "Code"); code == "" {
				t.Errorf("Code is empty")
			}
		})
	}

	// allow_exists=true turns a duplicate create into the existing entity,
	// for every create that takes it.
	for _, tc := range []struct {
		path, idField, want string
		body                map[string]any
	}{
		{"/space", "SpaceID", dev, map[string]any{"Slug": "conf-dev"}},
		{"/space/" + dev + "/unit", "UnitID", clone, map[string]any{"Slug": "app", "ToolchainType": "Kubernetes/YAML"}},
		{"/space/" + dev + "/target", "TargetID", target, map[string]any{"Slug": "conf-target", "BridgeWorkerID": w.ID.String(),
			"ToolchainType": "Kubernetes/YAML", "ProviderType": "Kubernetes"}},
		{"/space/" + dev + "/tag", "TagID", tag, map[string]any{"Slug": "release-1"}},
		{"/space/" + dev + "/bridge_worker", "BridgeWorkerID", w.ID.String(), map[string]any{"Slug": "conf-worker"}},
	} {
		again := c.must("POST", tc.path+q("allow_exists", "true"), tc.body)
		if got := str(again, tc.idField); got != tc.want {
			t.Errorf("POST %s?allow_exists=true: got %s %s, want the existing %s", tc.path, tc.idField, got, tc.want)
		}
	}
}
