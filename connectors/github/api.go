package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// GitHub REST API conventions
// (https://docs.github.com/en/rest/about-the-rest-api).
const (
	apiMediaType = "application/vnd.github+json"
	apiVersion   = "2022-11-28"
	userAgent    = "Foyer"
	// perPage is the largest page GitHub serves.
	perPage = 100
	// maxPages bounds one list: 100 pages of 100 is far more teams or
	// emails than any account has.
	maxPages = 100
	// maxBody bounds one response body.
	maxBody = 1 << 20
	// maxRetryWait is the longest a rate-limited call waits for its one
	// retry; a longer wait fails the call instead of holding a login page.
	maxRetryWait = 2 * time.Second
)

// ErrRateLimited: GitHub's API rate limit is exhausted for longer than
// Foyer waits.
var ErrRateLimited = errors.New("github: API rate limit exceeded")

// errUnauthorized: GitHub did not accept the token (revoked, expired).
var errUnauthorized = errors.New("github: token not accepted")

// apiError is an unexpected answer from the API. Message is GitHub's own
// message, for the log.
type apiError struct {
	Path    string
	Status  int
	Message string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("github: GET %s: status %d", e.Path, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap makes a 401 match errUnauthorized.
func (e *apiError) Unwrap() error {
	if e.Status == http.StatusUnauthorized {
		return errUnauthorized
	}
	return nil
}

// apiClient calls the REST API with one user's token.
type apiClient struct {
	base   *url.URL // API root, e.g. https://api.github.com or https://HOST/api/v3
	http   *http.Client
	tokens oauth2.TokenSource
	now    func() time.Time
	wait   func(context.Context, time.Duration) error
	// waited is set once a call has waited out a rate limit: one wait per
	// login or refresh, so that a long list cannot hold the page for long.
	waited bool
}

// getJSON fetches path (relative to the API root) into out.
func (a *apiClient) getJSON(ctx context.Context, path string, out any) (http.Header, error) {
	h, _, err := a.get(ctx, a.endpoint(path), out)
	return h, err
}

// endpoint is the URL of an API path such as "/user".
func (a *apiClient) endpoint(path string) *url.URL {
	u := *a.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	return &u
}

// getAll fetches every page of a list, following the Link header's next
// relation to the end.
func getAll[T any](ctx context.Context, a *apiClient, path string) ([]T, error) {
	u := a.endpoint(path)
	u.RawQuery = url.Values{"per_page": {strconv.Itoa(perPage)}}.Encode()
	var all []T
	for range maxPages {
		var page []T
		_, next, err := a.get(ctx, u, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == nil {
			return all, nil
		}
		u = next
	}
	return nil, fmt.Errorf("github: GET %s: more than %d pages", path, maxPages)
}

// get fetches u into out and returns the response headers and the next
// page's URL, if any. A rate-limited answer is retried once when GitHub
// asks for a short enough wait and no earlier call has waited.
func (a *apiClient) get(ctx context.Context, u *url.URL, out any) (http.Header, *url.URL, error) {
	for {
		resp, err := a.do(ctx, u)
		if err != nil {
			return nil, nil, err
		}
		limited, wait, known := rateLimit(resp, a.now())
		if limited {
			drain(resp)
			if !a.waited && known && wait <= maxRetryWait {
				a.waited = true
				if err := a.wait(ctx, wait); err != nil {
					return nil, nil, fmt.Errorf("github: GET %s: waiting out the rate limit: %w", u.Path, err)
				}
				continue
			}
			if known {
				return nil, nil, fmt.Errorf("%w: GET %s (resets in %s)", ErrRateLimited, u.Path, wait.Round(time.Second))
			}
			return nil, nil, fmt.Errorf("%w: GET %s", ErrRateLimited, u.Path)
		}
		return a.read(resp, u, out)
	}
}

// read decodes a response that is not a rate-limit answer.
func (a *apiClient) read(resp *http.Response, u *url.URL, out any) (http.Header, *url.URL, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("github: GET %s: read: %w", u.Path, err)
	}
	if len(body) > maxBody {
		return nil, nil, fmt.Errorf("github: GET %s: response larger than %d bytes", u.Path, maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		var m struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &m)
		if len(m.Message) > 200 {
			m.Message = strings.ToValidUTF8(m.Message[:200], "")
		}
		return nil, nil, &apiError{Path: u.Path, Status: resp.StatusCode, Message: m.Message}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, nil, fmt.Errorf("github: GET %s: decode: %w", u.Path, err)
	}
	next, err := a.nextPage(resp, u)
	if err != nil {
		return nil, nil, fmt.Errorf("github: GET %s: %w", u.Path, err)
	}
	return resp.Header, next, nil
}

// do sends one authenticated GET.
func (a *apiClient) do(ctx context.Context, u *url.URL) (*http.Response, error) {
	tok, err := a.tokens.Token()
	if err != nil {
		return nil, fmt.Errorf("github: token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("github: GET %s: %w", u.Path, err)
	}
	req.Header.Set("Accept", apiMediaType)
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("github: GET %s: %w", u.Path, err)
	}
	return resp, nil
}

// drain reads a little of a body we do not want, so the connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// rateLimit reports whether resp is a rate-limit answer (403 or 429 with
// x-ratelimit-remaining: 0 or Retry-After; see GitHub's "Rate limits for
// the REST API") and, when known, how long until a retry may succeed.
func rateLimit(resp *http.Response, now time.Time) (limited bool, wait time.Duration, known bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return false, 0, false
	}
	retryAfter := resp.Header.Get("Retry-After")
	if retryAfter == "" && resp.Header.Get("X-Ratelimit-Remaining") != "0" {
		return false, 0, false
	}
	if retryAfter != "" {
		// RFC 9110 §10.2.3: delay-seconds or an HTTP-date.
		if n, err := strconv.ParseInt(retryAfter, 10, 64); err == nil && n >= 0 {
			return true, time.Duration(min(n, 1<<31)) * time.Second, true
		}
		if t, err := http.ParseTime(retryAfter); err == nil {
			return true, max(t.Sub(now), 0), true
		}
		return true, 0, false
	}
	if n, err := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
		return true, max(time.Unix(n, 0).Sub(now), 0), true
	}
	return true, 0, false
}

// nextPage returns the Link header's rel="next" URL. It must stay on the
// API's scheme, host and path: the token goes wherever it points.
func (a *apiClient) nextPage(resp *http.Response, u *url.URL) (*url.URL, error) {
	raw := nextLink(resp.Header.Values("Link"))
	if raw == "" {
		return nil, nil
	}
	next, err := u.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("next page link: %w", err)
	}
	if next.Scheme != a.base.Scheme || next.Host != a.base.Host ||
		!strings.HasPrefix(next.Path, strings.TrimSuffix(a.base.Path, "/")+"/") {
		return nil, fmt.Errorf("next page link %q leaves the API", next.Redacted())
	}
	return next, nil
}

// nextLink finds the target of rel="next" in Link header values
// (RFC 8288 §3): `<url>; rel="next", <url>; rel="last"`.
func nextLink(values []string) string {
	for _, v := range values {
		for {
			start := strings.IndexByte(v, '<')
			if start < 0 {
				break
			}
			end := strings.IndexByte(v[start:], '>')
			if end < 0 {
				break
			}
			target := v[start+1 : start+end]
			v = v[start+end+1:]
			params := v
			if i := strings.IndexByte(params, '<'); i >= 0 {
				params = params[:i]
			}
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				val = strings.Trim(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(val), ",")), `"`)
				for _, rel := range strings.Fields(val) {
					if strings.EqualFold(rel, "next") {
						return target
					}
				}
			}
		}
	}
	return ""
}
