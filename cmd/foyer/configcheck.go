package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/foyerid/foyer/internal/config"
)

// cmdConfig runs `foyer config check FILE...`: every problem of every file,
// one a line, and exit status 2 if there was any.
func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: foyer config check FILE...")
		return exitConfig
	}
	status := exitOK
	for _, file := range args[1:] {
		if _, err := config.Load(file, configRegistry()); err != nil {
			printConfigError(stderr, err)
			status = exitConfig
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", file)
	}
	return status
}

// printConfigError prints config problems one a line.
func printConfigError(w io.Writer, err error) {
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(w, p.String())
		}
		fmt.Fprintf(w, "%d problem(s) found; nothing was started\n", len(ps))
		return
	}
	fmt.Fprintln(w, "foyer:", err)
}
