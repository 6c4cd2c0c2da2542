package oidc

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Size caps on what the upstream sends, applied before anything is parsed.
const (
	// maxIDToken caps a raw ID token.
	maxIDToken = 16 << 10
	// maxTokenResponse caps token and userinfo responses.
	maxTokenResponse = 64 << 10
	// maxMetadataResponse caps discovery documents and key sets.
	maxMetadataResponse = 512 << 10
	// defaultTimeout bounds every upstream call when the host's client
	// sets no timeout of its own.
	defaultTimeout = 15 * time.Second
)

// errTooLarge: an upstream answer went past its size cap.
var errTooLarge = errors.New("oidc: upstream response too large")

// cappedClient returns a copy of base (or a fresh client) whose responses
// fail to read past limit bytes, and which always has a timeout.
func cappedClient(base *http.Client, limit int64) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = capTransport{base: rt, limit: limit}
	return c
}

// capTransport caps the bodies of the responses of base.
type capTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t capTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s announces %d bytes", errTooLarge, r.URL.Redacted(), resp.ContentLength)
	}
	resp.Body = &capBody{rc: resp.Body, left: t.limit}
	return resp, nil
}

// capBody reads at most left bytes, then fails rather than truncate: a cut
// JSON document must not be mistaken for a whole one.
type capBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n + int(b.left), errTooLarge
	}
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }
