// Command keyleak runs the response to a leaked AWS access key: it pages
// on-call from Slack, opens a Google Chat war room and Meet, identifies
// the key, investigates CloudTrail and cost, and carries out containment
// with two-person approvals, recording every step.
//
// Usage:
//
//	keyleak serve [--config FILE] [--check] run the bot
//	keyleak doctor [--send-email]          check the configuration against Slack, Chat, Meet, email and AWS
//	keyleak incidents list [--all]         list incidents
//	keyleak incidents show ID              show one incident and its timeline
//	keyleak incidents report ID            print its post-incident report (Markdown)
//	keyleak backup FILE                    write a consistent copy of the database
//	keyleak outbox dead [--incident ID]    list the messages keyleak gave up delivering
//	keyleak outbox requeue ID…             send them again
//	keyleak version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `keyleak: respond to a leaked AWS access key.

Usage:
  keyleak serve [--config FILE] [--check]
                                       run the bot (Slack, Google Chat, delivery); --check
                                       checks every outside service at start-up (/readyz)
  keyleak doctor [--config FILE] [--send-email]
                                       check the configuration against every outside service
  keyleak incidents list [--all]       list open (or all) incidents
  keyleak incidents show ID            show an incident, its actions and timeline
  keyleak incidents report ID          print its post-incident report (Markdown)
  keyleak backup FILE                  write a consistent copy of the database
  keyleak outbox dead [--incident ID]  list the messages keyleak gave up delivering (dead letters)
  keyleak outbox requeue ID…           send dead letters again, once what failed is fixed
  keyleak demo [--scenario seed] [--keep]
                                       the whole response against a local world (make demo)
  keyleak investigate AKIA… [--since D] [--regions R,…] [--format text|json|markdown]
          [--trail-bucket B] [--trail-prefix P] [--trail-source-bucket S] [--path trail|lookup]
          [--athena-budget-bytes N]
                                       investigate a key (read-only)
  keyleak version                      print the version

Every command takes --config FILE (default: $KEYLEAK_CONFIG). Settings can
also come from KEYLEAK_* environment variables; see the README.
`

// errUsage marks a command-line mistake: exit status 2, usage printed.
var errUsage = errors.New("usage")

// Main runs keyleak with args and returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stderr, getenv)
	case "incidents":
		err = runIncidents(ctx, args[1:], stdout, getenv)
	case "backup":
		err = runBackup(ctx, args[1:], stdout, getenv)
	case "outbox":
		err = runOutbox(ctx, args[1:], stdout, getenv)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr, getenv)
	case "investigate":
		err = runInvestigate(ctx, args[1:], stdout, stderr, getenv)
	case "doctor", "check":
		err = runDoctor(ctx, args[1:], stdout, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "keyleak", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "keyleak: %v\n\n%s", err, usage)
		return 2
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "keyleak: %v\n", err)
		return 1
	}
}

// configFlag adds --config to fs, defaulting to $KEYLEAK_CONFIG.
func configFlag(fs *flag.FlagSet, getenv func(string) string) *string {
	return fs.String("config", getenv("KEYLEAK_CONFIG"), "configuration file (YAML)")
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	return nil
}
