package rollout

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// dataHub is a Hub that can read revision data; the other methods are not
// called (the embedded nil Hub would panic).
type dataHub struct {
	Hub
	reads []uuid.UUID
}

func (h *dataHub) GetRevisionData(_ context.Context, _, _, revisionID uuid.UUID) ([]byte, error) {
	h.reads = append(h.reads, revisionID)
	return []byte("read"), nil
}

// plainHub cannot read revision data.
type plainHub struct{ Hub }

func TestRevisionBytes(t *testing.T) {
	id := uuid.New()
	tests := []struct {
		name      string
		hub       Hub
		rev       confighub.Revision
		want      string
		wantReads int
		wantErr   bool
	}{
		{name: "inline data (c110dd78)", hub: &dataHub{}, rev: confighub.Revision{RevisionID: id, Data: []byte("inline"), DataSize: 6}, want: "inline"},
		{name: "listed without data (41892a1)", hub: &dataHub{}, rev: confighub.Revision{RevisionID: id, DataSize: 4}, want: "read", wantReads: 1},
		{name: "empty revision", hub: &dataHub{}, rev: confighub.Revision{RevisionID: id}, want: ""},
		{name: "client cannot read data", hub: plainHub{}, rev: confighub.Revision{RevisionID: id, DataSize: 4}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Rollout{Hub: tc.hub}
			got, err := r.revisionBytes(context.Background(), uuid.New(), uuid.New(), &tc.rev)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !bytes.Equal(got, []byte(tc.want)) {
				t.Errorf("data = %q, want %q", got, tc.want)
			}
			if h, ok := tc.hub.(*dataHub); ok && (len(h.reads) != tc.wantReads || (tc.wantReads > 0 && h.reads[0] != id)) {
				t.Errorf("reads = %v, want %d of %s", h.reads, tc.wantReads, id)
			}
		})
	}
}
