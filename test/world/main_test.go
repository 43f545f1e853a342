package world

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// sharedMoto is the one moto of this test binary; each test resets it through newWorld.
var sharedMoto *Moto

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	moto, err := StartMoto(ctx, discardLogger())
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start moto: %v\n", err)
		os.Exit(1)
	}
	sharedMoto = moto
	code := m.Run()
	moto.Close()
	os.Exit(code)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newWorld(tb testing.TB) *World {
	tb.Helper()
	return New(tb, sharedMoto)
}

// newUser creates an IAM user with an access key in account, as the account's admin.
func newUser(tb testing.TB, w *World, account, name string) Credentials {
	tb.Helper()
	ctx := tb.Context()
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(account)))
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		tb.Fatalf("create user %s: %v", name, err)
	}
	out, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		tb.Fatalf("create access key for %s: %v", name, err)
	}
	return Credentials{AccessKeyID: *out.AccessKey.AccessKeyId, SecretAccessKey: *out.AccessKey.SecretAccessKey}
}
