package saml_test

import (
	"slices"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors/saml"
	"github.com/foyerid/foyer/internal/config"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	md := "<EntityDescriptor/>"
	tests := []struct {
		name string
		cfg  saml.Config
		want []string // paths of the problems, in order
	}{
		{name: "metadata URL only", cfg: saml.Config{IDPMetadataURL: "https://idp.example/metadata"}},
		{name: "metadata file only", cfg: saml.Config{IDPMetadataFile: "/etc/foyer/idp.xml"}},
		{name: "metadata data only", cfg: saml.Config{IDPMetadataData: md}},
		{name: "loopback http metadata URL", cfg: saml.Config{IDPMetadataURL: "http://127.0.0.1:8080/metadata"}},
		{name: "localhost http SSO URL", cfg: saml.Config{IDPMetadataData: md, SSOURL: "http://localhost:8080/sso"}},
		{name: "everything set", cfg: saml.Config{
			EntityID: "urn:foyer:corp", IDPMetadataURL: "https://idp.example/metadata", SSOURL: "https://idp.example/sso",
			SPCertFile: "sp.crt", SPKeyFile: "sp.key", Binding: saml.BindingPost, RequireSigned: saml.SignedAssertion,
			NameIDFormat: "emailAddress", UsernameAttr: []string{"uid"}, EmailAttr: []string{"mail"},
			NameAttr: []string{"cn"}, GroupsAttr: []string{"memberOf"}, AllowedGroups: []string{"staff"},
			EmailVerified: true, ClockSkew: config.Duration(3 * time.Minute),
		}},
		{name: "full NameID format URI", cfg: saml.Config{IDPMetadataData: md, NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos"}},
		{name: "no metadata", cfg: saml.Config{}, want: []string{"idpMetadataURL"}},
		{name: "two metadata sources", cfg: saml.Config{IDPMetadataURL: "https://idp.example/md", IDPMetadataData: md}, want: []string{"idpMetadataURL"}},
		{name: "plain http metadata URL", cfg: saml.Config{IDPMetadataURL: "http://idp.example/metadata"}, want: []string{"idpMetadataURL"}},
		{name: "relative metadata URL", cfg: saml.Config{IDPMetadataURL: "/metadata"}, want: []string{"idpMetadataURL"}},
		{name: "ftp SSO URL", cfg: saml.Config{IDPMetadataData: md, SSOURL: "ftp://idp.example/sso"}, want: []string{"ssoURL"}},
		{name: "entity ID with a space", cfg: saml.Config{IDPMetadataData: md, EntityID: "urn:foyer corp"}, want: []string{"entityID"}},
		{name: "certificate without key", cfg: saml.Config{IDPMetadataData: md, SPCertFile: "sp.crt"}, want: []string{"spCertFile"}},
		{name: "key without certificate", cfg: saml.Config{IDPMetadataData: md, SPKeyFile: "sp.key"}, want: []string{"spCertFile"}},
		{name: "unknown binding", cfg: saml.Config{IDPMetadataData: md, Binding: "artifact"}, want: []string{"binding"}},
		{name: "unknown signature requirement", cfg: saml.Config{IDPMetadataData: md, RequireSigned: "none"}, want: []string{"requireSigned"}},
		{name: "transient NameID", cfg: saml.Config{IDPMetadataData: md, NameIDFormat: "transient"}, want: []string{"nameIDFormat"}},
		{name: "transient NameID URI", cfg: saml.Config{IDPMetadataData: md, NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"}, want: []string{"nameIDFormat"}},
		{name: "NameID format neither short nor URI", cfg: saml.Config{IDPMetadataData: md, NameIDFormat: "email"}, want: []string{"nameIDFormat"}},
		{name: "empty attribute names", cfg: saml.Config{IDPMetadataData: md, EmailAttr: []string{"mail", " "}, GroupsAttr: []string{""}, AllowedGroups: []string{"a", ""}},
			want: []string{"emailAttr[1]", "groupsAttr[0]", "allowedGroups[1]"}},
		{name: "skew too large", cfg: saml.Config{IDPMetadataData: md, ClockSkew: config.Duration(5 * time.Minute)}, want: []string{"clockSkew"}},
		{name: "negative skew", cfg: saml.Config{IDPMetadataData: md, ClockSkew: config.Duration(-time.Second)}, want: []string{"clockSkew"}},
		{name: "every mistake at once", cfg: saml.Config{Binding: "x", RequireSigned: "y", SPKeyFile: "k"},
			want: []string{"idpMetadataURL", "spCertFile", "binding", "requireSigned"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, p := range tt.cfg.Validate() {
				if p.Msg == "" {
					t.Errorf("problem at %s has no message", p.Path)
				}
				got = append(got, p.Path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems at %v, want %v (%v)", got, tt.want, tt.cfg.Validate())
			}
		})
	}
}

// TestTypeRegistration checks the registry entry: a fresh config that
// validates itself, and Open refusing a config of another type.
func TestTypeRegistration(t *testing.T) {
	t.Parallel()
	cfg, ok := saml.Type.NewConfig().(*saml.Config)
	if !ok {
		t.Fatalf("NewConfig returned %T", saml.Type.NewConfig())
	}
	var _ config.Validator = cfg
	if _, err := saml.Type.Open(struct{}{}, testEnv()); err == nil {
		t.Error("Open accepted a config of another type")
	}
}
