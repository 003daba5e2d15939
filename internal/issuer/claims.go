package issuer

import (
	"slices"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// scopeGroups releases the user's groups, the claim oauth2-proxy, Grafana,
// Argo CD and the Kubernetes API server authorize by.
const scopeGroups = "groups"

// userClaims are the standard claims a user's granted scopes release
// (OpenID Connect Core 5.4): profile → preferred_username and name,
// email → email and email_verified, groups → groups. A local user's are
// read from the directory in force when the token is issued, so a changed
// attribute reaches the next token; an upstream user's are what the
// upstream said at their last login.
type userClaims struct {
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Name              string   `json:"name,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Groups            []string `json:"groups,omitempty"`
}

func claimsFor(u *person, scopes []string) userClaims {
	var out userClaims
	if u == nil {
		return out
	}
	if slices.Contains(scopes, "profile") {
		out.PreferredUsername, out.Name = u.Username, u.Name
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		verified := u.EmailVerified
		out.Email, out.EmailVerified = u.Email, &verified
	}
	if slices.Contains(scopes, scopeGroups) {
		out.Groups = u.Groups
	}
	return out
}

// apiUserClaims are the attributes an API asks for in the access tokens of
// a user (API spec.userClaims).
func apiUserClaims(api *apiEntry, u *person) (email string, groups []string) {
	if u == nil {
		return "", nil
	}
	for _, claim := range api.userClaims {
		switch claim {
		case v1alpha1.UserClaimEmail:
			email = u.Email
		case v1alpha1.UserClaimGroups:
			groups = u.Groups
		}
	}
	return email, groups
}
