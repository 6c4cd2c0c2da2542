package storagetest

import (
	"time"

	"github.com/foyerid/foyer/storage"
)

// The fixtures fill every field with a distinct, non-zero value so that a
// round trip that drops or mixes up a field shows. Times are whole
// milliseconds (the precision every backend must keep) but never whole
// seconds, so a backend that keeps less shows too.

// ms is one millisecond; the suite only builds times at millisecond
// precision.
const ms = time.Millisecond

func at(c *Clock, d time.Duration) time.Time { return c.Now().Add(d + 123*ms) }

func fullUser(c *Clock, id string) storage.User {
	return storage.User{
		ID:            id,
		Email:         id + "@example.org",
		EmailVerified: true,
		Name:          "Name of " + id,
		Username:      "user-" + id,
		Groups:        []string{"admins", "ops"},
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		Disabled:      true,
		Static:        true,
		CreatedAt:     at(c, -3*time.Hour),
		UpdatedAt:     at(c, -2*time.Hour),
		LastLoginAt:   at(c, -time.Hour),
	}
}

func fullClaims(tag string) storage.Claims {
	return storage.Claims{
		Email:         tag + "@upstream.example",
		EmailVerified: true,
		Name:          "Claims " + tag,
		Username:      "claims-" + tag,
		Groups:        []string{"g-" + tag, "all"},
	}
}

func fullIdentity(c *Clock, connector, subject, userID string) storage.Identity {
	return storage.Identity{
		ConnectorID:   connector,
		Subject:       subject,
		UserID:        userID,
		Claims:        fullClaims(subject),
		ConnectorData: []byte(`{"refresh_token":"` + subject + `"}`),
		LinkedAt:      at(c, -time.Hour),
		LastUsedAt:    at(c, -time.Minute),
	}
}

func fullClient(c *Clock, id string) storage.Client {
	return storage.Client{
		ID:                               id,
		SecretHash:                       "secret-hash-" + id,
		Name:                             "Client " + id,
		Public:                           true,
		RedirectURIs:                     []string{"https://" + id + ".example/cb", "http://127.0.0.1/cb"},
		PostLogoutRedirectURIs:           []string{"https://" + id + ".example/bye"},
		GrantTypes:                       []string{"authorization_code", "refresh_token"},
		AllowedConnectors:                []string{"ldap", "github"},
		RequirePKCE:                      true,
		SkipConsent:                      true,
		BackchannelLogoutURI:             "https://" + id + ".example/bcl",
		BackchannelLogoutSessionRequired: true,
		SigningAlgorithm:                 "ES256",
		Static:                           true,
		CreatedAt:                        at(c, -2*time.Hour),
		UpdatedAt:                        at(c, -time.Hour),
	}
}

func fullConnector(c *Clock, id string) storage.ConnectorConfig {
	return storage.ConnectorConfig{
		ID:        id,
		Type:      "oidc",
		Name:      "Connector " + id,
		Config:    []byte(`{"issuer":"https://` + id + `.example"}`),
		CreatedAt: at(c, -2*time.Hour),
		UpdatedAt: at(c, -time.Hour),
	}
}

func fullConsent(c *Clock, userID, clientID string) storage.Consent {
	return storage.Consent{
		UserID:    userID,
		ClientID:  clientID,
		Scopes:    []string{"openid", "email", "offline_access"},
		GrantedAt: at(c, -time.Minute),
	}
}

func fullLogin(c *Clock, userID, sessionID string) storage.Login {
	return storage.Login{
		UserID:        userID,
		Claims:        fullClaims(userID),
		ConnectorID:   "ldap",
		ConnectorData: []byte("opaque-" + userID),
		AuthTime:      at(c, -5*time.Minute),
		AMR:           []string{"pwd", "mfa"},
		SessionID:     sessionID,
	}
}

func fullAuthRequest(c *Clock, id string, ttl time.Duration) storage.AuthRequest {
	login := fullLogin(c, "user-1", "session-1")
	return storage.AuthRequest{
		ID:                  id,
		ClientID:            "client-1",
		RedirectURI:         "https://client-1.example/cb",
		ResponseType:        "code",
		ResponseMode:        "form_post",
		Scopes:              []string{"openid", "profile"},
		State:               "state-" + id,
		Nonce:               "nonce-" + id,
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Prompt:              []string{"login", "consent"},
		MaxAge:              300,
		LoginHint:           "alice",
		ConnectorHint:       "ldap",
		Binding:             "binding-" + id,
		Step:                "consent",
		StepSecret:          "step-secret-" + id,
		ConnectorID:         "ldap",
		ConnectorState:      []byte("connector-state-" + id),
		Login:               &login,
		CreatedAt:           at(c, -time.Second),
		ExpiresAt:           c.Now().Add(ttl),
	}
}

func fullAuthCode(c *Clock, id string, ttl time.Duration) storage.AuthCode {
	return storage.AuthCode{
		ID:                  id,
		ClientID:            "client-1",
		RedirectURI:         "https://client-1.example/cb",
		Scopes:              []string{"openid", "offline_access"},
		Nonce:               "nonce-" + id,
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Login:               fullLogin(c, "user-1", "session-1"),
		GrantID:             "grant-of-" + id,
		CreatedAt:           at(c, -time.Second),
		ExpiresAt:           c.Now().Add(ttl),
	}
}

// fullGrant returns a live grant of client-1 whose current refresh token
// hash is "rt-"+id, idle for idle and absolute for absolute from now.
func fullGrant(c *Clock, id, userID, sessionID string, idle, absolute time.Duration) storage.Grant {
	return storage.Grant{
		ID:                id,
		ClientID:          "client-1",
		Scopes:            []string{"openid", "offline_access"},
		Login:             fullLogin(c, userID, sessionID),
		Offline:           false,
		CreatedAt:         at(c, -time.Second),
		ExpiresAt:         c.Now().Add(idle),
		AbsoluteExpiresAt: c.Now().Add(absolute),
		TokenHash:         "rt-" + id,
	}
}

func fullSession(c *Clock, id, userID string, idle, absolute time.Duration) storage.Session {
	return storage.Session{
		ID:                id,
		UserID:            userID,
		Login:             fullLogin(c, userID, id),
		Clients:           []string{"client-1", "client-2"},
		CreatedAt:         at(c, -time.Minute),
		LastSeenAt:        at(c, -time.Second),
		ExpiresAt:         c.Now().Add(idle),
		AbsoluteExpiresAt: c.Now().Add(absolute),
	}
}

func fullDevice(c *Clock, id, userCode string, ttl time.Duration) storage.DeviceRequest {
	return storage.DeviceRequest{
		ID:        id,
		UserCode:  userCode,
		ClientID:  "tv",
		Scopes:    []string{"openid", "offline_access"},
		Status:    storage.DevicePending,
		Interval:  5,
		CreatedAt: at(c, -time.Second),
		ExpiresAt: c.Now().Add(ttl),
	}
}

func fullKeySet(c *Clock, kids ...string) storage.KeySet {
	ks := storage.KeySet{UpdatedAt: at(c, 0)}
	for i, kid := range kids {
		ks.Keys = append(ks.Keys, storage.SigningKey{
			ID:        kid,
			Algorithm: "RS256",
			Public:    []byte(`{"kty":"RSA","kid":"` + kid + `"}`),
			Sealed:    []byte("sealed-" + kid),
			CreatedAt: at(c, time.Duration(i)*time.Hour),
			SignFrom:  at(c, time.Duration(i+1)*time.Hour),
			RemoveAt:  at(c, time.Duration(i+48)*time.Hour),
		})
	}
	return ks
}
