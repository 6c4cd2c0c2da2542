package gateway

import (
	"net/http"
	"strconv"
)

// handleJWKS serves the key manager's pre-serialised JWKS. Its max-age is
// shorter than the time a new key is published before it signs, so a
// relying party's cached copy always holds the key of any token it meets.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	body, etag := s.keys.JWKS()
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.keys.JWKSMaxAge().Seconds())))
	if etag != "" {
		h.Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	_, _ = w.Write(body)
}
