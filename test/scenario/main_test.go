package scenario

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/keyleak/keyleak/test/world"
)

// sharedMoto is the one moto of this test binary; each test resets it through world.New.
var sharedMoto *world.Moto

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	moto, err := world.StartMoto(ctx, slog.New(slog.DiscardHandler))
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start moto: %v\n", err)
		os.Exit(1)
	}
	sharedMoto = moto
	code := m.Run()
	moto.Close()
	os.Exit(code)
}

// playWorld runs s against a fresh world detected at now.
func playWorld(tb testing.TB, s Scenario, opts Options) (*world.World, *Run, GroundTruth) {
	tb.Helper()
	w := world.New(tb, sharedMoto)
	run, err := Play(tb.Context(), w, s, opts)
	if err != nil {
		tb.Fatalf("play %s: %v", s.Name, err)
	}
	gt, err := run.GroundTruth(tb.Context())
	if err != nil {
		tb.Fatalf("ground truth of %s: %v", s.Name, err)
	}
	return w, run, gt
}
