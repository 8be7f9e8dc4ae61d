package confighubtest

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// The bridge worker protocol, shaped as in the SDK (bridge-worker/api/*.go in
// the Aug-2025 SDK, core/worker/api/*.go in newer ones). A worker:
//
//  1. GET  /api/bridge_worker/{id}/me            (Bearer <worker secret>) → BridgeWorker
//  2. POST /api/bridge_worker/{id}/stream        body WorkerInfo, Accept: text/event-stream;
//     the server answers 200 and writes SSE lines "data: <EventMessage JSON>\n\n";
//  3. POST /api/bridge_worker/{id}/action_result body ActionResult, for every
//     status of every operation and for every heartbeat.
//
// The SDK worker speaks HTTP/2 (h2c on http://); this stand-in serves
// HTTP/1.1, which carries the same request and byte stream.

// Event names of EventMessage.Event (bridge-worker/api/event_message.go).
const (
	eventWorker       = "WorkerEvent"
	eventBridgeWorker = "BridgeWorkerEvent"
)

// eventMessage is one SSE data line.
type eventMessage struct {
	Event string
	Data  any
}

// eventMessageIn is eventMessage as the worker decodes it.
type eventMessageIn struct {
	Event string
	Data  json.RawMessage
}

// workerEventRequest is a WorkerEvent: the server's heartbeat probe. The
// worker answers it with an ActionResult of Action Heartbeat.
type workerEventRequest struct {
	Action  string
	Payload workerPayload
}

type workerPayload struct {
	Timestamp int64 // Unix microseconds
}

// bridgeEventRequest is a BridgeWorkerEvent: an operation for the worker.
type bridgeEventRequest struct {
	Action  string
	Payload bridgePayload
}

// bridgePayload follows core/worker/api/event_request_bridge_worker.go (the
// newest SDK): the dry-run flag is its own field there (DryRun), not part of
// ExtraParams. []byte fields are base64 on the wire.
type bridgePayload struct {
	QueuedOperationID uuid.UUID
	ToolchainType     string
	ProviderType      string
	UnitSlug          string
	UnitID            uuid.UUID
	UnitLabels        map[string]string
	SpaceSlug         string
	SpaceID           uuid.UUID
	OrganizationID    uuid.UUID
	TargetID          uuid.UUID
	DryRun            bool
	Data              []byte
	LiveData          []byte
	LiveState         []byte
	TargetParams      []byte // the target's Parameters JSON
	ExtraParams       []byte
	RevisionNum       int64
	LiveRevisionNum   int64
}

// actionResult is what a worker posts to action_result
// (bridge-worker/api/operation_status.go, ActionResult plus the newer
// LiveData and ResourceStatuses).
type actionResult struct {
	UnitID            uuid.UUID
	SpaceID           uuid.UUID
	QueuedOperationID uuid.UUID
	RevisionNum       int64
	Action            string
	Result            string
	Status            string
	Message           string
	StartedAt         time.Time                           `json:",omitzero"`
	TerminatedAt      *time.Time                          `json:",omitempty"`
	Data              []byte                              `json:",omitempty"`
	LiveState         []byte                              `json:",omitempty"`
	LiveData          []byte                              `json:",omitempty"`
	ResourceStatuses  map[string]confighub.ResourceStatus `json:",omitempty"`
}

// Paths of the worker-authenticated routes.
func workerStreamPath(id uuid.UUID) string { return "/api/bridge_worker/" + id.String() + "/stream" }
func workerResultPath(id uuid.UUID) string {
	return "/api/bridge_worker/" + id.String() + "/action_result"
}
func workerMePath(id uuid.UUID) string { return "/api/bridge_worker/" + id.String() + "/me" }
