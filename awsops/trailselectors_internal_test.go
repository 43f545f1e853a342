package awsops

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// TestManagementOf reads event selectors as GetEventSelectors returns
// them (docs.aws.amazon.com/awscloudtrail/latest/userguide/
// logging-management-events-with-cloudtrail.html) into what they deliver
// of management events.
func TestManagementOf(t *testing.T) {
	classic := func(rw cttypes.ReadWriteType, include bool, except ...string) cttypes.EventSelector {
		return cttypes.EventSelector{ReadWriteType: rw, IncludeManagementEvents: aws.Bool(include), ExcludeManagementEventSources: except}
	}
	field := func(name string, equals, notEquals []string) cttypes.AdvancedFieldSelector {
		return cttypes.AdvancedFieldSelector{Field: aws.String(name), Equals: equals, NotEquals: notEquals}
	}
	advanced := func(fs ...cttypes.AdvancedFieldSelector) cttypes.AdvancedEventSelector {
		return cttypes.AdvancedEventSelector{Name: aws.String("s"), FieldSelectors: fs}
	}
	for _, tc := range []struct {
		name string
		out  cloudtrail.GetEventSelectorsOutput
		all  bool
		says string
	}{
		{"no selectors: CloudTrail's default", cloudtrail.GetEventSelectorsOutput{}, true, ""},
		{"All", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{classic(cttypes.ReadWriteTypeAll, true)}}, true, ""},
		{"WriteOnly", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{classic(cttypes.ReadWriteTypeWriteOnly, true)}}, false, "no read-only management events"},
		{"ReadOnly", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{classic(cttypes.ReadWriteTypeReadOnly, true)}}, false, "only read-only management events"},
		{"ReadOnly and WriteOnly", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{
			classic(cttypes.ReadWriteTypeReadOnly, true), classic(cttypes.ReadWriteTypeWriteOnly, true)}}, true, ""},
		{"data events only", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{classic(cttypes.ReadWriteTypeAll, false)}}, false, "no management events"},
		{"KMS left out", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{classic(cttypes.ReadWriteTypeAll, true, "kms.amazonaws.com")}}, false, "none from kms.amazonaws.com"},
		{"KMS left out by one, not the other", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{
			classic(cttypes.ReadWriteTypeAll, true, "kms.amazonaws.com"), classic(cttypes.ReadWriteTypeAll, true, "rdsdata.amazonaws.com")}}, true, ""},
		{"advanced: management", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			advanced(field("eventCategory", []string{"Management"}, nil))}}, true, ""},
		{"advanced: write management only", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			advanced(field("eventCategory", []string{"Management"}, nil), field("readOnly", []string{"false"}, nil))}}, false, "no read-only management events"},
		{"advanced: KMS left out", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			advanced(field("eventCategory", []string{"Management"}, nil), field("eventSource", nil, []string{"kms.amazonaws.com"}))}}, false, "none from kms.amazonaws.com"},
		{"advanced: data events only", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			advanced(field("eventCategory", []string{"Data"}, nil), field("resources.type", []string{"AWS::S3::Object"}, nil))}}, false, "no management events"},
		{"advanced: management filtered by another field", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			advanced(field("eventCategory", []string{"Management"}, nil), field("eventName", []string{"CreateUser"}, nil))}}, false, "management events filtered by an advanced event selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := managementOf(&tc.out)
			if m.all() != tc.all || m.String() != tc.says {
				t.Errorf("managementOf = %+v: all %v, says %q; want all %v, saying %q", m, m.all(), m.String(), tc.all, tc.says)
			}
		})
	}
}
