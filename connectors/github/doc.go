// Package github is the "Log in with GitHub" callback connector, for
// github.com and GitHub Enterprise Server: the OAuth web flow (with PKCE),
// the account's numeric id as the stable subject, its primary email from
// the emails API, and organisations and teams as groups ("org" and
// "org:team"), with an optional organisation and team restriction that is
// checked again at every refresh.
//
// It speaks GitHub's REST API directly (version 2022-11-28): every list is
// followed through its Link pagination, every response is bounded, and
// rate limits are honoured where the wait is short and reported otherwise.
//
// It imports connectors, internal/config and golang.org/x/oauth2; never
// gateway, identity or storage. (Its external tests do drive a real
// gateway against a fake GitHub, to test the whole OIDC flow.)
package github
