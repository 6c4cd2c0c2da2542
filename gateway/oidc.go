package gateway

// Protocol strings, with the section that defines them.
const (
	// RFC 6749 §4.1.1, OIDC Core §3.1.2.1.
	responseTypeCode = "code"
	// OAuth 2.0 Multiple Response Type Encoding Practices §2.1, OAuth 2.0
	// Form Post Response Mode §2.
	responseModeQuery    = "query"
	responseModeFormPost = "form_post"

	// RFC 6749 §4.1.3, §6; RFC 6749 §4.3.
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantPassword          = "password"

	// RFC 7636 §4.3.
	pkceS256  = "S256"
	pkcePlain = "plain"

	// OIDC Core §5.4, §11; Foyer's groups scope.
	scopeOpenID        = "openid"
	scopeEmail         = "email"
	scopeProfile       = "profile"
	scopeGroups        = "groups"
	scopeOfflineAccess = "offline_access"
	// scopeIdentities asks for Foyer's identities claim: the connectors the
	// user can log in with.
	scopeIdentities = "identities"

	// OIDC Core §3.1.2.1 prompt values.
	promptNone          = "none"
	promptLogin         = "login"
	promptConsent       = "consent"
	promptSelectAccount = "select_account"

	// RFC 6749 §2.3.1, OIDC Core §9.
	authMethodBasic = "client_secret_basic"
	authMethodPost  = "client_secret_post"
	authMethodNone  = "none"

	// RFC 9068 §2.1 (access tokens) and RFC 7519 (ID tokens).
	typAccessToken = "at+jwt"
	typIDToken     = "JWT"

	// connectorParam is Foyer's hint that skips the chooser.
	connectorParam = "connector_id"
)

// supportedScopes are the scopes Foyer understands (discovery lists them).
var supportedScopes = []string{scopeOpenID, scopeEmail, scopeProfile, scopeGroups, scopeOfflineAccess, scopeIdentities}

func isSupportedScope(s string) bool {
	for _, v := range supportedScopes {
		if v == s {
			return true
		}
	}
	return false
}
