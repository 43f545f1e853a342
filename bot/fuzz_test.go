package bot

import (
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzChatEvent decodes arbitrary event bodies as the Chat endpoint does
// and reads their command line: nothing panics, and a slash command is
// never part of what is read.
func FuzzChatEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"MESSAGE","message":{"text":"/keyleak status","argumentText":" status","slashCommand":{"commandId":"1"},"annotations":[{"type":"SLASH_COMMAND","startIndex":0,"length":8}]}}`,
		`{"type":"MESSAGE","message":{"text":"/deactivate --dry-run","slashCommand":{"commandId":"2"},"annotations":[{"type":"SLASH_COMMAND","startIndex":0,"length":11}]}}`,
		`{"type":"APP_COMMAND","appCommandMetadata":{"appCommandId":1}}`,
		`{"type":"MESSAGE","message":{"text":"😀/keyleak x","slashCommand":{"commandId":"1"},"annotations":[{"type":"SLASH_COMMAND","startIndex":2,"length":8}]}}`,
		`{"type":"MESSAGE","message":{"text":"x","annotations":[{"type":"SLASH_COMMAND","startIndex":-3,"length":99}]}}`,
		`{"type":"CARD_CLICKED","common":{"invokedFunction":"approve","parameters":{"args":"KL-2026-0001-A1"}}}`,
		`{"chat":{"messagePayload":{}}}`,
		`{"type":"MESSAGE","message":{"slashCommand":{"commandId":"99"}}}`,
	} {
		f.Add([]byte(s))
	}
	c := &Chat{o: ChatOptions{Commands: map[int64]string{1: UmbrellaCommand, 2: "deactivate"}}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ev chatEvent
		if json.Unmarshal(body, &ev) != nil {
			return
		}
		line, err := c.commandLine(ev.DeprecatedEvent)
		if err != nil {
			return
		}
		if utf8.ValidString(line) && strings.HasPrefix(line, "/keyleak") && ev.Message != nil && ev.Message.SlashCommand != nil {
			for _, a := range ev.Message.Annotations {
				if a.Type == "SLASH_COMMAND" && a.StartIndex == 0 && a.Length > 0 {
					t.Fatalf("the slash command was kept: %q from %s", line, body)
				}
			}
		}
		if ev.Message != nil {
			_ = stripSlashCommand(ev.Message)
		}
	})
}

// FuzzChatKeySets parses arbitrary key documents in both formats: nothing
// panics, and every key returned is one keyleak accepts.
func FuzzChatKeySets(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kid":"a","kty":"RSA","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"a":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}`))
	f.Add([]byte(`{"keys":[{"kid":"","kty":"EC"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func([]byte) (map[string]*rsa.PublicKey, error){parseJWKS, parseX509Map} {
			keys, err := parse(body)
			if err != nil {
				continue
			}
			for kid, k := range keys {
				if k == nil || checkRSAKey(k) != nil {
					t.Fatalf("key %q returned but not acceptable", kid)
				}
			}
		}
	})
}

// FuzzMaxAge: whatever Cache-Control says, the keys are kept for a
// positive time no longer than the cap.
func FuzzMaxAge(f *testing.F) {
	for _, s := range []string{"max-age=300", "public, max-age=19045, must-revalidate", "max-age=0", "max-age=-5",
		"max-age=99999999999999999999", "max-age=9223372037", `max-age="60"`, "no-cache", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if d := maxAge(header); d <= 0 || d > chatKeysMaxTTL {
			t.Fatalf("maxAge(%q) = %s, want in (0, %s]", header, d, chatKeysMaxTTL)
		}
	})
}
