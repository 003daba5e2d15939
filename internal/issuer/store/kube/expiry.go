package kube

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	statev1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
)

// Expiry of this backend's records, for whoever collects them (the
// operator's internal/statecollector: the issuer has no list rights). The
// rules are the store's own (store.Code.Expiry and the like) applied to the
// custom resources, so collection and the issuer cannot disagree on when a
// record stops working. As Dex's storage backends each implement their own
// garbage collection, the Kubernetes backend says how its records expire.

// Object is a listed record (a state custom resource).
type Object interface {
	runtime.Object
	metav1.Object
}

// List is a list of one kind's records.
type List interface {
	runtime.Object
	metav1.ListInterface
}

// SessionDeadline is when a session that logged in at authTime and was last
// active at lastActivity stops working under the Tenant's settings in force
// now (internal/lifetime: the idle deadline, never after the absolute one).
type SessionDeadline func(authTime, lastActivity time.Time) time.Time

// Collectable is one listed record as collection sees it.
type Collectable struct {
	Object Object
	// ExpiredAt is when the record stopped working; zero while it works.
	ExpiredAt time.Time
	// Counted: a live session, or a live (unrevoked) refresh family — what
	// Tenant status counts.
	Counted bool
}

// Kind is how this backend stores one of store.Kinds.
type Kind struct {
	store.Kind
	// Name is the custom resource's Kind ("Session"), as the operator's
	// state metrics label it.
	Name string
	// Resource is the plural resource name, as RBAC names it.
	Resource string
	// NewList returns an empty list of the kind.
	NewList func() List
	// Classify says of each record of a listed page whether and since
	// when it no longer works at now. Deadlines are exclusive, as
	// everywhere in the issuer.
	Classify func(list List, session SessionDeadline, now time.Time) []Collectable
}

// Kinds lists this backend's kinds in the order of store.Kinds.
var Kinds = []Kind{
	{Kind: store.KindSession, Name: "Session", Resource: statev1.ResourceSessions,
		NewList: func() List { return &statev1.SessionList{} },
		Classify: func(l List, session SessionDeadline, now time.Time) []Collectable {
			items := l.(*statev1.SessionList).Items
			out := make([]Collectable, len(items))
			for i := range items {
				v := sessionValue(&items[i])
				out[i] = Collectable{Object: &items[i], ExpiredAt: over(session(v.AuthTime, v.LastActivity), now)}
				out[i].Counted = out[i].ExpiredAt.IsZero()
			}
			return out
		}},
	{Kind: store.KindCode, Name: "AuthorizationCode", Resource: statev1.ResourceAuthorizationCodes,
		NewList: func() List { return &statev1.AuthorizationCodeList{} },
		Classify: func(l List, _ SessionDeadline, now time.Time) []Collectable {
			items := l.(*statev1.AuthorizationCodeList).Items
			out := make([]Collectable, len(items))
			for i := range items {
				out[i] = Collectable{Object: &items[i], ExpiredAt: over(codeValue(&items[i]).Expiry(), now)}
			}
			return out
		}},
	{Kind: store.KindFamily, Name: "RefreshFamily", Resource: statev1.ResourceRefreshFamilies,
		NewList: func() List { return &statev1.RefreshFamilyList{} },
		Classify: func(l List, _ SessionDeadline, now time.Time) []Collectable {
			items := l.(*statev1.RefreshFamilyList).Items
			out := make([]Collectable, len(items))
			for i := range items {
				f := familyValue(&items[i])
				// A revoked family is kept until it expires, so that its
				// tokens are recognised as revoked; it is not live.
				exp := over(f.Expiry(), now)
				out[i] = Collectable{Object: &items[i], ExpiredAt: exp, Counted: exp.IsZero() && f.RevokedAt.IsZero()}
			}
			return out
		}},
	{Kind: store.KindRevocation, Name: "RevokedToken", Resource: statev1.ResourceRevokedTokens,
		NewList: func() List { return &statev1.RevokedTokenList{} },
		Classify: func(l List, _ SessionDeadline, now time.Time) []Collectable {
			items := l.(*statev1.RevokedTokenList).Items
			out := make([]Collectable, len(items))
			for i := range items {
				out[i] = Collectable{Object: &items[i], ExpiredAt: over(revocationValue(&items[i]).Expiry(), now)}
			}
			return out
		}},
	{Kind: store.KindConsent, Name: "Consent", Resource: statev1.ResourceConsents,
		NewList: func() List { return &statev1.ConsentList{} },
		Classify: func(l List, _ SessionDeadline, now time.Time) []Collectable {
			items := l.(*statev1.ConsentList).Items
			out := make([]Collectable, len(items))
			for i := range items {
				out[i] = Collectable{Object: &items[i], ExpiredAt: over(consentValue(&items[i]).Expiry(), now)}
			}
			return out
		}},
}

// over reports when a record with deadline at stopped working, zero if it
// still works at now. A deadline is exclusive, as lifetime.Deadlines.EndAt.
func over(at, now time.Time) time.Time {
	if now.Before(at) {
		return time.Time{}
	}
	return at
}
