package scenario

import (
	"errors"
	"testing"
)

func TestByName(t *testing.T) {
	tests := []struct {
		name    string
		wantErr error
	}{
		{"seed", nil},
		{"role-chain", nil},
		{"cost-attack", nil},
		{"nope", ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ByName(tt.name)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ByName(%q) error = %v, want %v", tt.name, err, tt.wantErr)
			}
			if err == nil && (s.Name != tt.name || s.Description == "" || s.Setup == nil || s.Legit == nil || s.Attack == nil) {
				t.Fatalf("ByName(%q) = %q with a missing part", tt.name, s.Name)
			}
		})
	}
}
