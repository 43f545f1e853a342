package slackfake_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/keyleak/keyleak/test/slackfake"
)

func isSlackError(err error, code string) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && se.Err == code
}

func TestErrors(t *testing.T) {
	text := slack.MsgOptionText("hi", false)
	section := func(s string) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, s, false, false), nil, nil)
	}
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = slack.NewDividerBlock()
	}
	tests := []struct {
		name  string
		token string // "" uses the bot token
		call  func(ctx context.Context, api *slack.Client) error
		want  string
	}{
		{name: "no token", token: "-", want: "not_authed", call: func(ctx context.Context, api *slack.Client) error {
			_, err := api.AuthTestContext(ctx)
			return err
		}},
		{name: "wrong token", token: "xoxb-wrong", want: "invalid_auth", call: func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, "C0ONCALL", text)
			return err
		}},
		{name: "unknown channel", want: "channel_not_found", call: func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, "C0NOPE", text)
			return err
		}},
		{name: "bot not in channel", want: "not_in_channel", call: func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, "#random", text)
			return err
		}},
		{name: "archived channel", want: "is_archived", call: func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, "C0OLD", text)
			return err
		}},
		{name: "no text", want: "no_text", call: func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, "C0ONCALL")
			return err
		}},
		{name: "text too long", want: "msg_too_long", call: func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, "C0ONCALL", slack.MsgOptionText(strings.Repeat("x", 40_001), false))
			return err
		}},
		{name: "section text too long", want: "invalid_blocks", call: func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, "C0ONCALL", text, slack.MsgOptionBlocks(section(strings.Repeat("x", 3001))))
			return err
		}},
		{name: "too many blocks", want: "invalid_blocks", call: func(ctx context.Context, api *slack.Client) error {
			_, _, err := api.PostMessageContext(ctx, "C0ONCALL", text, slack.MsgOptionBlocks(many...))
			return err
		}},
		{name: "duplicate block_id", want: "invalid_blocks", call: func(ctx context.Context, api *slack.Client) error {
			a := slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, "a", false, false), nil, nil, slack.SectionBlockOptionBlockID("x"))
			b := slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, "b", false, false), nil, nil, slack.SectionBlockOptionBlockID("x"))
			_, _, err := api.PostMessageContext(ctx, "C0ONCALL", text, slack.MsgOptionBlocks(a, b))
			return err
		}},
		{name: "update of an unknown message", want: "message_not_found", call: func(ctx context.Context, api *slack.Client) error {
			_, _, _, err := api.UpdateMessageContext(ctx, "C0ONCALL", "1.000001", text)
			return err
		}},
		{name: "ephemeral to an unknown user", want: "user_not_found", call: func(ctx context.Context, api *slack.Client) error {
			_, err := api.PostEphemeralContext(ctx, "C0ONCALL", "U0NOPE", text)
			return err
		}},
		{name: "ephemeral to a non-member", want: "user_not_in_channel", call: func(ctx context.Context, api *slack.Client) error {
			_, err := api.PostEphemeralContext(ctx, "C0SMALL", "U0BEN", text)
			return err
		}},
		{name: "unknown user", want: "user_not_found", call: func(ctx context.Context, api *slack.Client) error {
			_, err := api.GetUserInfoContext(ctx, "U0NOPE")
			return err
		}},
		{name: "unknown email", want: "users_not_found", call: func(ctx context.Context, api *slack.Client) error {
			_, err := api.GetUserByEmailContext(ctx, "nobody@example.com")
			return err
		}},
		{name: "deleted user's email", want: "users_not_found", call: func(ctx context.Context, api *slack.Client) error {
			_, err := api.GetUserByEmailContext(ctx, "gone@example.com")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := slackfake.New(seeded())
			defer s.Close()
			token := s.BotToken()
			switch tt.token {
			case "-":
				token = ""
			case "":
			default:
				token = tt.token
			}
			api := slack.New(token, slack.OptionAPIURL(s.URL()+"/"))
			err := tt.call(t.Context(), api)
			if !isSlackError(err, tt.want) {
				t.Fatalf("error = %#v, want %s", err, tt.want)
			}
			if len(s.Posted()) != 0 {
				t.Errorf("a failed call posted %+v", s.Posted())
			}
			calls := s.Calls()
			if len(calls) != 1 || calls[0].Error != tt.want {
				t.Errorf("recorded calls = %+v", calls)
			}
		})
	}
}

func TestRateLimited(t *testing.T) {
	s, api := newFake(t, seeded())
	s.Fail("chat.postMessage", slackfake.RateLimited(30*time.Second, 1))
	_, _, err := api.PostMessageContext(t.Context(), "C0ONCALL", slack.MsgOptionText("page", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
		t.Fatalf("error = %#v, want a rate limit with Retry-After 30s", err)
	}
	if c := s.Calls(); len(c) != 1 || c[0].Status != http.StatusTooManyRequests || c[0].Error != "ratelimited" {
		t.Errorf("calls = %+v", c)
	}
	// The fault was for one call only.
	if _, _, err := api.PostMessageContext(t.Context(), "C0ONCALL", slack.MsgOptionText("page", false)); err != nil {
		t.Errorf("second call: %v", err)
	}
}

func TestRateLimitedRetriedBySlackGo(t *testing.T) {
	s, api := newFake(t, seeded(), slack.OptionRetryConfig(slack.RetryConfig{MaxRetries: 2}))
	s.Fail("chat.postMessage", slackfake.RateLimited(time.Second, 1))
	if _, _, err := api.PostMessageContext(t.Context(), "C0ONCALL", slack.MsgOptionText("page", false)); err != nil {
		t.Fatalf("PostMessage with retries: %v", err)
	}
	calls := s.Calls("chat.postMessage")
	if len(calls) != 2 || calls[0].Error != "ratelimited" || calls[1].Error != "" {
		t.Errorf("calls = %+v", calls)
	}
	if calls[1].At.Sub(calls[0].At) < 900*time.Millisecond {
		t.Errorf("retry came %s after the 429, before Retry-After", calls[1].At.Sub(calls[0].At))
	}
	if len(s.Posted()) != 1 {
		t.Errorf("posted %d messages, want 1", len(s.Posted()))
	}
}

func TestInjectedFaults(t *testing.T) {
	s, api := newFake(t, seeded())
	s.Fail("users.info", slackfake.Fault{Error: "fatal_error", Times: 2})
	s.Fail("usergroups.list", slackfake.Fault{Error: "internal_error", Status: http.StatusServiceUnavailable})
	ctx := t.Context()
	for i := range 2 {
		if _, err := api.GetUserInfoContext(ctx, "U0ANA"); !isSlackError(err, "fatal_error") {
			t.Errorf("call %d: %v, want fatal_error", i, err)
		}
	}
	if _, err := api.GetUserInfoContext(ctx, "U0ANA"); err != nil {
		t.Errorf("third call after a two-call fault: %v", err)
	}
	var sc slack.StatusCodeError
	if _, err := api.GetUserGroupsContext(ctx); !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Errorf("503 fault: %#v", err)
	}
	s.ClearFaults()
	if _, err := api.GetUserGroupsContext(ctx); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

func TestLatency(t *testing.T) {
	s, api := newFake(t, seeded())
	s.SetLatency("auth.test", 150*time.Millisecond)
	start := time.Now()
	if _, err := api.AuthTestContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("auth.test answered after %s, want at least 150ms", d)
	}
	// Other methods are not delayed (auth.test now takes an hour; users.info
	// must answer long before), and a caller's deadline cuts the wait.
	s.SetLatency("auth.test", time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := api.GetUserInfoContext(ctx, "U0ANA"); err != nil {
		t.Errorf("users.info while auth.test is delayed: %v", err)
	}
	s.SetLatency("", time.Hour)
	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := api.GetUserInfoContext(ctx, "U0ANA"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("call with an hour of latency: %v, want the deadline", err)
	}
}
