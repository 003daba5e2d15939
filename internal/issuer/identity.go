package issuer

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// person is who a grant is for, with the attributes tokens may release:
// a user of the local directory, or a user of an upstream connection as
// the upstream described them at login.
type person struct {
	Username      string   `json:"u,omitempty"`
	Name          string   `json:"n,omitempty"`
	Email         string   `json:"e,omitempty"`
	EmailVerified bool     `json:"ev,omitempty"`
	Groups        []string `json:"g,omitempty"`
	// HostedDomain is Google's "hd" claim: the Google Workspace domain of
	// the account, checked against the connection's allowedDomains.
	HostedDomain string `json:"hd,omitempty"`
	// Connection and UpstreamSubject are set for upstream users: the
	// connection they logged in through and their subject there.
	Connection      string `json:"c,omitempty"`
	UpstreamSubject string `json:"us,omitempty"`
	// Generation is the configuration generation the user logged in
	// under: a replica serving it or a newer one that no longer has the
	// connection knows it was removed (see connectionRemoved).
	Generation int64 `json:"gen,omitempty"`
}

func localPerson(u *issuerconfig.User) *person {
	return &person{Username: u.Username, Name: u.Name, Email: u.Email, EmailVerified: u.EmailVerified, Groups: u.Groups}
}

// federated is the federated_claims claim of an upstream user (the shape
// Dex uses, so relying parties written for Dex read it unchanged).
type federated struct {
	ConnectorID string `json:"connector_id"`
	UserID      string `json:"user_id"`
}

func (p *person) federated() *federated {
	if p == nil || p.Connection == "" {
		return nil
	}
	return &federated{ConnectorID: p.Connection, UserID: p.UpstreamSubject}
}

// upstreamSubject is the subject of an upstream connection's user: opaque,
// stable while the connection's name and the upstream subject are, and
// never equal to a local user's derived subject ("u-…") or another
// connection's.
func upstreamSubject(connection, upstreamSub string) string {
	sum := sha256.Sum256([]byte("idtenant-upstream\x00" + connection + "\x00" + upstreamSub))
	return "c-" + hex.EncodeToString(sum[:16])
}

// sealIdentity seals an upstream user's attributes for a session or
// refresh family record: they are personal data, so the store holds them
// encrypted under the tenant's state key only.
func (c *config) sealIdentity(p *person) (string, error) {
	return c.sealJSON(purposeIdentity, p, 0)
}

// personOf resolves whom a session or refresh family belongs to under the
// configuration in force: the directory entry of a local user, or the
// sealed identity of an upstream user whose connection still exists as it
// was. ok is false when the user was removed or changed password, or the
// connection was removed or now points elsewhere: the record no longer
// authorizes anything.
func (c *config) personOf(subject, sealedIdentity, fingerprint string) (*person, bool) {
	if sealedIdentity == "" {
		fp, ok := c.fingerprints[subject]
		if !ok || fp != fingerprint {
			return nil, false
		}
		return localPerson(c.people[subject]), true
	}
	var p person
	if err := c.unsealJSON(purposeIdentity, sealedIdentity, &p); err != nil {
		return nil, false
	}
	conn, ok := c.connections[p.Connection]
	if !ok || conn.fingerprint != fingerprint || !conn.admits(&p) {
		return nil, false
	}
	return &p, true
}

// connectionRemoved says that the record of an upstream user belongs to a
// connection this configuration removed (or pointed elsewhere): the record
// can be deleted or revoked for good. A replica older than the login's
// generation may simply not know the connection yet, and must leave the
// record alone; so must everyone for local users.
func (c *config) connectionRemoved(sealedIdentity, fingerprint string) bool {
	if sealedIdentity == "" {
		return false
	}
	var p person
	if err := c.unsealJSON(purposeIdentity, sealedIdentity, &p); err != nil || c.generation < p.Generation {
		return false
	}
	conn, ok := c.connections[p.Connection]
	return !ok || conn.fingerprint != fingerprint
}

// connectionFingerprint identifies a connection as configured: its name,
// upstream issuer and client, what it trusts (the claim mapping, the
// groups prefix, whether the email must be verified), and its epoch (the
// Tenant generation from which the operator has seen it without a break).
// A session started through it ends when it is removed or any of these
// change; one removed and added back has a new epoch, so its old sessions
// stay ended.
func connectionFingerprint(stateKey []byte, conn *connection, epoch int64) string {
	m := conn.claims
	return base64.RawURLEncoding.EncodeToString(derive(stateKey, purposeUser, "connection", conn.name, conn.issuer, conn.clientID,
		m.Subject, m.Username, m.Email, m.Name, m.Groups, conn.groupsPrefix, strconv.FormatBool(conn.requireVerified), strconv.FormatInt(epoch, 10))[:18])
}
