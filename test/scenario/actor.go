package scenario

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/test/world"
)

func (a *actor) s3(region string, c credential) *s3.Client {
	return s3.NewFromConfig(a.config(region, c), func(o *s3.Options) { o.UsePathStyle = true })
}

func (a *actor) sts(c credential) *sts.Client { return sts.NewFromConfig(a.config("us-east-1", c)) }

// assumeRole assumes roleARN with c for d and returns the session, labelled role/session.
func (a *actor) assumeRole(ctx context.Context, c credential, roleARN, session string, d time.Duration) (credential, error) {
	out, err := a.sts(c).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN),
		RoleSessionName: aws.String(session), DurationSeconds: aws.Int32(int32(d / time.Second))})
	if err != nil {
		return credential{}, fmt.Errorf("assume %s as %s: %w", roleARN, c.Label, err)
	}
	account := c.Account
	if parts := strings.Split(roleARN, ":"); len(parts) == 6 {
		account = parts[4]
	}
	return credential{Credentials: stsCredentials(out.Credentials.AccessKeyId, out.Credentials.SecretAccessKey,
		out.Credentials.SessionToken), Label: roleARN[strings.LastIndexByte(roleARN, '/')+1:] + "/" + session, Account: account}, nil
}

func stsCredentials(id, secret, token *string) world.Credentials {
	return world.Credentials{AccessKeyID: deref(id), SecretAccessKey: deref(secret), SessionToken: deref(token)}
}

// getObject reads an object whole.
func (a *actor) getObject(ctx context.Context, region string, c credential, bucket, key string) ([]byte, error) {
	out, err := a.s3(region, c).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s as %s: %w", bucket, key, c.Label, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
}

// listObjects lists a bucket's keys (ListObjects, as the older CLIs do).
func (a *actor) listObjects(ctx context.Context, region string, c credential, bucket string) ([]string, error) {
	out, err := a.s3(region, c).ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, fmt.Errorf("list s3://%s as %s: %w", bucket, c.Label, err)
	}
	keys := make([]string, 0, len(out.Contents))
	for _, o := range out.Contents {
		keys = append(keys, deref(o.Key))
	}
	return keys, nil
}

// listBuckets lists the buckets c can see.
func (a *actor) listBuckets(ctx context.Context, c credential) ([]string, error) {
	out, err := a.s3("us-east-1", c).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return nil, fmt.Errorf("list buckets as %s: %w", c.Label, err)
	}
	names := make([]string, 0, len(out.Buckets))
	for _, b := range out.Buckets {
		names = append(names, deref(b.Name))
	}
	return names, nil
}

// whoami calls GetCallerIdentity.
func (a *actor) whoami(ctx context.Context, c credential) error {
	if _, err := a.sts(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		return fmt.Errorf("get caller identity as %s: %w", c.Label, err)
	}
	return nil
}

// step is one scripted attacker call at an offset from the attack's start.
type step struct {
	after time.Duration
	do    func(ctx context.Context) error
}

// play runs steps in order, each at start+after on every actor's clock.
func play(ctx context.Context, start time.Time, steps []step, actors ...*actor) error {
	for _, s := range steps {
		for _, a := range actors {
			a.at(start.Add(s.after))
		}
		if err := s.do(ctx); err != nil {
			return err
		}
	}
	return nil
}

// signIn signs in to the console of account as user, whose password the
// attacker set with parent, and returns the console session, labelled
// console/user. The sign-in is recorded as a call of the signin service
// whose output is the session: it is how the attacker came to hold it.
func (a *actor) signIn(ctx context.Context, parent credential, account, user string) (credential, error) {
	at := a.time().UTC().Truncate(time.Second)
	creds, err := a.world.Gateway.SignIn(ctx, world.SignIn{Account: account, UserName: user, SourceIP: a.ip, UserAgent: a.ua, At: at})
	rec := call{Service: "signin", Operation: "ConsoleLogin", Region: "us-east-1", Account: account, Time: at,
		AccessKeyID: parent.AccessKeyID, Credential: parent.Label, SourceIP: a.ip, UserAgent: a.ua, ErrorCode: errorCode(err),
		Input: user}
	if err == nil {
		rec.Output = consoleSession{UserName: user, AccessKeyID: creds.AccessKeyID, Issued: at, Expires: at.Add(12 * time.Hour), creds: creds}
	}
	a.rec.add(rec)
	if err != nil {
		return credential{}, fmt.Errorf("sign in as %s: %w", user, err)
	}
	return credential{Credentials: creds, Label: "console/" + user, Account: account}, nil
}

// consoleSession is what a console sign-in gave the attacker.
type consoleSession struct {
	UserName, AccessKeyID string
	Issued, Expires       time.Time
	creds                 world.Credentials
}
