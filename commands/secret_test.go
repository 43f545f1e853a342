package commands

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// fakeSessionToken builds a token shaped like an STS session token: the
// given header, then base64 filler, n characters in all.
func fakeSessionToken(tb testing.TB, header string, n int) string {
	tb.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	b := []byte(header)
	for len(b) < n {
		b = append(b, alphabet[rng.IntN(len(alphabet))])
	}
	return string(b)
}

func TestFindSecrets(t *testing.T) {
	token := fakeSessionToken(t, "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH", 1100)
	oldToken := fakeSessionToken(t, "FwoGZXIvYXdzEBYaDH", 360) + "=="
	oldestToken := fakeSessionToken(t, "AQoDYXdzEJr", 300)
	presigned := "https://bucket.s3.amazonaws.com/backup.tar?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token=" +
		strings.ReplaceAll(strings.ReplaceAll(token, "/", "%2F"), "+", "%2B") + "&X-Amz-Signature=abc123"
	tests := []struct {
		name string
		text string
		want []string // the secrets found, in order
	}{
		{name: "documented example key", text: docSecretKey, want: []string{docSecretKey}},
		{name: "second documented key", text: "key: " + docSecretKey2 + ".", want: []string{docSecretKey2}},
		{name: "credentials file", text: "aws_access_key_id = " + docAccessKeyID + "\naws_secret_access_key = " + docSecretKey, want: []string{docSecretKey}},
		{name: "environment variable", text: "AWS_SECRET_ACCESS_KEY=" + docSecretKey, want: []string{docSecretKey}},
		{name: "JSON", text: `{"AccessKeyId":"` + docAccessKeyID + `","SecretAccessKey":"` + docSecretKey + `"}`, want: []string{docSecretKey}},
		{name: "chat formatting", text: "`" + docSecretKey + "` and *" + docSecretKey2 + "*", want: []string{docSecretKey, docSecretKey2}},
		{name: "current session token", text: "token " + token, want: []string{token}},
		{name: "older session token with padding", text: "AWS_SESSION_TOKEN=" + oldToken, want: []string{oldToken}},
		{name: "oldest session token", text: oldestToken, want: []string{oldestToken}},
		{name: "session token percent-escaped in a presigned URL", text: presigned, want: []string{presigned[strings.Index(presigned, "IQoJ"):strings.Index(presigned, "&X-Amz-Signature")]}},
		{name: "key and token together", text: docSecretKey + " " + token, want: []string{docSecretKey, token}},

		{name: "access key ID", text: "/keyleak " + docAccessKeyID + " found on GitHub", want: nil},
		{name: "two access key IDs glued", text: docAccessKeyID + docAccessKeyID, want: nil},
		{name: "git SHA-1", text: "commit da39a3ee5e6b4b0d3255bfef95601890afd80709", want: nil},
		{name: "upper-case SHA-1", text: "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", want: nil},
		{name: "SHA-256", text: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want: nil},
		{name: "base64 of short text", text: "aGVsbG8gd29ybGQ=", want: nil},
		{name: "base64 of 30 bytes of text", text: "a2V5bGVhayB0ZXN0IHRleHQgMzAgYnl0ZXMgbG9u", want: nil},
		{name: "40-character path", text: "see /Users/alice/Library/Caches/gobuild/ab12", want: nil},
		// Fail closed: a URL segment with a key's shape is redacted.
		{name: "40-character run in a URL", text: "https://example.com/d/Xk9vQ2mP7rT4wL1zB8nC5yH3jD6fG0sA2eR7uI9o/edit", want: []string{"Xk9vQ2mP7rT4wL1zB8nC5yH3jD6fG0sA2eR7uI9o"}},
		{name: "long CamelCase word", text: "AbstractSingletonProxyFactoryBeanWrapper", want: nil},
		{name: "39 characters", text: docSecretKey[1:], want: nil},
		{name: "41 characters", text: docSecretKey + "Q", want: nil},
		{name: "UUID", text: "incident 3f2504e0-4f89-41d3-9a0c-0305e82c3301", want: nil},
		{name: "long base64 that is not a token", text: fakeSessionToken(t, "TUlJRXZRSUJBREFOQmdr", 400), want: nil},
		{name: "token header too short", text: "IQoJb3JpZ2luX2VjEJr", want: nil},
		{name: "plain sentence", text: "the attacker assumed eks-node-role at 11:02 and listed backups-bucket", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range FindSecrets(tt.text) {
				got = append(got, tt.text[s.Start:s.End])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("FindSecrets found %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindSecretsKinds(t *testing.T) {
	token := fakeSessionToken(t, "IQoJb3JpZ2luX2VjEJr", 500)
	got := FindSecrets(docSecretKey + " " + token)
	want := []Span{
		{Start: 0, End: 40, Kind: KindSecretAccessKey},
		{Start: 41, End: 541, Kind: KindSessionToken},
	}
	if !slices.Equal(got, want) {
		t.Errorf("FindSecrets = %+v, want %+v", got, want)
	}
}

// TestFindSecretsRandomKeys checks detection on keys drawn as AWS draws them
// (40 characters of [A-Za-z0-9/+]). The documented miss rate is about one in
// 4000, so 2000 keys from a fixed seed must all but a few be found.
func TestFindSecretsRandomKeys(t *testing.T) {
	const (
		alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		n        = 2000
	)
	rng := rand.New(rand.NewPCG(1, 2))
	missed := 0
	for range n {
		key := make([]byte, 40)
		for i := range key {
			key[i] = alphabet[rng.IntN(len(alphabet))]
		}
		text := "secret " + string(key) + " end"
		if spans := FindSecrets(text); len(spans) != 1 || text[spans[0].Start:spans[0].End] != string(key) {
			missed++
		}
	}
	if missed > 3 {
		t.Errorf("missed %d of %d random keys, want at most 3", missed, n)
	}
}

func TestRedact(t *testing.T) {
	token := fakeSessionToken(t, "IQoJb3JpZ2luX2VjEJr", 400)
	tests := []struct {
		name      string
		text      string
		want      string
		wantFound bool
	}{
		{name: "no secret", text: "/keyleak " + docAccessKeyID + " leaked in CI logs", want: "/keyleak " + docAccessKeyID + " leaked in CI logs"},
		{name: "key", text: docAccessKeyID + " " + docSecretKey, want: docAccessKeyID + " " + Redaction, wantFound: true},
		{name: "keeps the variable name", text: "AWS_SECRET_ACCESS_KEY=" + docSecretKey + "\n", want: "AWS_SECRET_ACCESS_KEY=" + Redaction + "\n", wantFound: true},
		{name: "token", text: "token=" + token + "== ok", want: "token=" + Redaction + " ok", wantFound: true},
		{name: "copy inside a longer word", text: docSecretKey + " x" + docSecretKey + "y", want: Redaction + " " + Redaction, wantFound: true},
		{name: "two keys", text: docSecretKey + "," + docSecretKey2, want: Redaction + "," + Redaction, wantFound: true},
		{name: "empty", text: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := Redact(tt.text)
			if got != tt.want || found != tt.wantFound {
				t.Errorf("Redact = %q, %v; want %q, %v", got, found, tt.want, tt.wantFound)
			}
		})
	}
}

func FuzzRedact(f *testing.F) {
	token := fakeSessionToken(f, "IQoJb3JpZ2luX2VjEJr", 200)
	for _, s := range []string{
		"", docSecretKey, "x" + docSecretKey + "y " + docSecretKey, "KEY=" + docSecretKey2, token,
		"https://a/b?t=" + token + "/" + docSecretKey, docSecretKey + docSecretKey2,
		"da39a3ee5e6b4b0d3255bfef95601890afd80709", "/Users/alice/Library/Caches/gobuild/ab12",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		spans := FindSecrets(text)
		for i, s := range spans {
			if s.Start < 0 || s.End > len(text) || s.Start >= s.End {
				t.Fatalf("span %+v outside text of %d bytes", s, len(text))
			}
			if i > 0 && s.Start < spans[i-1].End {
				t.Fatalf("spans overlap or are out of order: %+v", spans)
			}
		}
		got, found := Redact(text)
		if found != (len(spans) > 0) {
			t.Fatalf("Redact found = %v with %d spans", found, len(spans))
		}
		if !found && got != text {
			t.Fatalf("Redact changed text without a secret: %q -> %q", text, got)
		}
		for _, s := range spans {
			if secret := text[s.Start:s.End]; strings.Contains(got, secret) {
				t.Fatalf("redacted text %q still holds %q", got, secret)
			}
		}
		if left := FindSecrets(got); len(left) > 0 {
			t.Fatalf("redacted text %q still has secrets at %+v", got, left)
		}
	})
}

// adversarialTexts are large inputs that would take quadratic time if
// Redact looked for each secret separately.
func adversarialTexts(tb testing.TB, size int) map[string]string {
	tb.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	rng := rand.New(rand.NewPCG(3, 4))
	key := func() string {
		b := make([]byte, 40)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	var distinct strings.Builder
	for distinct.Len() < size {
		distinct.WriteString(key() + "-")
	}
	k := key()
	return map[string]string{
		"distinct keys":   distinct.String(),
		"same key":        strings.Repeat(k+" ", size/41),
		"embedded copies": k + " " + strings.Repeat("x"+k+"y-", size/43),
		"one long URL":    "https://example.com/" + distinct.String(),
	}
}

// TestRedactLargeInputs checks what is left of large adversarial inputs;
// how fast Redact goes through them is BenchmarkRedact's to measure.
func TestRedactLargeInputs(t *testing.T) {
	for name, text := range adversarialTexts(t, 256<<10) {
		t.Run(name, func(t *testing.T) {
			got, _ := Redact(text)
			if left := FindSecrets(got); len(left) > 0 {
				t.Errorf("%d secrets left", len(left))
			}
		})
	}
}

func BenchmarkRedact(b *testing.B) {
	texts := adversarialTexts(b, 1<<20)
	texts["4 KiB message"] = strings.Repeat("note the key leaked in CI; ", 120) + docSecretKey
	for name, text := range texts {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				Redact(text)
			}
		})
	}
}
