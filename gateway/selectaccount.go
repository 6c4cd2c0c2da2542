package gateway

import (
	"errors"
	"net/http"

	"github.com/foyerid/foyer/storage"
)

// handleSelectAccount serves prompt=select_account when the browser has a
// session: continue as the session's user, or log in as someone else.
func (s *Server) handleSelectAccount(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var id string
	if r.Method == http.MethodPost {
		id = r.PostFormValue("req")
	} else {
		id = r.URL.Query().Get("req")
	}
	req, err := s.loadFlow(w, r, id)
	if err != nil {
		return
	}
	if req.Step != stepLogin {
		s.renderError(w, r, http.StatusBadRequest, "Login already done",
			"This login has already moved on. Go back to the application and start again.")
		return
	}
	if req.Purpose != "" {
		// Foyer's own flows (the account page) have no client to choose an
		// account for.
		s.renderError(w, r, http.StatusBadRequest, "Login link not valid",
			"This page is not part of this login. Go back and start again.")
		return
	}
	client, err := s.dir.Client(ctx, req.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		s.renderError(w, r, http.StatusBadRequest, "Unknown application", "The application you were logging in to is no longer registered.")
		return
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	login, usable, err := s.sessionLogin(ctx, r, client, req, s.now().UTC())
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	other := s.loginURL(client, storage.AuthRequest{ConnectorHint: req.ConnectorHint}, id)
	if !usable {
		http.Redirect(w, r, other, http.StatusSeeOther)
		return
	}
	if r.Method == http.MethodGet {
		// Continuing may be answered by the redirect to the client.
		withFormAction(w, req.RedirectURI)
		s.render(w, r, http.StatusOK, "select", "Choose an account", struct {
			ClientName, UserLabel, Req, CSRF, Action, Other string
		}{clientName(client), labelOf(login.Claims), id, s.mac("select", id, flowCookie(r)), s.url("/select-account"), other})
		return
	}
	if !s.checkMAC(r.PostFormValue("csrf"), "select", id, flowCookie(r)) {
		s.renderError(w, r, http.StatusForbidden, "Form expired",
			"This form is no longer valid. Go back to the application and start again.")
		return
	}
	taken, ok := s.takeFlow(w, r, req)
	if !ok {
		return
	}
	taken.Prompt = nil // the choice is made; consent rules still apply
	s.afterLogin(w, r, client, taken, id, login)
}
