package application

import (
	"testing"

	"github.com/idtenant/idtenant/controllers/serving"
)

// TestGeneratedSecretsPass: whatever the operator generates, it accepts.
func TestGeneratedSecretsPass(t *testing.T) {
	for range 20000 {
		s, err := newClientSecret()
		if err != nil {
			t.Fatal(err)
		}
		if why := serving.WeakClientSecret([]byte(s)); why != "" || len(s) != 43 {
			t.Fatalf("generated secret refused (%d chars): %s", len(s), why)
		}
	}
}
