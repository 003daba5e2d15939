package controllers_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// TestCorruptedShardIsRepaired: a configuration too large for one Secret
// is split into shards; a shard edited by hand is found and rewritten, so
// replicas are not left refusing every new generation.
func TestCorruptedShardIsRepaired(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	create(t, validTenant(ns))
	// ~2 MB of incompressible redirect URIs: well over one 900 KiB shard.
	for i := 0; i < 20; i++ {
		app := validApp(ns, v1alpha1.SinglePage)
		app.Name = fmt.Sprintf("spa-%d", i)
		app.Spec.RedirectURIs = nil
		for j := 0; j < 50; j++ {
			noise := make([]byte, 1470)
			_, _ = rand.Read(noise)
			app.Spec.RedirectURIs = append(app.Spec.RedirectURIs,
				v1alpha1.RedirectURI("https://spa.acme.example/"+base64.RawURLEncoding.EncodeToString(noise)))
		}
		create(t, app)
	}
	tn := &v1alpha1.Tenant{}
	var generation int64
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme"}, tn)).To(Succeed())
		g.Expect(tn.Status.Issuer).NotTo(BeNil())
		g.Expect(len(tn.Status.Issuer.ConfigSecrets)).To(BeNumerically(">=", 2), "the configuration is sharded")
		g.Expect(tn.Status.Issuer.ServedApplications).To(BeEquivalentTo(20))
		generation = tn.Status.Issuer.ConfigGeneration
	})

	shard := &corev1.Secret{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tn.Status.Issuer.ConfigSecrets[1]}, shard)).To(Succeed())
	shard.Data[issuerconfig.DataKey][100] ^= 0xff
	NewWithT(t).Expect(k8s.Update(ctx, shard)).To(Succeed())

	eventually(t, func(g Gomega) {
		primary := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: issuerconfig.SecretName("acme")}, primary)).To(Succeed())
		intact, err := issuerconfig.Intact(primary, func(name string) (*corev1.Secret, error) {
			s := &corev1.Secret{}
			return s, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)
		})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(intact).To(BeTrue(), "the shards match the manifest again")
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme"}, tn)).To(Succeed())
		g.Expect(tn.Status.Issuer.ConfigGeneration).To(BeNumerically(">", generation), "rewritten as a new generation, which replicas load")
	})
}
