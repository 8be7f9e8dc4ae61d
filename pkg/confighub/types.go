package confighub

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Entities follow the ConfigHub OpenAPI field names exactly (PascalCase). Only
// the fields this project needs are declared; unknown fields are ignored on
// decode. Nullable references (TargetID, Upstream*) use omitzero so that the
// zero UUID, null and an absent field all mean "unset", as the API allows.
// Fields the SDK's generated models declare without omitempty (and that cub
// dereferences, such as MutationSources) have no omitempty here either, so
// the stand-in, which serves these types, always sends them. The client never
// sends these types whole on writes: see unitWriteBody.

// ToolchainKubernetesYAML is the toolchain type of every TraderX unit.
const ToolchainKubernetesYAML = "Kubernetes/YAML"

// Revision pointer names accepted by restore, tag requests and apply.
const (
	HeadRevisionNum         = "HeadRevisionNum"
	LiveRevisionNum         = "LiveRevisionNum"
	LastAppliedRevisionNum  = "LastAppliedRevisionNum"
	PreviousLiveRevisionNum = "PreviousLiveRevisionNum"
)

// ActionType values.
const (
	ActionApply   = "Apply"
	ActionDestroy = "Destroy"
	ActionRefresh = "Refresh"
	ActionImport  = "Import"
	// ActionHeartbeat is the worker protocol's liveness probe and answer.
	ActionHeartbeat = "Heartbeat"
)

// ActionStatusType values (UnitEvent.Status).
const (
	StatusNone        = "None"
	StatusSubmitted   = "Submitted"
	StatusPending     = "Pending"
	StatusProgressing = "Progressing"
	StatusCompleted   = "Completed"
	StatusFailed      = "Failed"
	StatusCanceled    = "Canceled"
	StatusAborted     = "Aborted"
)

// ActionResultType values (UnitEvent.Result).
const (
	ResultNone              = "None"
	ResultApplyCompleted    = "ApplyCompleted"
	ResultApplyFailed       = "ApplyFailed"
	ResultApplyWaitFailed   = "ApplyWaitFailed"
	ResultRefreshAndDrifted = "RefreshAndDrifted"
	ResultRefreshAndNoDrift = "RefreshAndNoDrift"
	ResultRefreshFailed     = "RefreshFailed"
	ResultDestroyCompleted  = "DestroyCompleted"
	ResultDestroyFailed     = "DestroyFailed"
)

// Space is a ConfigHub space.
type Space struct {
	SpaceID        uuid.UUID         `json:"SpaceID,omitzero"`
	OrganizationID uuid.UUID         `json:"OrganizationID,omitzero"`
	Slug           string            `json:"Slug"`
	DisplayName    string            `json:"DisplayName,omitempty"`
	Labels         map[string]string `json:"Labels,omitempty"`
	Annotations    map[string]string `json:"Annotations,omitempty"`
	Version        int64             `json:"Version"`
	CreatedAt      time.Time         `json:"CreatedAt"`
	UpdatedAt      time.Time         `json:"UpdatedAt"`
	EntityType     string            `json:"EntityType,omitempty"`
}

// ExtendedSpace is the envelope returned by space list and get calls. The two
// count maps are declared without omitempty by the SDK; cub prints them.
type ExtendedSpace struct {
	Space                      *Space         `json:"Space"`
	TotalUnitCount             int            `json:"TotalUnitCount"`
	UnappliedUnitCount         int            `json:"UnappliedUnitCount"`
	UpgradableUnitCount        int            `json:"UpgradableUnitCount"`
	GatedUnitCount             int            `json:"GatedUnitCount"`
	TotalBridgeWorkerCount     int            `json:"TotalBridgeWorkerCount"`
	TotalTagCount              int            `json:"TotalTagCount"`
	TotalLinkCount             int            `json:"TotalLinkCount"`
	TargetCountByToolchainType map[string]int `json:"TargetCountByToolchainType"`
	TriggerCountByEventType    map[string]int `json:"TriggerCountByEventType"`
}

// Unit is one configuration unit. Data and LiveState are base64 on the wire.
//
// Newer servers (confighub/sdk 41892a1) send neither Data nor the live
// revisions: they send DataSize, DataHash, HeadRevisionID and
// LastReleasedRevisionNum instead, and the client fills Data and
// LiveRevisionNum from those (see compat.go). The stand-in never sets the
// newer fields, so it keeps answering in the shape it promises.
type Unit struct {
	UnitID                  uuid.UUID         `json:"UnitID,omitzero"`
	SpaceID                 uuid.UUID         `json:"SpaceID,omitzero"`
	OrganizationID          uuid.UUID         `json:"OrganizationID,omitzero"`
	Slug                    string            `json:"Slug"`
	DisplayName             string            `json:"DisplayName,omitempty"`
	ToolchainType           string            `json:"ToolchainType"`
	Data                    []byte            `json:"Data,omitempty"`
	DataSize                int64             `json:"DataSize,omitempty"`
	DataHash                string            `json:"DataHash,omitempty"`
	HeadRevisionID          uuid.UUID         `json:"HeadRevisionID,omitzero"`
	LastReleasedRevisionNum int64             `json:"LastReleasedRevisionNum,omitempty"`
	Labels                  map[string]string `json:"Labels,omitempty"`
	Annotations             map[string]string `json:"Annotations,omitempty"`
	TargetID                uuid.UUID         `json:"TargetID,omitzero"`
	UpstreamUnitID          uuid.UUID         `json:"UpstreamUnitID,omitzero"`
	UpstreamSpaceID         uuid.UUID         `json:"UpstreamSpaceID,omitzero"`
	UpstreamOrganizationID  uuid.UUID         `json:"UpstreamOrganizationID,omitzero"`
	UpstreamRevisionNum     int64             `json:"UpstreamRevisionNum"`
	HeadRevisionNum         int64             `json:"HeadRevisionNum"`
	LastAppliedRevisionNum  int64             `json:"LastAppliedRevisionNum"`
	LiveRevisionNum         int64             `json:"LiveRevisionNum"`
	PreviousLiveRevisionNum int64             `json:"PreviousLiveRevisionNum"`
	LiveState               []byte            `json:"LiveState,omitempty"`
	LiveData                []byte            `json:"LiveData,omitempty"`
	LastChangeDescription   string            `json:"LastChangeDescription,omitempty"`
	ApplyGates              map[string]bool   `json:"ApplyGates,omitempty"`
	ApprovedBy              []uuid.UUID       `json:"ApprovedBy"`
	FromLinkID              []uuid.UUID       `json:"FromLinkID"`
	MutationSources         []json.RawMessage `json:"MutationSources"`
	HeadMutationNum         int64             `json:"HeadMutationNum"`
	ContentHash             int64             `json:"ContentHash"`
	Version                 int64             `json:"Version"`
	CreatedAt               time.Time         `json:"CreatedAt"`
	UpdatedAt               time.Time         `json:"UpdatedAt"`
	LastActionAt            time.Time         `json:"LastActionAt"`
	EntityType              string            `json:"EntityType,omitempty"`
}

// HasUnappliedChanges reports HeadRevisionNum > LiveRevisionNum.
func (u *Unit) HasUnappliedChanges() bool { return u.HeadRevisionNum > u.LiveRevisionNum }

// IsClone reports whether the unit has an upstream unit.
func (u *Unit) IsClone() bool { return u.UpstreamUnitID != uuid.Nil }

// UnitStatus is the status part of an ExtendedUnit, filled with
// include=UnitEventID (cub calls it synthetic). Status and Drift are free strings.
type UnitStatus struct {
	Action             string    `json:"Action,omitempty"`
	ActionResult       string    `json:"ActionResult,omitempty"`
	ActionStartedAt    time.Time `json:"ActionStartedAt"`
	ActionTerminatedAt time.Time `json:"ActionTerminatedAt"`
	Status             string    `json:"Status,omitempty"`
	Drift              string    `json:"Drift,omitempty"`
}

// ExtendedUnit is the envelope returned by unit list and get calls. Parts other
// than Unit are filled according to the include parameter.
type ExtendedUnit struct {
	Unit                 *Unit       `json:"Unit"`
	Space                *Space      `json:"Space,omitempty"`
	Target               *Target     `json:"Target,omitempty"`
	UpstreamUnit         *Unit       `json:"UpstreamUnit,omitempty"`
	UpstreamSpace        *Space      `json:"UpstreamSpace,omitempty"`
	LatestUnitEvent      *UnitEvent  `json:"LatestUnitEvent,omitempty"`
	UnitStatus           *UnitStatus `json:"UnitStatus,omitempty"`
	HeadRevision         *Revision   `json:"HeadRevision,omitempty"`
	LiveRevision         *Revision   `json:"LiveRevision,omitempty"`
	LastAppliedRevision  *Revision   `json:"LastAppliedRevision,omitempty"`
	PreviousLiveRevision *Revision   `json:"PreviousLiveRevision,omitempty"`
	HeadMutation         *Mutation   `json:"HeadMutation,omitempty"`
	// LastReleasedRevision is what newer servers send instead of
	// LiveRevision (include LastReleasedRevisionNum); see compat.go.
	LastReleasedRevision *Revision `json:"LastReleasedRevision,omitempty"`
}

// Unit include keys (the include query parameter of unit lists and gets) and
// the ExtendedUnit part each fills.
const (
	IncludeSpace                = "SpaceID"                 // Space
	IncludeTarget               = "TargetID"                // Target
	IncludeUpstreamUnit         = "UpstreamUnitID"          // UpstreamUnit
	IncludeUpstreamSpace        = "UpstreamSpaceID"         // UpstreamSpace
	IncludeUnitEvent            = "UnitEventID"             // LatestUnitEvent and UnitStatus
	IncludeHeadRevision         = "HeadRevisionNum"         // HeadRevision
	IncludeLiveRevision         = "LiveRevisionNum"         // LiveRevision
	IncludeLastAppliedRevision  = "LastAppliedRevisionNum"  // LastAppliedRevision
	IncludePreviousLiveRevision = "PreviousLiveRevisionNum" // PreviousLiveRevision
	IncludeHeadMutation         = "HeadMutationNum"         // HeadMutation
)

// Revision is one immutable version of a unit's data.
type Revision struct {
	RevisionID      uuid.UUID         `json:"RevisionID,omitzero"`
	RevisionNum     int64             `json:"RevisionNum"`
	UnitID          uuid.UUID         `json:"UnitID,omitzero"`
	SpaceID         uuid.UUID         `json:"SpaceID,omitzero"`
	OrganizationID  uuid.UUID         `json:"OrganizationID,omitzero"`
	Data            []byte            `json:"Data,omitempty"`
	DataSize        int64             `json:"DataSize,omitempty"` // newer servers: Data is read from the revision data route
	DataHash        string            `json:"DataHash,omitempty"`
	Description     string            `json:"Description"`
	Source          string            `json:"Source,omitempty"`
	Tags            map[string]string `json:"Tags,omitempty"`
	ApplyGates      map[string]bool   `json:"ApplyGates,omitempty"`
	ApprovedBy      []uuid.UUID       `json:"ApprovedBy,omitempty"`
	MutationSources []json.RawMessage `json:"MutationSources"`
	UserID          uuid.UUID         `json:"UserID,omitzero"`
	UserAgent       string            `json:"UserAgent,omitempty"`
	CreatedAt       time.Time         `json:"CreatedAt"`
	LiveAt          time.Time         `json:"LiveAt"`
	Version         int64             `json:"Version"`
	EntityType      string            `json:"EntityType,omitempty"`
}

// HasTag reports whether the revision carries the tag.
func (r *Revision) HasTag(tagID uuid.UUID) bool {
	_, ok := r.Tags[tagID.String()]
	return ok
}

// ExtendedRevision is the envelope returned by revision list and get calls;
// Unit, Space and User are filled with include=UnitID, SpaceID, UserID.
type ExtendedRevision struct {
	Revision *Revision `json:"Revision"`
	Unit     *Unit     `json:"Unit,omitempty"`
	Space    *Space    `json:"Space,omitempty"`
	User     *User     `json:"User,omitempty"`
}

// User is a ConfigHub user (ExtendedRevision.User).
type User struct {
	UserID      uuid.UUID `json:"UserID,omitzero"`
	Username    string    `json:"Username,omitempty"`
	DisplayName string    `json:"DisplayName,omitempty"`
	Slug        string    `json:"Slug"`
	ExternalID  string    `json:"ExternalID,omitempty"`
}

// Link connects a downstream (From) unit to an upstream (To) unit; it lives
// in the From unit's space. A clone's upstream is a Link of UpdateType
// UpgradeUnit.
type Link struct {
	LinkID                          uuid.UUID         `json:"LinkID,omitzero"`
	SpaceID                         uuid.UUID         `json:"SpaceID,omitzero"`
	OrganizationID                  uuid.UUID         `json:"OrganizationID,omitzero"`
	Slug                            string            `json:"Slug"`
	DisplayName                     string            `json:"DisplayName,omitempty"`
	FromUnitID                      uuid.UUID         `json:"FromUnitID"`
	ToUnitID                        uuid.UUID         `json:"ToUnitID"`
	ToSpaceID                       uuid.UUID         `json:"ToSpaceID,omitzero"`
	UpdateType                      string            `json:"UpdateType,omitempty"`
	AutoUpdate                      bool              `json:"AutoUpdate,omitempty"`
	UpstreamLastMergedRevisionNum   int64             `json:"UpstreamLastMergedRevisionNum,omitempty"`
	DownstreamLastMergedRevisionNum int64             `json:"DownstreamLastMergedRevisionNum,omitempty"`
	Labels                          map[string]string `json:"Labels,omitempty"`
	Annotations                     map[string]string `json:"Annotations,omitempty"`
	Version                         int64             `json:"Version"`
	CreatedAt                       time.Time         `json:"CreatedAt"`
	UpdatedAt                       time.Time         `json:"UpdatedAt"`
	EntityType                      string            `json:"EntityType,omitempty"`
}

// LinkUpdateUpgradeUnit is the UpdateType of a clone's link to its upstream.
const LinkUpdateUpgradeUnit = "UpgradeUnit"

// ExtendedLink is the envelope returned by link list and get calls.
type ExtendedLink struct {
	Link     *Link  `json:"Link"`
	Space    *Space `json:"Space,omitempty"`
	FromUnit *Unit  `json:"FromUnit,omitempty"`
	ToUnit   *Unit  `json:"ToUnit,omitempty"`
	ToSpace  *Space `json:"ToSpace,omitempty"`
}

// Mutation records one source of change of a revision (a create, clone,
// update, restore or upgrade).
type Mutation struct {
	MutationID                      uuid.UUID `json:"MutationID,omitzero"`
	MutationNum                     int64     `json:"MutationNum,omitempty"`
	OrganizationID                  uuid.UUID `json:"OrganizationID,omitzero"`
	SpaceID                         uuid.UUID `json:"SpaceID,omitzero"`
	UnitID                          uuid.UUID `json:"UnitID,omitzero"`
	RevisionID                      uuid.UUID `json:"RevisionID,omitzero"`
	RevisionNum                     int64     `json:"RevisionNum,omitempty"`
	MergeSourceID                   uuid.UUID `json:"MergeSourceID,omitzero"`
	LinkID                          uuid.UUID `json:"LinkID,omitzero"`
	RestoredRevisionNum             int64     `json:"RestoredRevisionNum,omitempty"`
	UpgradedFromUpstreamRevisionNum int64     `json:"UpgradedFromUpstreamRevisionNum,omitempty"`
	MergeBaseRevisionNum            int64     `json:"MergeBaseRevisionNum,omitempty"`
	MergeEndRevisionNum             int64     `json:"MergeEndRevisionNum,omitempty"`
	Version                         int64     `json:"Version,omitempty"`
	CreatedAt                       time.Time `json:"CreatedAt"`
	UpdatedAt                       time.Time `json:"UpdatedAt"`
	EntityType                      string    `json:"EntityType,omitempty"`
}

// ExtendedMutation is the envelope returned by mutation list and get calls.
type ExtendedMutation struct {
	Mutation    *Mutation `json:"Mutation"`
	Revision    *Revision `json:"Revision,omitempty"`
	Unit        *Unit     `json:"Unit,omitempty"`
	Space       *Space    `json:"Space,omitempty"`
	MergeSource *Unit     `json:"MergeSource,omitempty"`
	Link        *Link     `json:"Link,omitempty"`
}

// QueuedOperation is what apply, destroy and refresh return.
type QueuedOperation struct {
	QueuedOperationID uuid.UUID `json:"QueuedOperationID,omitzero"`
	OrganizationID    uuid.UUID `json:"OrganizationID,omitzero"`
	Action            string    `json:"Action"`
	UnitID            uuid.UUID `json:"UnitID,omitzero"`
	SpaceID           uuid.UUID `json:"SpaceID,omitzero"`
	TargetID          uuid.UUID `json:"TargetID,omitzero"`
	BridgeWorkerID    uuid.UUID `json:"BridgeWorkerID,omitzero"`
	RevisionNum       int64     `json:"RevisionNum"`
	Status            string    `json:"Status,omitempty"`
	DryRun            bool      `json:"DryRun,omitempty"`
	Data              []byte    `json:"Data,omitempty"` // what a dry-run refresh found
	// Dependencies has no omitempty in the SDK; nil is sent as null, as the SDK does.
	Dependencies []uuid.UUID `json:"Dependencies"`
	CreatedAt    time.Time   `json:"CreatedAt"`
}

// UnitActionResponse is one element of a bulk apply response.
type UnitActionResponse struct {
	Action *QueuedOperation `json:"Action,omitempty"`
	Error  *ResponseError   `json:"Error,omitempty"`
}

// UnitEvent records progress of one operation; one operation has several.
type UnitEvent struct {
	UnitEventID       uuid.UUID `json:"UnitEventID,omitzero"`
	QueuedOperationID uuid.UUID `json:"QueuedOperationID,omitzero"`
	OrganizationID    uuid.UUID `json:"OrganizationID,omitzero"`
	UnitID            uuid.UUID `json:"UnitID,omitzero"`
	SpaceID           uuid.UUID `json:"SpaceID,omitzero"`
	BridgeWorkerID    uuid.UUID `json:"BridgeWorkerID,omitzero"`
	Action            string    `json:"Action"`
	Status            string    `json:"Status"`
	Result            string    `json:"Result"`
	RevisionNum       int64     `json:"RevisionNum"`
	Message           string    `json:"Message"`
	StartedAt         time.Time `json:"StartedAt"`
	TerminatedAt      time.Time `json:"TerminatedAt"`
	CreatedAt         time.Time `json:"CreatedAt"`
	// ResourceStatuses is the readiness of each object, as the worker last
	// reported it with this event.
	ResourceStatuses map[string]ResourceStatus `json:"ResourceStatuses,omitempty"`
}

// ResourceStatus is the readiness of one object of a unit, as the worker
// reports it on a UnitEvent (keyed by "<apiVersion>/<kind>:<namespace>/<name>").
type ResourceStatus struct {
	Message    string    `json:"Message,omitempty"`
	Readiness  string    `json:"Readiness,omitempty"`  // Ready, InProgress, Failed, Unknown
	SyncStatus string    `json:"SyncStatus,omitempty"` // Synced, NotSynced
	UpdatedAt  time.Time `json:"UpdatedAt"`
}

// IsTerminal reports whether the event's Status ends its operation.
func (e *UnitEvent) IsTerminal() bool {
	switch e.Status {
	case StatusCompleted, StatusFailed, StatusCanceled, StatusAborted:
		return true
	}
	return false
}

// Succeeded is the strict success test: Completed and no *Failed result.
func (e *UnitEvent) Succeeded() bool {
	return e.Status == StatusCompleted && !hasFailedSuffix(e.Result)
}

func hasFailedSuffix(s string) bool { return len(s) >= 6 && s[len(s)-6:] == "Failed" }

// Tag marks a set of revisions across units.
type Tag struct {
	TagID          uuid.UUID         `json:"TagID,omitzero"`
	SpaceID        uuid.UUID         `json:"SpaceID,omitzero"`
	OrganizationID uuid.UUID         `json:"OrganizationID,omitzero"`
	Slug           string            `json:"Slug"`
	DisplayName    string            `json:"DisplayName,omitempty"`
	Labels         map[string]string `json:"Labels,omitempty"`
	Annotations    map[string]string `json:"Annotations,omitempty"`
	Version        int64             `json:"Version"`
	CreatedAt      time.Time         `json:"CreatedAt"`
	UpdatedAt      time.Time         `json:"UpdatedAt"`
}

// ExtendedTag is the envelope returned by tag list calls.
type ExtendedTag struct {
	Tag   *Tag   `json:"Tag"`
	Space *Space `json:"Space,omitempty"`
}

// UnitTagRequest is the body of POST /unit/tag. Revision is a pointer name
// (HeadRevisionNum, LiveRevisionNum, ...) or, on newer servers, a number.
type UnitTagRequest struct {
	TagID    uuid.UUID `json:"TagID"`
	Revision string    `json:"Revision"`
}

// UnitTagResponse is one element of a bulk tag response.
type UnitTagResponse struct {
	Message string         `json:"Message"`
	Error   *ResponseError `json:"Error,omitempty"`
}

// UnitCreateOrUpdateResponse is one element of bulk unit patch/clone responses.
type UnitCreateOrUpdateResponse struct {
	Unit  *Unit          `json:"Unit,omitempty"`
	Error *ResponseError `json:"Error,omitempty"`
}

// DeleteResponse is returned by deletes.
type DeleteResponse struct {
	Message string         `json:"Message"`
	Error   *ResponseError `json:"Error,omitempty"`
}

// Target tells a worker where to apply a unit. Parameters is a JSON string
// (for Kubernetes: KubeContext, KubeNamespace, WaitTimeout). BridgeWorkerID is
// required and has no omitempty in the SDK.
type Target struct {
	TargetID       uuid.UUID         `json:"TargetID,omitzero"`
	SpaceID        uuid.UUID         `json:"SpaceID,omitzero"`
	OrganizationID uuid.UUID         `json:"OrganizationID,omitzero"`
	BridgeWorkerID uuid.UUID         `json:"BridgeWorkerID"`
	Slug           string            `json:"Slug"`
	DisplayName    string            `json:"DisplayName,omitempty"`
	ToolchainType  string            `json:"ToolchainType"`
	ProviderType   string            `json:"ProviderType"`
	Parameters     string            `json:"Parameters,omitempty"`
	Labels         map[string]string `json:"Labels,omitempty"`
	Version        int64             `json:"Version"`
	CreatedAt      time.Time         `json:"CreatedAt"`
	UpdatedAt      time.Time         `json:"UpdatedAt"`
}

// ExtendedTarget is the envelope returned by target list calls.
type ExtendedTarget struct {
	Target *Target `json:"Target"`
	Space  *Space  `json:"Space,omitempty"`
	// BridgeWorker is filled with include=BridgeWorkerID (cub's target list
	// shows its slug in the WORKER column).
	BridgeWorker *BridgeWorker `json:"BridgeWorker,omitempty"`
}

// OrganizationMember is returned by GET /me.
type OrganizationMember struct {
	OrganizationID uuid.UUID `json:"OrganizationID,omitzero"`
	UserID         uuid.UUID `json:"UserID,omitzero"`
	Username       string    `json:"Username"`
	DisplayName    string    `json:"DisplayName"`
	Slug           string    `json:"Slug"`
	ExternalID     string    `json:"ExternalID"`
}

// APIInfo is returned by GET /info. Version exists only on post-Aug-2025 servers.
type APIInfo struct {
	AuthServer  string `json:"AuthServer,omitempty"`
	Build       string `json:"Build,omitempty"`
	BuiltAt     string `json:"BuiltAt,omitempty"`
	ClientID    string `json:"ClientID,omitempty"`
	RedirectURI string `json:"RedirectURI,omitempty"`
	Revision    string `json:"Revision,omitempty"`
	WorkerPort  string `json:"WorkerPort,omitempty"`
	Version     string `json:"Version,omitempty"`
}

// StandardErrorResponse is the body of a single-entity error.
type StandardErrorResponse struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// ResponseError is the per-element error of a bulk response.
type ResponseError struct {
	Message       string         `json:"Message"`
	Status        int            `json:"Status"`
	Type          string         `json:"Type,omitempty"`
	ErrorCategory string         `json:"ErrorCategory,omitempty"`
	Details       []string       `json:"Details,omitempty"`
	ErrorMetadata *ErrorMetadata `json:"ErrorMetadata,omitempty"`
}

// ErrorMetadata identifies the entity a bulk element error is about.
type ErrorMetadata struct {
	EntityType string              `json:"EntityType,omitempty"`
	EntityID   string              `json:"EntityID,omitempty"`
	Items      []ErrorMetadataItem `json:"Items,omitempty"`
}

// ErrorMetadataItem is one item of ErrorMetadata.
type ErrorMetadataItem struct {
	Item        string `json:"Item"`
	Description string `json:"Description"`
}

// UnitUpdateParams are the query parameters of PUT and PATCH on a unit.
// Restore takes a pointer name, a number, Tag:<uuid> or Revision:<uuid>;
// RevisionID restores that exact revision. Both create a new head revision.
type UnitUpdateParams struct {
	Upgrade    bool
	Restore    string
	RevisionID uuid.UUID
}

// BridgeWorker conditions (BridgeWorker.Condition).
const (
	WorkerReady        = "Ready"
	WorkerNotReady     = "NotReady"
	WorkerUnresponsive = "Unresponsive"
	WorkerDisconnected = "Disconnected"
)

// BridgeWorkerStatus.Status values: the history of a worker's connection.
const (
	WorkerStatusConnected            = "Connected"
	WorkerStatusDisconnected         = "Disconnected"
	WorkerStatusActionSent           = "ActionSent"
	WorkerStatusActionResultReceived = "ActionResultReceived"
)

// ProviderKubernetes is the provider type of a Kubernetes worker's targets.
const ProviderKubernetes = "Kubernetes"

// BridgeWorker is a worker program registered in a space (cub worker
// create). Targets belong to workers: a connected worker advertises its
// targets and executes the operations of units pointed at them. Secret
// authenticates the worker itself; the server returns it to users who may
// read the worker (cub worker get-secret).
type BridgeWorker struct {
	BridgeWorkerID uuid.UUID         `json:"BridgeWorkerID,omitzero"`
	SpaceID        uuid.UUID         `json:"SpaceID,omitzero"`
	OrganizationID uuid.UUID         `json:"OrganizationID,omitzero"`
	Slug           string            `json:"Slug"`
	DisplayName    string            `json:"DisplayName,omitempty"`
	Condition      string            `json:"Condition,omitempty"`
	LastSeenAt     time.Time         `json:"LastSeenAt,omitzero"`
	IPAddress      string            `json:"IPAddress,omitempty"`
	LastMessage    string            `json:"LastMessage,omitempty"`
	ProvidedInfo   *WorkerInfo       `json:"ProvidedInfo,omitempty"`
	Secret         string            `json:"Secret,omitempty"`
	Labels         map[string]string `json:"Labels,omitempty"`
	Annotations    map[string]string `json:"Annotations,omitempty"`
	Version        int64             `json:"Version"`
	CreatedAt      time.Time         `json:"CreatedAt"`
	UpdatedAt      time.Time         `json:"UpdatedAt"`
	EntityType     string            `json:"EntityType,omitempty"`
}

// WorkerInfo is what a worker advertises when it connects (the body of its
// stream request, bridge-worker/api/worker_info.go).
type WorkerInfo struct {
	BridgeWorkerInfo BridgeWorkerInfo `json:"BridgeWorkerInfo"`
}

// BridgeWorkerInfo lists the config types a worker handles.
type BridgeWorkerInfo struct {
	SupportedConfigTypes []ConfigType `json:"SupportedConfigTypes,omitempty"`
}

// ConfigType is one toolchain/provider pair a worker handles, with the
// targets it knows for it.
type ConfigType struct {
	ToolchainType    string            `json:"ToolchainType,omitempty"`
	ProviderType     string            `json:"ProviderType,omitempty"`
	AvailableTargets []AvailableTarget `json:"AvailableTargets,omitempty"`
}

// AvailableTarget is a target a worker advertises: the server keeps a Target
// with Slug Name and Parameters = JSON of Params.
type AvailableTarget struct {
	Name   string         `json:"Name,omitempty"`
	Params map[string]any `json:"Params,omitempty"`
}

// ExtendedBridgeWorker is the envelope returned by worker list and get calls.
type ExtendedBridgeWorker struct {
	BridgeWorker *BridgeWorker  `json:"BridgeWorker"`
	Space        *Space         `json:"Space,omitempty"`
	TargetCount  int64          `json:"TargetCount,omitempty"`
	Error        *ResponseError `json:"Error,omitempty"`
}

// BridgeWorkerStatus is one record of a worker's connection history.
type BridgeWorkerStatus struct {
	BridgeWorkerStatusID uuid.UUID `json:"BridgeWorkerStatusID,omitzero"`
	BridgeWorkerID       uuid.UUID `json:"BridgeWorkerID,omitzero"`
	BridgeWorkerSlug     string    `json:"BridgeWorkerSlug,omitempty"`
	SpaceID              uuid.UUID `json:"SpaceID,omitzero"`
	OrganizationID       uuid.UUID `json:"OrganizationID,omitzero"`
	IPAddress            string    `json:"IPAddress,omitempty"`
	SeenAt               time.Time `json:"SeenAt"`
	Status               string    `json:"Status,omitempty"`
}

// ActionOptions are the query parameters of apply and refresh. Revision
// (apply only) is a revision reference: a number, a pointer name, Tag:<uuid>…;
// empty means HeadRevisionNum. A dry run changes nothing live.
type ActionOptions struct {
	Revision string
	DryRun   bool
}
