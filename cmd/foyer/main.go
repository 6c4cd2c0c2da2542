// Command foyer is Foyer's one binary: the OpenID provider (serve), the
// config checker, key tools, the admin API's client and the version.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2 // the config file is wrong, or the command line is
)

const usage = `foyer — OpenID Connect provider and federation gateway

Usage:
  foyer serve --config FILE      run Foyer with a config file
  foyer serve --dev [--dir DIR]  run a development instance on 127.0.0.1:5556
                                 (embedded store, demo client, demo user, /demo app)
  foyer config check FILE...     check config files; every problem with its line; exit 2 if any
  foyer keys rotate --config FILE  add a new signing key now (pre-published before it signs)
  foyer keys list --config FILE    list the signing keys and their schedule
  foyer keys generate-kek        print a new random key-encryption key
  foyer hash-password            read a password on stdin, print its argon2id hash
  foyer admin [--addr URL] [--token-file FILE] [--json] RESOURCE VERB ...
                                 the admin API's client: users, identities, sessions,
                                 grants, clients, audit (foyer admin help)
  foyer version                  print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitConfig
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "config":
		return cmdConfig(args[1:], stdout, stderr)
	case "keys":
		return cmdKeys(args[1:], stdout, stderr)
	case "admin":
		return cmdAdmin(args[1:], stdin, stdout, stderr)
	case "hash-password":
		return cmdHashPassword(args[1:], stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "foyer: unknown command %q\n\n%s", args[0], usage)
		return exitConfig
	}
}
