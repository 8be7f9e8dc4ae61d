package rollout

import "testing"

func TestStampRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		desc  string
		stamp Stamp
		want  string
	}{
		{"no stamp", "apply dev", Stamp{}, "apply dev"},
		{"run only", "set-image people-service 1.2", Stamp{RunID: "20261202T130455Z-3fa9c1"}, "set-image people-service 1.2 [run 20261202T130455Z-3fa9c1]"},
		{"approval", "rollback to release 4", Stamp{RunID: "r1", ApprovedBy: "Jane Doe", Ticket: "CHG-42, urgent"},
			"rollback to release 4 [run r1; approved-by Jane Doe; ticket CHG-42, urgent]"},
		{"a description with brackets of its own", "scale x [note]", Stamp{RunID: "r2"}, "scale x [note] [run r2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.stamp.Describe(tt.desc)
			if got != tt.want {
				t.Fatalf("Describe = %q, want %q", got, tt.want)
			}
			desc, st := ParseStamp(got)
			if desc != tt.desc || st != tt.stamp {
				t.Errorf("ParseStamp(%q) = %q, %+v; want %q, %+v", got, desc, st, tt.desc, tt.stamp)
			}
		})
	}
}

func TestParseStampLeavesOtherBracketsAlone(t *testing.T) {
	for _, d := range []string{"scale x [note]", "restart [run]", "x [owner bob]"} {
		if desc, st := ParseStamp(d); desc != d || st != (Stamp{}) {
			t.Errorf("ParseStamp(%q) = %q, %+v", d, desc, st)
		}
	}
}

func TestValidateStampValue(t *testing.T) {
	for v, ok := range map[string]bool{"CHG-1": true, "Jane Doe": true, "a;b": false, "x]": false, "line\nbreak": false} {
		if err := ValidateStampValue("--ticket", v); (err == nil) != ok {
			t.Errorf("%q: err = %v", v, err)
		}
	}
}
