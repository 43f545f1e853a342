package scenario

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Probe has the attacker try every credential it holds once more at time at (ListBuckets
// from its first source IP), as containment checks do. The calls are attacker actions and
// enter the ground truth. It returns the error code per access key ID ("" for success).
func (r *Run) Probe(ctx context.Context, at time.Time) map[string]string {
	calls := r.attacker.all()
	if len(calls) == 0 {
		return nil
	}
	a := newActor(r.World, r.attacker, calls[0].SourceIP, calls[0].UserAgent, at)
	out := map[string]string{}
	for _, c := range r.held(calls) {
		_, err := a.listBuckets(ctx, c)
		out[c.AccessKeyID] = errorCode(err)
	}
	return out
}

// held is the leaked key and every key the attacker minted, with their secrets.
func (r *Run) held(calls []call) []credential {
	held := []credential{{Credentials: r.Target.Leaked, Label: "leaked", Account: r.Target.Account}}
	for _, c := range calls {
		d, ok := c.derived()
		if !ok || c.ErrorCode != "" {
			continue
		}
		cr := credential{Label: d.Label, Account: d.Account}
		switch out := c.Output.(type) {
		case *sts.AssumeRoleOutput:
			cr.Credentials = stsCredentials(out.Credentials.AccessKeyId, out.Credentials.SecretAccessKey, out.Credentials.SessionToken)
		case *sts.GetFederationTokenOutput:
			cr.Credentials = stsCredentials(out.Credentials.AccessKeyId, out.Credentials.SecretAccessKey, out.Credentials.SessionToken)
		case *sts.GetSessionTokenOutput:
			cr.Credentials = stsCredentials(out.Credentials.AccessKeyId, out.Credentials.SecretAccessKey, out.Credentials.SessionToken)
		case *iam.CreateAccessKeyOutput:
			cr.Credentials = stsCredentials(out.AccessKey.AccessKeyId, out.AccessKey.SecretAccessKey, nil)
		case consoleSession:
			cr.Credentials = out.creds
		}
		held = append(held, cr)
	}
	return held
}
