package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkHashes runs the registry's PasswordHash check on every password and
// client secret hash the file holds (sha256: client secret hashes excepted:
// they have no parameters).
func (r Registry) checkHashes(c *Config, root *yaml.Node, file string) Problems {
	if r.PasswordHash == nil || root == nil {
		return nil
	}
	var out Problems
	check := func(path, hash string) {
		if hash == "" || strings.HasPrefix(hash, "sha256:") {
			return
		}
		if err := r.PasswordHash(hash); err != nil {
			out = append(out, Problem{File: file, Line: LineOf(root, path), Path: path,
				Msg: fmt.Sprintf("not a usable hash: %v", err)})
		}
	}
	for i, u := range c.Users {
		check(fmt.Sprintf("users[%d].passwordHash", i), u.PasswordHash)
	}
	for i, cl := range c.Clients {
		check(fmt.Sprintf("clients[%d].secretHash", i), cl.SecretHash)
	}
	return out
}
