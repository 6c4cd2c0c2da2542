package github_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The fake's REST API: GitHub's media type, version header, scopes and
// pagination.

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)})
}

// api serves the REST API.
func (f *fakeGitHub) api(w http.ResponseWriter, r *http.Request, prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, prefix)
	if got := r.Header.Get("Accept"); got != "application/vnd.github+json" {
		f.t.Errorf("fake github: GET %s with Accept %q, want application/vnd.github+json", path, got)
	}
	if got := r.Header.Get("X-GitHub-Api-Version"); got != "2022-11-28" {
		f.t.Errorf("fake github: GET %s with X-GitHub-Api-Version %q", path, got)
		if got != "" {
			apiMessage(w, http.StatusBadRequest, "API version "+got+" is not supported.")
			return
		}
	}
	if r.Header.Get("User-Agent") == "" {
		apiMessage(w, http.StatusForbidden, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.")
		return
	}
	if r.Method != http.MethodGet {
		apiMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	f.hits[path]++
	if fs := f.faults[path]; len(fs) > 0 {
		f.faults[path] = fs[1:]
		for k, v := range fs[0].header {
			w.Header()[k] = v
		}
		w.WriteHeader(fs[0].status)
		_, _ = w.Write([]byte(fs[0].body))
		return
	}
	auth := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		secret, ok = strings.CutPrefix(auth, "token ")
	}
	if !ok {
		apiMessage(w, http.StatusUnauthorized, "Requires authentication")
		return
	}
	tok, ok := f.tokens[secret]
	u := f.users[tok.login]
	if !ok || u == nil {
		apiMessage(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	h := w.Header()
	h.Set("X-Ratelimit-Limit", "5000")
	h.Set("X-Ratelimit-Remaining", "4999")
	h.Set("X-Ratelimit-Used", "1")
	h.Set("X-Ratelimit-Resource", "core")
	if !f.expiring {
		h.Set("X-OAuth-Scopes", strings.ReplaceAll(tok.scope, ",", ", "))
	}
	readOrg := f.expiring || hasScope(tok.scope, "read:org", "write:org", "admin:org")
	switch path {
	case "/user":
		var email any
		if u.Email != "" {
			email = u.Email
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"login": u.Login, "id": u.ID, "node_id": "U_" + strconv.FormatInt(u.ID, 10), "type": "User",
			"site_admin": false, "name": u.Name, "email": email,
			"html_url": "https://github.com/" + u.Login, "url": "https://api.github.com/users/" + u.Login,
		})
	case "/user/emails":
		h.Set("X-Accepted-OAuth-Scopes", "user, user:email")
		if !f.expiring && !hasScope(tok.scope, "user", "user:email") {
			apiMessage(w, http.StatusNotFound, "Not Found")
			return
		}
		var items []any
		for _, e := range u.Emails {
			items = append(items, map[string]any{"email": e.Address, "primary": e.Primary, "verified": e.Verified, "visibility": nil})
		}
		f.paginate(w, r, prefix+path, items)
	case "/user/orgs":
		h.Set("X-Accepted-OAuth-Scopes", "admin:org, read:org, repo, user, write:org")
		var items []any
		for i, o := range u.Orgs {
			// Without read:org only public memberships show; all are
			// private here.
			if readOrg {
				items = append(items, map[string]any{"login": o, "id": 1000 + i, "url": "https://api.github.com/orgs/" + o, "description": ""})
			}
		}
		f.paginate(w, r, prefix+path, items)
	case "/user/teams":
		h.Set("X-Accepted-OAuth-Scopes", "admin:org, read:org, repo, user, write:org")
		if !readOrg {
			apiMessage(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		var items []any
		for i, t := range u.Teams {
			items = append(items, map[string]any{
				"id": 2000 + i, "name": t.Name, "slug": t.Slug, "privacy": "closed",
				"organization": map[string]any{"login": t.Org, "id": 1000},
			})
		}
		f.paginate(w, r, prefix+path, items)
	default:
		apiMessage(w, http.StatusNotFound, "Not Found")
	}
}

// paginate serves one page of items, as GitHub does: per_page (default
// 30, at most 100), page (from 1), and a Link header with first, prev,
// next and last.
func (f *fakeGitHub) paginate(w http.ResponseWriter, r *http.Request, path string, items []any) {
	q := r.URL.Query()
	f.perPage = append(f.perPage, q.Get("per_page"))
	per := 30
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		per = min(n, 100)
	}
	per = min(per, f.maxPerPage)
	page := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}
	last := max(1, (len(items)+per-1)/per)
	link := func(p int, rel string) string {
		v := url.Values{"page": {strconv.Itoa(p)}}
		if q.Get("per_page") != "" {
			v.Set("per_page", q.Get("per_page"))
		}
		return fmt.Sprintf(`<https://%s%s?%s>; rel="%s"`, r.Host, path, v.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start, end := min((page-1)*per, len(items)), min(page*per, len(items))
	out := items[start:end]
	if out == nil {
		out = []any{}
	}
	writeJSON(w, http.StatusOK, out)
}
