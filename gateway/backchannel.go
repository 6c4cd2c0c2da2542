package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/foyerid/foyer/storage"
)

// OIDC Back-Channel Logout 1.0 §2.4.
const (
	backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"
	typLogoutToken   = "logout+jwt"
	logoutTokenTTL   = 2 * time.Minute
)

// logoutTokenClaims are a logout token's claims (§2.4): no nonce, an events
// claim, sub and sid.
type logoutTokenClaims struct {
	Iss    string                    `json:"iss"`
	Aud    string                    `json:"aud"`
	Iat    int64                     `json:"iat"`
	Exp    int64                     `json:"exp"`
	JTI    string                    `json:"jti"`
	Sub    string                    `json:"sub,omitempty"`
	SID    string                    `json:"sid,omitempty"`
	Events map[string]map[string]any `json:"events"`
}

// backchannelLogout tells every client that got tokens in the session, and
// registered a back-channel logout URI, that the session ended. It runs in
// the background with retries, so the person's logout never waits for a
// slow client.
func (s *Server) backchannelLogout(ctx context.Context, sess storage.Session) {
	for _, clientID := range sess.Clients {
		c, err := s.dir.Client(ctx, clientID)
		if err != nil || c.BackchannelLogoutURI == "" {
			continue
		}
		now := s.now().UTC()
		claims := logoutTokenClaims{
			Iss: s.issuer, Aud: c.ID, Iat: now.Unix(), Exp: now.Add(logoutTokenTTL).Unix(),
			JTI: storage.NewID(), Sub: sess.UserID,
			Events: map[string]map[string]any{backchannelEvent: {}},
		}
		// sid is always sent; clients that require it (§2.2
		// backchannel_logout_session_required) are therefore served too.
		claims.SID = sess.ID
		alg := c.SigningAlgorithm
		if alg == "" {
			alg = s.keys.DefaultAlgorithm()
		}
		token, err := s.keys.Sign(alg, typLogoutToken, claims)
		if err != nil {
			s.logger.ErrorContext(ctx, "sign logout token", "client_id", c.ID, "err", err)
			continue
		}
		s.bgWG.Add(1)
		go func(uri, clientID string) {
			defer s.bgWG.Done()
			s.sendLogoutToken(uri, clientID, token)
		}(c.BackchannelLogoutURI, c.ID)
	}
}

// sendLogoutToken POSTs a logout token (§2.5), retrying a few times with
// backoff; a client answering 200 or 204 has it.
func (s *Server) sendLogoutToken(uri, clientID, token string) {
	body := url.Values{"logout_token": {token}}.Encode()
	delay := s.backchannelRetry
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
		if err != nil {
			cancel()
			s.logger.Error("back-channel logout: bad URI", "client_id", clientID, "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := s.backchannelClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent {
				cancel()
				s.logger.Info("back-channel logout delivered", "client_id", clientID)
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		cancel()
		s.logger.Warn("back-channel logout failed", "client_id", clientID, "attempt", attempt, "err", err)
		if attempt < 3 {
			time.Sleep(delay)
			delay *= 2
		}
	}
}

// Wait waits for background work (back-channel logout deliveries) to end;
// for graceful shutdown and tests.
func (s *Server) Wait() { s.bgWG.Wait() }
