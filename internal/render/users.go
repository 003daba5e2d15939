package render

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// UsersSecretKey is the key of the users Secret that holds htpasswd lines.
const UsersSecretKey = "htpasswd"

// MinBcryptCost is the lowest bcrypt cost accepted. Below it a hash is
// cheap to crack offline, and logins of users with cheap hashes answer
// measurably faster than those of unknown users (whose decoy comparison
// runs at the cost most users have), revealing who exists.
// `htpasswd -nbB` writes cost 5; `htpasswd -nbBC 10` writes 10.
const MinBcryptCost = 10

// MaxBcryptCost bounds the work one login attempt may cost (cost 14 is
// ~1 s of a core); keep every user at one cost, so unknown usernames,
// compared against a decoy at the users' common cost, take as long.
const MaxBcryptCost = 14

// ParseHtpasswd reads "username:bcrypt-hash" lines (blank lines and #
// comments allowed). Only bcrypt ($2a$, $2b$, $2y$) is accepted: the other
// htpasswd schemes (MD5-crypt, SHA1, plain) are too weak for passwords.
// Errors name the line but never echo the hash.
func ParseHtpasswd(data []byte) ([]issuerconfig.User, error) {
	var users []issuerconfig.User
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("htpasswd line %d: want username:bcrypt-hash", n)
		}
		if err := checkHash(hash); err != nil {
			return nil, fmt.Errorf("htpasswd line %d (user %q): %w", n, name, err)
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("htpasswd line %d: user %q already defined on line %d", n, name, prev)
		}
		seen[name] = n
		users = append(users, issuerconfig.User{ID: DerivedUserID(name), Username: name, PasswordHash: hash})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading htpasswd: %w", err)
	}
	return users, nil
}

// checkHash accepts bcrypt hashes of at least MinBcryptCost; its errors
// never echo the hash.
func checkHash(hash string) error {
	if !isBcrypt(hash) {
		return fmt.Errorf("only bcrypt hashes are accepted; create entries with `htpasswd -nbBC %d user password`", MinBcryptCost)
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil || cost < MinBcryptCost {
		return fmt.Errorf("bcrypt cost %d is below the minimum %d; create entries with `htpasswd -nbBC %d user password`", cost, MinBcryptCost, MinBcryptCost)
	}
	if cost > MaxBcryptCost {
		return fmt.Errorf("bcrypt cost %d is above the maximum %d: every login (and every unknown username, compared at the users' cost) would take seconds of CPU", cost, MaxBcryptCost)
	}
	return nil
}

func isBcrypt(h string) bool {
	if len(h) != 60 {
		return false
	}
	for _, p := range []string{"$2a$", "$2b$", "$2y$"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}
