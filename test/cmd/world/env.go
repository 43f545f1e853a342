package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// readyLine is the last line printed: everything above it is complete.
const readyLine = "# ready: interrupt (SIGINT or SIGTERM) to stop"

// environment is what a client of the world needs.
type environment struct {
	w      *world.World
	region string
	creds  world.Credentials
	run    *scenario.Run // nil without a scenario
}

// vars returns the exports in print order.
func (e environment) vars() [][2]string {
	v := [][2]string{
		{"AWS_ENDPOINT_URL", e.w.URL()},
		{"AWS_ACCESS_KEY_ID", e.creds.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", e.creds.SecretAccessKey},
		{"AWS_REGION", e.region},
		{"AWS_DEFAULT_REGION", e.region},
		{"KEYLEAK_TRAIL_BUCKET", e.w.Gateway.TrailBucket()},
		{"WORLD_MOTO_URL", e.w.Moto.URL()},
	}
	if e.creds.SessionToken != "" {
		v = append(v, [2]string{"AWS_SESSION_TOKEN", e.creds.SessionToken})
	}
	if e.run != nil {
		t := e.run.Target
		v = append(v,
			[2]string{"WORLD_SCENARIO", e.run.Scenario.Name},
			[2]string{"KEYLEAK_LEAKED_KEY_ID", t.Leaked.AccessKeyID},
			[2]string{"KEYLEAK_ACCOUNT", t.Account},
			[2]string{"KEYLEAK_RESPONDER_ROLE_ARN", t.ResponderRoleARN},
		)
	}
	return v
}

// print writes the exports, then the ready line.
func (e environment) print(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# keyleak local AWS world; S3 clients must use path-style addressing\n")
	if e.run != nil {
		fmt.Fprintf(&b, "# scenario %s: %s\n", e.run.Scenario.Name, e.run.Scenario.Description)
	}
	for _, kv := range e.vars() {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	b.WriteString(readyLine + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/=+,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
