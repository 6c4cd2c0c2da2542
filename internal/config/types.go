package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// redacted is what a Secret shows instead of its value.
const redacted = "REDACTED"

// Secret is a configuration value that must never be printed or logged: a
// client secret, a database URL with a password in it, a Redis password.
// Every way of showing it (fmt, JSON, YAML, text encoders, log/slog) prints
// "REDACTED" instead, or "" when it is empty so that "not set" stays visible.
// Reveal returns the value itself.
type Secret string

// Reveal returns the secret's value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "REDACTED" (or "" for an empty secret).
func (s Secret) String() string { return s.shown() }

// GoString returns a redacted Go literal, for fmt's %#v.
func (s Secret) GoString() string { return "config.Secret(" + strconv.Quote(s.shown()) + ")" }

// MarshalJSON encodes the secret as the JSON string "REDACTED".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.shown()) }

// MarshalText returns "REDACTED", for encoders that use encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// MarshalYAML encodes the secret as the YAML string "REDACTED".
func (s Secret) MarshalYAML() (any, error) { return s.shown(), nil }

// LogValue makes log/slog print "REDACTED".
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// Duration is a time.Duration written in the file as a string with a unit,
// such as "90s", "10m" or "6h". A bare number other than 0 is refused,
// because "10" could mean seconds or minutes.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d the way it is written in the file: "6h", "1h30m", "90ms".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// errDurationUnit is returned for a bare number such as "10".
var errDurationUnit = errors.New("use a unit, e.g. 10m")

// ParseDuration parses a duration as written in the configuration file.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, errDurationUnit
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if n, ok := strings.CutSuffix(s, "d"); ok {
			if days, err := strconv.Atoi(n); err == nil {
				return 0, fmt.Errorf("%q: days are not a unit; write %dh", s, days*24)
			}
		}
		return 0, fmt.Errorf("%q is not a duration; write a number with a unit (h, m, s, ms), e.g. 10m", s)
	}
	return Duration(d), nil
}

// UnmarshalText parses a duration such as "6h"; see ParseDuration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText returns the duration as written in the file, e.g. "6h".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalYAML returns the duration as a string, e.g. "6h".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
