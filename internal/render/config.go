package render

import (
	"cmp"
	"slices"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// ConfigInputs is everything one issuer configuration is made of.
type ConfigInputs struct {
	Tenant *v1alpha1.Tenant
	// Applications are the clients the issuer serves: resolved and not
	// refused by policy.
	Applications []*v1alpha1.Application
	// SecretDigests maps client ID to the hex SHA-256 of its client secret.
	SecretDigests map[string]string
	// PreviousSecrets maps client ID to the replaced secret a rotation
	// still accepts.
	PreviousSecrets map[string]*issuerconfig.PreviousSecret
	// NextSecrets maps client ID to a rotation's new secret's digest.
	NextSecrets map[string]string
	// APIs are the resource servers the issuer serves.
	APIs  []*v1alpha1.API
	Users []issuerconfig.User
	Keys  []issuerconfig.Key
	// EffectiveDigests maps "Application ns/name" and "API ns/name" to the
	// digest of the object's effective lifetimes.
	EffectiveDigests map[string]string
	// StateKey is the tenant's state key (issuerconfig.StateKeySize bytes).
	StateKey []byte
	// SealingKeys is the tenant's sealing key ring, current key first.
	SealingKeys []issuerconfig.SealingKey
}

// ConfigDocument renders the issuer configuration at generation. Objects are
// sorted by namespace and name so equal inputs give byte-identical output.
func ConfigDocument(in ConfigInputs, generation int64, clientID func(*v1alpha1.Application) string) issuerconfig.Document {
	doc := issuerconfig.Document{
		APIVersion: issuerconfig.APIVersion,
		Generation: generation,
		Tenant: issuerconfig.Object[v1alpha1.TenantSpec]{
			Name: in.Tenant.Name, Namespace: in.Tenant.Namespace, Generation: in.Tenant.Generation, Spec: in.Tenant.Spec,
		},
		Users:       slices.SortedFunc(slices.Values(in.Users), func(a, b issuerconfig.User) int { return cmp.Compare(a.Username, b.Username) }),
		Keys:        slices.Clone(in.Keys),
		TenantUID:   in.Tenant.UID,
		StateKey:    slices.Clone(in.StateKey),
		SealingKeys: slices.Clone(in.SealingKeys),
	}
	for _, a := range in.Applications {
		id := clientID(a)
		doc.Applications = append(doc.Applications, issuerconfig.Application{
			Object: issuerconfig.Object[v1alpha1.ApplicationSpec]{Name: a.Name, Namespace: a.Namespace, Generation: a.Generation,
				EffectiveDigest: in.EffectiveDigests["Application "+a.Namespace+"/"+a.Name], Spec: a.Spec},
			ClientID:         id,
			SecretSHA256:     in.SecretDigests[id],
			PreviousSecret:   in.PreviousSecrets[id],
			NextSecretSHA256: in.NextSecrets[id],
		})
	}
	slices.SortFunc(doc.Applications, func(a, b issuerconfig.Application) int { return cmp.Compare(a.Ref(), b.Ref()) })
	for _, a := range in.APIs {
		doc.APIs = append(doc.APIs, issuerconfig.Object[v1alpha1.APISpec]{Name: a.Name, Namespace: a.Namespace, Generation: a.Generation,
			EffectiveDigest: in.EffectiveDigests["API "+a.Namespace+"/"+a.Name], Spec: a.Spec})
	}
	slices.SortFunc(doc.APIs, func(a, b issuerconfig.Object[v1alpha1.APISpec]) int { return cmp.Compare(a.Ref(), b.Ref()) })
	return doc
}
