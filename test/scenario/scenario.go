package scenario

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keyleak/keyleak/test/world"
)

// Scenario is one incident: how the account is built, what the legitimate workload does,
// and what the attacker does with the leaked key.
type Scenario struct {
	Name        string
	Description string
	// Setup builds the account as its admin and fills r.Target.
	Setup func(ctx context.Context, r *Run) error
	// Legit runs the legitimate workload of other principals for event
	// times in [from, to): it must keep working once the key is contained.
	Legit func(ctx context.Context, r *Run, from, to time.Time) error
	// KeyCI is the leaked key's own legitimate use, its CI job, run from
	// a week before the attack until detection: the key's baseline. It
	// stops working when the key is deactivated.
	KeyCI ciRound
	// CIAddress is where the key's CI runs from.
	CIAddress string
	// Attack runs the attacker with r.Target.Leaked, backfilled before r.Now.
	Attack func(ctx context.Context, r *Run) error
}

// All returns every scenario, in a stable order.
func All() []Scenario { return []Scenario{Seed(), RoleChain(), CostAttack(), Techniques()} }

// ErrUnknown reports a scenario name that All does not have.
var ErrUnknown = errors.New("unknown scenario")

// ByName returns the scenario called name.
func ByName(name string) (Scenario, error) {
	var names []string
	for _, s := range All() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return Scenario{}, fmt.Errorf("scenario %q (have %v): %w", name, names, ErrUnknown)
}

// Options shapes one run.
type Options struct {
	// Now is the time the incident is detected; the attack and the workload happen before
	// it. Default time.Now.
	Now func() time.Time
	// Nodes is how many legitimate Kubernetes nodes the seed scenario runs. Default 50.
	Nodes int
	// LegitLead is how long before the attack the legitimate workload starts. Default 30 minutes.
	LegitLead time.Duration
}

// Target is what Setup built: what the attacker holds and what a responder needs.
type Target struct {
	Account          string
	Leaked           world.Credentials // the leaked long-term key; the attacker has its secret
	LeakedUser       string            // the IAM user that owns it
	Responder        world.Credentials // a read-only responder user's key (ReadOnlyAccess)
	ResponderRoleARN string            // a role the responder user may assume (SecurityAudit)
	TrailBucket      string            // the bucket with the trail log files
	Regions          []string          // every region the scenario uses
	Objects          []Object          // every object Setup put, sensitive ones marked
	// Legit are the principals and long-term keys of the legitimate workload.
	LegitPrincipals []string // ARNs of users and roles
	LegitKeys       []world.Credentials
}

// Object is an S3 object Setup put.
type Object struct {
	Account   string
	Bucket    string
	Key       string
	Sensitive bool // credentials, backups, terraform state
}

// Run is one scenario played against one world.
type Run struct {
	Scenario Scenario
	World    *world.World
	Now      time.Time // detection time
	Start    time.Time // the attacker's first call
	Target   Target
	opts     Options

	attacker *recorder
	legit    *recorder
	cost     *CostSpike
}

// Play builds a fresh world's account with s.Setup, runs s.Legit from LegitLead before the
// attack until Now, then s.Attack. The world must be fresh (world.New resets moto).
func Play(ctx context.Context, w *world.World, s Scenario, opts Options) (*Run, error) {
	r := NewRun(w, s, opts)
	if err := s.Setup(ctx, r); err != nil {
		return r, fmt.Errorf("scenario %s: setup: %w", s.Name, err)
	}
	if err := s.Legit(ctx, r, r.Start.Add(-r.opts.LegitLead), r.Now); err != nil {
		return r, fmt.Errorf("scenario %s: legitimate workload: %w", s.Name, err)
	}
	if s.KeyCI != nil {
		if err := runCI(ctx, r, s.CIAddress, r.Now, s.KeyCI); err != nil {
			return r, fmt.Errorf("scenario %s: the key's CI: %w", s.Name, err)
		}
	}
	if err := s.Attack(ctx, r); err != nil {
		return r, fmt.Errorf("scenario %s: attack: %w", s.Name, err)
	}
	return r, nil
}

// attackLead is how long before detection the attacker's first call happens.
const attackLead = 3 * time.Hour

// NewRun prepares a run of s without running any step.
func NewRun(w *world.World, s Scenario, opts Options) *Run {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 50
	}
	if opts.LegitLead <= 0 {
		opts.LegitLead = 30 * time.Minute
	}
	now := opts.Now().UTC().Truncate(time.Second)
	return &Run{
		Scenario: s, World: w, Now: now, Start: now.Add(-attackLead).Truncate(time.Minute), opts: opts,
		attacker: &recorder{}, legit: &recorder{},
	}
}

// Nodes is the number of legitimate nodes the run was asked for.
func (r *Run) Nodes() int { return r.opts.Nodes }

// parallel runs jobs with at most limit at once and returns the first error.
func parallel(ctx context.Context, limit int, jobs []func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, job := range jobs {
		g.Go(func() error { return job(ctx) })
	}
	return g.Wait()
}
