// Command world runs the local AWS world (moto behind the gateway) on its own, optionally
// plays a scenario in it, prints the environment a client needs, and stays up until
// interrupted:
//
//	go run ./test/cmd/world [-scenario seed] [-as admin|responder] [-truth FILE] [-keep=false]
//
// The printed lines are shell exports (eval them, or read them). SIGINT or SIGTERM stops
// the gateway and moto and exits 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command's flags.
type options struct {
	scenario string
	as       string
	truth    string
	keep     bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("world", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, s := range scenario.All() {
		names = append(names, s.Name)
	}
	fs.StringVar(&o.scenario, "scenario", "", "scenario to play: "+strings.Join(names, ", ")+" (default none)")
	fs.StringVar(&o.as, "as", "admin", "credentials to print: admin (the account's root) or responder (read-only; needs -scenario)")
	fs.StringVar(&o.truth, "truth", "", "write the scenario's ground truth as JSON to this file")
	fs.BoolVar(&o.keep, "keep", true, "stay up until interrupted; -keep=false stops right after printing")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.as != "admin" && o.as != "responder" {
		return o, fmt.Errorf("-as %q: want admin or responder", o.as)
	}
	if o.as == "responder" && o.scenario == "" {
		return o, errors.New("-as responder needs -scenario: only a scenario creates the responder")
	}
	if o.truth != "" && o.scenario == "" {
		return o, errors.New("-truth needs -scenario")
	}
	return o, nil
}

// run is the command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "world: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := serve(ctx, opts, stdout, logger); err != nil {
		fmt.Fprintf(stderr, "world: %v\n", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, opts options, stdout io.Writer, logger *slog.Logger) (err error) {
	var sc scenario.Scenario
	if opts.scenario != "" {
		if sc, err = scenario.ByName(opts.scenario); err != nil {
			return err
		}
	}
	moto, err := world.StartMoto(ctx, logger)
	if err != nil {
		return fmt.Errorf("start moto: %w", err)
	}
	defer moto.Close()
	gw, err := world.StartGateway(world.Config{MotoURL: moto.URL(), Logger: logger})
	if err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	defer func() {
		if cerr := gw.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	w := &world.World{Moto: moto, Gateway: gw}
	env := environment{w: w, region: "us-east-1", creds: w.Admin(world.DefaultAccount)}
	if opts.scenario != "" {
		logger.Info("playing scenario", "scenario", sc.Name)
		r, err := scenario.Play(ctx, w, sc, scenario.Options{})
		if err != nil {
			return err
		}
		if err := gw.FlushTrail(ctx); err != nil {
			return fmt.Errorf("flush trail: %w", err)
		}
		if opts.truth != "" {
			if err := writeTruth(ctx, r, opts.truth); err != nil {
				return err
			}
		}
		env.run = r
		if opts.as == "responder" {
			env.creds = r.Target.Responder
		}
	}
	if err := env.print(stdout); err != nil {
		return fmt.Errorf("print environment: %w", err)
	}
	if !opts.keep {
		return nil
	}
	<-ctx.Done()
	logger.Info("stopping")
	return nil
}

func writeTruth(ctx context.Context, r *scenario.Run, path string) error {
	gt, err := r.GroundTruth(ctx)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(gt, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ground truth: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write ground truth: %w", err)
	}
	return nil
}
