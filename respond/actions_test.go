package respond

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/world"
)

var (
	alice = state.Actor{ID: "users/1", Email: "alice@example.com", Name: "Alice", Platform: "chat"}
	bob   = state.Actor{ID: "users/2", Email: "bob@example.com", Name: "Bob", Platform: "chat"}
)

// actionRig is the approval engine wired to the containment actions over
// the local AWS world, with the seed incident's account in it.
type actionRig struct {
	w        *world.World
	admin    *iam.Client
	store    *state.Store
	eng      *commands.Engine
	inc      state.Incident
	leaked   world.Credentials
	node     world.Credentials
	roleARN  string
	attacker world.Credentials
}

func newActionRig(tb testing.TB, moto *world.Moto, identified bool) *actionRig {
	tb.Helper()
	ctx := tb.Context()
	r := &actionRig{w: world.New(tb, moto)}
	cfg := r.w.Config("us-east-1", r.w.Admin(world.DefaultAccount))
	r.admin = iam.NewFromConfig(cfg)
	r.leaked, r.node = r.user(tb, "ci-deploy-user"), r.user(tb, "eks-node-launcher")
	role, err := r.admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("eks-node-role"), MaxSessionDuration: aws.Int32(43200),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		tb.Fatal(err)
	}
	r.roleARN = aws.ToString(role.Role.Arn)
	r.attacker = r.assume(tb, r.leaked, "attacker", time.Now().Add(-3*time.Hour))
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("config-bucket")}); err != nil {
		tb.Fatal(err)
	}

	r.store, err = state.Open(filepath.Join(tb.TempDir(), "k.db"), state.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.store.Close() })
	err = r.store.Update(func(tx *state.Tx) (err error) {
		r.inc, _, err = tx.Report(state.NewIncident{AccessKeyID: r.leaked.AccessKeyID, Reporter: alice, At: time.Now()})
		if err != nil || !identified {
			return err
		}
		r.inc.AccountID = world.DefaultAccount
		r.inc.Owner = state.Owner{Kind: state.OwnerUser, UserName: "ci-deploy-user", ARN: "arn:aws:iam::" + world.DefaultAccount + ":user/ci-deploy-user"}
		return tx.PutIncident(r.inc)
	})
	if err != nil {
		tb.Fatal(err)
	}
	// The investigation found the attacker's session of the role, and
	// nothing created.
	inv, err := json.Marshal(awsops.Investigation{AccessKeyID: r.leaked.AccessKeyID, Sessions: []awsops.Session{
		{AccessKeyID: r.leaked.AccessKeyID}, {AccessKeyID: r.attacker.AccessKeyID, RoleARN: r.roleARN, ParentAccessKeyID: r.leaked.AccessKeyID}}})
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.store.Update(func(tx *state.Tx) error { return tx.PutFinding(r.inc.ID, state.FindingInvestigation, inv) }); err != nil {
		tb.Fatal(err)
	}
	c := awsops.NewFromConfig(cfg, awsops.Options{})
	rs := New(Config{AWS: c, Store: r.store})
	r.eng, err = commands.NewEngine(r.store, commands.Policy{Responders: []string{alice.Email, bob.Email}}, time.Now,
		slog.New(slog.NewTextHandler(io.Discard, nil)), rs.Actions()...)
	if err != nil {
		tb.Fatalf("the action specs do not make an engine: %v", err)
	}
	return r
}

func (r *actionRig) user(tb testing.TB, name string) world.Credentials {
	tb.Helper()
	if _, err := r.admin.CreateUser(tb.Context(), &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		tb.Fatal(err)
	}
	k, err := r.admin.CreateAccessKey(tb.Context(), &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		tb.Fatal(err)
	}
	return world.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
}

func (r *actionRig) assume(tb testing.TB, creds world.Credentials, session string, at time.Time) world.Credentials {
	tb.Helper()
	out, err := sts.NewFromConfig(r.w.Config("us-east-1", creds, world.WithEventTime(func() time.Time { return at }))).AssumeRole(tb.Context(),
		&sts.AssumeRoleInput{RoleArn: aws.String(r.roleARN), RoleSessionName: aws.String(session), DurationSeconds: aws.Int32(43200)})
	if err != nil {
		tb.Fatal(err)
	}
	return world.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
}

func (r *actionRig) listBuckets(tb testing.TB, creds world.Credentials) string {
	tb.Helper()
	cfg := r.w.Config("us-east-1", creds)
	cfg.RetryMaxAttempts = 1
	_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(tb.Context(), &s3.ListBucketsInput{})
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return ""
}

// approveAndRun has alice request the action, bob approve it, and the
// engine run it, as the chat flow does; it returns the finished action.
func (r *actionRig) approveAndRun(tb testing.TB, name string, args ...string) state.Action {
	tb.Helper()
	ctx := tb.Context()
	if _, err := r.eng.Ask(ctx, commands.Request{Actor: alice, Incident: r.inc.ID, Scope: commands.InSpace, Args: args}, name, false); err != nil {
		tb.Fatalf("request %s: %v", name, err)
	}
	var list []state.Action
	if err := r.store.View(func(tx *state.Tx) (err error) { list, err = tx.Actions(r.inc.ID); return err }); err != nil {
		tb.Fatal(err)
	}
	a := list[len(list)-1]
	if _, err := r.eng.Decide(ctx, commands.Decision{ActionID: a.ID, Approve: true, Actor: bob}); err != nil {
		tb.Fatalf("approve %s: %v", a.ID, err)
	}
	n := len(r.w.Gateway.Events())
	if err := r.eng.Run(ctx, a.ID); err != nil {
		tb.Fatalf("run %s: %v", a.ID, err)
	}
	a, err := r.eng.Action(a.ID)
	if err != nil {
		tb.Fatal(err)
	}
	if a.Status != state.ActionSucceeded {
		tb.Fatalf("%s %s: %s: %s", a.ID, name, a.Status, a.Error)
	}
	var made []string
	for _, e := range r.w.Gateway.Events()[n:] {
		if !e.ReadOnly && e.ErrorCode == "" {
			made = append(made, strings.TrimSuffix(e.EventSource, ".amazonaws.com")+":"+e.EventName)
		}
	}
	var planned []string
	for _, c := range a.Plan {
		op, _, _ := strings.Cut(c, " ")
		planned = append(planned, op)
	}
	if !slices.Equal(made, planned) {
		tb.Errorf("%s made %v, the approved plan showed %v", name, made, planned)
	}
	if len(a.RequestIDs) == 0 {
		tb.Errorf("%s recorded no AWS request IDs", name)
	}
	return a
}

func TestActions(t *testing.T) {
	moto := world.NewMotoTB(t)

	t.Run("seed incident through the approval engine", func(t *testing.T) {
		r := newActionRig(t, moto, false) // the owner comes from AWS, not the incident
		r.approveAndRun(t, "deactivate")
		revoke := r.approveAndRun(t, "revoke-sessions")
		if !slices.ContainsFunc(revoke.Plan, func(c string) bool { return strings.HasPrefix(c, "iam:PutRolePolicy "+r.roleARN) }) {
			t.Errorf("revoke-sessions did not cover the investigation's role: %v", revoke.Plan)
		}
		cutoff, err := time.Parse(time.RFC3339, revoke.Params[awsops.ParamCutoff])
		if err != nil {
			t.Fatalf("frozen cutoff: %v", err)
		}
		fresh := r.assume(t, r.node, "node-7", cutoff.Add(2*time.Second))
		for _, tt := range []struct {
			name  string
			creds world.Credentials
			want  string
		}{
			{"leaked key", r.leaked, "InvalidAccessKeyId"},
			{"attacker's session", r.attacker, "AccessDenied"},
			{"a node's new session", fresh, ""},
		} {
			if got := r.listBuckets(t, tt.creds); got != tt.want {
				t.Errorf("%s: ListBuckets error %q, want %q", tt.name, got, tt.want)
			}
		}
	})

	t.Run("undo names the request it reverses", func(t *testing.T) {
		r := newActionRig(t, moto, true)
		deny := r.approveAndRun(t, "deny-all")
		lift := r.approveAndRun(t, "lift-deny-all", strings.ToLower(deny.ID))
		if lift.Params[commands.ParamUndoOf] != deny.ID {
			t.Errorf("lift-deny-all undo_of = %q, want %q", lift.Params[commands.ParamUndoOf], deny.ID)
		}
		if got, err := r.eng.Action(deny.ID); err != nil || got.Undone != lift.ID {
			t.Errorf("deny-all undone by %q (%v), want %q", got.Undone, err, lift.ID)
		}
		if got := r.listBuckets(t, r.leaked); got != "" {
			t.Errorf("after lift-deny-all the key gets %q", got)
		}
	})

	t.Run("a role outside the credential tree needs --outside-tree and is flagged", func(t *testing.T) {
		r := newActionRig(t, moto, true)
		other, err := r.admin.CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: aws.String("payments-role"),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(other.Role.Arn)
		_, err = r.eng.Ask(t.Context(), commands.Request{Actor: alice, Incident: r.inc.ID, Scope: commands.InSpace, Args: []string{arn}}, ActionRevokeSessions, false)
		if msg, ok := commands.AsUserError(err); !ok || !strings.Contains(msg, "--outside-tree") {
			t.Fatalf("revoke-sessions %s: %v, want a reply asking for --outside-tree", arn, err)
		}
		a := r.approveAndRun(t, ActionRevokeSessions, arn, "--outside-tree")
		if len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "OUTSIDE THE CREDENTIAL TREE") || !strings.Contains(a.Warnings[0], arn) {
			t.Errorf("warnings = %q, want the role flagged as outside the tree", a.Warnings)
		}
		if card := commands.ActionReply(a, time.Now()); len(card.Warnings) != 1 {
			t.Errorf("the request card does not carry the warning: %+v", card)
		}
	})

	t.Run("refusals reach the responder as they are", func(t *testing.T) {
		r := newActionRig(t, moto, true)
		ask := func(name string, args ...string) error {
			_, err := r.eng.Ask(t.Context(), commands.Request{Actor: alice, Incident: r.inc.ID, Scope: commands.InSpace, Args: args}, name, false)
			return err
		}
		tests := []struct {
			name, action string
			args         []string
			want         string
		}{
			{"delete an Active key", "delete-key", nil, "deactivate it first"},
			{"cleanup of something the investigation did not find", "cleanup", []string{"i-0123456789abcdef0"}, "not among the resources"},
			{"cleanup without arguments", "cleanup", nil, "needs the IDs"},
			{"revoke with a bad role", "revoke-sessions", []string{"eks-node-role"}, "not a role ARN"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				msg, ok := commands.AsUserError(ask(tt.action, tt.args...))
				if !ok || !strings.Contains(msg, tt.want) {
					t.Errorf("%s: reply %q (user error %v), want it to say %q", tt.action, msg, ok, tt.want)
				}
			})
		}
		t.Run("root key", func(t *testing.T) {
			err := r.store.Update(func(tx *state.Tx) error {
				r.inc.Owner = state.Owner{Kind: state.OwnerRoot, ARN: "arn:aws:iam::" + world.DefaultAccount + ":root"}
				return tx.PutIncident(r.inc)
			})
			if err != nil {
				t.Fatal(err)
			}
			msg, ok := commands.AsUserError(ask("deactivate"))
			if !ok || !strings.Contains(msg, "console") {
				t.Errorf("deactivate of a root key: reply %q, want the console explained", msg)
			}
		})
	})
}

func TestActionParams(t *testing.T) {
	inc := state.Incident{ID: "KL-2026-0007"}
	role := "arn:aws:iam::123456789012:role/eks-node-role"
	tests := []struct {
		name    string
		params  func([]string, state.Incident) (map[string]string, error)
		args    []string
		want    map[string]string
		wantErr string
	}{
		{"revoke with roles", roleParams, []string{role}, map[string]string{awsops.ParamRoles: awsops.EncodeRoles([]string{role})}, ""},
		{"revoke outside the tree", roleParams, []string{role, "--outside-tree"}, map[string]string{awsops.ParamRoles: awsops.EncodeRoles([]string{role}), paramOutsideTree: "yes"}, ""},
		{"outside the tree alone", roleParams, []string{"--outside-tree"}, nil, "means nothing alone"},
		{"a role name with a comma", roleParams, []string{"arn:aws:iam::123456789012:role/a,b"}, map[string]string{awsops.ParamRoles: `["arn:aws:iam::123456789012:role/a,b"]`}, ""},
		{"revoke without roles uses the investigation's", roleParams, nil, map[string]string{}, ""},
		{"revoke with a role name, not an ARN", roleParams, []string{"eks-node-role"}, nil, "not a role ARN"},
		{"lift with its request", roleParams, []string{"kl-2026-0007-a2"}, map[string]string{commands.ParamUndoOf: "KL-2026-0007-A2"}, ""},
		{"undo with its request", undoParams, []string{"KL-2026-0007-A1"}, map[string]string{commands.ParamUndoOf: "KL-2026-0007-A1"}, ""},
		{"undo of two requests", undoParams, []string{"KL-2026-0007-A1", "KL-2026-0007-A2"}, nil, "name one request"},
		{"undo with something else", undoParams, []string{"now"}, nil, "unexpected"},
		{"undo of another incident's request", undoParams, []string{"KL-2026-0001-A1"}, nil, "unexpected"},
		{"cleanup", cleanupParams, []string{"i-0abc", "backdoor"}, map[string]string{paramRequested: "i-0abc backdoor"}, ""},
		{"cleanup of nothing", cleanupParams, nil, nil, "needs the IDs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.params(tt.args, inc)
			if tt.wantErr != "" {
				msg, ok := commands.AsUserError(err)
				if !ok || !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("err = %v, want a user error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("params = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("params[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestActionSpecsTable(t *testing.T) {
	specs := New(Config{AWS: awsops.NewFromConfig(aws.Config{}, awsops.Options{})}).Actions()
	byName := map[string]commands.ActionSpec{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	for _, name := range []string{"deactivate", "reactivate", "revoke-sessions", "quarantine", "release", "deny-all", "cleanup", "delete-key"} {
		if _, ok := byName[name]; !ok {
			t.Errorf("no %s action", name)
		}
	}
	for _, s := range specs {
		if s.Undo != "" {
			if _, ok := byName[s.Undo]; !ok {
				t.Errorf("%s's undo %q does not exist", s.Name, s.Undo)
			}
		}
		if want := s.Name == "cleanup" || s.Name == "delete-key"; s.Irreversible != want {
			t.Errorf("%s irreversible = %v, want %v", s.Name, s.Irreversible, want)
		}
	}
}

// TestPickDoors: a door named by its own ID and by what it is on is closed
// once; a name that matches nothing is refused with what to do instead.
func TestPickDoors(t *testing.T) {
	found := []awsops.DoorItem{
		{Kind: awsops.DoorLambdaPermission, ID: "public-invoke", On: "billing-export"},
		{Kind: awsops.DoorFunctionURL, ID: "billing-export", On: "billing-export"},
		{Kind: awsops.DoorBucketACL, ID: "customer-data", On: "customer-data"},
	}
	doors := func(context.Context, state.Incident) ([]awsops.DoorItem, error) { return found, nil }
	got, err := pickDoors(t.Context(), doors, state.Incident{}, []string{"billing-export", "public-invoke"})
	if err != nil || len(got) != 2 || got[0] != found[0] || got[1] != found[1] {
		t.Errorf("pick billing-export public-invoke = %+v, %v; want the permission and the URL once each", got, err)
	}
	if got, err := pickDoors(t.Context(), doors, state.Incident{}, []string{"all"}); err != nil || len(got) != 3 {
		t.Errorf("pick all = %+v, %v", got, err)
	}
	_, err = pickDoors(t.Context(), doors, state.Incident{}, []string{"nothing-like-it"})
	var ue *commands.UserError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "resources") {
		t.Errorf("pick of an unknown door = %v; want a user error pointing at resources", err)
	}
}

// TestPickResourcesTakesEveryMatch: a user's name stands for the user and
// the console password the attacker gave it; cleanup of the name takes
// both, each once, and an unknown name is refused.
func TestPickResourcesTakesEveryMatch(t *testing.T) {
	found := []awsops.CleanupItem{
		{Kind: awsops.CleanupInstance, ID: "i-1", Region: "sa-east-1", Account: "1", EventID: "run"},
		{Kind: awsops.CleanupInstance, ID: "i-2", Region: "sa-east-1", Account: "1", EventID: "run"},
		{Kind: awsops.CleanupLoginProfile, ID: "support-admin", Account: "1", EventID: "login"},
		{Kind: awsops.CleanupUser, ID: "support-admin", Account: "1", EventID: "user"},
	}
	source := func(context.Context, state.Incident) ([]awsops.CleanupItem, error) { return found, nil }
	got, err := pickResources(context.Background(), source, state.Incident{ID: "KL-1"}, []string{"i-1", "support-admin", "i-2", "support-admin"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range got {
		kinds = append(kinds, it.Kind+" "+it.ID)
	}
	want := []string{"ec2-instance i-1", "iam-login-profile support-admin", "iam-user support-admin", "ec2-instance i-2"}
	if !slices.Equal(kinds, want) {
		t.Errorf("picked %v, want %v", kinds, want)
	}
	var user *commands.UserError
	if _, err := pickResources(context.Background(), source, state.Incident{ID: "KL-1"}, []string{"i-9"}); !errors.As(err, &user) {
		t.Errorf("an unknown resource: %v, want a user error", err)
	}
}

// TestCanaryCardOffersNoContainment: a canary's card says what it is and
// offers no containment buttons; a leak's card offers them.
func TestCanaryCardOffersNoContainment(t *testing.T) {
	store, err := state.Open(filepath.Join(t.TempDir(), "k.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := New(Config{AWS: awsops.NewFromConfig(aws.Config{}, awsops.Options{}), Store: store})
	buttons := func(inc state.Incident) (names []string, title string) {
		card := r.Card(context.Background(), inc)
		for _, b := range card.Buttons {
			names = append(names, b.Command)
		}
		return names, card.Title
	}
	det := &state.Detection{Detector: "CloudTrail", Type: "sts:GetCallerIdentity", SourceIP: "198.51.100.9", UserAgent: "TruffleHog", Canary: true}
	names, title := buttons(state.Incident{ID: "KL-2026-0009", Canary: true, Detection: det, Status: state.IncidentOpen})
	if !slices.Equal(names, []string{commands.StatusButton.Command}) || !strings.Contains(title, "canary") {
		t.Errorf("canary card %q offers %v, want only status", title, names)
	}
	if names, _ := buttons(state.Incident{ID: "KL-2026-0010", Status: state.IncidentOpen}); !slices.Contains(names, "deactivate") {
		t.Errorf("a leak's card offers %v, want deactivate among them", names)
	}
}

// TestUndoRecordsWhatItReverses: an undo typed without a request ID (its
// usage says the ID is optional) reverses the latest request of its kind,
// and the report no longer counts that one as done; an undo naming a
// request of another kind is refused.
func TestUndoRecordsWhatItReverses(t *testing.T) {
	r := newActionRig(t, world.NewMotoTB(t), true)
	deact := r.approveAndRun(t, ActionDeactivate)
	deny := r.approveAndRun(t, ActionDenyAll)
	react := r.approveAndRun(t, ActionReactivate) // no ID
	if d, _ := r.eng.Action(deact.ID); d.Undone != react.ID {
		t.Errorf("%s (deactivate) undone by %q after %s (reactivate) succeeded, want %q", d.ID, d.Undone, react.ID, react.ID)
	}
	var actions []state.Action
	if err := r.store.View(func(tx *state.Tx) (err error) { actions, err = tx.Actions(r.inc.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if settled(awsops.FollowUp{Kind: awsops.FollowUpDeactivateKey}, actions) {
		t.Error("the report counts 'deactivate the key' as done while the key is Active again")
	}
	r.approveAndRun(t, ActionDeactivate)
	_, err := r.eng.Ask(t.Context(), commands.Request{Actor: alice, Incident: r.inc.ID, Scope: commands.InSpace, Args: []string{deny.ID}}, ActionReactivate, false)
	var user *commands.UserError
	if !errors.As(err, &user) || !strings.Contains(user.Msg, "deny-all") {
		t.Errorf("reactivate naming the deny-all request %s: %v, want it refused: it is not a deactivate", deny.ID, err)
	}
	if dn, _ := r.eng.Action(deny.ID); dn.Undone != "" {
		t.Errorf("the deny-all %s is recorded undone by %s while it is still attached", deny.ID, dn.Undone)
	}
}

// close-doors hands awsops the incident's credential tree (the role
// session the leaked key assumed): the plan freezes its keys, so that a
// write one of them made before the door is the attacker's, not the state
// the door is closed back to, at execution as in the plan.
func TestCloseDoorsFreezesTheTree(t *testing.T) {
	r := newActionRig(t, world.NewMotoTB(t), true)
	ctx := t.Context()
	bucket := s3.NewFromConfig(r.w.Config("us-east-1", r.leaked), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := bucket.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("config-bucket"), ACL: s3types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	key, _ := awsops.ParseAccessKeyID(r.leaked.AccessKeyID)
	c := awsops.NewFromConfig(r.w.Config("us-east-1", r.w.Admin(world.DefaultAccount)), awsops.Options{Regions: []string{"us-east-1"}})
	inv, err := c.Investigate(ctx, key, awsops.InvestigateOptions{Path: awsops.PathLookup, Since: time.Now().Add(-4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(inv.Sessions, func(s awsops.Session) bool { return s.AccessKeyID == r.attacker.AccessKeyID }) {
		t.Fatalf("the investigation did not find the role session %s: %+v", r.attacker.AccessKeyID, inv.Sessions)
	}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.store.Update(func(tx *state.Tx) error { return tx.PutFinding(r.inc.ID, state.FindingInvestigation, b) }); err != nil {
		t.Fatal(err)
	}
	a := r.approveAndRun(t, ActionClose, "config-bucket")
	if tree := strings.Fields(a.Params[awsops.ParamTree]); !slices.Contains(tree, r.attacker.AccessKeyID) {
		t.Errorf("the close froze the tree %v, want the role session %s in it", tree, r.attacker.AccessKeyID)
	}
}
