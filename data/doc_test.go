package data

import "testing"

func TestBinarizationNames(t *testing.T) {
	tests := []struct {
		s       string
		b       Binarization
		wantErr bool
	}{
		{"fixed", Fixed, false},
		{"dynamic", Dynamic, false},
		{"Fixed", 0, true},
		{"", 0, true},
		{"static", 0, true},
	}
	for _, tt := range tests {
		b, err := ParseBinarization(tt.s)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseBinarization(%q) = %v, want an error", tt.s, b)
			}
			continue
		}
		if err != nil || b != tt.b || b.String() != tt.s {
			t.Errorf("ParseBinarization(%q) = %v, %v; want %v that prints as %q", tt.s, b, err, tt.b, tt.s)
		}
	}
	if got := Binarization(9).String(); got != "Binarization(9)" {
		t.Errorf("Binarization(9).String() = %q, want \"Binarization(9)\"", got)
	}
}
