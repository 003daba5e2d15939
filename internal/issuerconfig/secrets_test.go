package issuerconfig

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

const aliceHash = "$2a$10$1Uhiau72Caah0gSrQWrNmO.8dvcKXOZNH3Fq9lROb4S26Z08V2RVy"

func document(generation int64, users []User) Document {
	return Document{APIVersion: APIVersion, Generation: generation, Users: users,
		Tenant: Object[v1alpha1.TenantSpec]{Name: "acme", Namespace: "identity", Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example"}}}
}

func smallDocument(generation int64) Document {
	return document(generation, []User{{Username: "alice@acme.test", PasswordHash: aliceHash}})
}

func byName(secrets []*corev1.Secret) func(string) (*corev1.Secret, error) {
	return func(name string) (*corev1.Secret, error) {
		for _, s := range secrets {
			if s.Name == name {
				return s, nil
			}
		}
		return nil, fmt.Errorf("secret %s not found", name)
	}
}

// TestShardingAndTornReads forces several shards with incompressible data
// and checks a half-written update is detected, not loaded.
func TestShardingAndTornReads(t *testing.T) {
	users := smallDocument(1).Users
	for i := 0; i < 3000; i++ {
		noise := make([]byte, 1024)
		_, _ = rand.Read(noise)
		users = append(users, User{Username: fmt.Sprintf("user%d-%x", i, noise), PasswordHash: aliceHash})
	}
	secrets, err := Secrets("acme", "identity", document(1, users))
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) < 3 {
		t.Fatalf("want several shards for ~3 MiB of compressed noise, got %d", len(secrets))
	}
	if secrets[1].Name != "acme-issuer-config-1" || secrets[0].Data[ManifestKey] == nil || secrets[1].Data[ManifestKey] != nil {
		t.Errorf("shard layout: %s, manifest on primary only", secrets[1].Name)
	}
	if _, err := ReadSecrets(secrets[0], byName(secrets)); err != nil {
		t.Fatalf("clean read: %v", err)
	}
	if ok, err := Intact(secrets[0], byName(secrets)); !ok || err != nil {
		t.Errorf("Intact of what was written: %v, %v", ok, err)
	}
	// A shard from another generation (update half written).
	users[len(users)/2].Username = "changed"
	next, _ := Secrets("acme", "identity", document(2, users))
	torn := []*corev1.Secret{secrets[0], next[1], secrets[2]}
	if len(secrets) > 3 {
		torn = append(torn, secrets[3:]...)
	}
	if _, err := ReadSecrets(secrets[0], byName(torn)); !errors.Is(err, ErrInconsistent) {
		t.Errorf("torn read: got %v, want ErrInconsistent", err)
	}
	if ok, err := Intact(secrets[0], byName(torn)); ok || err != nil {
		t.Errorf("Intact of a torn config: %v, %v; want false, nil", ok, err)
	}
	// A missing shard.
	if _, err := ReadSecrets(secrets[0], byName(secrets[:1])); err == nil || !strings.Contains(err.Error(), "acme-issuer-config-1") {
		t.Errorf("missing shard: %v", err)
	}
	notFound := func(name string) (*corev1.Secret, error) {
		return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
	}
	if ok, err := Intact(secrets[0], notFound); ok || err != nil {
		t.Errorf("Intact with a shard missing: %v, %v; want false, nil", ok, err)
	}
	unavailable := func(string) (*corev1.Secret, error) { return nil, apierrors.NewServiceUnavailable("etcd away") }
	if _, err := Intact(secrets[0], unavailable); err == nil || !strings.Contains(err.Error(), "etcd away") {
		t.Errorf("Intact when the API server fails: %v; want the error, not a verdict", err)
	}
	// A manifest naming some other Secret as a shard is refused unread.
	var m Manifest
	_ = json.Unmarshal(secrets[0].Data[ManifestKey], &m)
	m.Shards[1] = "someone-elses-secret"
	edited := secrets[0].DeepCopy()
	edited.Data[ManifestKey], _ = json.Marshal(m)
	if _, err := ReadSecrets(edited, byName(secrets)); err == nil || !strings.Contains(err.Error(), `"someone-elses-secret"`) {
		t.Errorf("foreign shard name: %v", err)
	}
}

func TestReadSecretsRejectsCorruption(t *testing.T) {
	secrets, _ := Secrets("acme", "identity", smallDocument(1))
	s := secrets[0].DeepCopy()
	s.Data[DataKey][10] ^= 0xff
	if _, err := ReadSecrets(s, byName(nil)); !errors.Is(err, ErrInconsistent) {
		t.Errorf("flipped byte: %v", err)
	}
	s = secrets[0].DeepCopy()
	s.Data[ManifestKey] = []byte("{")
	if _, err := ReadSecrets(s, byName(nil)); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("broken manifest: %v", err)
	}
}
