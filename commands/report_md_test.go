package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"zero", 0, "0s"},
		{"seconds", 10 * time.Second, "10s"},
		{"rounded to the second", 9*time.Second + 600*time.Millisecond, "10s"},
		{"minutes", 4*time.Minute + 12*time.Second, "4m 12s"},
		{"hours keep their minutes", 2*time.Hour + 5*time.Second, "2h 0m 5s"},
		{"days", 73*time.Hour + 30*time.Second, "3d 1h 0m 30s"},
		{"negative is zero", -time.Minute, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Duration(tt.d); got != tt.want {
				t.Errorf("Duration(%s) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

// TestReportDurationInSeconds: an incident closed ten seconds after it
// opened lasted 10s, not 0s.
func TestReportDurationInSeconds(t *testing.T) {
	opened := time.Date(2026, 12, 6, 19, 44, 4, 0, time.UTC)
	inc := state.Incident{ID: "KL-2026-0001", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Status: state.IncidentClosed,
		OpenedAt: opened, ClosedAt: opened.Add(10 * time.Second), CloseReason: "the key is Inactive"}
	md, err := RenderReport(context.Background(), IncidentRecord{Incident: inc}, nil, opened.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md, "| Duration | 10s |") {
		t.Errorf("report summary lacks | Duration | 10s |:\n%s", md)
	}
}
