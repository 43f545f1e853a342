package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops"
)

// investigateFormats are the report formats of keyleak investigate.
var investigateFormats = []string{"text", "json", "markdown"}

// secretKeyPattern is the shape of an AWS secret access key.
var secretKeyPattern = regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`)

// runInvestigate runs the read-only investigation of one access key from
// the terminal, with the standard AWS credential chain: progress on
// stderr, the report on stdout. A partial report is still printed, and
// the error says what is missing.
func runInvestigate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("investigate", flag.ContinueOnError)
	since := fs.String("since", "", "start of the window: a duration back (36h, 14d) or a date (2026-11-01, RFC 3339); default 90 days or the key's creation")
	regions := fs.String("regions", "", "comma-separated regions to sweep; default every region enabled in the account")
	format := fs.String("format", "text", "report format: text, json or markdown")
	role := fs.String("responder-role", cmp.Or(getenv("KEYLEAK_AWS_RESPONDER_ROLE"), awsops.DefaultResponderRole), "role keyleak assumes in the key's account")
	bucket := fs.String("trail-bucket", getenv("KEYLEAK_AWS_TRAIL_BUCKET"), "bucket with the CloudTrail log files, for S3 data events")
	trailAccount := fs.String("trail-account", "", "account holding the trail bucket; default keyleak's own")
	trailPrefix := fs.String("trail-prefix", getenv("KEYLEAK_AWS_TRAIL_PREFIX"), "S3 key prefix the trail writes under, before AWSLogs/")
	trailSource := fs.String("trail-source-bucket", getenv("KEYLEAK_AWS_TRAIL_SOURCE_BUCKET"), "when --trail-bucket is a replica, the bucket the trails write")
	path := fs.String("path", "", "how to read CloudTrail: trail (the bucket), lookup (LookupEvents); default: the cheaper, as planned")
	var athena Athena // the KEYLEAK_AWS_ATHENA_* settings, as keyleak serve reads them
	if err := applyEnv(reflect.ValueOf(&athena).Elem(), getenv); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	fs.Int64Var(&athena.BudgetBytes, "athena-budget-bytes", athena.BudgetBytes, "bytes of trail in an account above which Athena names the files to read (docs/athena.md); 0: never")
	noCost := fs.Bool("no-cost", false, "skip the Cost Explorer check (it costs $0.01 per request)")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up after this long and print what was found")
	var positional []string
	for rest := args; ; {
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 {
		return fmt.Errorf("%w: investigate takes exactly one access key ID (AKIA… or ASIA…), got %d arguments", errUsage, len(positional))
	}
	key, err := parseKeyArgument(positional[0])
	if err != nil {
		return err
	}
	if *path != "" && *path != awsops.PathTrail && *path != awsops.PathLookup {
		return fmt.Errorf("%w: --path %q: use trail or lookup, or leave it out", errUsage, *path)
	}
	if *path == awsops.PathTrail && *bucket == "" {
		return fmt.Errorf("%w: --path trail needs --trail-bucket", errUsage)
	}
	var settingErrs []string // the settings keyleak serve reads from the same variables
	bad := func(format string, args ...any) { settingErrs = append(settingErrs, fmt.Sprintf(format, args...)) }
	validateTrailBuckets(*bucket, *trailSource, bad)
	athena.validate(*bucket, bad)
	if len(settingErrs) > 0 {
		return fmt.Errorf("%w: %s", errUsage, strings.Join(settingErrs, "; "))
	}
	if !slices.Contains(investigateFormats, *format) {
		return fmt.Errorf("%w: --format %q: use text, json or markdown", errUsage, *format)
	}
	now := time.Now()
	var start time.Time
	if *since != "" {
		if start, err = parseInvestigateSince(*since, now); err != nil {
			return fmt.Errorf("%w: --since: %v", errUsage, err)
		}
	}
	var regionList []string
	for r := range strings.SplitSeq(*regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			regionList = append(regionList, r)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	client, err := awsops.New(ctx, awsops.Options{ResponderRole: *role, Regions: regionList, Log: log})
	if err != nil {
		return fmt.Errorf("investigate %s: %w", key, err)
	}
	opts := awsops.InvestigateOptions{Since: start, TrailBucket: *bucket, TrailAccount: *trailAccount, TrailPrefix: *trailPrefix, TrailSource: *trailSource,
		Path: *path, Athena: athena.options(),
		Progress: func(p awsops.Progress) { fmt.Fprintln(stderr, progressLine(p)) }}
	if !*noCost {
		opts.Cost = awsops.NewCostCache()
	}
	fmt.Fprintf(stderr, "investigating %s (read-only)…\n", key)
	inv, runErr := client.Investigate(ctx, key, opts)
	if err := inv.Render(stdout, *format); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	switch {
	case runErr != nil && errors.Is(runErr, context.DeadlineExceeded):
		return fmt.Errorf("investigation of %s stopped after --timeout %s: the report above is partial (%d gaps)", key, *timeout, len(inv.Gaps))
	case runErr != nil:
		return fmt.Errorf("investigation of %s stopped: %w (the report above is partial)", key, runErr)
	case !inv.Complete():
		return fmt.Errorf("investigation of %s is incomplete: what could not be checked (%d) is listed under \"What is missing\"", key, len(inv.Gaps))
	}
	return nil
}

// parseKeyArgument validates the key ID typed on the command line. A
// secret access key typed by mistake is never repeated.
func parseKeyArgument(s string) (awsops.KeyID, error) {
	if secretKeyPattern.MatchString(strings.TrimSpace(s)) && !strings.HasPrefix(strings.TrimSpace(s), "AKIA") {
		return awsops.KeyID{}, fmt.Errorf("%w: that looks like a secret access key, not an access key ID: it was not stored or shown; treat it as exposed and rotate it, then pass the key ID (AKIA…)", errUsage)
	}
	key, err := awsops.ParseAccessKeyID(s)
	if err != nil {
		return awsops.KeyID{}, fmt.Errorf("%w: access key ID: %v", errUsage, err)
	}
	return key, nil
}

// parseInvestigateSince reads --since: a duration back from now (with a d suffix for
// days), a date, or an RFC 3339 time.
func parseInvestigateSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 90 {
			return time.Time{}, fmt.Errorf("%q: days must be a whole number from 1 to 90", s)
		}
		return now.Add(-time.Duration(n) * 24 * time.Hour), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: the duration must be positive (it counts back from now)", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.After(now) {
				return time.Time{}, fmt.Errorf("%q is in the future", s)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (36h, 14d) nor a date (2026-11-01 or RFC 3339)", s)
}

// progressLine describes the sweep's progress for the terminal.
func progressLine(p awsops.Progress) string {
	if p.Done {
		return fmt.Sprintf("sweep done: %d pages, %d events, %d keys", p.Pages, p.Events, p.Keys)
	}
	return fmt.Sprintf("sweeping: %d pages, %d events, %d keys, %d regions busy, about %s left",
		p.Pages, p.Events, p.Keys, p.Regions, p.Remaining.Round(time.Second))
}
