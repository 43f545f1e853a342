package commands_test

import (
	"strings"
	"testing"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/test/redaction"
)

// TestRedactCorpus: in every realistic paste, every form of every secret
// is gone after Redact, which reports that it found one; a paste without
// a secret comes through unchanged.
func TestRedactCorpus(t *testing.T) {
	corpus := redaction.Corpus()
	if len(corpus) < 40 {
		t.Fatalf("the corpus has %d pastes; it needs at least 40", len(corpus))
	}
	for _, p := range corpus {
		t.Run(p.Name, func(t *testing.T) {
			got, found := commands.Redact(p.Text)
			if found != (len(p.Secrets) > 0) {
				t.Errorf("Redact reported found=%v for a paste with %d secrets:\n%s", found, len(p.Secrets), got)
			}
			if len(p.Secrets) == 0 && got != p.Text {
				t.Errorf("a paste without a secret changed:\n%s\n→\n%s", p.Text, got)
			}
			for _, s := range p.Secrets {
				for _, form := range redaction.Forms(s) {
					if strings.Contains(got, form) {
						t.Errorf("a secret is left (as %q) in:\n%s", form, got)
					}
				}
			}
		})
	}
}
