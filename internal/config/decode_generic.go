package config

import (
	"reflect"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// generic decodes into an empty interface: map[string]any, []any, or a
// scalar typed by its YAML tag (strings after ${VAR} expansion).
func (s *decodeState) generic(n *yaml.Node, path string, line int) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		s.entries(n, path, func(key, kpath string, val *yaml.Node, kline int) {
			if val = deref(val); val != nil && !s.spend(val, kpath) && s.enter(val, kpath, kline) {
				m[key] = s.generic(val, kpath, kline)
				s.leave(val)
			}
		})
		return m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			ipath, iline := indexPath(path, i), item.Line // an alias's own line
			if item = deref(item); item != nil && !s.spend(item, ipath) && s.enter(item, ipath, iline) {
				l = append(l, s.generic(item, ipath, iline))
				s.leave(item)
			}
		}
		return l
	}
	if n.ShortTag() == "!!str" {
		return s.scalar(n, path)
	}
	var x any
	if err := n.Decode(&x); err != nil {
		s.fail(line, path, "%v", err)
	}
	return x
}

// expandedCopy copies n's tree with every scalar value expanded, for a
// yaml.Unmarshaler that decodes the node itself.
func (s *decodeState) expandedCopy(n *yaml.Node, path string) *yaml.Node {
	n = deref(n)
	if n == nil || s.spend(n, path) || !s.enter(n, path, n.Line) {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	defer s.leave(n)
	cp := *n
	cp.Anchor = ""
	switch n.Kind {
	case yaml.ScalarNode:
		cp.Value = s.scalar(n, path)
	case yaml.MappingNode, yaml.SequenceNode:
		cp.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			p := indexPath(path, i)
			if n.Kind == yaml.MappingNode {
				if i%2 == 0 {
					kc := yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
					if k := deref(c); k != nil {
						kc = *k
					}
					cp.Content[i] = &kc
					continue
				}
				p = joinPath(path, n.Content[i-1].Value)
			}
			cp.Content[i] = s.expandedCopy(c, p)
		}
	}
	return &cp
}

// fieldSet is what decoding needs to know of a struct type.
type fieldSet struct {
	byName map[string][]int
	names  []string // in declaration order, for suggestions
}

var fieldCache sync.Map // reflect.Type -> *fieldSet

func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string][]int{}}
	collectFields(t, nil, fs)
	actual, _ := fieldCache.LoadOrStore(t, fs)
	return actual.(*fieldSet)
}

func collectFields(t reflect.Type, index []int, fs *fieldSet) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			collectFields(f.Type, idx, fs)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if _, dup := fs.byName[name]; dup {
			continue
		}
		fs.byName[name] = idx
		fs.names = append(fs.names, name)
	}
}
