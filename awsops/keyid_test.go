package awsops

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAccessKeyID(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     string // the parsed ID, when wantErr is nil
		wantKind KeyKind
		wantErr  error
		wantMsg  string // a substring of the message, when wantErr is set
	}{
		{name: "long-term", in: "AKIAIOSFODNN7EXAMPLE", want: "AKIAIOSFODNN7EXAMPLE", wantKind: LongTermKey},
		{name: "temporary", in: "ASIAQNZGKIQY56JQ7WML", want: "ASIAQNZGKIQY56JQ7WML", wantKind: TemporaryKey},
		{name: "trimmed", in: " \tAKIARZPUZDIKGB2VALC4\n", want: "AKIARZPUZDIKGB2VALC4", wantKind: LongTermKey},
		{name: "empty", in: "   ", wantErr: ErrKeyIDEmpty, wantMsg: "empty: an access key ID has 20 characters"},
		{name: "too short", in: "AKIAIOSFODNN7EXAMPL", wantErr: ErrKeyIDLength, wantMsg: "too short: 19 characters, an access key ID has 20"},
		{name: "one character", in: "A", wantErr: ErrKeyIDLength, wantMsg: "too short: 1 character, an access key ID has 20"},
		{name: "too long", in: "AKIAIOSFODNN7EXAMPLEE", wantErr: ErrKeyIDLength, wantMsg: "too long: 21 characters, an access key ID has 20"},
		{name: "secret pasted", in: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", wantErr: ErrKeyIDLength, wantMsg: "too long: 40 characters"},
		{name: "lower case", in: "akiaiosfodnn7example", wantErr: ErrKeyIDLowerCase, wantMsg: "access key IDs are upper case: did you mean AKIAIOSFODNN7EXAMPLE?"},
		{name: "mixed case", in: "AKIAIOSFODNN7EXAMPLe", wantErr: ErrKeyIDLowerCase, wantMsg: "did you mean AKIAIOSFODNN7EXAMPLE?"},
		{name: "letter o among bad", in: "AKIAIOoFODNN7EXAMP0E", wantErr: ErrKeyIDCharacter, wantMsg: "character 'o' at position 7 is not allowed"},
		{name: "digit zero", in: "AKIAIOSFODNN7EXAMP0E", wantErr: ErrKeyIDCharacter, wantMsg: "character '0' at position 19 is not allowed: access key IDs use only A–Z and 2–7"},
		{name: "digit one", in: "AKIA1OSFODNN7EXAMPLE", wantErr: ErrKeyIDCharacter, wantMsg: "character '1' at position 5"},
		{name: "digit eight", in: "ASIA8OSFODNN7EXAMPLE", wantErr: ErrKeyIDCharacter, wantMsg: "character '8' at position 5"},
		{name: "inner space", in: "AKIAIOSFOD NN7EXAMPL", wantErr: ErrKeyIDCharacter, wantMsg: "character ' ' at position 11"},
		{name: "non-ASCII", in: "AKIAIOSFODNN7EXAMPLÉ", wantErr: ErrKeyIDCharacter, wantMsg: "character 'É' at position 20"},
		{name: "zero-width space", in: "AKIAIOSFODNN7EXAMPL\u200b", wantErr: ErrKeyIDCharacter, wantMsg: "at position 20"},
		{name: "unknown prefix", in: "AKIBIOSFODNN7EXAMPLE", wantErr: ErrKeyIDPrefix, wantMsg: "wrong prefix: an access key ID starts with AKIA (long-term) or ASIA (temporary)"},
		{name: "user ID", in: "AIDAJQABLZS4A3QDU576Q", wantErr: ErrNotAccessKeyID, wantMsg: "that is a user ID, not an access key ID"},
		{name: "user ID lower case", in: "aidajqablzs4a3qdu576q", wantErr: ErrNotAccessKeyID, wantMsg: "that is a user ID, not an access key ID"},
		{name: "role ID", in: "AROADBQP57FF2AEXAMPLE", wantErr: ErrNotAccessKeyID, wantMsg: "that is a role ID, not an access key ID"},
		{name: "role ID with session", in: "AROADBQP57FF2AEXAMPLE:ci-session", wantErr: ErrNotAccessKeyID, wantMsg: "that is a role ID"},
		{name: "group ID", in: "AGPA2UVEXAMPLE2222222", wantErr: ErrNotAccessKeyID, wantMsg: "that is a user group ID"},
		{name: "instance profile ID", in: "AIPAJ2YV6EXAMPLE22222", wantErr: ErrNotAccessKeyID, wantMsg: "that is an EC2 instance profile ID"},
		{name: "managed policy ID", in: "ANPAJ2UCCR6DPCEXAMPLE", wantErr: ErrNotAccessKeyID, wantMsg: "that is a managed policy ID"},
		{name: "policy version ID", in: "ANVAJ2UCCR6DPCEXAMPLE", wantErr: ErrNotAccessKeyID, wantMsg: "that is a managed policy version ID"},
		{name: "public key ID", in: "APKAEIBAERJR2EXAMPLE", wantErr: ErrNotAccessKeyID, wantMsg: "that is a public key ID"},
		{name: "certificate ID", in: "ASCACKCEVSQ6C2EXAMPLE", wantErr: ErrNotAccessKeyID, wantMsg: "that is a certificate ID"},
		{name: "bearer token ID", in: "ABIAEXAMPLE2222222222", wantErr: ErrNotAccessKeyID, wantMsg: "that is an STS service bearer token ID"},
		{name: "context credential ID", in: "ACCAEXAMPLE222222222", wantErr: ErrNotAccessKeyID, wantMsg: "that is a context-specific credential ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAccessKeyID(tt.in)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseAccessKeyID(%q) error = %v, want nil", tt.in, err)
				}
				if got.String() != tt.want || got.Kind() != tt.wantKind {
					t.Errorf("ParseAccessKeyID(%q) = %s (%v), want %s (%v)", tt.in, got, got.Kind(), tt.want, tt.wantKind)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseAccessKeyID(%q) error = %v, want errors.Is %v", tt.in, err, tt.wantErr)
			}
			var inErr *InputError
			if !errors.As(err, &inErr) {
				t.Fatalf("ParseAccessKeyID(%q) error %T is not an *InputError", tt.in, err)
			}
			if !strings.Contains(inErr.Message, tt.wantMsg) {
				t.Errorf("ParseAccessKeyID(%q) message = %q, want it to contain %q", tt.in, inErr.Message, tt.wantMsg)
			}
			if !got.IsZero() {
				t.Errorf("ParseAccessKeyID(%q) returned %q with an error", tt.in, got)
			}
		})
	}
}

func TestInputErrorDoesNotEchoSecret(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	inputs := []string{secret, secret[:20], strings.ToUpper(secret[:20]), "AKIA" + secret[:16]}
	for _, in := range inputs {
		_, err := ParseAccessKeyID(in)
		if err == nil {
			t.Fatalf("ParseAccessKeyID(%q) accepted a secret", in)
		}
		for i := 0; i+4 <= len(secret); i++ {
			if frag := secret[i : i+4]; strings.Contains(err.Error(), frag) && !strings.Contains("AKIA", frag) {
				t.Errorf("error for %q repeats %q of the secret: %v", in, frag, err)
			}
		}
	}
}

func TestKeyIDAccount(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		want   string
		wantOK bool
	}{
		{name: "published temporary key", key: "ASIAQNZGKIQY56JQ7WML", want: "029608264753", wantOK: true},
		{name: "second published key", key: "ASIAY34FZKBOKMUTVV7A", want: "609629065308", wantOK: true},
		{name: "moto default account", key: "AKIARZPUZDIKGB2VALC4", want: "123456789012", wantOK: true},
		{name: "account zero", key: "ASIAQAAAAAAAGMKEM7X5", want: "000000000000", wantOK: true},
		{name: "old-style key", key: "AKIAIOSFODNN7EXAMPLE", wantOK: false},
		{name: "old-style J key", key: "AKIAJ7777777777EXAMP", wantOK: false},
		{name: "beyond twelve digits", key: "AKIA777777777EXAMPLE", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseAccessKeyID(tt.key)
			if err != nil {
				t.Fatalf("ParseAccessKeyID(%q): %v", tt.key, err)
			}
			got, ok := k.Account()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Account() = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if got, ok := (KeyID{}).Account(); ok || got != "" {
		t.Errorf("zero KeyID Account() = %q, %v; want \"\", false", got, ok)
	}
}

func TestKeyKindString(t *testing.T) {
	tests := []struct {
		kind KeyKind
		want string
	}{
		{LongTermKey, "long-term"},
		{TemporaryKey, "temporary"},
		{0, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("KeyKind(%d).String() = %q, want %q", tt.kind, got, tt.want)
		}
	}
}

func FuzzParseAccessKeyID(f *testing.F) {
	for _, s := range []string{
		"AKIAIOSFODNN7EXAMPLE", "ASIAQNZGKIQY56JQ7WML", "akiaiosfodnn7example", "AIDAJQABLZS4A3QDU576Q",
		"", " ", "AKIA", "AKIAIOSFODNN7EXAMPL\u200b", "\xff\xfeAKIAIOSFODNN7EXAMP", "ASIA7777777777777777",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseAccessKeyID(s)
		if err != nil {
			var inErr *InputError
			if !errors.As(err, &inErr) || inErr.Message == "" || inErr.Err == nil {
				t.Fatalf("ParseAccessKeyID(%q) error %v is not a complete *InputError", s, err)
			}
			return
		}
		id := k.String()
		if len(id) != 20 || id != strings.TrimSpace(s) {
			t.Fatalf("ParseAccessKeyID(%q) = %q: not the trimmed 20-character input", s, id)
		}
		again, err := ParseAccessKeyID(id)
		if err != nil || again != k {
			t.Fatalf("round trip of %q: %v, %v", id, again, err)
		}
		if k.Kind() != LongTermKey && k.Kind() != TemporaryKey {
			t.Fatalf("%q has kind %v", id, k.Kind())
		}
		if acct, ok := k.Account(); ok {
			if len(acct) != 12 || strings.Trim(acct, "0123456789") != "" {
				t.Fatalf("Account() of %q = %q, not 12 digits", id, acct)
			}
		}
	})
}
