package saml

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	crewsaml "github.com/crewjam/saml"
)

// How the IdP metadata at a URL is fetched and cached.
const (
	metadataTimeout = 10 * time.Second
	// metadataRefresh is how long a fetched copy is used before it is
	// fetched again (less when the metadata's cacheDuration says so).
	metadataRefresh    = time.Hour
	minMetadataRefresh = time.Minute
	// metadataRetry is how long after a failed fetch the next one is
	// tried: meanwhile logins use the last good copy, or fail at once.
	metadataRetry = 30 * time.Second
	// maxMetadataSize bounds the document read from the IdP.
	maxMetadataSize = 4 << 20
)

// idpMetadata yields the IdP's metadata: a fixed document (file or inline
// data), or one fetched from a URL at first use and cached, so that Foyer
// starts whether or not the IdP is up.
type idpMetadata struct {
	fixed  *crewsaml.EntityDescriptor
	url    string
	client *http.Client
	now    func() time.Time
	logger *slog.Logger

	// sem (capacity 1) guards the fields below and makes one fetch at a
	// time; waiting for it honours the caller's context.
	sem       chan struct{}
	cached    *crewsaml.EntityDescriptor
	refreshAt time.Time // when cached is due for a refresh
	retryAt   time.Time // after a failure: no new fetch before then
	lastErr   error
}

func newFixedMetadata(data []byte) (*idpMetadata, error) {
	md, err := parseIDPMetadata(data)
	if err != nil {
		return nil, err
	}
	return &idpMetadata{fixed: md}, nil
}

func newFetchedMetadata(url string, client *http.Client, now func() time.Time, logger *slog.Logger) *idpMetadata {
	return &idpMetadata{url: url, client: client, now: now, logger: logger, sem: make(chan struct{}, 1)}
}

// get returns the metadata, fetching it when there is no fresh copy. A
// failed refresh keeps the last good copy in use (and is logged); with no
// copy at all, the error is returned.
func (m *idpMetadata) get(ctx context.Context) (*crewsaml.EntityDescriptor, error) {
	if m.fixed != nil {
		return m.fixed, nil
	}
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("saml: wait for idp metadata: %w", ctx.Err())
	}
	defer func() { <-m.sem }()
	now := m.now()
	if m.cached != nil && now.Before(m.refreshAt) {
		return m.cached, nil
	}
	if now.Before(m.retryAt) {
		if m.cached != nil {
			return m.cached, nil
		}
		return nil, m.lastErr
	}
	md, err := m.fetch(ctx)
	if err != nil {
		m.retryAt = now.Add(metadataRetry)
		m.lastErr = err
		if m.cached != nil {
			m.logger.WarnContext(ctx, "saml: idp metadata refresh failed; using the last good copy", "err", err)
			return m.cached, nil
		}
		return nil, err
	}
	refresh := metadataRefresh
	if d := md.CacheDuration; d > 0 && d < refresh {
		refresh = max(d, minMetadataRefresh)
	}
	m.cached, m.refreshAt, m.retryAt, m.lastErr = md, now.Add(refresh), time.Time{}, nil
	return md, nil
}

func (m *idpMetadata) fetch(ctx context.Context) (*crewsaml.EntityDescriptor, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return nil, fmt.Errorf("saml: idp metadata %s: %w", m.url, err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml;q=0.9, */*;q=0.1")
	res, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("saml: fetch idp metadata: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("saml: fetch idp metadata %s: status %d", m.url, res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("saml: read idp metadata: %w", err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("saml: idp metadata %s is larger than %d bytes", m.url, maxMetadataSize)
	}
	return parseIDPMetadata(data)
}

// parseIDPMetadata reads an EntityDescriptor, or an EntitiesDescriptor
// holding exactly one identity provider, and checks that it has what
// Foyer needs: an entity ID, an IDPSSODescriptor, a single sign-on
// endpoint and at least one signing certificate that parses.
func parseIDPMetadata(data []byte) (*crewsaml.EntityDescriptor, error) {
	root, err := rootElement(data)
	if err != nil {
		return nil, fmt.Errorf("saml: idp metadata: %w", err)
	}
	var md *crewsaml.EntityDescriptor
	switch root {
	case "EntityDescriptor":
		md = new(crewsaml.EntityDescriptor)
		if err := xml.Unmarshal(data, md); err != nil {
			return nil, fmt.Errorf("saml: idp metadata: %w", err)
		}
	case "EntitiesDescriptor":
		var all crewsaml.EntitiesDescriptor
		if err := xml.Unmarshal(data, &all); err != nil {
			return nil, fmt.Errorf("saml: idp metadata: %w", err)
		}
		idps := identityProviders(&all, nil)
		if len(idps) != 1 {
			return nil, fmt.Errorf("saml: idp metadata holds %d identity providers; give the metadata of exactly one", len(idps))
		}
		md = idps[0]
	default:
		return nil, fmt.Errorf("saml: idp metadata: root element is %s, not EntityDescriptor", root)
	}
	if md.EntityID == "" {
		return nil, errors.New("saml: idp metadata has no entityID")
	}
	if len(md.IDPSSODescriptors) == 0 {
		return nil, fmt.Errorf("saml: idp metadata of %q has no IDPSSODescriptor", md.EntityID)
	}
	n := 0
	for _, d := range md.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				if err != nil {
					return nil, fmt.Errorf("saml: idp metadata signing certificate: %w", err)
				}
				if _, err := x509.ParseCertificate(der); err != nil {
					return nil, fmt.Errorf("saml: idp metadata signing certificate: %w", err)
				}
				n++
			}
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("saml: idp metadata of %q has no signing certificate", md.EntityID)
	}
	return md, nil
}

// identityProviders collects the entities of a metadata aggregate that
// have an IDPSSODescriptor.
func identityProviders(all *crewsaml.EntitiesDescriptor, out []*crewsaml.EntityDescriptor) []*crewsaml.EntityDescriptor {
	for i := range all.EntityDescriptors {
		if len(all.EntityDescriptors[i].IDPSSODescriptors) > 0 {
			out = append(out, &all.EntityDescriptors[i])
		}
	}
	for i := range all.EntitiesDescriptors {
		out = identityProviders(&all.EntitiesDescriptors[i], out)
	}
	return out
}

// rootElement returns the local name of the document's root element.
func rootElement(data []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return start.Name.Local, nil
		}
	}
}

// ssoLocation returns the IdP's single sign-on URL for a binding.
func ssoLocation(md *crewsaml.EntityDescriptor, binding string) string {
	for _, d := range md.IDPSSODescriptors {
		for _, s := range d.SingleSignOnServices {
			if s.Binding == binding {
				return s.Location
			}
		}
	}
	return ""
}
