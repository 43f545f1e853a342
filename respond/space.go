package respond

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Commands are the space's commands that read or refresh the findings:
// whois, investigate, resources, cost, and verify.
func (r *Responder) Commands() []commands.Command {
	f, store, now := r.findings, r.cfg.Store, r.cfg.Now
	show := func(name, summary string, pick func(*awsops.Investigation) []commands.Section) commands.Command {
		return commands.Command{
			Name: name, Summary: summary, Scope: commands.InSpace, NeedsIncident: true,
			Run: func(ctx context.Context, req commands.Request) (commands.Reply, error) {
				if len(req.Args) > 0 {
					return commands.Reply{}, commands.Userf("%s takes no arguments.", name)
				}
				inv, err := f.load(req.Incident)
				if err != nil {
					return commands.Reply{}, err
				}
				if inv == nil {
					return commands.Reply{}, commands.Userf("The investigation has not finished yet; its findings are posted here when it does.")
				}
				return commands.Reply{Title: name + ": " + req.Incident, Sections: pick(inv), Private: true}, nil
			},
		}
	}
	sectionsTitled := func(prefixes ...string) func(*awsops.Investigation) []commands.Section {
		return func(inv *awsops.Investigation) []commands.Section {
			var out []commands.Section
			for _, s := range inv.Sections() {
				for _, p := range prefixes {
					if strings.HasPrefix(strings.ToLower(s.Title), p) {
						out = append(out, commands.Section{Title: s.Title, Lines: s.Lines})
					}
				}
			}
			if len(out) == 0 {
				out = []commands.Section{{Title: "Nothing found", Lines: []string{"The investigation found nothing of this kind."}}}
			}
			return out
		}
	}
	investigate := commands.Command{
		Name: "investigate", Usage: "[--since 2026-11-01T00:00:00Z|48h]", Summary: "investigate again: identification, CloudTrail, credential tree, data events, cost",
		Scope: commands.InSpace, NeedsIncident: true,
		Run: func(ctx context.Context, req commands.Request) (commands.Reply, error) {
			params := map[string]string{}
			switch {
			case len(req.Args) == 0:
			case len(req.Args) == 2 && req.Args[0] == "--since":
				since, err := parseSince(req.Args[1], now())
				if err != nil {
					return commands.Reply{}, err
				}
				params[ParamSince] = since.UTC().Format(time.RFC3339)
			default:
				return commands.Reply{}, commands.Userf("investigate takes --since followed by a time (2026-11-01T00:00:00Z) or a duration (48h).")
			}
			at := now()
			err := store.Update(func(tx *state.Tx) error {
				return commands.EnqueueNotice(tx, commands.ChannelWork, fmt.Sprintf("identify:%s:%d", req.Incident, at.UnixNano()),
					commands.Notice{Kind: commands.NoticeIdentify, Incident: req.Incident, Params: params}, at)
			})
			if err != nil {
				return commands.Reply{}, err
			}
			return commands.Reply{Text: "Investigating; the findings will be posted here."}, nil
		},
	}
	costCmd := show("cost", "cost by service and region against the baseline (estimates)", sectionsTitled("cost"))
	stored := costCmd.Run
	costCmd.Usage = "[--days N]"
	costCmd.Run = func(ctx context.Context, req commands.Request) (commands.Reply, error) {
		if len(req.Args) == 0 {
			return stored(ctx, req)
		}
		days, err := parseDays(req.Args)
		if err != nil {
			return commands.Reply{}, err
		}
		var inc state.Incident
		if err := store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(req.Incident); return err }); err != nil {
			return commands.Reply{}, err
		}
		if inc.AccountID == "" {
			return commands.Reply{}, commands.Userf("The key's account is not identified yet; wait for the findings.")
		}
		if r.cfg.Costs == nil {
			return commands.Reply{}, commands.Userf("Cost Explorer is not configured here.")
		}
		end := now()
		rep, err := r.cfg.Costs.Get(ctx, r.cfg.AWS, inc.AccountID, end.Add(-time.Duration(days)*24*time.Hour), end)
		if err != nil {
			return commands.Reply{}, fmt.Errorf("cost of %s over %d days: %w", inc.AccountID, days, err)
		}
		return commands.Reply{Title: fmt.Sprintf("cost: %s, last %d days", req.Incident, days), Sections: sectionsTitled("cost")(&awsops.Investigation{Cost: rep}), Private: true}, nil
	}
	return []commands.Command{
		show("whois", "who owns the key, what it can do, and how severe this is", sectionsTitled("ident", "key", "owner", "privilege")),
		investigate,
		show("resources", "what the key and its sessions created or opened, whether it is still there, and the command that removes or closes it", resourcesSections),
		costCmd,
		r.verifyCommand(),
	}
}

// parseDays reads "--days N" for the cost command.
func parseDays(args []string) (int, error) {
	if len(args) != 2 || args[0] != "--days" {
		return 0, commands.Userf("cost takes --days followed by a number of days, e.g. `cost --days 7`.")
	}
	var n int
	if _, err := fmt.Sscan(args[1], &n); err != nil || n < 1 || n > 90 {
		return 0, commands.Userf("--days %q: give a whole number of days from 1 to 90.", args[1])
	}
	return n, nil
}

// parseSince reads an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if t.After(now) {
			return time.Time{}, commands.Userf("--since %s is in the future.", s)
		}
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, commands.Userf("--since %q is neither a time like 2026-11-01T00:00:00Z nor a duration like 48h.", s)
}

// resourcesSections lists what the attacker created or opened, each with
// the command that removes or closes it while it is still there.
func resourcesSections(inv *awsops.Investigation) []commands.Section {
	if len(inv.Resources) == 0 {
		return []commands.Section{{Title: "Nothing found", Lines: []string{"The investigation found nothing the key created or opened."}}}
	}
	var lines []string
	for _, x := range inv.Resources {
		line := x.Line()
		_, door := awsops.DoorOf(x)
		_, made := awsops.CleanupOf(x)
		if x.Exists != awsops.ExistsNo && (door || made) {
			line += " → " + closingAction(x)
		}
		lines = append(lines, line)
	}
	if inv.ResourcesDropped > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more not kept or checked", inv.ResourcesDropped))
	}
	return []commands.Section{{Title: "Resources created or opened", Lines: lines}}
}
