package awsops

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// management is which management events a trail's event selectors let
// into its log files.
type management struct {
	read, write bool     // read-only calls, calls that change something
	except      []string // event sources left out of both
	filtered    bool     // an advanced selector filters on other fields
}

// all reports whether every management event is delivered.
func (m management) all() bool {
	return m.read && m.write && len(m.except) == 0 && !m.filtered
}

// union is what two selectors (or trails) deliver together.
func (m management) union(o management) management {
	out := management{read: m.read || o.read, write: m.write || o.write}
	full := func(x management) bool { return x.read && x.write && len(x.except) == 0 && !x.filtered }
	switch {
	case full(m) || full(o):
		return management{read: true, write: true}
	case !m.read && !m.write:
		out.except, out.filtered = o.except, o.filtered
	case !o.read && !o.write:
		out.except, out.filtered = m.except, m.filtered
	case m.read == o.read && m.write == o.write:
		// Alike: a source left out by one is missed only if the other
		// leaves it out too.
		for _, s := range m.except {
			if slices.Contains(o.except, s) {
				out.except = append(out.except, s)
			}
		}
		out.filtered = m.filtered && o.filtered
	default:
		// Unlike (one reads, the other writes): what either leaves out
		// may be missed.
		out.except = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(m.except), o.except...))))
		out.filtered = m.filtered || o.filtered
	}
	return out
}

// String says what is missing, for the plan.
func (m management) String() string {
	var parts []string
	switch {
	case !m.read && !m.write:
		return "no management events"
	case !m.read:
		parts = append(parts, "no read-only management events")
	case !m.write:
		parts = append(parts, "only read-only management events")
	}
	if len(m.except) > 0 {
		parts = append(parts, "none from "+strings.Join(m.except, ", "))
	}
	if m.filtered {
		parts = append(parts, "management events filtered by an advanced event selector")
	}
	return strings.Join(parts, "; ")
}

// managementOf reads a trail's event selectors, classic or advanced. A
// trail without selectors delivers every management event (CloudTrail's
// default).
func managementOf(out *cloudtrail.GetEventSelectorsOutput) management {
	if len(out.EventSelectors) == 0 && len(out.AdvancedEventSelectors) == 0 {
		return management{read: true, write: true}
	}
	var m management
	for _, s := range out.EventSelectors {
		if s.IncludeManagementEvents != nil && !*s.IncludeManagementEvents {
			continue
		}
		m = m.union(management{
			read:   s.ReadWriteType != cttypes.ReadWriteTypeWriteOnly,
			write:  s.ReadWriteType != cttypes.ReadWriteTypeReadOnly,
			except: slices.Clone(s.ExcludeManagementEventSources),
		})
	}
	for _, s := range out.AdvancedEventSelectors {
		if sel, ok := advancedManagement(s); ok {
			m = m.union(sel)
		}
	}
	return m
}

// advancedManagement is what an advanced selector delivers of management
// events; ok is false when it selects none.
func advancedManagement(s cttypes.AdvancedEventSelector) (management, bool) {
	sel := management{read: true, write: true}
	management := false
	for _, f := range s.FieldSelectors {
		switch field := aws.ToString(f.Field); {
		case field == "eventCategory":
			management = slices.Contains(f.Equals, "Management") && len(f.NotEquals) == 0
		case field == "readOnly" && len(f.Equals) == 1:
			sel.read, sel.write = f.Equals[0] == "true", f.Equals[0] == "false"
		case field == "eventSource" && len(f.Equals) == 0 && len(f.StartsWith) == 0 && len(f.EndsWith) == 0 && len(f.NotStartsWith) == 0 && len(f.NotEndsWith) == 0:
			sel.except = append(sel.except, f.NotEquals...)
		default:
			sel.filtered = true
		}
	}
	return sel, management
}

// trailManagement is what one trail delivers of management events, and
// where: every region (a multi-region or organisation trail) or its home
// region.
type trailManagement struct {
	all    bool
	region string
	m      management
}

// trailManagementOf is what trail t delivers by default: every management
// event, of every region when it is a multi-region trail, else of its home
// region. An organisation trail may be single-region too.
func trailManagementOf(t cttypes.Trail) trailManagement {
	return trailManagement{all: aws.ToBool(t.IsMultiRegionTrail), region: aws.ToString(t.HomeRegion), m: management{read: true, write: true}}
}

// trailsManagement asks what each of the trails delivers of management
// events. A trail whose selectors cannot be read is taken to deliver every
// management event, as most trails do; unknown lists those.
func trailsManagement(ctx context.Context, api func(region string) (*cloudtrail.Client, error), trails []cttypes.Trail) (out []trailManagement, unknown []string) {
	for _, t := range trails {
		tm := trailManagementOf(t)
		// Asked in the trail's home region, where it is described.
		client, err := api(tm.region)
		var sel *cloudtrail.GetEventSelectorsOutput
		if err == nil {
			sel, err = client.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: t.TrailARN})
		}
		if err == nil {
			tm.m = managementOf(sel)
		} else {
			unknown = append(unknown, aws.ToString(t.TrailARN))
		}
		out = append(out, tm)
	}
	return out, unknown
}

// managementIn is what the trails that log now and write the folder read
// deliver of region's management events together: none when no such trail
// delivers the region. Whoever wrote its files (a trail stopped, moved or
// deleted since, or one keyleak cannot see), they stand for the data
// events only.
func (c *trailCoverage) managementIn(region string) management {
	var m management
	for _, t := range c.management {
		if t.all || t.region == region {
			m = m.union(t.m)
		}
	}
	return m
}
