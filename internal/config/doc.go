// Package config owns Foyer's configuration file format: one strict YAML file
// decoded from gopkg.in/yaml.v3 nodes so that every problem keeps its line,
// with ${VAR} expansion inside scalar values, defaults, and a pure, whole-file
// validation that reports every problem at once as "file:line: path: message".
//
// Polymorphic blocks (a connector's config) resolve their Go type through a
// Registry injected by the caller. The decoding machinery (Decoder, LineOf)
// is exported so that other packages, such as an admin API, can decode and
// check a yaml.Node with the same rules and messages.
//
// This package must not import anything from Foyer: no storage, connectors,
// gateway, keys or identity. It does no network I/O, and no file I/O except
// in Load. See docs/config.md for the file format.
package config
