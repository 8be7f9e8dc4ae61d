package rollout

import (
	"fmt"
	"strings"
)

// Stamp is what a run writes into every change description it leaves in
// ConfigHub and onto the release it records: the run's ID, which joins the
// change to the run's local log, and the optional approval. ConfigHub's
// revision has no labels or annotations of its own (Revision in
// openapi/goclient-new/models.gen.go: Description, copied from the unit's
// LastChangeDescription, is the only free text), and the ConfigHub this tool
// targets (SDK c110dd78) has no Attestation entity, so the stamp rides in the
// description: "set-image people-service 1.2 [run 20261202T130455Z-3fa9c1;
// approved-by alice; ticket CHG-42]".
type Stamp struct {
	RunID      string `json:"run,omitempty"`
	ApprovedBy string `json:"approvedBy,omitempty"`
	Ticket     string `json:"ticket,omitempty"`
	// Confirmation says how a protected change was confirmed; it goes on
	// the release only (it is the same for every revision of the run).
	Confirmation string `json:"confirmation,omitempty"`
}

// Keys of a stamp in a description and annotations of a release tag.
const (
	stampRun        = "run"
	stampApprovedBy = "approved-by"
	stampTicket     = "ticket"

	ReleaseAnnotationRun          = "traderx-run"
	ReleaseAnnotationApprovedBy   = "approved-by"
	ReleaseAnnotationTicket       = "ticket"
	ReleaseAnnotationConfirmation = "confirmation"
)

// ValidateStampValue rejects what would make a stamp unreadable: the
// separators "[", "]" and ";", and line breaks.
func ValidateStampValue(flag, v string) error {
	if strings.ContainsAny(v, "[];\n\r") {
		return &InputError{Err: fmt.Errorf("%s %q: must not contain [, ], ; or line breaks", flag, v)}
	}
	return nil
}

// Describe appends the stamp to a change description ("" stamp: desc).
func (s Stamp) Describe(desc string) string {
	var parts []string
	for _, kv := range [][2]string{{stampRun, s.RunID}, {stampApprovedBy, s.ApprovedBy}, {stampTicket, s.Ticket}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if len(parts) == 0 {
		return desc
	}
	return desc + " [" + strings.Join(parts, "; ") + "]"
}

// ParseStamp splits a change description into the description and its
// stamp; a description without one is returned whole with a zero Stamp.
func ParseStamp(desc string) (string, Stamp) {
	var s Stamp
	i := strings.LastIndex(desc, " [")
	if i < 0 || !strings.HasSuffix(desc, "]") {
		return desc, s
	}
	for _, part := range strings.Split(desc[i+2:len(desc)-1], "; ") {
		k, v, ok := strings.Cut(part, " ")
		if !ok {
			return desc, Stamp{}
		}
		switch k {
		case stampRun:
			s.RunID = v
		case stampApprovedBy:
			s.ApprovedBy = v
		case stampTicket:
			s.Ticket = v
		default:
			return desc, Stamp{}
		}
	}
	return desc[:i], s
}

// annotate adds the stamp to a release tag's annotations.
func (s Stamp) annotate(a map[string]string) {
	for k, v := range map[string]string{ReleaseAnnotationRun: s.RunID, ReleaseAnnotationApprovedBy: s.ApprovedBy,
		ReleaseAnnotationTicket: s.Ticket, ReleaseAnnotationConfirmation: s.Confirmation} {
		if v != "" {
			a[k] = v
		}
	}
}

// describe stamps a change description with this run's stamp.
func (r *Rollout) describe(desc string) string { return r.Stamp.Describe(desc) }
