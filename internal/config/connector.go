package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// connectorTypes returns the registered connector types, sorted.
func (r Registry) connectorTypes() []string {
	types := make([]string, 0, len(r.Connectors))
	for t := range r.Connectors {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// decodeNode decodes a connectors[i] entry: its own keys, then its config
// block strictly into the value the Registry makes for its type.
func (c *Connector) decodeNode(s *decodeState, n *yaml.Node, path string, line int) {
	var raw struct {
		ID     string     `yaml:"id"`
		Type   string     `yaml:"type"`
		Name   string     `yaml:"name"`
		Signup string     `yaml:"signup"`
		Link   bool       `yaml:"linkByVerifiedEmail"`
		Config *yaml.Node `yaml:"config"`
	}
	s.structValue(n, path, reflect.ValueOf(&raw).Elem(), line)
	c.ID, c.Type, c.Name, c.Signup, c.LinkByVerifiedEmail = raw.ID, raw.Type, raw.Name, raw.Signup, raw.Link
	if raw.Type == "" {
		return // Validate reports it
	}
	newValue, ok := s.d.Registry.Connectors[raw.Type]
	if !ok {
		types := s.d.Registry.connectorTypes()
		msg := fmt.Sprintf("unknown connector type %q", raw.Type)
		switch hint := didYouMean(raw.Type, types); {
		case hint != "":
			msg += hint
		case len(types) > 0:
			msg += "; known types: " + strings.Join(types, ", ")
		}
		s.fail(LineOf(n, "type"), joinPath(path, "type"), "%s", msg)
		return
	}
	cpath := joinPath(path, "config")
	c.Config = s.construct(newValue, raw.Config, cpath, LineOf(n, "config"))
}
