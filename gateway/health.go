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

// ReadyCheck is an extra readiness check. A failing check makes /readyz
// answer 503, unless it is only a Warning, which is reported but leaves the
// worker ready.
type ReadyCheck struct {
	Name    string
	Warning bool
	Check   func(context.Context) error
}

// handleReadyz answers 200 when both halves of the store answer and every
// check passes, 503 otherwise, with the failing check named (never its
// error text, which may hold addresses; that goes to the log).
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	warnings := []string{}
	ok := true
	all := append([]ReadyCheck{
		{Name: "directory", Check: s.dir.Ping},
		{Name: "state", Check: s.state.Ping},
	}, s.readyChecks...)
	for _, c := range all {
		err := c.Check(ctx)
		switch {
		case err == nil:
			checks[c.Name] = "ok"
		case c.Warning:
			checks[c.Name] = "warning"
			warnings = append(warnings, c.Name+": "+err.Error())
			s.logger.WarnContext(ctx, "readyz warning", "check", c.Name, "err", err)
		default:
			ok = false
			checks[c.Name] = "unavailable"
			s.logger.WarnContext(ctx, "readyz: not ready", "check", c.Name, "err", err)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	out := map[string]any{"ready": ok, "checks": checks}
	if len(warnings) > 0 {
		out["warnings"] = warnings
	}
	_ = json.NewEncoder(w).Encode(out)
}
