package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/foyerid/foyer/internal/config"
	"github.com/foyerid/foyer/keys"
)

// cmdKeys runs `foyer keys rotate|list|generate-kek`.
func cmdKeys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: foyer keys rotate|list --config FILE | foyer keys generate-kek")
		return exitConfig
	}
	if args[0] == "generate-kek" {
		fmt.Fprintln(stdout, keys.GenerateKEK().Encode())
		return exitOK
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "config file")
	if err := fs.Parse(args[1:]); err != nil {
		return exitConfig
	}
	if *file == "" || (args[0] != "rotate" && args[0] != "list") {
		fmt.Fprintln(stderr, "usage: foyer keys rotate|list --config FILE")
		return exitConfig
	}
	cfg, err := config.Load(*file, configRegistry())
	if err != nil {
		printConfigError(stderr, err)
		return exitConfig
	}
	kek, err := keys.LoadKEK(cfg.Keys.KEK.File, cfg.Keys.KEK.Env)
	if err != nil {
		fmt.Fprintln(stderr, "foyer: keys.kek:", err)
		return exitFail
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logger := newLogger(stderr, cfg.Logging)
	st, closers, _, err := openStore(ctx, cfg.Storage, logger)
	defer func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}()
	if err != nil {
		fmt.Fprintln(stderr, "foyer:", err)
		return exitFail
	}
	m, err := keys.NewManager(st.State, kek, keyOptions(cfg, logger))
	if err == nil {
		err = m.Init(ctx)
	}
	if err == nil && args[0] == "rotate" {
		err = m.Rotate(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "foyer: keys:", err)
		return exitFail
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSIGNS FROM\tREMOVED AT")
	for _, k := range m.Keys() {
		removed := "-"
		if !k.RemoveAt.IsZero() {
			removed = k.RemoveAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.SignFrom.UTC().Format(time.RFC3339), removed)
	}
	_ = tw.Flush()
	return exitOK
}
