package config

import (
	"fmt"
	"strings"
)

// expansionError is one ${...} that could not be expanded, with the number
// of newlines in the value before it (to point at the right line of a block
// scalar).
type expansionError struct {
	msg      string
	newlines int
}

// expand replaces ${NAME} and ${NAME:-default} in s with values from env,
// and $$ with a single $. A $ followed by anything else is kept as is, so
// password hashes such as "$argon2id$v=19$..." need no escaping.
//
// ${NAME:-default} uses default when NAME is unset or empty, as in the
// shell; the default is taken literally (it is not expanded again). An unset
// NAME without a default expands to "" and yields an error.
func expand(s string, env func(string) (string, bool)) (string, []expansionError) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var errs []expansionError
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(c)
			i++
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		// s[i:] starts with "${".
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			errs = append(errs, expansionError{
				msg:      "unterminated ${ (write $$ for a literal $)",
				newlines: strings.Count(s[:i], "\n"),
			})
			b.WriteString(s[i:])
			break
		}
		body := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(body, ":-")
		switch {
		case !validEnvName(name):
			errs = append(errs, expansionError{
				msg:      fmt.Sprintf("invalid ${%s}: write ${NAME} or ${NAME:-default} (or $$ for a literal $)", body),
				newlines: strings.Count(s[:i], "\n"),
			})
		default:
			v, ok := env(name)
			switch {
			case hasDef && (!ok || v == ""):
				b.WriteString(def)
			case !ok:
				errs = append(errs, expansionError{
					msg:      fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name),
					newlines: strings.Count(s[:i], "\n"),
				})
			default:
				b.WriteString(v)
			}
		}
		i += 2 + end + 1
	}
	return b.String(), errs
}

// validEnvName reports whether s is a shell-style variable name:
// [A-Za-z_][A-Za-z0-9_]*.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
