package issuer

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxPendingLogins bounds the upstream logins one browser has in progress
// (security review N13): each is a cookie of up to maxPendingCookie bytes
// for pendingLifetime, so a few navigations to /login/upstream (the
// user's, or ones another site triggers) would otherwise overflow the
// request header limits of the proxies in front of the issuer, and the
// browser could not reach the issuer until they expired.
const maxPendingLogins = 3

// expireOldPendingLogins expires the browser's pending-login cookies beyond
// the newest maxPendingLogins-1, making room for the one being started.
// Unreadable ones (another state key, expired, tampered) go first, then
// the oldest.
func (c *config) expireOldPendingLogins(w http.ResponseWriter, r *http.Request, now time.Time) {
	type pending struct {
		name    string
		started int64 // 0: unreadable
	}
	var found []pending
	for _, ck := range r.Cookies() {
		if !strings.HasPrefix(ck.Name, c.pendingCookiePrefix()) {
			continue
		}
		var p pendingUpstream
		started := int64(0)
		if c.unsealJSONAt(purposeUpstream, ck.Value, &p, now) == nil {
			started = p.Started
		}
		found = append(found, pending{ck.Name, started})
	}
	if len(found) < maxPendingLogins {
		return
	}
	slices.SortFunc(found, func(a, b pending) int { return int(a.started - b.started) })
	for _, p := range found[:len(found)-(maxPendingLogins-1)] {
		http.SetCookie(w, c.pendingCookie(p.name, "", -1))
	}
}
