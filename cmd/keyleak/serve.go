package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/intake"
	"github.com/keyleak/keyleak/respond"
	"github.com/keyleak/keyleak/state"
)

func runServe(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := configFlag(fs, getenv)
	check := fs.Bool("check", false, "check every outside service at start-up, as keyleak doctor does; /readyz reports the result")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	var opts []AppOption
	if *check {
		opts = append(opts, withStartupCheck())
	}
	app, err := NewApp(cfg, newLogger(stderr, cfg.LogLevel), time.Now, opts...)
	if err != nil {
		return err
	}
	defer app.Close()
	return app.Run(ctx)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// App is keyleak wired together: the store, the command registry and
// approval engine, the delivery worker and the HTTP servers.
type App struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	store    *state.Store
	engine   *commands.Engine
	registry *commands.Registry
	worker   *bot.Worker
	reporter *commands.Reporter
	intake   *intake.Consumer // nil without an intake queue
	aws      *awsops.Client
	costs    *awsops.CostCache
	respond  *respond.Responder // nil without AWS
	reports  *commands.Reports
	slack    *bot.Slack
	chat     *bot.Chat
	chatKeys *bot.ChatVerifier
	metrics  *bot.Metrics
	promReg  *prometheus.Registry

	check *startupCheck // nil without serve --check

	public, admin net.Listener
	adminToken    string // the admin API's bearer token, also in adminTokenPath
	timeouts      serverTimeouts
	ready         atomic.Bool
}

// serverTimeouts bound every HTTP exchange, so that a client that sends or
// reads slowly (or not at all) holds a connection only so long.
type serverTimeouts struct {
	readHeader, read, write, idle time.Duration
	adminWrite                    time.Duration // a backup takes longer to send
	maxHeaderBytes                int
}

// defaultTimeouts suit Slack (3 s to answer) and Google Chat (30 s).
var defaultTimeouts = serverTimeouts{
	readHeader: 5 * time.Second, read: 15 * time.Second, write: 35 * time.Second, idle: 2 * time.Minute,
	adminWrite: 30 * time.Minute, maxHeaderBytes: 64 << 10,
}

func (t serverTimeouts) server(h http.Handler, write time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.readHeader, ReadTimeout: t.read, WriteTimeout: write,
		IdleTimeout: t.idle, MaxHeaderBytes: t.maxHeaderBytes}
}

// AppOption adjusts NewApp.
type AppOption func(*App)

// withAWS makes the App act in AWS through c instead of the standard
// credential chain (the demo's local world).
func withAWS(c *awsops.Client) AppOption { return func(a *App) { a.aws = c } }

// withStartupCheck makes Run check every outside service at start-up, as
// keyleak doctor does, and /readyz report the result.
func withStartupCheck() AppOption { return func(a *App) { a.check = &startupCheck{} } }

// NewApp opens the database and builds every part; Run starts them.
func NewApp(cfg Config, log *slog.Logger, now func() time.Time, opts ...AppOption) (*App, error) {
	a := &App{cfg: cfg, log: log, now: now, promReg: prometheus.NewRegistry(), timeouts: defaultTimeouts}
	for _, o := range opts {
		o(a)
	}
	if a.aws == nil && cfg.AWS.Enabled {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := awsops.New(ctx, cfg.awsOptions(now, log))
		cancel()
		if err != nil {
			return nil, err
		}
		a.aws = c
	}
	a.promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = bot.NewMetrics(a.promReg)

	store, err := state.Open(cfg.Database, state.Options{})
	if err != nil {
		return nil, err
	}
	a.store = store
	if a.adminToken, err = writeAdminToken(cfg); err != nil {
		store.Close()
		return nil, err
	}
	if err := a.build(); err != nil {
		store.Close()
		return nil, err
	}
	if a.check != nil {
		var ses bot.RawSender
		if a.aws != nil {
			ses = a.aws.SES()
		}
		a.check.pieces, a.check.log, a.check.now = cfg.pieces(a.aws, ses, false), log, now
	}
	if a.public, err = net.Listen("tcp", cfg.Listen); err != nil {
		store.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if a.admin, err = net.Listen("tcp", cfg.AdminListen); err != nil {
		a.public.Close()
		store.Close()
		return nil, fmt.Errorf("admin listen on %s: %w", cfg.AdminListen, err)
	}
	return a, nil
}

// build wires the parts over the open store.
func (a *App) build() error {
	cfg, store, log, now := a.cfg, a.store, a.log, a.now
	policy := commands.Policy{Responders: cfg.Approvals.Responders, Expiry: cfg.Approvals.Expiry, OnePerson: cfg.Approvals.OnePerson}
	a.costs = awsops.NewCostCache()
	var specs []commands.ActionSpec
	if a.aws != nil {
		a.respond = respond.New(respond.Config{
			AWS: a.aws, Store: store, Log: log, Now: now, Costs: a.costs, Channels: a.channels(),
			Investigate: awsops.InvestigateOptions{TrailBucket: cfg.AWS.TrailBucket, TrailPrefix: cfg.AWS.TrailPrefix, TrailSource: cfg.AWS.TrailSource, Regions: cfg.AWS.Regions,
				Athena: cfg.AWS.Athena.options()},
			WatchPeriod: cfg.Watch.Period, WatchInterval: cfg.Watch.Interval,
		})
		specs = a.respond.Actions()
	}
	var err error
	if a.engine, err = commands.NewEngine(store, policy, now, log, specs...); err != nil {
		return fmt.Errorf("approvals: %w", err)
	}
	a.reports = &commands.Reports{Store: store, Policy: policy, Now: now}
	if a.respond != nil {
		a.engine.OnSuccess(a.respond.OnSuccess)
		a.reports.Findings, a.reports.Keys = a.respond.Findings(), a.respond
	}

	notifiers, err := a.notifiers()
	if err != nil {
		return err
	}
	announce := a.channels()
	if a.respond != nil {
		announce = append(announce, commands.ChannelWork)
	}
	a.reports.Channels = announce
	cmds := []commands.Command{
		commands.Status(store, now),
		commands.List(store),
		commands.Note(store, now),
		commands.Assign(store, policy, now),
		a.reports.ReportCommand(),
		a.reports.CloseCommand(),
	}
	if a.respond != nil {
		cmds = append(cmds, a.respond.Commands()...)
		cmds = append(cmds, a.respond.PlanCommand(a.engine))
	}
	cmds = append(cmds, a.engine.ActionCommands()...)
	if a.registry, err = commands.NewRegistry(log, cmds...); err != nil {
		return err
	}
	wopts := bot.WorkerOptions{Metrics: a.metrics, Now: now, OnDeadLetter: a.engine.DeadLettered}
	if a.respond != nil {
		wopts.Deadline = a.respond.Deadline
	}
	a.worker = bot.NewWorker(store, log, notifiers, wopts)
	a.reporter = &commands.Reporter{Store: store, Now: now, ParseKey: parseKey, Announce: announce, Wake: a.worker.Wake}
	if err := a.buildIntake(); err != nil {
		return err
	}
	return a.frontDoors()
}

// buildIntake wires the detectors' queue to the reporter.
func (a *App) buildIntake() error {
	if a.cfg.Intake.QueueURL == "" {
		return nil
	}
	if a.aws == nil {
		return errors.New("intake: the queue needs AWS (aws.enabled)")
	}
	q, err := a.aws.Queue(a.cfg.Intake.QueueURL, a.cfg.Intake.Wait)
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyleak_intake_events_total",
		Help: "Detectors' events received, by what became of them."}, []string{"outcome"})
	a.promReg.MustRegister(events)
	a.intake = &intake.Consumer{Queue: q, Reporter: a.reporter, Rules: a.cfg.intakeRules(), Log: a.log,
		Handled: func(o intake.Outcome) { events.WithLabelValues(o.Label()).Inc() }}
	return nil
}

// channels are the outbox channels of the configured outside services:
// the page on Slack, the war room in Chat, the email to InfoSec.
func (a *App) channels() []string {
	var out []string
	if a.cfg.Slack.BotToken != "" {
		out = append(out, commands.ChannelSlack)
	}
	if a.cfg.chatConfigured() {
		out = append(out, commands.ChannelChat)
	}
	if len(a.cfg.Email.To) > 0 {
		out = append(out, commands.ChannelEmail)
	}
	return out
}

// notifiers builds the outbox's notifier of every configured channel.
func (a *App) notifiers() (map[string]bot.Notifier, error) {
	cfg, store, log, now := a.cfg, a.store, a.log, a.now
	work := bot.KindRouter{commands.NoticeRun: a.engine}
	notifiers := map[string]bot.Notifier{commands.ChannelWork: work}
	var reporterEmail func(context.Context, state.Actor) (string, error)
	if cfg.Slack.BotToken != "" {
		pager := bot.NewPager(cfg.pagerConfig(), store, log)
		notifiers[commands.ChannelSlack] = pager
		reporterEmail = pager.Email
	}
	if cfg.chatConfigured() {
		card := func(_ context.Context, inc state.Incident) commands.Reply {
			return commands.IncidentCard(inc, nil, []commands.Button{commands.StatusButton})
		}
		if a.respond != nil {
			card = a.respond.Card
		}
		rc := cfg.roomConfig()
		rc.ReporterEmail = reporterEmail
		room, err := bot.NewRoom(context.Background(), rc, store, log, now, card)
		if err != nil {
			return nil, err
		}
		notifiers[commands.ChannelChat] = room
	}
	if len(cfg.Email.To) > 0 {
		var opts []bot.MailerOption
		if cfg.Email.Sender == "ses" {
			if a.aws == nil {
				return nil, errors.New("email through SES needs AWS (aws.enabled)")
			}
			opts = append(opts, bot.WithRawSender(a.aws.SES()))
		}
		if _, ok := notifiers[commands.ChannelChat]; ok {
			// The opening email carries the war room's links: it waits
			// a little for them while the space is created.
			opts = append(opts, bot.WithRoomWait(roomWait))
		}
		mailer, err := bot.NewMailer(cfg.mailConfig(), store, log, append(opts, bot.WithMailClock(now))...)
		if err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		notifiers[commands.ChannelEmail] = mailer
	}
	if a.respond != nil {
		work[commands.NoticeIdentify] = a.respond.Investigator()
		work[commands.NoticeWatch] = a.respond.Watcher()
	}
	return notifiers, nil
}

// frontDoors builds the Slack and Chat front ends that are configured.
func (a *App) frontDoors() error {
	cfg, store, log, now := a.cfg, a.store, a.log, a.now
	if cfg.Slack.SigningSecret != "" || cfg.Slack.AppToken != "" {
		secret := cfg.Slack.SigningSecret
		if secret == "" {
			// Socket Mode only: nothing is served over HTTP, but the
			// verifier must still refuse every request sent there.
			secret = Secret(randomSecret())
		}
		v, err := bot.NewSlackVerifier(bot.SlackVerifierConfig{SigningSecret: []byte(secret), Now: now, Logger: log})
		if err != nil {
			return err
		}
		a.slack = bot.NewSlack(bot.SlackOptions{Verifier: v, Reporter: a.reporter, Registry: a.registry, AllowedWorkspaces: cfg.Slack.AllowedWorkspaces, Log: log, Metrics: a.metrics})
	}
	if cfg.Chat.Audience != "" {
		v, err := bot.NewChatVerifier(cfg.chatVerifierConfig(now, log))
		if err != nil {
			return err
		}
		a.chatKeys = v
		ids := map[int64]string{}
		for id, name := range cfg.Chat.Commands {
			n, _ := strconv.ParseInt(id, 10, 64) // validated with the configuration
			ids[n] = name
		}
		a.chat = bot.NewChat(bot.ChatOptions{Verifier: v, Registry: a.registry, Store: store, Commands: ids, Now: now, Log: log, Metrics: a.metrics})
	}
	return nil
}

// Addr is the public listener's address (useful when listening on :0).
func (a *App) Addr() string { return a.public.Addr().String() }

// AdminAddr is the admin listener's address.
func (a *App) AdminAddr() string { return a.admin.Addr().String() }

// Run serves until ctx is done, then shuts down gracefully: it stops
// accepting requests, lets in-flight requests and deliveries finish
// (up to 20 s) and returns. Close releases the database.
func (a *App) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	public := a.timeouts.server(a.publicHandler(), a.timeouts.write)
	admin := a.timeouts.server(a.adminHandler(), a.timeouts.adminWrite)
	serve := func(s *http.Server, l net.Listener) func() error {
		return func() error {
			if err := s.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}
	}
	g.Go(serve(public, a.public))
	g.Go(serve(admin, a.admin))
	g.Go(func() error { return a.worker.Run(gctx) })
	g.Go(func() error { a.housekeeping(gctx); return nil })
	if a.intake != nil {
		g.Go(func() error { return a.intake.Run(gctx) })
	}
	if a.check != nil {
		g.Go(func() error { a.check.run(gctx); return nil })
	}
	if a.chatKeys != nil {
		g.Go(func() error {
			if err := a.chatKeys.Prefetch(gctx); err != nil {
				a.log.WarnContext(gctx, "fetch Google Chat's signing keys at start-up; Chat events are refused until they can be fetched", "err", err)
			}
			return nil
		})
	}
	if a.slack != nil && a.cfg.Slack.AppToken != "" {
		g.Go(func() error {
			return a.slack.RunSocketMode(gctx, bot.SocketModeConfig{
				AppToken: string(a.cfg.Slack.AppToken), BotToken: string(a.cfg.Slack.BotToken), APIURL: a.cfg.Slack.APIURL,
			})
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		a.ready.Store(false)
		a.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return errors.Join(public.Shutdown(sctx), admin.Shutdown(sctx))
	})
	a.ready.Store(true)
	a.log.Info("keyleak serving", "listen", a.Addr(), "admin", a.AdminAddr(), "database", a.store.Path(), "version", version)
	err := g.Wait()
	a.log.Info("stopped")
	return err
}

// chatMembers are the people added to every incident's space: the
// configured members, or else the responders given by email.
func chatMembers(cfg Config) []string {
	if len(cfg.Chat.Members) > 0 {
		return cfg.Chat.Members
	}
	var out []string
	for _, r := range cfg.Approvals.Responders {
		if strings.Contains(r, "@") {
			out = append(out, r)
		}
	}
	return out
}

// randomSecret is a signing secret no one knows.
func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// parseKey checks an access key ID's form for the reporter.
func parseKey(s string) (string, error) {
	k, err := awsops.ParseAccessKeyID(s)
	if err != nil {
		return "", err
	}
	return k.String(), nil
}

// roomWait is how long the opening email waits for the war room's links.
const roomWait = 30 * time.Second

// How long the store keeps what it needs only for a while.
const (
	keepOutboxKeys  = 30 * 24 * time.Hour // idempotency keys of delivered messages
	keepDeadLetters = 90 * 24 * time.Hour // dead letters, for the operator
)

// housekeeping expires unapproved requests every 15 seconds, and forgets
// old event IDs, idempotency keys and dead letters.
func (a *App) housekeeping(ctx context.Context) {
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		if _, err := a.engine.Expire(ctx); err != nil {
			a.log.ErrorContext(ctx, "expire requests", "err", err)
		}
		if err := a.prune(a.now()); err != nil {
			a.log.ErrorContext(ctx, "prune the store", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// prune forgets what the store keeps only for a while.
func (a *App) prune(now time.Time) error {
	return a.store.Update(func(tx *state.Tx) error {
		if _, err := tx.PruneSeen(now); err != nil {
			return err
		}
		if _, err := tx.PruneOutboxKeys(now.Add(-keepOutboxKeys)); err != nil {
			return err
		}
		_, err := tx.PruneDeadLetters(now.Add(-keepDeadLetters))
		return err
	})
}

// Close releases the database and removes the admin token. Call it after
// Run returns.
func (a *App) Close() error {
	a.public.Close()
	a.admin.Close()
	os.Remove(adminTokenPath(a.cfg))
	return a.store.Close()
}

func (a *App) publicHandler() http.Handler {
	mux := http.NewServeMux()
	a.probes(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.promReg, promhttp.HandlerOpts{}))
	if a.slack != nil {
		mux.Handle("POST /slack/commands", a.slack)
	}
	if a.chat != nil {
		mux.Handle("POST /chat/events", a.chat.Handler())
	}
	return mux
}

func (a *App) probes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if err := a.store.View(func(*state.Tx) error { return nil }); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		if a.check == nil {
			io.WriteString(w, "ready\n")
			return
		}
		// serve --check: ready once every outside service passed.
		report, ok := a.check.report()
		if !ok {
			http.Error(w, "not ready: "+report, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready: "+report)
	})
}
