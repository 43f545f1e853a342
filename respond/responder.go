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
}

// Responder is the response over one store and one AWS client.
type Responder struct {
	cfg      Config
	findings findings
}

// Defaults of the watch.
const (
	DefaultWatchPeriod   = 30 * time.Minute
	DefaultWatchInterval = time.Minute
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
	cfg.Investigate.Cost = cfg.Costs
	return &Responder{cfg: cfg, findings: findings{store: cfg.Store}}
}

// Findings gives the report what the investigation found.
func (r *Responder) Findings() commands.Findings { return r.findings }

// Investigator delivers identify work (commands.NoticeIdentify).
func (r *Responder) Investigator() *Investigator { return &Investigator{r: r} }

// Watcher delivers watch work (commands.NoticeWatch).
func (r *Responder) Watcher() *Watcher { return &Watcher{r: r} }
