package lifetime

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Setting is one effective lifetime and the setting that decided it.
type Setting struct {
	// Duration is the lifetime the issuer applies.
	Duration time.Duration
	// BoundBy names the field that decided Duration, e.g.
	// "API orders/spec.tokenLifetime" or "Tenant acme/spec.policy.maxAccessTokenLifetime".
	BoundBy string
	// Configured is set when a session's absoluteTimeout keeps tokens
	// shorter than their own lifetime (Session.Reach): the lifetime the
	// settings give them, and the field that decided it.
	Configured *Setting
}

// Status renders the setting as it appears in object status.
func (s Setting) Status() v1alpha1.EffectiveLifetime {
	out := v1alpha1.EffectiveLifetime{
		Duration: Canonical(s.Duration),
		Seconds:  int64(s.Duration / time.Second),
		BoundBy:  s.BoundBy,
	}
	if c := s.Configured; c != nil {
		out.Configured = &v1alpha1.ConfiguredLifetime{
			Duration: Canonical(c.Duration),
			Seconds:  int64(c.Duration / time.Second),
			BoundBy:  c.BoundBy,
		}
	}
	return out
}

// Canonical formats d as a Go duration without zero-valued trailing units:
// 10h rather than 10h0m0s, 1h30m rather than 1h30m0s, 90s as 1m30s.
func Canonical(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// fieldRef names a spec field of an object the way status reports it.
func fieldRef(kind, name, path string) string {
	return fmt.Sprintf("%s %s/spec.%s", kind, name, path)
}

// requested is a value as the user wrote it (or its default), before any
// ceiling or cross-field rule.
type requested struct {
	value    time.Duration
	field    string // fieldRef of the spec field
	explicit bool   // false when the default applied
}

func request(d *metav1.Duration, def time.Duration, field string) requested {
	if d == nil {
		return requested{value: def, field: field, explicit: false}
	}
	return requested{value: d.Duration, field: field, explicit: true}
}

// setting is the requested value as an effective Setting, before ceilings.
func (r requested) setting() Setting {
	if r.explicit {
		return Setting{Duration: r.value, BoundBy: r.field}
	}
	return Setting{Duration: r.value, BoundBy: r.field + defaultSuffix}
}

// defaultSuffix ends the BoundBy of a field left out, whose default applied.
const defaultSuffix = " (default)"

// isDefault reports whether s is a default nobody wrote.
func (s Setting) isDefault() bool { return strings.HasSuffix(s.BoundBy, defaultSuffix) }

// lowerTo returns s capped at limit, attributing the cap to limit's setting.
func lowerTo(s, limit Setting) Setting {
	if limit.Duration < s.Duration {
		return limit
	}
	return s
}
