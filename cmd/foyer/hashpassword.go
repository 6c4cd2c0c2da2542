package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/foyerid/foyer/identity"
)

// cmdHashPassword reads one password line from stdin and prints its
// argon2id hash, for users[].passwordHash.
func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: foyer hash-password < password-file")
		return exitConfig
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintln(stderr, "foyer: read password:", err)
		return exitFail
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		fmt.Fprintln(stderr, "foyer: empty password")
		return exitConfig
	}
	h, err := identity.HashPassword(pw)
	if err != nil {
		fmt.Fprintln(stderr, "foyer:", err)
		return exitFail
	}
	fmt.Fprintln(stdout, h)
	return exitOK
}
