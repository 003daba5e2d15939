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
	// DefaultRefreshReuseInterval: a client whose refresh response was lost
	// (a dropped connection, a proxy reload, a replica killed) retries with
	// the token it sent; within this window it gets the very successor it
	// missed, derived from that token, not a new branch and not a
	// revocation. Ten seconds covers retries with back-off. The price: a
	// replay inside the window is not detected by itself (it gets an
	// access token and the same successor; it is caught only if both
	// holders later present that successor), where 0s revoked at once. A
	// replay after the window revokes the family as before
	// (docs/state.md).
	DefaultRefreshReuseInterval      = 10 * time.Second
	DefaultRefreshInactivityLifetime = 360 * time.Hour
	DefaultRefreshAbsoluteLifetime   = 720 * time.Hour
	DefaultKeyRotationPeriod         = 2160 * time.Hour
	DefaultReplicas                  = int32(1)
	DefaultSigningAlgorithm          = v1alpha1.RS256
	DefaultPolicyMode                = v1alpha1.PolicyClamp
	DefaultStateType                 = v1alpha1.StateKubernetes
)
