package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// UsersDirectoryKey is the key of the users Secret that holds the rich
// directory: a YAML list of users with their attributes. It may stand
// beside UsersSecretKey (htpasswd lines, the minimal form); a username may
// appear in only one of them.
//
//	# users.yaml
//	- id: 7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00 # the "sub"; default derived from the username
//	  username: alice@acme.test
//	  passwordHash: $2y$10$... # htpasswd -nbBC 10 alice@acme.test '…' | cut -d: -f2
//	  email: alice@acme.test
//	  emailVerified: true
//	  name: Alice Liddell
//	  groups: [staff, finance]
const UsersDirectoryKey = "users.yaml"

// Directory limits: what a token may carry about one user.
const (
	maxUserIDLen = 255
	maxGroups    = 64
	maxGroupLen  = 128
	maxNameLen   = 256
)

// connectionSubject is the form of the subjects the issuer derives for
// users of upstream connections: reserved, so that no local user can
// share one.
var connectionSubject = regexp.MustCompile(`^c-[0-9a-f]{32}$`)

// DerivedUserID is the subject of a user without an explicit id: opaque
// (a digest, not the username itself) and stable while the username is.
// Give users an explicit id in users.yaml to keep their subject across
// renames.
func DerivedUserID(username string) string {
	sum := sha256.Sum256([]byte("idtenant-user\x00" + username))
	return "u-" + hex.EncodeToString(sum[:16])
}

// ParseUsers reads a users Secret's data: htpasswd lines (UsersSecretKey)
// and/or the rich directory (UsersDirectoryKey). Errors name the key and
// the entry, never a hash.
func ParseUsers(data map[string][]byte) ([]issuerconfig.User, error) {
	lines, hasLines := data[UsersSecretKey]
	dir, hasDir := data[UsersDirectoryKey]
	if !hasLines && !hasDir {
		return nil, fmt.Errorf("no %q key (htpasswd lines: user:bcrypt-hash) and no %q key (a YAML list of users)", UsersSecretKey, UsersDirectoryKey)
	}
	var users []issuerconfig.User
	if hasLines {
		u, err := ParseHtpasswd(lines)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", UsersSecretKey, err)
		}
		users = u
	}
	if hasDir {
		u, err := parseDirectory(dir)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", UsersDirectoryKey, err)
		}
		users = append(users, u...)
	}
	names, ids := map[string]bool{}, map[string]bool{}
	for _, u := range users {
		if names[u.Username] {
			return nil, fmt.Errorf("user %q is defined twice (in %q and %q, or twice in one)", u.Username, UsersSecretKey, UsersDirectoryKey)
		}
		if ids[u.ID] {
			return nil, fmt.Errorf("id %q of user %q is not unique", u.ID, u.Username)
		}
		names[u.Username], ids[u.ID] = true, true
	}
	return users, nil
}

func parseDirectory(data []byte) ([]issuerconfig.User, error) {
	// The directory's fields are the configuration document's User fields.
	var entries []issuerconfig.User
	if err := yaml.UnmarshalStrict(data, &entries); err != nil {
		// The decoder's message may quote input; say where, not what.
		return nil, errors.New("not a YAML list of users with the fields id, username, passwordHash, email, emailVerified, name, groups")
	}
	users := make([]issuerconfig.User, 0, len(entries))
	for i, e := range entries {
		where := fmt.Sprintf("entry %d", i+1)
		if e.Username != "" {
			where = fmt.Sprintf("entry %d (user %q)", i+1, e.Username)
		}
		switch {
		case strings.TrimSpace(e.Username) == "" || strings.ContainsAny(e.Username, ":\n"):
			return nil, fmt.Errorf("%s: username is required and may not contain ':' or line breaks", where)
		case len(e.ID) > maxUserIDLen || strings.ContainsFunc(e.ID, func(r rune) bool { return r < 0x21 || r > 0x7e }):
			return nil, fmt.Errorf("%s: id must be at most %d printable ASCII characters without spaces", where, maxUserIDLen)
		case connectionSubject.MatchString(e.ID):
			return nil, fmt.Errorf("%s: id %q has the form of a connection user's subject (c- and 32 hex digits); choose another", where, e.ID)
		case len(e.Name) > maxNameLen:
			return nil, fmt.Errorf("%s: name is longer than %d characters", where, maxNameLen)
		case len(e.Groups) > maxGroups:
			return nil, fmt.Errorf("%s: more than %d groups", where, maxGroups)
		}
		if e.Email != "" {
			if a, err := mail.ParseAddress(e.Email); err != nil || a.Address != e.Email {
				return nil, fmt.Errorf("%s: email %q is not an address like alice@example.com", where, e.Email)
			}
		}
		for _, g := range e.Groups {
			if g == "" || len(g) > maxGroupLen {
				return nil, fmt.Errorf("%s: group names must be 1 to %d characters", where, maxGroupLen)
			}
		}
		if err := checkHash(e.PasswordHash); err != nil {
			return nil, fmt.Errorf("%s: passwordHash: %w", where, err)
		}
		if e.ID == "" {
			e.ID = DerivedUserID(e.Username)
		}
		users = append(users, e)
	}
	return users, nil
}
