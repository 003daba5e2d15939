package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// TestKeyRotation moves the operator's clock through a rotation period:
// the successor key is published a day before it signs, new tokens then use
// it, and a token signed with the retired key keeps verifying until every
// token it can have signed has expired.
//
// It moves a shared clock, so it runs last and resets it.
func TestKeyRotation(t *testing.T) {
	s := newShop(t)
	defer clockOffset.Store(0)
	ctx := context.Background()
	g := NewWithT(t)
	kid := func(jwt string) string {
		hdr := strings.Split(jwt, ".")[0]
		return headerField(t, hdr, "kid")
	}
	verifies := func(jwt string) bool {
		p, err := oidc.NewProvider(ctx, s.issuer)
		must(t, err)
		var d struct {
			JWKS string `json:"jwks_uri"`
		}
		must(t, p.Claims(&d))
		_, err = oidc.NewRemoteKeySet(ctx, d.JWKS).VerifySignature(ctx, jwt)
		return err == nil
	}
	keysOf := func(g Gomega) map[string]string {
		tn := &v1alpha1.Tenant{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(s.tenant), tn)).To(Succeed())
		out := map[string]string{}
		for _, k := range tn.Status.Issuer.Keys {
			if k.Algorithm == v1alpha1.ES256 {
				out[k.ID] = k.Role
			}
		}
		return out
	}
	old, err := s.clientCredentials(t, s.bills.Spec.Audience) // ES256, 5h
	g.Expect(err).NotTo(HaveOccurred())
	oldKid := kid(old.AccessToken)

	// 89 days on (the period is 90 days): the successor is published.
	advance(s, 89*24*time.Hour+time.Minute)
	eventually(t, func(g Gomega) {
		k := keysOf(g)
		g.Expect(k).To(HaveLen(2))
		g.Expect(k[oldKid]).To(Equal("active"))
	})
	tok, err := s.clientCredentials(t, s.bills.Spec.Audience)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(kid(tok.AccessToken)).To(Equal(oldKid), "the successor does not sign before its day of publication")

	// 90 days: the successor signs; the old key retires but still verifies.
	advance(s, 90*24*time.Hour+2*time.Minute)
	var newKid string
	eventually(t, func(g Gomega) {
		k := keysOf(g)
		g.Expect(k[oldKid]).To(Equal("retiring"))
		tok, err := s.clientCredentials(t, s.bills.Spec.Audience)
		g.Expect(err).NotTo(HaveOccurred())
		newKid = kid(tok.AccessToken)
		g.Expect(newKid).NotTo(Equal(oldKid))
	})
	g.Expect(verifies(old.AccessToken)).To(BeTrue(), "a token of the retiring key verifies until it expires")

	// The retired key never signs again: its private half is gone from
	// the signing-keys Secret and from the issuer configuration, and the
	// issuer verifies with the public half alone.
	eventually(t, func(g Gomega) {
		keysSecret := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "acme-signing-keys"}, keysSecret)).To(Succeed())
		var stored []issuerconfig.Key
		g.Expect(json.Unmarshal(keysSecret.Data["keys.json"], &stored)).To(Succeed())
		primary := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: issuerconfig.SecretName("acme")}, primary)).To(Succeed())
		doc, err := issuerconfig.ReadSecrets(primary, func(name string) (*corev1.Secret, error) {
			sec := &corev1.Secret{}
			return sec, k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: name}, sec)
		})
		g.Expect(err).NotTo(HaveOccurred())
		for where, ks := range map[string][]issuerconfig.Key{"signing-keys Secret": stored, "issuer configuration": doc.Keys} {
			i := slices.IndexFunc(ks, func(k issuerconfig.Key) bool { return k.ID == oldKid })
			g.Expect(i).To(BeNumerically(">=", 0), "retired key published in the %s", where)
			g.Expect(ks[i].PrivateKeyPEM).To(BeEmpty(), "retired key's private half in the %s", where)
			g.Expect(ks[i].PublicKeyPEM).To(HavePrefix("-----BEGIN PUBLIC KEY-----"), where)
		}
	})
	g.Expect(verifies(old.AccessToken)).To(BeTrue(), "verified with the public half only")

	// Past the longest lifetime of any token it signed (the shop's longest is
	// the native app's 10h ID token, plus a 5m margin): the old key is gone.
	advance(s, 90*24*time.Hour+11*time.Hour)
	eventually(t, func(g Gomega) {
		g.Expect(keysOf(g)).NotTo(HaveKey(oldKid))
		g.Expect(verifies(old.AccessToken)).To(BeFalse())
	})
}

// advance moves the operator's clock to offset and nudges the Tenant's
// reconcile (through an annotation on a Secret it owns) so it happens now
// rather than at the requeue it scheduled on the old clock.
func advance(s *shop, offset time.Duration) {
	clockOffset.Store(int64(offset))
	ctx := context.Background()
	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "acme-signing-keys"}, sec); err == nil {
		before := sec.DeepCopy()
		if sec.Annotations == nil {
			sec.Annotations = map[string]string{}
		}
		sec.Annotations["test.idtenant.dev/clock"] = offset.String()
		_ = k8s.Patch(ctx, sec, client.MergeFrom(before))
	}
}
