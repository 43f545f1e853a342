package world

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// SignIn is one console sign-in of an IAM user.
type SignIn struct {
	Account   string
	UserName  string
	SourceIP  string    // default 192.0.2.1
	UserAgent string    // default a browser's
	At        time.Time // default the gateway's clock
}

// SignIn signs an IAM user in to the console as AWS does: it needs a login
// profile (a console password), and it records the ConsoleLogin event
// (eventSource signin.amazonaws.com, eventType AwsConsoleSignIn, responseElements
// {"ConsoleLogin": "Success"|"Failure"}) in us-east-1, where sign-ins through the global
// endpoint land. On success it returns the console session's credentials: the calls
// made with them are recorded as the user's, with sessionCredentialFromConsole.
// The password itself is not checked: moto does not keep it readable.
func (g *Gateway) SignIn(ctx context.Context, s SignIn) (Credentials, error) {
	if s.SourceIP == "" {
		s.SourceIP = "192.0.2.1"
	}
	if s.UserAgent == "" {
		s.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	}
	if s.At.IsZero() {
		s.At = g.now()
	}
	_, profileErr := g.principals.call(ctx, s.Account, url.Values{"Action": {"GetLoginProfile"}, "UserName": {s.UserName}})
	id := UserIdentity{Type: "IAMUser", AccountID: s.Account, UserName: s.UserName}
	id.PrincipalID, id.ARN = g.userIDs(ctx, s.Account, s.UserName)
	rec := Record{
		EventVersion: "1.08", UserIdentity: id, EventTime: formatTime(s.At),
		EventSource: "signin.amazonaws.com", EventName: "ConsoleLogin", AWSRegion: "us-east-1",
		SourceIPAddress: s.SourceIP, UserAgent: s.UserAgent,
		ResponseElements:    map[string]any{"ConsoleLogin": "Success"},
		AdditionalEventData: map[string]any{"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"},
		EventID:             newID(), EventType: "AwsConsoleSignIn", ManagementEvent: true,
		RecipientAccountID: s.Account, EventCategory: "Management",
	}
	if profileErr != nil {
		rec.ResponseElements = map[string]any{"ConsoleLogin": "Failure"}
		rec.ErrorMessage = "Failed authentication"
	}
	g.events.add(newStoredEvent(rec, s.At, s.UserName, nil))
	if profileErr != nil {
		return Credentials{}, fmt.Errorf("sign-in of %s refused: the user has no console password (%v)", s.UserName, profileErr)
	}
	sess := credential{
		Credentials: Credentials{AccessKeyID: newAccessKeyID("ASIA", s.Account), SecretAccessKey: randomSecret(40),
			SessionToken: "IQoJb3JpZ2luX2VjE" + randomSecret(200)},
		Account: s.Account, Kind: kindUserSession, UserName: s.UserName, Console: true,
		Issued: s.At, Expires: s.At.Add(12 * time.Hour), ForwardKey: g.Admin(s.Account).AccessKeyID,
	}
	g.keys.put(sess)
	g.local.mu.Lock()
	arn := "arn:aws:signin:us-east-1:" + s.Account + ":session/" + newID()
	g.local.sessions[arn] = &signinSession{ARN: arn, Principal: id.ARN, Status: "ACTIVE", Issued: s.At, Expires: sess.Expires, AccessKeyID: sess.AccessKeyID}
	g.local.mu.Unlock()
	return sess.Credentials, nil
}
