package admin

import (
	"net/http"
	"strconv"
	"time"
)

// AuditEvent is one line of the audit log.
type AuditEvent struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// AuditList is the answer of GET /audit.
type AuditList struct {
	Events []AuditEvent `json:"events"`
}

// Audit page sizes.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// listAudit answers GET /audit?since=RFC3339&limit=N: events at or after
// since (default: the beginning), oldest first, at most limit (default 100,
// at most 1000).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "since", "limit")
	if err != nil {
		return err
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			return invalid("since", "expected an RFC 3339 time, such as 2025-01-31T09:00:00Z")
		}
	}
	limit := defaultAuditLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxAuditLimit {
			return invalid("limit", "expected an integer from 1 to %d", maxAuditLimit)
		}
	}
	events, err := s.dir.ListAudit(r.Context(), since, limit)
	if err != nil {
		return err
	}
	out := AuditList{Events: make([]AuditEvent, 0, len(events))}
	for _, e := range events {
		out.Events = append(out.Events, AuditEvent{ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
