package deploy

import (
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/keyleak/keyleak/bot"
)

// slackManifest is the part of Slack's app manifest schema keyleak uses;
// decoding is strict, so a misspelt or misplaced key fails.
type slackManifest struct {
	Metadata struct {
		MajorVersion int `json:"major_version"`
		MinorVersion int `json:"minor_version"`
	} `json:"_metadata"`
	DisplayInformation struct {
		Name            string `json:"name"`
		Description     string `json:"description"`
		LongDescription string `json:"long_description"`
		BackgroundColor string `json:"background_color"`
	} `json:"display_information"`
	Features struct {
		BotUser struct {
			DisplayName  string `json:"display_name"`
			AlwaysOnline bool   `json:"always_online"`
		} `json:"bot_user"`
		SlashCommands []struct {
			Command      string `json:"command"`
			URL          string `json:"url"`
			Description  string `json:"description"`
			UsageHint    string `json:"usage_hint"`
			ShouldEscape bool   `json:"should_escape"`
		} `json:"slash_commands"`
	} `json:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot []string `json:"bot"`
		} `json:"scopes"`
	} `json:"oauth_config"`
	Settings struct {
		OrgDeployEnabled     bool `json:"org_deploy_enabled"`
		SocketModeEnabled    bool `json:"socket_mode_enabled"`
		TokenRotationEnabled bool `json:"token_rotation_enabled"`
	} `json:"settings"`
}

// wantSlackScopes are the bot scopes of keyleak's Slack front end, as
// keyleak doctor checks them: the slash command, posting the page,
// finding it again in the channel's history, resolving the on-call user
// group, and mapping the reporter to an email.
var wantSlackScopes = slices.Sorted(slices.Values(bot.SlackScopes))

func TestSlackAppManifest(t *testing.T) {
	var m slackManifest
	if err := yaml.UnmarshalStrict(readRepoFile(t, "deploy/slack-app-manifest.yaml"), &m); err != nil {
		t.Fatalf("slack-app-manifest.yaml: %v", err)
	}
	// Slack's limits: app name ≤ 35 characters, description ≤ 140,
	// long description 175 to 4000, bot display name ≤ 80.
	di := m.DisplayInformation
	if n := len([]rune(di.Name)); n == 0 || n > 35 {
		t.Errorf("display name %q has %d characters, want 1 to 35", di.Name, n)
	}
	if n := len([]rune(di.Description)); n == 0 || n > 140 {
		t.Errorf("description has %d characters, want 1 to 140", n)
	}
	if n := len([]rune(di.LongDescription)); n < 175 || n > 4000 {
		t.Errorf("long description has %d characters, want 175 to 4000", n)
	}
	if n := len([]rune(m.Features.BotUser.DisplayName)); n == 0 || n > 80 {
		t.Errorf("bot display name has %d characters, want 1 to 80", n)
	}
	if len(m.Features.SlashCommands) != 1 {
		t.Fatalf("%d slash commands, want only /keyleak", len(m.Features.SlashCommands))
	}
	c := m.Features.SlashCommands[0]
	if c.Command != "/keyleak" || c.URL != "https://keyleak.example.com/slack/commands" {
		t.Errorf("slash command %s → %s, want /keyleak → https://keyleak.example.com/slack/commands", c.Command, c.URL)
	}
	if c.Description == "" || c.UsageHint == "" {
		t.Error("the slash command has no description or usage hint")
	}
	got := slices.Sorted(slices.Values(m.OAuthConfig.Scopes.Bot))
	if !slices.Equal(got, wantSlackScopes) {
		t.Errorf("bot scopes = %q, want %q", got, wantSlackScopes)
	}
	if m.Settings.SocketModeEnabled || m.Settings.OrgDeployEnabled {
		t.Errorf("settings = %+v, want HTTP delivery (no Socket Mode) and no org-wide deployment", m.Settings)
	}
}
