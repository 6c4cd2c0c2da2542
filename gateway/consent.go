package gateway

import (
	"net/http"
	"slices"

	"github.com/foyerid/foyer/storage"
)

// scopeWords says what each scope lets the application do, in plain words.
var scopeWords = map[string]string{
	scopeOpenID:        "Know who you are",
	scopeEmail:         "See your email address",
	scopeProfile:       "See your name and username",
	scopeGroups:        "See the groups you belong to",
	scopeOfflineAccess: "Keep access when you are not using it (stay logged in)",
	scopeIdentities:    "See which login methods are linked to your account",
}

// describeScopes puts scopes in plain words, for the consent and device
// pages.
func describeScopes(scopes []string) []string {
	var words []string
	for _, sc := range scopes {
		if w, ok := scopeWords[sc]; ok {
			words = append(words, w)
		}
	}
	return words
}

// handleConsent shows the consent page (GET) and takes the decision (POST).
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var id, secret string
	if r.Method == http.MethodPost {
		id, secret = r.PostFormValue("req"), r.PostFormValue("step")
	} else {
		q := r.URL.Query()
		id, secret = q.Get("req"), q.Get("step")
	}
	req, err := s.loadFlow(w, r, id)
	if err != nil {
		return
	}
	if req.Login == nil || !stepSecretOK(req, stepConsent, secret) {
		s.logger.InfoContext(ctx, "consent: wrong step", "client_id", req.ClientID, "request_id", requestID(ctx))
		s.renderError(w, r, http.StatusBadRequest, "Consent link not valid",
			"This consent page is not valid. Go back to the application and start again.")
		return
	}
	client, err := s.dir.Client(ctx, req.ClientID)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if r.Method == http.MethodGet {
		words := describeScopes(req.Scopes)
		label := req.Login.Claims.Email
		if label == "" {
			label = req.Login.Claims.Username
		}
		if label == "" {
			label = req.Login.Claims.Name
		}
		withFormAction(w, req.RedirectURI)
		s.render(w, r, http.StatusOK, "consent", "Allow access?", struct {
			ClientName, UserLabel, Req, Step, CSRF string
			Scopes                                 []string
		}{clientName(client), label, id, secret, s.mac(stepConsent, id, flowCookie(r)), words})
		return
	}
	if !s.checkMAC(r.PostFormValue("csrf"), stepConsent, id, flowCookie(r)) {
		s.logger.InfoContext(ctx, "consent form: bad csrf token", "client_id", client.ID, "request_id", requestID(ctx))
		s.renderError(w, r, http.StatusForbidden, "Form expired",
			"This form is no longer valid. Go back to the application and start again.")
		return
	}
	taken, ok := s.takeFlow(w, r, req)
	if !ok {
		return
	}
	if taken.Login == nil {
		s.renderError(w, r, http.StatusBadRequest, "Consent link not valid", "This consent was already answered.")
		return
	}
	if r.PostFormValue("decision") != "allow" {
		s.logger.InfoContext(ctx, "consent denied", "client_id", client.ID, "user_id", taken.Login.UserID)
		s.redirectError(w, r, taken.RedirectURI, taken.ResponseMode, taken.State, errAccessDenied("The user denied the request."))
		return
	}
	granted := []string{}
	if prev, err := s.dir.Consent(ctx, taken.Login.UserID, client.ID); err == nil {
		granted = append(granted, prev.Scopes...)
	}
	for _, sc := range taken.Scopes {
		if sc != scopeOpenID && !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	if err := s.dir.PutConsent(ctx, storage.Consent{
		UserID: taken.Login.UserID, ClientID: client.ID, Scopes: granted, GrantedAt: s.now().UTC(),
	}); err != nil {
		s.logger.WarnContext(ctx, "consent not remembered", "client_id", client.ID, "err", err)
	}
	s.issueCode(w, r, client, taken, *taken.Login)
}
