package commands

import (
	"errors"
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
