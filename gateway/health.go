package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// handleHealthz answers while the process lives.
func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// handleReadyz answers 200 when both halves of the store answer, 503
// otherwise, with the failing check named (never its error text, which may
// hold addresses).
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	if err := s.dir.Ping(ctx); err != nil {
		ok = false
		checks["directory"] = "unavailable"
		s.logger.WarnContext(ctx, "readyz: directory", "err", err)
	} else {
		checks["directory"] = "ok"
	}
	if err := s.state.Ping(ctx); err != nil {
		ok = false
		checks["state"] = "unavailable"
		s.logger.WarnContext(ctx, "readyz: state", "err", err)
	} else {
		checks["state"] = "ok"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": checks})
}
