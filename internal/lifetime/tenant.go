package lifetime

import (
	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Session holds the effective session timeouts of a tenant.
type Session struct {
	Inactivity Setting
	Absolute   Setting
}

// Status renders the session as it appears in object status.
func (s Session) Status() v1alpha1.EffectiveSession {
	return v1alpha1.EffectiveSession{
		InactivityTimeout: s.Inactivity.Status(),
		AbsoluteTimeout:   s.Absolute.Status(),
	}
}

// Tenant is the tenant-wide part of the effective configuration.
type Tenant struct {
	Name              string
	Session           Session
	SigningAlgorithm  v1alpha1.SigningAlgorithm
	KeyRotationPeriod Setting
	PolicyMode        v1alpha1.PolicyMode
	Replicas          int32
	// StateType is the issuer's state store.
	StateType v1alpha1.StateType

	policy ceilings
}

// ceilings are the tenant's policy caps; a zero Setting means no cap.
type ceilings struct {
	idToken, accessToken, browserAccessToken, refreshToken Setting
}

// ForTenant computes the tenant-wide effective settings of the Tenant
// named name (boundBy names it) with spec.
func ForTenant(name string, spec v1alpha1.TenantSpec) Tenant {
	ref := func(path string) string { return fieldRef("Tenant", name, path) }

	session := spec.Session
	if session == nil {
		session = &v1alpha1.SessionSpec{}
	}
	absolute := request(session.AbsoluteTimeout, DefaultAbsoluteTimeout, ref("session.absoluteTimeout")).setting()
	inactivity := request(session.InactivityTimeout, DefaultInactivityTimeout, ref("session.inactivityTimeout")).setting()
	// Admission rejects an explicit inactivityTimeout above the absolute one;
	// this catches the default 72h meeting a shorter explicit absoluteTimeout.
	inactivity = lowerTo(inactivity, absolute)

	out := Tenant{
		Name:              name,
		Session:           Session{Inactivity: inactivity, Absolute: absolute},
		SigningAlgorithm:  orDefault(spec.SigningAlgorithm, DefaultSigningAlgorithm),
		KeyRotationPeriod: request(spec.KeyRotationPeriod, DefaultKeyRotationPeriod, ref("keyRotationPeriod")).setting(),
		PolicyMode:        DefaultPolicyMode,
		Replicas:          DefaultReplicas,
		StateType:         DefaultStateType,
	}
	if spec.State != nil {
		out.StateType = orDefault(spec.State.Type, DefaultStateType)
	}
	if spec.Replicas != nil {
		out.Replicas = *spec.Replicas
	}
	if p := spec.Policy; p != nil {
		out.PolicyMode = orDefault(p.Mode, DefaultPolicyMode)
		cap := func(path string, v *requestedDuration) Setting {
			if v == nil {
				return Setting{}
			}
			return Setting{Duration: v.Duration, BoundBy: ref("policy." + path)}
		}
		out.policy = ceilings{
			idToken:            cap("maxIDTokenLifetime", p.MaxIDTokenLifetime),
			accessToken:        cap("maxAccessTokenLifetime", p.MaxAccessTokenLifetime),
			browserAccessToken: cap("maxBrowserAccessTokenLifetime", p.MaxBrowserAccessTokenLifetime),
			refreshToken:       cap("maxRefreshTokenLifetime", p.MaxRefreshTokenLifetime),
		}
	}
	return out
}

// Status renders the tenant-wide settings as they appear in Tenant status.
func (t Tenant) Status() v1alpha1.TenantEffective {
	return v1alpha1.TenantEffective{
		Session:           t.Session.Status(),
		SigningAlgorithm:  t.SigningAlgorithm,
		KeyRotationPeriod: t.KeyRotationPeriod.Status(),
		PolicyMode:        t.PolicyMode,
		Replicas:          t.Replicas,
		StateType:         t.StateType,
	}
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
