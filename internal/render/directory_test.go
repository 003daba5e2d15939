package render

import (
	"strings"
	"testing"
)

func TestParseUsersDirectory(t *testing.T) {
	dir := `
- id: 7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00
  username: alice@acme.test
  passwordHash: ` + aliceHash + `
  email: alice@acme.test
  emailVerified: true
  name: Alice Liddell
  groups: [staff, finance]
- username: carol
  passwordHash: ` + aliceHash + `
`
	users, err := ParseUsers(map[string][]byte{
		UsersDirectoryKey: []byte(dir),
		UsersSecretKey:    []byte("bob:" + aliceHash + "\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, u := range users {
		byName[u.Username] = i
	}
	alice, bob, carol := users[byName["alice@acme.test"]], users[byName["bob"]], users[byName["carol"]]
	if alice.ID != "7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00" || alice.Email != "alice@acme.test" || !alice.EmailVerified ||
		alice.Name != "Alice Liddell" || strings.Join(alice.Groups, ",") != "staff,finance" {
		t.Errorf("alice = %+v", alice)
	}
	// Without an explicit id the subject is opaque, never the username, and
	// the same for the same username in either form.
	if bob.ID != DerivedUserID("bob") || carol.ID != DerivedUserID("carol") || strings.Contains(bob.ID, "bob") || len(bob.ID) != 34 {
		t.Errorf("derived ids: bob %q carol %q", bob.ID, carol.ID)
	}

	for name, c := range map[string]struct {
		data map[string][]byte
		want string
	}{
		"no key":                   {map[string][]byte{"other": nil}, `no "htpasswd" key`},
		"not a list":               {map[string][]byte{UsersDirectoryKey: []byte("alice: x")}, `key "users.yaml": not a YAML list of users`},
		"unknown field":            {map[string][]byte{UsersDirectoryKey: []byte("- username: a\n  password: hunter2")}, "not a YAML list"},
		"bad email":                {map[string][]byte{UsersDirectoryKey: []byte("- username: a\n  passwordHash: " + aliceHash + "\n  email: not-an-address")}, `entry 1 (user "a"): email "not-an-address" is not an address`},
		"cheap hash":               {map[string][]byte{UsersDirectoryKey: []byte("- username: a\n  passwordHash: " + cost5Hash)}, `entry 1 (user "a"): passwordHash: bcrypt cost 5 is below the minimum 10`},
		"costly hash":              {map[string][]byte{UsersSecretKey: []byte("a:$2a$31$" + strings.Repeat("a", 53))}, "bcrypt cost 31 is above the maximum 14"},
		"no username":              {map[string][]byte{UsersDirectoryKey: []byte("- passwordHash: " + aliceHash)}, "entry 1: username is required"},
		"twice":                    {map[string][]byte{UsersSecretKey: []byte("a:" + aliceHash), UsersDirectoryKey: []byte("- username: a\n  passwordHash: " + aliceHash)}, `user "a" is defined twice`},
		"duplicate id":             {map[string][]byte{UsersDirectoryKey: []byte("- {id: x, username: a, passwordHash: " + aliceHash + "}\n- {id: x, username: b, passwordHash: " + aliceHash + "}")}, `id "x" of user "b" is not unique`},
		"space in id":              {map[string][]byte{UsersDirectoryKey: []byte("- {id: 'a b', username: a, passwordHash: " + aliceHash + "}")}, "id must be at most 255 printable ASCII characters"},
		"connection subject as id": {map[string][]byte{UsersDirectoryKey: []byte("- {id: c-0123456789abcdef0123456789abcdef, username: a, passwordHash: " + aliceHash + "}")}, "has the form of a connection user's subject"},
		"too many groups":          {map[string][]byte{UsersDirectoryKey: []byte("- {username: a, passwordHash: " + aliceHash + ", groups: [" + strings.Repeat("g,", 64) + "g]}")}, "more than 64 groups"},
	} {
		_, err := ParseUsers(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "$2") || strings.Contains(err.Error(), "hunter2")) {
			t.Errorf("%s: error echoes a secret: %v", name, err)
		}
	}
}
