package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// discoveryDoc is OpenID Connect Discovery 1.0 §3 metadata, listing exactly
// what Foyer supports.
type discoveryDoc struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	UserinfoSigningAlgValuesSupported []string `json:"userinfo_signing_alg_values_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	// RFC 9207 §3.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	ClaimsParameterSupported                   bool `json:"claims_parameter_supported"`
	RequestParameterSupported                  bool `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool `json:"request_uri_parameter_supported"`
	// OIDC Back-Channel Logout 1.0 §2.1.
	BackchannelLogoutSupported        bool `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported bool `json:"backchannel_logout_session_supported"`
}

func (s *Server) buildDiscovery() ([]byte, error) {
	d := discoveryDoc{
		Issuer:                            s.issuer,
		AuthorizationEndpoint:             s.url("/authorize"),
		TokenEndpoint:                     s.url("/token"),
		UserinfoEndpoint:                  s.url("/userinfo"),
		JWKSURI:                           s.url("/jwks"),
		EndSessionEndpoint:                s.url("/logout"),
		RevocationEndpoint:                s.url("/revoke"),
		DeviceAuthorizationEndpoint:       s.url("/device/code"),
		IntrospectionEndpoint:             s.url("/introspect"),
		RevocationAuthMethodsSupported:    []string{authMethodBasic, authMethodPost, authMethodNone},
		IntrospectionAuthMethodsSupported: []string{authMethodBasic, authMethodPost},
		ScopesSupported:                   supportedScopes,
		ResponseTypesSupported:            []string{responseTypeCode},
		ResponseModesSupported:            []string{responseModeQuery, responseModeFormPost},
		GrantTypesSupported:               []string{grantAuthorizationCode, grantRefreshToken, grantPassword, grantDeviceCode},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  s.keys.Algorithms(),
		TokenEndpointAuthMethodsSupported: []string{authMethodBasic, authMethodPost, authMethodNone},
		ClaimsSupported: []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "sid",
			"idp", "email", "email_verified", "name", "preferred_username", "groups", "identities"},
		CodeChallengeMethodsSupported:              []string{pkceS256},
		PromptValuesSupported:                      []string{promptNone, promptLogin, promptConsent, promptSelectAccount},
		AuthorizationResponseIssParameterSupported: true,
		BackchannelLogoutSupported:                 true,
		BackchannelLogoutSessionSupported:          true,
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("gateway: discovery: %w", err)
	}
	return append(b, '\n'), nil
}

// handleDiscovery serves the pre-serialised discovery document.
func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.discovery)
}
