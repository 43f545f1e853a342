package commands

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "empty", text: "", want: nil},
		{name: "only spaces", text: " \t\n ", want: nil},
		{name: "words", text: "  deactivate  AKIAIOSFODNN7EXAMPLE ", want: []string{"deactivate", "AKIAIOSFODNN7EXAMPLE"}},
		{name: "double quotes", text: `note "key found in a public repo"`, want: []string{"note", "key found in a public repo"}},
		{name: "single quotes", text: `assign lead 'Ana María'`, want: []string{"assign", "lead", "Ana María"}},
		{name: "escapes inside double quotes", text: `note "say \"hi\" \\ ok"`, want: []string{"note", `say "hi" \ ok`}},
		{name: "other backslashes stay", text: `note "C:\temp" C:\x`, want: []string{"note", `C:\temp`, `C:\x`}},
		{name: "nothing special in single quotes", text: `note 'a \" b'`, want: []string{"note", `a \" b`}},
		{name: "apostrophe inside a word", text: "note the attacker's IP", want: []string{"note", "the", "attacker's", "IP"}},
		{name: "double quote inside a word", text: `note 5"`, want: []string{"note", `5"`}},
		{name: "smart double quotes", text: "note “two words”", want: []string{"note", "two words"}},
		{name: "smart single quotes", text: "note ‘two words’", want: []string{"note", "two words"}},
		{name: "empty arguments", text: `a "" ''`, want: []string{"a", "", ""}},
		{name: "text after closing quote joins the argument", text: `"a b"c d`, want: []string{"a bc", "d"}},
		{name: "no-break space separates", text: "status\u00a0INC-1", want: []string{"status", "INC-1"}},
		{name: "newlines separate", text: "cleanup\ni-0abc\r\ni-0def", want: []string{"cleanup", "i-0abc", "i-0def"}},
		{name: "quoted spaces and newline kept", text: "note \"line one\nline  two\"", want: []string{"note", "line one\nline  two"}},
		{name: "max args", text: strings.Repeat("x ", MaxArgs), want: slices.Repeat([]string{"x"}, MaxArgs)},
		{name: "max length", text: strings.Repeat("y", MaxTextBytes), want: []string{strings.Repeat("y", MaxTextBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tokenize(tt.text)
			if err != nil {
				t.Fatalf("Tokenize(%q) error: %v", tt.text, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestTokenizeErrors(t *testing.T) {
	tests := []struct {
		name        string
		text        string
		want        error
		wantMessage string
	}{
		{name: "unterminated double quote", text: `note "abc`, want: ErrUnterminatedQuote, wantMessage: "unterminated quote: the double quote opened at character 6 is never closed"},
		{name: "unterminated single quote", text: `a 'b c`, want: ErrUnterminatedQuote, wantMessage: "unterminated quote: the single quote opened at character 3 is never closed"},
		{name: "position counts characters not bytes", text: `é “b`, want: ErrUnterminatedQuote, wantMessage: "unterminated quote: the double quote opened at character 3 is never closed"},
		{name: "smart quote needs its own closing quote", text: `“b"`, want: ErrUnterminatedQuote},
		{name: "escaped quote does not close", text: `"b\"`, want: ErrUnterminatedQuote},
		{name: "too long", text: strings.Repeat("y", MaxTextBytes+1), want: ErrTextTooLong, wantMessage: "command text is too long: 4097 bytes, the limit is 4096"},
		{name: "too many arguments", text: strings.Repeat("x ", MaxArgs+1), want: ErrTooManyArgs, wantMessage: "too many arguments: more than 64"},
		{name: "invalid UTF-8", text: "note \xff", want: ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tokenize(tt.text)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Tokenize(%q) = %q, %v; want error %v", tt.text, got, err, tt.want)
			}
			if tt.wantMessage != "" && err.Error() != tt.wantMessage {
				t.Errorf("error message = %q, want %q", err.Error(), tt.wantMessage)
			}
		})
	}
}

func TestTokenizeErrorDoesNotQuoteText(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	_, err := Tokenize(`note "` + secret)
	if err == nil {
		t.Fatal("Tokenize accepted an unterminated quote")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "wJalr") {
		t.Errorf("error %q repeats the text", err)
	}
}

// Secrets that appear in AWS documentation as examples.
const (
	docSecretKey   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	docSecretKey2  = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	docAccessKeyID = "AKIAIOSFODNN7EXAMPLE"
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
		{name: "40-character run in a URL", text: "https://example.com/d/Xk9vQ2mP7rT4wL1zB8nC5yH3jD6fG0sA2eR7uI9o/edit", want: nil},
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

// quoteArg quotes an argument so that Tokenize gives it back unchanged.
func quoteArg(arg string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(arg) + `"`
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{
		"", "deactivate AKIAIOSFODNN7EXAMPLE", `note "a b" 'c d'`, `"unterminated`, `'x`, `a"b c'd`,
		"“smart” ‘quotes’", `"\"\\"`, "\u00a0x\u2003y", "\xff", `""''`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		args, err := Tokenize(text)
		if err != nil {
			if !errors.Is(err, ErrUnterminatedQuote) && !errors.Is(err, ErrTextTooLong) &&
				!errors.Is(err, ErrTooManyArgs) && !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("unexpected error %v", err)
			}
			if strings.Contains(err.Error(), text) && text != "" {
				t.Fatalf("error %q repeats the text %q", err, text)
			}
			return
		}
		if len(args) > MaxArgs {
			t.Fatalf("%d arguments, limit %d", len(args), MaxArgs)
		}
		total := 0
		for _, a := range args {
			if !utf8.ValidString(a) {
				t.Fatalf("argument %q is not valid UTF-8", a)
			}
			total += len(a)
		}
		if total > len(text) {
			t.Fatalf("arguments hold %d bytes, more than the %d of the text", total, len(text))
		}
		// Quoting every argument and tokenizing again gives them back.
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = quoteArg(a)
		}
		joined := strings.Join(quoted, " ")
		if len(joined) > MaxTextBytes {
			return
		}
		again, err := Tokenize(joined)
		if err != nil {
			t.Fatalf("Tokenize(%q) of quoted arguments: %v", joined, err)
		}
		if !slices.Equal(again, args) {
			t.Fatalf("round trip: got %q, want %q", again, args)
		}
	})
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
