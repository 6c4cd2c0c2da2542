package ldap

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
)

// filterChunk caps the alternatives of one group search filter; more
// values are searched for in several requests.
const filterChunk = 64

// groupPageSize is the page size of group searches.
const groupPageSize = 500

// findUser searches the user whose username attribute equals username.
// It returns nil, with no error, unless exactly one entry matches; several
// matches are logged as the directory's fault.
func (s *session) findUser(username string) (*goldap.Entry, error) {
	us := s.c.cfg.UserSearch
	match := "(" + us.Username + "=" + goldap.EscapeFilter(username) + ")"
	req := s.userRequest(us.BaseDN, scopeOf(us.Scope), and(us.Filter, match))
	res, err := s.conn.Search(req)
	several := goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded)
	if err != nil && !several {
		return nil, s.fail("search users", err)
	}
	var dns []string
	if res != nil {
		if len(res.Entries) == 1 && !several {
			return res.Entries[0], nil
		}
		for _, e := range res.Entries {
			dns = append(dns, e.DN)
		}
	}
	if several || len(dns) > 1 {
		// The size limit of 2 may have stopped the search: several.
		s.c.logger.ErrorContext(s.ctx, "ldap: a username matches several entries; refusing the login "+
			"(make the username attribute unique, or narrow userSearch.filter)", "attribute", us.Username, "entries", dns)
	}
	return nil, nil
}

// userByDN reads the entry dn if it is still a user: it matches the user
// filter and lies within userSearch's base and scope. It returns nil, with
// no error, if not.
func (s *session) userByDN(dn string) (*goldap.Entry, error) {
	us := s.c.cfg.UserSearch
	if !inScope(dn, us.BaseDN, us.Scope) {
		return nil, nil
	}
	res, err := s.conn.Search(s.userRequest(dn, goldap.ScopeBaseObject, and(us.Filter, "(objectClass=*)")))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail("read user", err)
	}
	if len(res.Entries) != 1 {
		return nil, nil
	}
	return res.Entries[0], nil
}

func (s *session) userRequest(base string, scope int, filter string) *goldap.SearchRequest {
	return goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, 2, 0, false, filter, s.c.userAttrs, nil)
}

// idValue returns the entry's stable identifier. objectGUID and
// mS-DS-ConsistencyGuid are written as GUIDs, objectSid as a SID; other
// attributes must hold text.
func idValue(e *goldap.Entry, attr string) (string, error) {
	if isDN(attr) {
		return e.DN, nil
	}
	raw := e.GetEqualFoldRawAttributeValue(attr)
	if len(raw) == 0 {
		return "", fmt.Errorf("ldap: user entry %q has no %s (userSearch.idAttr)", e.DN, attr)
	}
	switch strings.ToLower(attr) {
	case "objectguid", "ms-ds-consistencyguid":
		if len(raw) != 16 {
			return "", fmt.Errorf("ldap: %s of %q is %d bytes, not a GUID", attr, e.DN, len(raw))
		}
		return guidString(raw), nil
	case "objectsid":
		sid, ok := sidString(raw)
		if !ok {
			return "", fmt.Errorf("ldap: %s of %q is not a SID", attr, e.DN)
		}
		return sid, nil
	}
	if !utf8.Valid(raw) {
		return "", fmt.Errorf("ldap: %s of %q is binary; use a text attribute, objectGUID or objectSid as userSearch.idAttr", attr, e.DN)
	}
	return string(raw), nil
}

// guidString writes a 16-byte GUID as Active Directory does: the first
// three fields are little-endian.
func guidString(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

// sidString writes a binary security identifier as S-1-5-21-...: revision,
// count of sub-authorities, a 48-bit big-endian authority, then 32-bit
// little-endian sub-authorities.
func sidString(b []byte) (string, bool) {
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		return "", false
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var sb strings.Builder
	sb.WriteString("S-" + strconv.Itoa(int(b[0])) + "-" + strconv.FormatUint(auth, 10))
	for i := 8; i < len(b); i += 4 {
		sb.WriteString("-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[i:i+4])), 10))
	}
	return sb.String(), true
}

// groups returns the names of the user's groups, sorted: from the
// memberOf attribute, or by group search (and up nested groups).
func (s *session) groups(user *goldap.Entry) ([]string, error) {
	c := s.c
	if c.cfg.MemberOfAttr != "" {
		var names []string
		for _, dn := range user.GetEqualFoldAttributeValues(c.cfg.MemberOfAttr) {
			if name := rdnValue(dn); name != "" {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return slices.Compact(names), nil
	}
	gs := c.cfg.GroupSearch
	if gs.BaseDN == "" {
		return nil, nil
	}
	var direct []string
	for _, m := range gs.UserMatchers {
		values := []string{user.DN}
		if !isDN(m.UserAttr) {
			values = user.GetEqualFoldAttributeValues(m.UserAttr)
		}
		for _, v := range values {
			direct = append(direct, "("+m.GroupAttr+"="+goldap.EscapeFilter(v)+")")
		}
	}
	seen := map[string]bool{}
	var names []string
	frontier, err := s.searchGroups(direct, seen, &names)
	if err != nil {
		return nil, err
	}
	for depth := 0; gs.Nested && len(frontier) > 0; depth++ {
		if depth == maxNestingDepth {
			c.logger.WarnContext(s.ctx, "ldap: nested groups deeper than the limit are left out", "limit", maxNestingDepth, "user_dn", user.DN)
			break
		}
		var parents []string
		for _, m := range gs.UserMatchers {
			if isDN(m.UserAttr) {
				for _, dn := range frontier {
					parents = append(parents, "("+m.GroupAttr+"="+goldap.EscapeFilter(dn)+")")
				}
			}
		}
		if frontier, err = s.searchGroups(parents, seen, &names); err != nil {
			return nil, err
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// searchGroups finds the groups matching any of the clauses, adds the
// names of those not seen yet to names and returns their DNs.
func (s *session) searchGroups(clauses []string, seen map[string]bool, names *[]string) ([]string, error) {
	gs := s.c.cfg.GroupSearch
	var found []string
	for chunk := range slices.Chunk(clauses, filterChunk) {
		filter := chunk[0]
		if len(chunk) > 1 {
			filter = "(|" + strings.Join(chunk, "") + ")"
		}
		req := goldap.NewSearchRequest(gs.BaseDN, scopeOf(gs.Scope), goldap.NeverDerefAliases, 0, 0, false,
			and(gs.Filter, filter), []string{gs.NameAttr}, nil)
		// Paged (RFC 2696), for directories that cap a page, as Active
		// Directory does at 1000 entries.
		res, err := s.conn.SearchWithPaging(req, groupPageSize)
		if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			// Partial groups could grant or deny the wrong things: fail.
			return nil, s.fail("search groups (the directory's size limit for the service account cut the result short; raise it)", err)
		}
		if err != nil {
			return nil, s.fail("search groups", err)
		}
		for _, g := range res.Entries {
			key := strings.ToLower(g.DN)
			if seen[key] {
				continue
			}
			seen[key] = true
			found = append(found, g.DN)
			if name := g.GetEqualFoldAttributeValue(gs.NameAttr); name != "" {
				*names = append(*names, name)
			}
		}
	}
	return found, nil
}

// rdnValue returns the value of the first RDN of dn ("Admins" for
// CN=Admins,OU=Groups,DC=example,DC=com), or "" if dn cannot be parsed.
func rdnValue(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) == 0 {
		return ""
	}
	return d.RDNs[0].Attributes[0].Value
}

// inScope reports whether dn lies within base for the scope (sub or one).
func inScope(dn, base, scope string) bool {
	d, err1 := goldap.ParseDN(dn)
	b, err2 := goldap.ParseDN(base)
	if err1 != nil || err2 != nil || !b.AncestorOfFold(d) {
		return false
	}
	return scope != "one" || len(d.RDNs) == len(b.RDNs)+1
}

func scopeOf(scope string) int {
	if scope == "one" {
		return goldap.ScopeSingleLevel
	}
	return goldap.ScopeWholeSubtree
}

// and combines a configured filter (possibly empty) with a match.
func and(filter, match string) string {
	if filter == "" {
		return match
	}
	return "(&" + filter + match + ")"
}
