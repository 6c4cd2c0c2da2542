package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/foyerid/foyer/admin"
)

// The users and clients commands of `foyer admin` (admin.go has the rest).

// userRows prints users as a table.
func (c *adminCLI) userRows(users ...admin.User) {
	var rows [][]string
	for _, u := range users {
		var flags []string
		for name, on := range map[string]bool{"disabled": u.Disabled, "static": u.Static, "password": u.HasPassword, "verified": u.EmailVerified} {
			if on {
				flags = append(flags, name)
			}
		}
		slices.Sort(flags)
		rows = append(rows, []string{u.ID, or(u.Username, "-"), or(u.Email, "-"), or(u.Name, "-"), or(strings.Join(u.Groups, ","), "-"), or(strings.Join(flags, ","), "-")})
	}
	c.table("ID\tUSERNAME\tEMAIL\tNAME\tGROUPS\tFLAGS", rows)
}

func (c *adminCLI) usersList(args []string) error {
	fs := flag.NewFlagSet("users list", flag.ContinueOnError)
	email := fs.String("email", "", "")
	username := fs.String("username", "", "")
	if _, err := positional(fs, args, ""); err != nil {
		return err
	}
	q := url.Values{}
	if *email != "" {
		q.Set("email", *email)
	}
	if *username != "" {
		q.Set("username", *username)
	}
	var l admin.UserList
	if err := c.call(http.MethodGet, "/users?"+q.Encode(), nil, &l); err != nil {
		return err
	}
	c.userRows(l.Users...)
	return nil
}

func (c *adminCLI) usersGet(args []string) error {
	a, err := positional(flag.NewFlagSet("users get", flag.ContinueOnError), args, "ID")
	if err != nil {
		return err
	}
	var u admin.User
	if err := c.call(http.MethodGet, "/users/"+esc(a[0]), nil, &u); err != nil {
		return err
	}
	c.userRows(u)
	return nil
}

func (c *adminCLI) usersCreate(args []string) error {
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	var in admin.NewUser
	var groups listFlag
	fs.StringVar(&in.Username, "username", "", "")
	fs.StringVar(&in.Email, "email", "", "")
	fs.BoolVar(&in.EmailVerified, "email-verified", false, "")
	fs.StringVar(&in.Name, "name", "", "")
	fs.Var(&groups, "group", "")
	pwStdin := fs.Bool("password-stdin", false, "")
	if _, err := positional(fs, args, ""); err != nil {
		return err
	}
	in.Groups = groups
	if *pwStdin {
		var err error
		if in.Password, err = c.readPassword(); err != nil {
			return err
		}
	}
	var u admin.User
	if err := c.call(http.MethodPost, "/users", in, &u); err != nil {
		return err
	}
	c.userRows(u)
	return nil
}

func (c *adminCLI) usersUpdate(args []string) error {
	fs := flag.NewFlagSet("users update", flag.ContinueOnError)
	name := fs.String("name", "", "")
	email := fs.String("email", "", "")
	verified := fs.Bool("email-verified", false, "")
	var groups listFlag
	fs.Var(&groups, "group", "")
	noGroups := fs.Bool("no-groups", false, "")
	pwStdin := fs.Bool("password-stdin", false, "")
	a, err := positional(fs, args, "ID")
	if err != nil {
		return err
	}
	var p admin.UserPatch
	set := setFlags(fs)
	if set["name"] {
		p.Name = name
	}
	if set["email"] {
		p.Email = email
	}
	if set["email-verified"] {
		p.EmailVerified = verified
	}
	switch {
	case set["group"] && *noGroups:
		return usagef("users update: --group and --no-groups together")
	case set["group"]:
		p.Groups = (*[]string)(&groups)
	case *noGroups:
		p.Groups = &[]string{}
	}
	if *pwStdin {
		pw, err := c.readPassword()
		if err != nil {
			return err
		}
		p.Password = &pw
	}
	return c.patchUser(a[0], p)
}

func (c *adminCLI) usersSetDisabled(args []string, disabled bool) error {
	a, err := positional(flag.NewFlagSet("users disable", flag.ContinueOnError), args, "ID")
	if err != nil {
		return err
	}
	return c.patchUser(a[0], admin.UserPatch{Disabled: &disabled})
}

func (c *adminCLI) patchUser(id string, p admin.UserPatch) error {
	var u admin.User
	if err := c.call(http.MethodPatch, "/users/"+esc(id), p, &u); err != nil {
		return err
	}
	c.userRows(u)
	return nil
}

// setFlags names the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// clientFlags are the flags of clients create and clients update.
type clientFlags struct {
	fs                                           *flag.FlagSet
	id, name, backchannel, alg                   string
	redirects, postLogout, grants, connectors    listFlag
	public, skipConsent, noPKCE, sessionRequired bool
	rotate                                       bool
}

func newClientFlags(name string) *clientFlags {
	f := &clientFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.StringVar(&f.name, "name", "", "")
	f.fs.Var(&f.redirects, "redirect-uri", "")
	f.fs.Var(&f.postLogout, "post-logout-redirect-uri", "")
	f.fs.Var(&f.grants, "grant-type", "")
	f.fs.Var(&f.connectors, "allowed-connector", "")
	f.fs.BoolVar(&f.public, "public", false, "")
	f.fs.BoolVar(&f.skipConsent, "skip-consent", false, "")
	f.fs.BoolVar(&f.noPKCE, "no-pkce", false, "")
	f.fs.StringVar(&f.backchannel, "backchannel-logout-uri", "", "")
	f.fs.BoolVar(&f.sessionRequired, "backchannel-session-required", false, "")
	f.fs.StringVar(&f.alg, "signing-algorithm", "", "")
	return f
}

func (c *adminCLI) clientRows(secret string, clients ...admin.Client) {
	var rows [][]string
	for _, cl := range clients {
		kind := "confidential"
		if cl.Public {
			kind = "public"
		}
		if cl.Static {
			kind += ",static"
		}
		rows = append(rows, []string{cl.ID, or(cl.Name, "-"), kind, or(strings.Join(cl.RedirectURIs, " "), "-")})
	}
	c.table("ID\tNAME\tTYPE\tREDIRECT URIS", rows)
	if secret != "" && !c.json {
		fmt.Fprintf(c.out, "client_secret: %s\n(shown this once: Foyer keeps only its hash)\n", secret)
	}
}

func (c *adminCLI) clientsList(args []string) error {
	if _, err := positional(flag.NewFlagSet("clients list", flag.ContinueOnError), args, ""); err != nil {
		return err
	}
	var l admin.ClientList
	if err := c.call(http.MethodGet, "/clients", nil, &l); err != nil {
		return err
	}
	c.clientRows("", l.Clients...)
	return nil
}

func (c *adminCLI) clientsGet(args []string) error {
	a, err := positional(flag.NewFlagSet("clients get", flag.ContinueOnError), args, "ID")
	if err != nil {
		return err
	}
	var cl admin.Client
	if err := c.call(http.MethodGet, "/clients/"+esc(a[0]), nil, &cl); err != nil {
		return err
	}
	c.clientRows("", cl)
	return nil
}

func (c *adminCLI) clientsCreate(args []string) error {
	f := newClientFlags("clients create")
	f.fs.StringVar(&f.id, "id", "", "")
	if _, err := positional(f.fs, args, ""); err != nil {
		return err
	}
	if f.id == "" {
		return usagef("clients create: --id is required")
	}
	in := admin.NewClient{
		ID: f.id, Name: f.name, Public: f.public, RedirectURIs: f.redirects, PostLogoutRedirectURIs: f.postLogout,
		GrantTypes: f.grants, AllowedConnectors: f.connectors, SkipConsent: f.skipConsent,
		BackchannelLogoutURI: f.backchannel, BackchannelLogoutSessionRequired: f.sessionRequired, SigningAlgorithm: f.alg,
	}
	if f.noPKCE {
		in.RequirePKCE = new(bool)
	}
	var out admin.ClientWithSecret
	if err := c.call(http.MethodPost, "/clients", in, &out); err != nil {
		return err
	}
	c.clientRows(out.Secret, out.Client)
	return nil
}

func (c *adminCLI) clientsUpdate(args []string) error {
	f := newClientFlags("clients update")
	f.fs.BoolVar(&f.rotate, "rotate-secret", false, "")
	a, err := positional(f.fs, args, "ID")
	if err != nil {
		return err
	}
	set := setFlags(f.fs)
	p := admin.ClientPatch{RotateSecret: f.rotate}
	strs := map[string]struct {
		dst **string
		v   *string
	}{"name": {&p.Name, &f.name}, "backchannel-logout-uri": {&p.BackchannelLogoutURI, &f.backchannel}, "signing-algorithm": {&p.SigningAlgorithm, &f.alg}}
	for flagName, s := range strs {
		if set[flagName] {
			*s.dst = s.v
		}
	}
	lists := map[string]struct {
		dst **[]string
		v   *listFlag
	}{"redirect-uri": {&p.RedirectURIs, &f.redirects}, "post-logout-redirect-uri": {&p.PostLogoutRedirectURIs, &f.postLogout},
		"grant-type": {&p.GrantTypes, &f.grants}, "allowed-connector": {&p.AllowedConnectors, &f.connectors}}
	for flagName, l := range lists {
		if set[flagName] {
			*l.dst = (*[]string)(l.v)
		}
	}
	bools := map[string]struct {
		dst **bool
		v   *bool
	}{"public": {&p.Public, &f.public}, "skip-consent": {&p.SkipConsent, &f.skipConsent}, "backchannel-session-required": {&p.BackchannelLogoutSessionRequired, &f.sessionRequired}}
	for flagName, b := range bools {
		if set[flagName] {
			*b.dst = b.v
		}
	}
	if set["no-pkce"] {
		pkce := !f.noPKCE
		p.RequirePKCE = &pkce
	}
	var out admin.ClientWithSecret
	if err := c.call(http.MethodPatch, "/clients/"+esc(a[0]), p, &out); err != nil {
		return err
	}
	c.clientRows(out.Secret, out.Client)
	return nil
}
