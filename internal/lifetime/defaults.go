package lifetime

import (
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Defaults (README.md, "The five lifetimes"), applied when a spec leaves a field out.
const (
	DefaultIDTokenLifetime              = 10 * time.Hour
	DefaultTokenLifetime                = 24 * time.Hour
	DefaultTokenLifetimeForBrowserFlows = 2 * time.Hour
	DefaultInactivityTimeout            = 72 * time.Hour
	DefaultAbsoluteTimeout              = 168 * time.Hour
	DefaultRefreshReuseInterval         = 0
	DefaultRefreshInactivityLifetime    = 360 * time.Hour
	DefaultRefreshAbsoluteLifetime      = 720 * time.Hour
	DefaultKeyRotationPeriod            = 2160 * time.Hour
	DefaultReplicas                     = int32(1)
	DefaultSigningAlgorithm             = v1alpha1.RS256
	DefaultPolicyMode                   = v1alpha1.PolicyClamp
	DefaultStateType                    = v1alpha1.StateKubernetes
)
