package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foyerid/foyer/admin"
	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/gateway"
	"github.com/foyerid/foyer/internal/config"
)

// adminHandler is what admin.addr serves: the admin API under /api/, and
// the ops endpoints (/healthz, /readyz, /metrics) beside it.
func adminHandler(cfg *config.Config, a *app, token string, logger *slog.Logger) (http.Handler, error) {
	ids, hasLocal := []string{"local"}, len(cfg.Connectors) == 0
	if len(cfg.Connectors) > 0 {
		ids = nil
		for _, c := range cfg.Connectors {
			ids = append(ids, c.ID)
			hasLocal = hasLocal || c.Type == local.TypeName
		}
	}
	api, err := admin.New(admin.Options{
		Token: token, Directory: a.store.Directory, State: a.store.State,
		EndSession: a.gateway.EndSession, HashClientSecret: gateway.HashClientSecret,
		LocalPasswords: hasLocal, Connectors: ids, Algorithms: cfg.Keys.Algorithms,
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler())
	mux.Handle("/", a.gateway.OpsHandler())
	return mux, nil
}

const adminUsage = `usage: foyer admin [--addr URL] [--token-file FILE] [--json] RESOURCE VERB [flags] [args]

  --addr        the admin address (admin.addr), default $FOYER_ADMIN_ADDR
  --token-file  the file holding the admin token, default $FOYER_ADMIN_TOKEN_FILE
  --json        print the API's JSON instead of a table

  users list [--email E | --username U]
  users get ID
  users create [--username U] [--email E] [--email-verified] [--name N] [--group G]... [--password-stdin]
  users update ID [--name N] [--email E] [--email-verified=BOOL] [--group G]... [--no-groups] [--password-stdin]
  users disable ID | users enable ID | users delete ID
  identities list USER | identities unlink USER CONNECTOR SUBJECT
  sessions list USER   | sessions revoke SID
  grants list USER     | grants revoke ID
  clients list | clients get ID | clients delete ID
  clients create --id ID [--public] [--redirect-uri URI]... [client flags]   (prints the secret once)
  clients update ID [client flags] [--rotate-secret]
      client flags: --name N --post-logout-redirect-uri URI... --grant-type G... --allowed-connector C...
                    --skip-consent --no-pkce --backchannel-logout-uri URI --backchannel-session-required
                    --signing-algorithm ALG
  audit [--since 1h|RFC3339] [--limit N]

Exit status: 0 done, 1 refused or failed, 2 usage error.
`

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// adminCLI is one `foyer admin` invocation.
type adminCLI struct {
	addr, tokenFile string
	base, token     string
	json            bool
	client          *http.Client
	stdin           io.Reader
	out             io.Writer
}

// cmdAdmin runs `foyer admin`, a client of the admin API.
func cmdAdmin(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &adminCLI{client: &http.Client{Timeout: 30 * time.Second}, stdin: stdin, out: stdout}
	fs.StringVar(&c.addr, "addr", os.Getenv("FOYER_ADMIN_ADDR"), "")
	fs.StringVar(&c.tokenFile, "token-file", os.Getenv("FOYER_ADMIN_TOKEN_FILE"), "")
	fs.BoolVar(&c.json, "json", false, "")
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) || (err == nil && fs.Arg(0) == "help") {
		fmt.Fprint(stdout, adminUsage)
		return exitOK
	}
	if err != nil {
		err = usageError{err.Error()}
	} else {
		err = c.run(fs.Args())
	}
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "foyer admin: %s\n\n%s", err, adminUsage)
		return exitConfig
	default:
		fmt.Fprintln(stderr, "foyer admin:", err)
		return exitFail
	}
}

// connect checks the address and reads the token, before the first
// request (so that a usage error is found first, whatever the files).
func (c *adminCLI) connect() error {
	if c.addr == "" {
		return usagef("--addr (or FOYER_ADMIN_ADDR) is required")
	}
	if c.tokenFile == "" {
		return usagef("--token-file (or FOYER_ADMIN_TOKEN_FILE) is required")
	}
	addr := c.addr
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--addr %q: want http://host:port or host:port", c.addr)
	}
	if c.token, err = admin.ReadTokenFile(c.tokenFile); err != nil {
		return err
	}
	c.base = strings.TrimRight(addr, "/") + "/api/v1"
	return nil
}

// adminCommands maps "resource verb" to its implementation.
var adminCommands = map[string]func(c *adminCLI, args []string) error{
	"users list": (*adminCLI).usersList, "users get": (*adminCLI).usersGet,
	"users create": (*adminCLI).usersCreate, "users update": (*adminCLI).usersUpdate,
	"users disable": func(c *adminCLI, a []string) error { return c.usersSetDisabled(a, true) },
	"users enable":  func(c *adminCLI, a []string) error { return c.usersSetDisabled(a, false) },
	"users delete": func(c *adminCLI, a []string) error {
		return c.deleteOne(a, "user", func(id string) string { return "/users/" + esc(id) })
	},
	"identities list": func(c *adminCLI, a []string) error { return c.listOf(a, "identities", &admin.IdentityList{}) },
	"identities unlink": func(c *adminCLI, args []string) error {
		a, err := positional(flag.NewFlagSet("unlink", flag.ContinueOnError), args, "USER CONNECTOR SUBJECT")
		if err != nil {
			return err
		}
		return c.del("/users/"+esc(a[0])+"/identities/"+esc(a[1])+"/"+esc(a[2]), "unlinked "+a[1]+" identity "+a[2])
	},
	"sessions list": func(c *adminCLI, a []string) error { return c.listOf(a, "sessions", &admin.SessionList{}) },
	"sessions revoke": func(c *adminCLI, a []string) error {
		return c.deleteOne(a, "session", func(id string) string { return "/sessions/" + esc(id) })
	},
	"grants list": func(c *adminCLI, a []string) error { return c.listOf(a, "grants", &admin.GrantList{}) },
	"grants revoke": func(c *adminCLI, a []string) error {
		return c.deleteOne(a, "grant", func(id string) string { return "/grants/" + esc(id) })
	},
	"clients list": (*adminCLI).clientsList, "clients get": (*adminCLI).clientsGet,
	"clients create": (*adminCLI).clientsCreate, "clients update": (*adminCLI).clientsUpdate,
	"clients delete": func(c *adminCLI, a []string) error {
		return c.deleteOne(a, "client", func(id string) string { return "/clients/" + esc(id) })
	},
	"audit list": (*adminCLI).auditList,
}

func (c *adminCLI) run(args []string) error {
	if len(args) == 0 {
		return usagef("a command is required")
	}
	if args[0] == "audit" && (len(args) == 1 || args[1] != "list") {
		args = append([]string{"audit", "list"}, args[1:]...)
	}
	if len(args) < 2 {
		return usagef("%s: a verb is required", args[0])
	}
	cmd, ok := adminCommands[args[0]+" "+args[1]]
	if !ok {
		return usagef("unknown command %q", args[0]+" "+args[1])
	}
	return cmd(c, args[2:])
}

func esc(s string) string { return url.PathEscape(s) }

// positional parses flags placed anywhere among the arguments and returns
// the arguments, which must be as many as names has words.
func positional(fs *flag.FlagSet, args []string, names string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
	if want := len(strings.Fields(names)); len(rest) != want {
		if want == 0 {
			return nil, usagef("%s takes no arguments", fs.Name())
		}
		return nil, usagef("%s: want %s", fs.Name(), names)
	}
	return rest, nil
}

// apiError is an error answer of the API.
type apiError struct {
	status int
	e      admin.Error
}

func (e *apiError) Error() string {
	if e.e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.e.Message, e.status)
}

// call sends one request. A JSON answer is decoded into out and, with
// --json, printed as received.
func (c *adminCLI) call(method, path string, body, out any) error {
	if c.base == "" {
		if err := c.connect(); err != nil {
			return err
		}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		ae := &apiError{status: resp.StatusCode}
		_ = json.Unmarshal(raw, &ae.e)
		return ae
	}
	if c.json && len(raw) > 0 {
		_, _ = c.out.Write(raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// del sends a DELETE and says what it did.
func (c *adminCLI) del(path, done string) error {
	if err := c.call(http.MethodDelete, path, nil, nil); err != nil {
		return err
	}
	if !c.json {
		fmt.Fprintln(c.out, done)
	}
	return nil
}

func (c *adminCLI) deleteOne(args []string, what string, path func(string) string) error {
	verb := map[string]string{"user": "deleted", "client": "deleted"}[what]
	if verb == "" {
		verb = "revoked"
	}
	a, err := positional(flag.NewFlagSet(what, flag.ContinueOnError), args, "ID")
	if err != nil {
		return err
	}
	return c.del(path(a[0]), verb+" "+what+" "+a[0])
}

// table prints rows under a header, unless --json already printed.
func (c *adminCLI) table(header string, rows [][]string) {
	if c.json {
		return
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// listOf prints a user's identities, sessions or grants.
func (c *adminCLI) listOf(args []string, what string, out any) error {
	a, err := positional(flag.NewFlagSet(what, flag.ContinueOnError), args, "USER")
	if err != nil {
		return err
	}
	if err := c.call(http.MethodGet, "/users/"+esc(a[0])+"/"+what, nil, out); err != nil {
		return err
	}
	var rows [][]string
	switch l := out.(type) {
	case *admin.IdentityList:
		for _, i := range l.Identities {
			rows = append(rows, []string{i.ConnectorID, i.Subject, or(i.Claims.Email, "-"), when(i.LinkedAt), when(i.LastUsedAt)})
		}
		c.table("CONNECTOR\tSUBJECT\tEMAIL\tLINKED\tLAST USED", rows)
	case *admin.SessionList:
		for _, s := range l.Sessions {
			rows = append(rows, []string{s.ID, or(s.ConnectorID, "-"), when(s.AuthTime), or(strings.Join(s.Clients, ","), "-"), when(s.ExpiresAt)})
		}
		c.table("ID\tCONNECTOR\tLOGGED IN\tCLIENTS\tEXPIRES", rows)
	case *admin.GrantList:
		for _, g := range l.Grants {
			state := "active"
			if g.Revoked {
				state = "revoked"
			}
			rows = append(rows, []string{g.ID, g.ClientID, strings.Join(g.Scopes, " "), fmt.Sprint(g.Offline), state, when(g.ExpiresAt)})
		}
		c.table("ID\tCLIENT\tSCOPES\tOFFLINE\tSTATE\tEXPIRES", rows)
	}
	return nil
}

func (c *adminCLI) auditList(args []string) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	since := fs.String("since", "", "")
	limit := fs.Int("limit", 0, "")
	if _, err := positional(fs, args, ""); err != nil {
		return err
	}
	q := url.Values{}
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			d, derr := time.ParseDuration(*since)
			if derr != nil || d < 0 {
				return usagef("--since %q: want a duration (1h, 30m) or an RFC 3339 time", *since)
			}
			t = time.Now().Add(-d)
		}
		q.Set("since", t.UTC().Format(time.RFC3339))
	}
	if *limit != 0 {
		q.Set("limit", fmt.Sprint(*limit))
	}
	var l admin.AuditList
	if err := c.call(http.MethodGet, "/audit?"+q.Encode(), nil, &l); err != nil {
		return err
	}
	var rows [][]string
	for _, e := range l.Events {
		rows = append(rows, []string{when(e.Time), e.Actor, e.Action, or(e.Target, "-"), e.Detail})
	}
	c.table("TIME\tACTOR\tACTION\tTARGET\tDETAIL", rows)
	return nil
}

// readPassword reads the first line of stdin.
func (c *adminCLI) readPassword() (string, error) {
	line, err := bufio.NewReader(io.LimitReader(c.stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usagef("--password-stdin: no password on stdin")
	}
	return pw, nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
