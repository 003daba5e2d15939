package controllers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

func digest(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// TestClientSecretRotation (security review N16): a new value of the
// Application's rotation annotation replaces the client secret and keeps
// the replaced one, which the issuer configuration still accepts for a day
// beside the new one (status says until when); the same value again
// changes nothing, and deleting previous-client-secret ends the overlap.
func TestClientSecretRotation(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	app := validApp(ns, v1alpha1.MachineToMachine)
	app.Annotations = map[string]string{v1alpha1.AnnotationRotateClientSecret: "initial"}
	create(t, validTenant(ns), app)
	expectReady(t, app)
	key := client.ObjectKey{Namespace: ns, Name: "shopfront-oidc-client"}
	secret := &corev1.Secret{}
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, key, secret)).To(Succeed())
	original := secret.Data["client-secret"]
	g.Expect(secret.Data).NotTo(HaveKey("previous-client-secret"), "a new Application's annotation asks for no rotation of a fresh secret")

	update(t, app, func(a *v1alpha1.Application) { a.Annotations[v1alpha1.AnnotationRotateClientSecret] = "2026-12-07" })
	// First the issuer learns the new secret, which applications do not
	// read yet (the suite hands it out after 3 s).
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, key, secret)).To(Succeed())
		next := secret.Data["next-client-secret"]
		if next == nil {
			g.Expect(secret.Data["previous-client-secret"]).To(Equal(original), "handed out already")
			return
		}
		g.Expect(secret.Data["client-secret"]).To(Equal(original), "handed out before the issuer knew it")
		for _, a := range readConfig(g, ns, "acme").Applications {
			if a.ClientID == "shopfront."+ns {
				g.Expect(a.NextSecretSHA256).To(Equal(digest(next)))
				g.Expect(a.SecretSHA256).To(Equal(digest(original)))
			}
		}
	})
	before := time.Now()
	var rotated []byte
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, key, secret)).To(Succeed())
		g.Expect(secret.Data["previous-client-secret"]).To(Equal(original))
		rotated = secret.Data["client-secret"]
		g.Expect(rotated).NotTo(Equal(original))
		g.Expect(rotated).To(HaveLen(43))
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
		until := app.Status.PreviousClientSecretValidUntil
		g.Expect(until).NotTo(BeNil())
		g.Expect(until.Time).To(BeTemporally("~", before.Add(24*time.Hour), 2*time.Minute))
		doc := readConfig(g, ns, "acme")
		var served *issuerconfig.Application
		for i := range doc.Applications {
			if doc.Applications[i].ClientID == "shopfront."+ns {
				served = &doc.Applications[i]
			}
		}
		g.Expect(served).NotTo(BeNil())
		g.Expect(served.SecretSHA256).To(Equal(digest(rotated)))
		g.Expect(served.PreviousSecret).NotTo(BeNil())
		g.Expect(served.PreviousSecret.SHA256).To(Equal(digest(original)))
		g.Expect(served.PreviousSecret.ValidUntil).To(BeTemporally("~", until.Time, time.Second))
		g.Expect(served.NextSecretSHA256).To(BeEmpty())
	})
	eventually(t, func(g Gomega) {
		var list eventsv1.EventList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		var notes []string
		for _, e := range list.Items {
			if e.Reason == "ClientSecretRotated" {
				notes = append(notes, e.Note)
			}
		}
		g.Expect(notes).To(HaveLen(1))
		g.Expect(notes[0]).NotTo(ContainSubstring(string(rotated)))
		g.Expect(notes[0]).NotTo(ContainSubstring(string(original)))
	})
	g.Expect(statusText(g, app)).NotTo(ContainSubstring(string(original)))

	// A spec change keeps the annotation's value: nothing rotates again.
	update(t, app, func(a *v1alpha1.Application) { a.Spec.DisplayName = "Shop" })
	expectReady(t, app)
	g.Expect(k8s.Get(ctx, key, secret)).To(Succeed())
	g.Expect(secret.Data["client-secret"]).To(Equal(rotated))

	// Ending the overlap by hand: the previous secret leaves the issuer.
	delete(secret.Data, "previous-client-secret")
	g.Expect(k8s.Update(ctx, secret)).To(Succeed())
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
		g.Expect(app.Status.PreviousClientSecretValidUntil).To(BeNil())
		for _, a := range readConfig(g, ns, "acme").Applications {
			if a.ClientID == "shopfront."+ns {
				g.Expect(a.PreviousSecret).To(BeNil())
				g.Expect(a.SecretSHA256).To(Equal(digest(rotated)))
			}
		}
	})
}
