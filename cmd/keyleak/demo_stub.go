//go:build !demo

package main

import (
	"context"
	"errors"
	"io"
)

// runDemo is in builds with -tags demo only: the demo carries the local
// world (moto's gateway and local Slack, Chat, Meet and SMTP), which the
// shipped binary does not.
func runDemo(context.Context, []string, io.Writer, io.Writer, func(string) string) error {
	return errors.New("this keyleak was built without the demo; in a checkout run `make demo` (go run -tags demo ./cmd/keyleak demo)")
}
