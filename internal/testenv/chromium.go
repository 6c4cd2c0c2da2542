package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumEnv names the browser binary to use instead of the default.
const chromiumEnv = "FOYER_TEST_CHROMIUM"

// chromiumDefault is where Debian's chromium package (installed by .ci/run)
// puts the browser.
const chromiumDefault = "/usr/bin/chromium"

// Chromium returns the path of the Chromium binary the browser tests drive:
// $FOYER_TEST_CHROMIUM, else /usr/bin/chromium, else chromium on $PATH.
// Nothing is downloaded. When there is none, the test fails under CI=true
// and is skipped loudly elsewhere; a FOYER_TEST_CHROMIUM that names no
// executable always fails, since someone asked for that browser.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(chromiumEnv); p != "" {
		if err := executable(p); err != nil {
			t.Fatalf("testenv: %s=%q: %v", chromiumEnv, p, err)
		}
		return p
	}
	if executable(chromiumDefault) == nil {
		return chromiumDefault
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "testenv: no Chromium: set " + chromiumEnv + ", or install Debian's chromium package (.ci/run does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING BROWSER TEST — " + msg)
	return ""
}

// executable reports why path is not a file this process may run.
func executable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// ChromiumOptions returns chromedp allocator options that run Chromium
// (from [Chromium]) headless on this machine: no sandbox (the tests run as
// root), no GPU, and none of the background traffic — QUIC, component and
// safe-browsing updates, sync, field trials — that a closed network refuses
// and that would otherwise stall or fail the browser. The profile is a
// fresh --user-data-dir under t.TempDir(), so no two runs share cookies.
// extra options come last and win.
//
// Cancel the allocator (which waits for the browser to exit) before the
// test ends, so the temporary profile can be removed.
func ChromiumOptions(t testing.TB, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	t.Helper()
	path := Chromium(t)
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	opts = append(opts,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-field-trial-config", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-profile")),
	)
	return append(opts, extra...)
}
