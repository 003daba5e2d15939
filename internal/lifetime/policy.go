package lifetime

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

type requestedDuration = metav1.Duration

// Clamp records an explicit request lowered to a policy ceiling.
type Clamp struct {
	Requested Setting
	Ceiling   Setting
}

// Message says what was clamped, with both numbers.
func (c Clamp) Message() string {
	return fmt.Sprintf("%s %s lowered to %s by %s", c.Requested.BoundBy, Canonical(c.Requested.Duration),
		Canonical(c.Ceiling.Duration), c.Ceiling.BoundBy)
}

// Violation records an explicit request above a ceiling in Reject mode.
type Violation struct {
	Requested Setting
	Ceiling   Setting
}

// Message says what exceeds which ceiling, with both numbers.
func (v Violation) Message() string {
	return fmt.Sprintf("%s %s exceeds %s %s (policy mode Reject)", v.Requested.BoundBy, Canonical(v.Requested.Duration),
		v.Ceiling.BoundBy, Canonical(v.Ceiling.Duration))
}

// Enforcement collects what the policy did to one object's requests.
type Enforcement struct {
	Clamps     []Clamp
	Violations []Violation
}

// Rejected reports whether the object is refused by policy.
func (e Enforcement) Rejected() bool { return len(e.Violations) > 0 }

// apply caps r at ceiling (a zero ceiling means none) under mode, recording
// clamps and violations. A default above the ceiling is lowered silently in
// both modes; its BoundBy names the ceiling, which is explanation enough.
func (e *Enforcement) apply(r requested, ceiling Setting, mode v1alpha1.PolicyMode) Setting {
	s := r.setting()
	if ceiling.Duration == 0 || s.Duration <= ceiling.Duration {
		return s
	}
	if r.explicit {
		if mode == v1alpha1.PolicyReject {
			e.Violations = append(e.Violations, Violation{Requested: s, Ceiling: ceiling})
		} else {
			e.Clamps = append(e.Clamps, Clamp{Requested: s, Ceiling: ceiling})
		}
	}
	return ceiling
}
