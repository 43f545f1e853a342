package awsops

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// IPSighting is where an address the attacker used was seen in the
// organisation's trail (Athena's ip-seen query): the calls of one
// principal and key to one API in one account and region.
type IPSighting struct {
	IP          string    `json:"ip"`
	Account     string    `json:"account"`
	Region      string    `json:"region"`
	EventSource string    `json:"event_source"`
	EventName   string    `json:"event_name"`
	Principal   string    `json:"principal,omitempty"` // its ARN
	AccessKeyID string    `json:"access_key_id,omitempty"`
	Events      int       `json:"events"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	// InTree is true when the key is one of the investigation's
	// credentials, whose calls the investigation holds already; the
	// others are the attacker elsewhere, or someone sharing the address.
	InTree bool `json:"in_tree"`
}

// Line describes the sighting for a responder.
func (s IPSighting) Line() string {
	who := cmp.Or(s.Principal, "an unnamed principal")
	if s.AccessKeyID != "" {
		who += " (key " + s.AccessKeyID + ")"
	}
	return fmt.Sprintf("%s: %s in %s %s called %s %s ×%d, %s to %s", s.IP, who, s.Account, s.Region,
		strings.TrimSuffix(s.EventSource, ".amazonaws.com"), s.EventName, s.Events, fmtTime(s.FirstSeen), fmtTime(s.LastSeen))
}

// Limits of the ip-seen question: the attacker's addresses asked about,
// and the sightings kept.
const (
	maxIPSeenAddresses = 100
	maxIPSightings     = 500
)

// attackerIPs returns the addresses of the attacker's sources (not AWS's
// own calls), in the order of the sources, and those that cannot be asked
// about: not an IP address as netip reads one
// (an address with leading zeros, as anonymised logs write them), or one
// with a zone.
func attackerIPs(sources []Source) (ips, odd []string) {
	for _, s := range sources {
		if !s.Attacker {
			continue
		}
		for _, ip := range s.IPs {
			switch a, err := netip.ParseAddr(ip); {
			case err != nil || a.Zone() != "":
				if !slices.Contains(odd, ip) {
					odd = append(odd, ip)
				}
			case !slices.Contains(ips, ip):
				ips = append(ips, ip)
			}
		}
	}
	return ips, odd
}

// seeIPsElsewhere asks Athena where else in the organisation the
// attacker's addresses were seen in the window, across every account and
// region of the table, and records the answer, the query and any gap.
func (c *Client) seeIPsElsewhere(ctx context.Context, inv *Investigation, o AthenaOptions) {
	ips, odd := attackerIPs(inv.Sources)
	if len(odd) > 0 {
		inv.Gaps = append(inv.Gaps, Gap{Step: StepIPSeen, From: inv.Window.Start, To: inv.Window.End,
			Reason: fmt.Sprintf("%d of the attacker's addresses are not IP addresses Athena can be asked about (%s): where else they were seen is not known", len(odd), strings.Join(odd, ", "))})
	}
	if len(ips) > maxIPSeenAddresses {
		inv.Gaps = append(inv.Gaps, Gap{Step: StepIPSeen, From: inv.Window.Start, To: inv.Window.End,
			Reason: fmt.Sprintf("the attacker used %d addresses; Athena is asked about the first %d, and where else the others were seen is not known", len(ips), maxIPSeenAddresses)})
		ips = ips[:maxIPSeenAddresses]
	}
	if len(ips) == 0 {
		return
	}
	tree := map[string]bool{}
	for _, s := range inv.Sessions {
		if s.AccessKeyID != "" {
			tree[s.AccessKeyID] = true
		}
	}
	q, err := IPSeenQuery(o, ips, inv.Window.Start, inv.Window.End)
	run := AthenaRun{Name: AthenaIPSeen}
	if err == nil {
		run, err = c.RunAthena(ctx, o, q, func(row map[string]string) error {
			s, ok := ipSighting(row)
			switch {
			case !ok:
			case len(inv.IPSeen) == maxIPSightings:
				inv.IPSeenDropped++
			default:
				s.InTree = tree[s.AccessKeyID]
				inv.IPSeen = append(inv.IPSeen, s)
			}
			return nil
		})
	} else {
		run.Reason = err.Error()
	}
	inv.Athena = append(inv.Athena, run)
	if err != nil {
		inv.Gaps = append(inv.Gaps, Gap{Step: StepIPSeen, From: inv.Window.Start, To: inv.Window.End,
			Reason: fmt.Sprintf("athena query %s %s: %v; where else in the organisation the attacker's %d addresses were seen is not known", AthenaIPSeen, run.QueryID, err, len(ips))})
	}
	// Elsewhere first, the most events first; Athena's order within.
	slices.SortStableFunc(inv.IPSeen, func(a, b IPSighting) int {
		if a.InTree != b.InTree {
			if a.InTree {
				return 1
			}
			return -1
		}
		return b.Events - a.Events
	})
}

// ipSighting reads a row of the ip-seen query; ok is false for a row
// without an address or an account.
func ipSighting(row map[string]string) (IPSighting, bool) {
	s := IPSighting{IP: row["sourceipaddress"], Account: row["account"], Region: row["region"], EventSource: row["eventsource"],
		EventName: row["eventname"], Principal: row["principal_arn"], AccessKeyID: row["accesskeyid"]}
	s.Events, _ = strconv.Atoi(row["events"])
	s.FirstSeen, _ = time.Parse(time.RFC3339, row["first_seen"])
	s.LastSeen, _ = time.Parse(time.RFC3339, row["last_seen"])
	return s, s.IP != "" && s.Account != ""
}

// ipSeenLines are the ip-seen section's lines, and the summary's line
// (empty when nothing was seen outside the tree).
func (r *Investigation) ipSeenLines() (lines []string, summary string) {
	accounts, principals, inTree := map[string]bool{}, map[string]bool{}, 0
	for _, s := range r.IPSeen {
		if s.InTree {
			inTree++
			continue
		}
		accounts[s.Account] = true
		principals[cmp.Or(s.Principal, s.AccessKeyID, s.Account)] = true
		lines = append(lines, s.Line())
	}
	if inTree > 0 {
		lines = append(lines, fmt.Sprintf("and %s of the investigation's own credentials", counted(inTree, "sighting")))
	}
	if r.IPSeenDropped > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more %s not kept", r.IPSeenDropped, plural(r.IPSeenDropped, "sighting")))
	}
	if len(principals) > 0 {
		summary = fmt.Sprintf("Attacker addresses seen elsewhere in the organisation: %s in %s (see Where else the attacker's addresses were seen).", counted(len(principals), "principal"), counted(len(accounts), "account"))
	}
	return lines, summary
}
