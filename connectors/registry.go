package connectors

import (
	"fmt"
	"sort"
)

// Type is one kind of connector: how to make its empty config (decoded from
// the config file's `config:` block) and how to open it.
type Type struct {
	// NewConfig returns a pointer to a zero config, ready to be decoded
	// into. It may implement Validate() []config.Problem.
	NewConfig func() any
	// Open builds a connector from a decoded, validated config. The result
	// implements at least one capability interface.
	Open func(cfg any, env Env) (any, error)
}

// TypeFor is the Type of a connector whose config is a C, decoded into a
// fresh *C, and which open builds.
func TypeFor[C, T any](open func(C, Env) (T, error)) Type {
	return Type{
		NewConfig: func() any { return new(C) },
		Open: func(cfg any, env Env) (any, error) {
			c, ok := cfg.(*C)
			if !ok {
				return nil, fmt.Errorf("connectors: config is %T, want %T", cfg, new(C))
			}
			return open(*c, env)
		},
	}
}

// Registry maps a connector type name ("local", "oidc", ...) to its Type.
type Registry map[string]Type

// Configs returns the registry in the shape internal/config wants.
func (r Registry) Configs() map[string]func() any {
	m := make(map[string]func() any, len(r))
	for name, t := range r {
		m[name] = t.NewConfig
	}
	return m
}

// Names lists the registered type names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens a connector of the named type.
func (r Registry) Open(typ string, cfg any, env Env) (any, error) {
	t, ok := r[typ]
	if !ok {
		return nil, fmt.Errorf("connectors: unknown type %q", typ)
	}
	c, err := t.Open(cfg, env)
	if err != nil {
		return nil, fmt.Errorf("connectors: open %s %q: %w", typ, env.ID, err)
	}
	switch c.(type) {
	case PasswordConnector, CallbackConnector:
	default:
		return nil, fmt.Errorf("connectors: %s %q can neither check passwords nor handle callbacks", typ, env.ID)
	}
	return c, nil
}
