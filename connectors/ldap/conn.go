package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
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
	var errs hostErrors
	for _, host := range c.hosts {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		s, next, err := c.dial(ctx, host)
		if err == nil {
			return s, nil
		}
		if !next {
			return nil, fmt.Errorf("ldap: %w", err)
		}
		c.logger.WarnContext(ctx, "ldap: directory server unavailable", "host", host, "err", err)
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, errs)
}

// hostErrors are the failures of each host, shown on one line.
type hostErrors []error

func (e hostErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e hostErrors) Unwrap() []error { return e }

// dial connects to host, upgrades to TLS as configured and binds as the
// service account. next says whether another host may do better: the
// failure was the network's, TLS's or a timeout.
func (c *Connector) dial(ctx context.Context, host string) (s *session, next bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	var raw net.Conn
	nd := &net.Dialer{}
	if c.ldaps {
		raw, err = (&tls.Dialer{NetDialer: nd, Config: c.tlsFor(host)}).DialContext(dctx, "tcp", host)
	} else {
		raw, err = nd.DialContext(dctx, "tcp", host)
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v (timeouts.connect): %w", c.connectTimeout, err)
		}
		return nil, true, fmt.Errorf("connect to %s: %w", host, err)
	}
	conn := goldap.NewConn(raw, c.ldaps)
	conn.Start()
	conn.SetTimeout(c.requestTimeout)
	s = &session{c: c, ctx: ctx, conn: conn, host: host}
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
			return nil, true, fmt.Errorf("starttls with %s: %w", host, errors.Join(err, ctx.Err()))
		}
	}
	if err := conn.Bind(c.bindDN, c.bindPassword); err != nil {
		s.close()
		next := goldap.IsErrorWithCode(err, goldap.ErrorNetwork) || ctx.Err() != nil
		return nil, next, fmt.Errorf("bind as the service account %q on %s: %w", c.bindDN, host, errors.Join(err, ctx.Err()))
	}
	return s, false, nil
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

// bindService binds the connection as the service account again.
func (s *session) bindService() error {
	if err := s.conn.Bind(s.c.bindDN, s.c.bindPassword); err != nil {
		return s.fail(fmt.Sprintf("bind as the service account %q", s.c.bindDN), err)
	}
	return nil
}

// close ends the session.
func (s *session) close() {
	s.stop()
	_ = s.conn.Close()
}

// fail wraps err from the operation op on an open session. A network
// error or a timeout is ErrUnavailable; so is any error after the caller's
// context ended, which is joined in so that errors.Is finds
// context.Canceled or context.DeadlineExceeded.
func (s *session) fail(op string, err error) error {
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %s on %s: %w", ErrUnavailable, op, s.host, errors.Join(ctxErr, err))
	}
	if goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
		return fmt.Errorf("%w: %s on %s: %w", ErrUnavailable, op, s.host, err)
	}
	return fmt.Errorf("ldap: %s on %s: %w", op, s.host, err)
}
