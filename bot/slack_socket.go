package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// SocketModeConfig configures Slack's Socket Mode, the transport for
// installations without a public URL: keyleak dials out to Slack over a
// WebSocket authenticated by the app-level token, and Slack delivers
// slash commands over it.
type SocketModeConfig struct {
	AppToken string // xapp-…, with connections:write
	BotToken string // xoxb-…
	APIURL   string // Slack's Web API base URL; empty for Slack itself
}

// RunSocketMode receives slash commands over Socket Mode and answers each
// through Handle, the same core the HTTP endpoint uses. It reconnects
// with capped backoff until ctx ends.
func (s *Slack) RunSocketMode(ctx context.Context, cfg SocketModeConfig) error {
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken), slack.OptionHTTPClient(&http.Client{Timeout: DefaultCallTimeout})}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(cfg.APIURL, "/")+"/"))
	}
	client := socketmode.New(slack.New(cfg.BotToken, opts...), socketmode.OptionLog(slogPrinter{s}))

	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		backoff := Backoff{Base: time.Second, Max: time.Minute}
		for attempt := 0; ctx.Err() == nil; attempt++ {
			start := time.Now()
			err := client.RunContext(ctx)
			if ctx.Err() != nil {
				return
			}
			if time.Since(start) > time.Minute {
				attempt = 0 // it was up for a while: start the backoff over
			}
			wait := backoff.Delay(attempt)
			s.log.WarnContext(ctx, "slack socket mode disconnected; reconnecting", "err", err, "retry_in", wait.Round(time.Millisecond))
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
	defer func() { <-runDone }()

	for {
		select {
		case <-ctx.Done():
			return nil
		case evt := <-client.Events:
			s.socketEvent(ctx, client, evt)
		}
	}
}

func (s *Slack) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		s.log.InfoContext(ctx, "slack socket mode connected")
	case socketmode.EventTypeInvalidAuth:
		s.log.ErrorContext(ctx, "slack socket mode: the app token was refused")
	case socketmode.EventTypeConnectionError:
		s.log.WarnContext(ctx, "slack socket mode connection error", "err", fmt.Sprint(evt.Data))
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			s.log.WarnContext(ctx, "slack socket mode: malformed slash command envelope")
			return
		}
		reply := s.Handle(ctx, SlashCommand{
			TeamID: cmd.TeamID, ChannelID: cmd.ChannelID, UserID: cmd.UserID, UserName: cmd.UserName,
			Command: cmd.Command, Text: cmd.Text, ResponseURL: cmd.ResponseURL, TriggerID: cmd.TriggerID,
		})
		if err := client.Ack(*evt.Request, SlackResponse(reply)); err != nil {
			s.log.ErrorContext(ctx, "slack socket mode: acknowledge slash command", "err", err)
		}
	case socketmode.EventTypeHello, socketmode.EventTypeConnecting, socketmode.EventTypeDisconnect:
	default:
		if evt.Request != nil {
			// Acknowledge what keyleak does not use, so Slack stops resending it.
			if err := client.Ack(*evt.Request); err != nil && !errors.Is(err, context.Canceled) {
				s.log.WarnContext(ctx, "slack socket mode: acknowledge", "type", string(evt.Type), "err", err)
			}
		}
	}
}

// slogPrinter passes the socketmode client's own log lines to slog at
// debug level.
type slogPrinter struct{ s *Slack }

func (p slogPrinter) Output(_ int, msg string) error {
	p.s.log.Debug("slack socket mode", "detail", strings.TrimSpace(msg))
	return nil
}
