package respond

import (
	"log/slog"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Config wires a Responder.
type Config struct {
	AWS   *awsops.Client
	Store *state.Store
	Log   *slog.Logger
	Now   func() time.Time
	// Costs caches Cost Explorer answers for the investigation and the
	// cost command; nil skips the cost check.
	Costs *awsops.CostCache
	// Channels are the outbox channels configured (commands.Channel…):
	// findings and alarms are posted to those that exist.
	Channels []string
	// Investigate shapes every investigation (trail bucket, regions).
	Investigate awsops.InvestigateOptions
	// WatchPeriod is how long CloudTrail is watched after containment;
	// WatchInterval how often.
	WatchPeriod, WatchInterval time.Duration
	// InvestigationDeadline bounds one investigation; when it passes, what
	// was found so far is recorded and posted, with what is missing.
	InvestigationDeadline time.Duration
}

// Responder is the response over one store and one AWS client.
type Responder struct {
	cfg      Config
	findings findings
}

// Defaults of the watch and the investigation.
const (
	DefaultWatchPeriod           = 30 * time.Minute
	DefaultWatchInterval         = time.Minute
	DefaultInvestigationDeadline = 20 * time.Minute
)

// New builds a Responder.
func New(cfg Config) *Responder {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.WatchPeriod <= 0 {
		cfg.WatchPeriod = DefaultWatchPeriod
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = DefaultWatchInterval
	}
	if cfg.InvestigationDeadline <= 0 {
		cfg.InvestigationDeadline = DefaultInvestigationDeadline
	}
	cfg.Investigate.Cost = cfg.Costs
	return &Responder{cfg: cfg, findings: findings{store: cfg.Store}}
}

// Findings gives the report what the investigation found.
func (r *Responder) Findings() commands.Findings { return r.findings }

// Investigator delivers identify work (commands.NoticeIdentify).
func (r *Responder) Investigator() *Investigator { return &Investigator{r: r} }

// Watcher delivers watch work (commands.NoticeWatch).
func (r *Responder) Watcher() *Watcher { return &Watcher{r: r} }

// Deadline is how long the delivery of a work message of the response may
// take (for bot.WorkerOptions.Deadline): an investigation its deadline and
// a minute to record it, a containment run or a watch check ten minutes;
// 0 for messages that are not the response's.
func (r *Responder) Deadline(m state.Message) time.Duration {
	if m.Channel != commands.ChannelWork {
		return 0
	}
	switch m.Kind {
	case commands.NoticeIdentify:
		return r.cfg.InvestigationDeadline + time.Minute
	case commands.NoticeRun, commands.NoticeWatch:
		return 10 * time.Minute
	}
	return 0
}
