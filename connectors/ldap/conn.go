package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// ErrUnavailable wraps the errors of a directory that cannot be reached or
// stops answering: no host accepted a connection, TLS failed, or a request
// timed out or lost its connection. The gateway shows a "try again later"
// page; the wrapped detail goes to the log.
var ErrUnavailable = errors.New("ldap: directory unavailable")

// session is one connection to one directory server, bound as the service
// account. It lives for one Login or Refresh.
type session struct {
	c    *Connector
	ctx  context.Context
	conn *goldap.Conn
	host string
	stop func() bool // stops closing the connection when ctx ends
}

// open connects to the first host that answers and binds as the service
// account. A host that cannot be reached, fails TLS or does not answer
// the bind in time is logged and the next one tried; any other failure
// (the service account refused, say) is returned at once, since every
// host would say the same.
func (c *Connector) open(ctx context.Context) (*session, error) {
	var errs []error
	for _, host := range c.hosts {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		s, err := c.dial(ctx, host)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		c.logger.WarnContext(ctx, "ldap: directory server unavailable", "host", host, "err", err)
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
}

// dial connects to host, upgrades to TLS as configured and binds as the
// service account.
func (c *Connector) dial(ctx context.Context, host string) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	var (
		raw net.Conn
		err error
	)
	nd := &net.Dialer{}
	if c.ldaps {
		raw, err = (&tls.Dialer{NetDialer: nd, Config: c.tlsFor(host)}).DialContext(dctx, "tcp", host)
	} else {
		raw, err = nd.DialContext(dctx, "tcp", host)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %s: %w", ErrUnavailable, host, err)
	}
	conn := goldap.NewConn(raw, c.ldaps)
	conn.Start()
	conn.SetTimeout(c.requestTimeout)
	s := &session{c: c, ctx: ctx, conn: conn, host: host}
	// Cancelling the caller's context closes the connection, which ends
	// any request in flight.
	s.stop = context.AfterFunc(ctx, func() { _ = conn.Close() })

	if c.startTLS {
		// go-ldap's StartTLS handshake has no timeout of its own: bound it
		// with a deadline on the socket, lifted once TLS is up.
		deadline, _ := dctx.Deadline()
		_ = raw.SetDeadline(deadline)
		err := conn.StartTLS(c.tlsFor(host))
		_ = raw.SetDeadline(time.Time{})
		if err != nil {
			s.close()
			return nil, s.fail(fmt.Sprintf("starttls with %s", host), err, true)
		}
	}
	if err := s.bindService(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// tlsFor returns the TLS configuration for host: the configured roots,
// with the host name to verify.
func (c *Connector) tlsFor(hostport string) *tls.Config {
	cfg := c.tls.Clone()
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		cfg.ServerName = host
	}
	return cfg
}

// bindService binds the connection as the service account.
func (s *session) bindService() error {
	if err := s.conn.Bind(s.c.bindDN, s.c.bindPassword); err != nil {
		return s.fail(fmt.Sprintf("bind as the service account %q on %s", s.c.bindDN, s.host), err, false)
	}
	return nil
}

// close ends the session.
func (s *session) close() {
	s.stop()
	_ = s.conn.Close()
}

// fail wraps err from the operation op. A network error or a timeout (and
// any error when tlsFailure, as after StartTLS) is ErrUnavailable; so is an
// error after the caller's context ended, which is joined in so that
// errors.Is finds context.Canceled or DeadlineExceeded.
func (s *session) fail(op string, err error, tlsFailure bool) error {
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ldap: %s: %w", op, errors.Join(ctxErr, err))
	}
	if tlsFailure || goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("ldap: %s: %w", op, err)
}
