package admin

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/foyerid/foyer/storage"
)

// Client is a relying party as the API shows it. Its secret hash never
// leaves the store: HasSecret says whether there is one.
type Client struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name,omitempty"`
	Public                 bool     `json:"public"`
	HasSecret              bool     `json:"hasSecret"`
	RedirectURIs           []string `json:"redirectURIs"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectURIs"`
	GrantTypes             []string `json:"grantTypes"`
	// AllowedConnectors is empty when every connector may be used.
	AllowedConnectors                []string  `json:"allowedConnectors"`
	RequirePKCE                      bool      `json:"requirePKCE"`
	SkipConsent                      bool      `json:"skipConsent"`
	BackchannelLogoutURI             string    `json:"backchannelLogoutURI,omitempty"`
	BackchannelLogoutSessionRequired bool      `json:"backchannelLogoutSessionRequired"`
	SigningAlgorithm                 string    `json:"signingAlgorithm,omitempty"`
	Static                           bool      `json:"static"`
	CreatedAt                        time.Time `json:"createdAt"`
	UpdatedAt                        time.Time `json:"updatedAt,omitzero"`
}

// ClientList is the answer of GET /clients.
type ClientList struct {
	Clients []Client `json:"clients"`
}

// ClientWithSecret is the answer of POST /clients and of a PATCH that
// gives the client a new secret.
type ClientWithSecret struct {
	Client
	// Secret is a new client secret (256 bits, base64url), shown this once:
	// Foyer keeps only its hash. Empty for public clients.
	Secret string `json:"secret,omitempty"`
}

// NewClient is the body of POST /clients. Defaults are those of the config
// file: grantTypes [authorization_code, refresh_token], requirePKCE true.
// A confidential client (public false) gets a generated secret.
type NewClient struct {
	ID                               string   `json:"id"`
	Name                             string   `json:"name,omitempty"`
	Public                           bool     `json:"public,omitempty"`
	RedirectURIs                     []string `json:"redirectURIs,omitempty"`
	PostLogoutRedirectURIs           []string `json:"postLogoutRedirectURIs,omitempty"`
	GrantTypes                       []string `json:"grantTypes,omitempty"`
	AllowedConnectors                []string `json:"allowedConnectors,omitempty"`
	RequirePKCE                      *bool    `json:"requirePKCE,omitempty"`
	SkipConsent                      bool     `json:"skipConsent,omitempty"`
	BackchannelLogoutURI             string   `json:"backchannelLogoutURI,omitempty"`
	BackchannelLogoutSessionRequired bool     `json:"backchannelLogoutSessionRequired,omitempty"`
	SigningAlgorithm                 string   `json:"signingAlgorithm,omitempty"`
}

// ClientPatch is the body of PATCH /clients/{id}: absent (or null) members
// are left as they are; a list given replaces the list. RotateSecret gives
// a confidential client a new secret (the old one stops working at once);
// a client made confidential gets one too, and a client made public loses
// its secret.
type ClientPatch struct {
	Name                             *string   `json:"name,omitempty"`
	Public                           *bool     `json:"public,omitempty"`
	RedirectURIs                     *[]string `json:"redirectURIs,omitempty"`
	PostLogoutRedirectURIs           *[]string `json:"postLogoutRedirectURIs,omitempty"`
	GrantTypes                       *[]string `json:"grantTypes,omitempty"`
	AllowedConnectors                *[]string `json:"allowedConnectors,omitempty"`
	RequirePKCE                      *bool     `json:"requirePKCE,omitempty"`
	SkipConsent                      *bool     `json:"skipConsent,omitempty"`
	BackchannelLogoutURI             *string   `json:"backchannelLogoutURI,omitempty"`
	BackchannelLogoutSessionRequired *bool     `json:"backchannelLogoutSessionRequired,omitempty"`
	SigningAlgorithm                 *string   `json:"signingAlgorithm,omitempty"`
	RotateSecret                     bool      `json:"rotateSecret,omitempty"`
}

func (p ClientPatch) fields() []string {
	var f []string
	add := func(name string, set bool) {
		if set {
			f = append(f, name)
		}
	}
	add("name", p.Name != nil)
	add("public", p.Public != nil)
	add("redirectURIs", p.RedirectURIs != nil)
	add("postLogoutRedirectURIs", p.PostLogoutRedirectURIs != nil)
	add("grantTypes", p.GrantTypes != nil)
	add("allowedConnectors", p.AllowedConnectors != nil)
	add("requirePKCE", p.RequirePKCE != nil)
	add("skipConsent", p.SkipConsent != nil)
	add("backchannelLogoutURI", p.BackchannelLogoutURI != nil)
	add("backchannelLogoutSessionRequired", p.BackchannelLogoutSessionRequired != nil)
	add("signingAlgorithm", p.SigningAlgorithm != nil)
	add("rotateSecret", p.RotateSecret)
	return f
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return slices.Clone(v)
}

func clientOut(c storage.Client) Client {
	return Client{
		ID: c.ID, Name: c.Name, Public: c.Public, HasSecret: c.SecretHash != "",
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), AllowedConnectors: nonNil(c.AllowedConnectors),
		RequirePKCE: c.Public || c.RequirePKCE, SkipConsent: c.SkipConsent,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		SigningAlgorithm: c.SigningAlgorithm, Static: c.Static, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func staticClient(id string) *Error {
	return conflict("client %s is declared in the config file and cannot be changed here; edit the config file (clients:) and restart", id)
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	list, err := s.dir.ListClients(r.Context())
	if err != nil {
		return err
	}
	out := ClientList{Clients: make([]Client, 0, len(list))}
	for _, c := range list {
		out.Clients = append(out.Clients, clientOut(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "client")
	if err != nil {
		return err
	}
	c, err := s.dir.Client(r.Context(), id)
	if err != nil {
		return lookup(err, "client")
	}
	writeJSON(w, http.StatusOK, clientOut(c))
	return nil
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request) error {
	var in NewClient
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := checkClientID(in.ID); err != nil {
		return err
	}
	if in.Public && in.RequirePKCE != nil && !*in.RequirePKCE {
		return invalid("requirePKCE", "public clients always use PKCE (RFC 9700 §2.1.1)")
	}
	now := s.now().UTC()
	c := storage.Client{
		ID: in.ID, Name: in.Name, Public: in.Public,
		RedirectURIs:           slices.Clone(in.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(in.PostLogoutRedirectURIs),
		GrantTypes:             slices.Clone(in.GrantTypes),
		AllowedConnectors:      slices.Clone(in.AllowedConnectors),
		RequirePKCE:            in.RequirePKCE == nil || *in.RequirePKCE,
		SkipConsent:            in.SkipConsent,
		BackchannelLogoutURI:   in.BackchannelLogoutURI,
		SigningAlgorithm:       in.SigningAlgorithm,
		CreatedAt:              now,
		UpdatedAt:              now,

		BackchannelLogoutSessionRequired: in.BackchannelLogoutSessionRequired,
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{grantAuthorizationCode, grantRefreshToken}
	}
	if err := s.checkClient(c); err != nil {
		return err
	}
	var secret string
	if !c.Public {
		secret = storage.NewSecret()
		c.SecretHash = s.hashSecret(secret)
	}
	if err := s.dir.CreateClient(r.Context(), c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return conflict("the client id %q is taken", c.ID)
		}
		return err
	}
	detail := "public"
	if !c.Public {
		detail = "confidential; secret generated"
	}
	s.audit(r.Context(), "client.create", c.ID, detail)
	writeJSON(w, http.StatusCreated, ClientWithSecret{Client: clientOut(c), Secret: secret})
	return nil
}

func (s *Server) patchClient(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "client")
	if err != nil {
		return err
	}
	var p ClientPatch
	if err := decode(w, r, &p); err != nil {
		return err
	}
	fields := p.fields()
	if len(fields) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "nothing to change"}
	}
	candidate := storage.NewSecret()
	var updated storage.Client
	var secret string
	err = s.dir.UpdateClient(r.Context(), id, func(c *storage.Client) error {
		secret = ""
		if c.Static {
			return staticClient(c.ID)
		}
		applyClientPatch(c, p)
		switch {
		case c.Public && p.RequirePKCE != nil && !*p.RequirePKCE:
			return invalid("requirePKCE", "public clients always use PKCE (RFC 9700 §2.1.1)")
		case c.Public && p.RotateSecret:
			return invalid("rotateSecret", "a public client has no secret")
		case c.Public:
			c.SecretHash = ""
		case c.SecretHash == "" || p.RotateSecret:
			secret = candidate
			c.SecretHash = s.hashSecret(secret)
		}
		if err := s.checkClient(*c); err != nil {
			return err
		}
		c.UpdatedAt = s.now().UTC()
		updated = *c
		return nil
	})
	if err != nil {
		return lookup(err, "client")
	}
	detail := "set: " + strings.Join(fields, ",")
	if secret != "" {
		detail += "; new secret generated"
	}
	s.audit(r.Context(), "client.update", id, detail)
	writeJSON(w, http.StatusOK, ClientWithSecret{Client: clientOut(updated), Secret: secret})
	return nil
}

func applyClientPatch(c *storage.Client, p ClientPatch) {
	setS := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setL := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = slices.Clone(*v)
		}
	}
	setS(&c.Name, p.Name)
	setB(&c.Public, p.Public)
	setL(&c.RedirectURIs, p.RedirectURIs)
	setL(&c.PostLogoutRedirectURIs, p.PostLogoutRedirectURIs)
	setL(&c.GrantTypes, p.GrantTypes)
	setL(&c.AllowedConnectors, p.AllowedConnectors)
	setB(&c.RequirePKCE, p.RequirePKCE)
	setB(&c.SkipConsent, p.SkipConsent)
	setS(&c.BackchannelLogoutURI, p.BackchannelLogoutURI)
	setB(&c.BackchannelLogoutSessionRequired, p.BackchannelLogoutSessionRequired)
	setS(&c.SigningAlgorithm, p.SigningAlgorithm)
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{grantAuthorizationCode, grantRefreshToken}
	}
}

// deleteClient removes a client. Its refresh tokens stop working at once
// (the token endpoint no longer knows the client); access tokens already
// issued run to their expiry.
func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "client")
	if err != nil {
		return err
	}
	c, err := s.dir.Client(r.Context(), id)
	if err != nil {
		return lookup(err, "client")
	}
	if c.Static {
		return staticClient(id)
	}
	if err := s.dir.DeleteClient(r.Context(), id); err != nil {
		return lookup(err, "client")
	}
	s.audit(r.Context(), "client.delete", id, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
