package config

import (
	"encoding"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decoder decodes yaml.Node trees into Go values strictly: an unknown or
// duplicate key, or a value of the wrong type, is a Problem with its path and
// line, and decoding goes on so that every problem is found in one pass.
//
// Struct fields are matched by their yaml tag (or their lower-cased name,
// as gopkg.in/yaml.v3 does; ",inline" embeds a struct's keys). A field of
// type yaml.Node or *yaml.Node receives the node undecoded. Types
// implementing encoding.TextUnmarshaler are decoded from a scalar, and types
// implementing yaml.Unmarshaler get the node with ${VAR} already expanded.
//
// The zero Decoder does no ${VAR} expansion and knows no connector types.
// A Decoder is not changed by decoding and is safe for concurrent use.
type Decoder struct {
	// File names the file in problems.
	File string
	// Env looks variables up for ${VAR} expansion in scalar values; nil
	// turns expansion off and leaves values as written.
	Env func(string) (string, bool)
	// Registry resolves the type of each Connector's config block.
	Registry Registry
}

// Validator is implemented by a polymorphic block's config value that can
// check itself. Paths in its problems are relative to the block ("host",
// "groups[1].filter"); Line may be 0 and is then filled in from the YAML.
type Validator interface {
	Validate() []Problem
}

// Decode decodes node into out, which must be a non-nil pointer. path is
// the path of node in the file ("" at the top), prefixed to every problem's
// path. Decode fills in no defaults and runs no validation.
func (d *Decoder) Decode(node *yaml.Node, path string, out any) Problems {
	s := d.newState()
	rv := reflect.ValueOf(out)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		s.add(0, path, "cannot decode into %T: want a non-nil pointer", out)
		return s.probs
	}
	s.value(node, path, rv.Elem(), LineOf(node, ""))
	sortProblems(s.probs)
	return s.probs
}

// Resolve makes the value of a polymorphic block: it calls newValue (a
// Registry constructor), decodes node into the pointer it returns and, if the
// value is a Validator, runs its checks, re-rooting their problems under path
// with lines taken from node. It returns the value (nil if newValue returned
// no usable pointer) and every problem found, or nil.
func (d *Decoder) Resolve(node *yaml.Node, path string, newValue func() any) (any, Problems) {
	s := d.newState()
	v := s.construct(newValue, node, path, LineOf(node, ""))
	if v != nil {
		vp := validateBlock(v, path, d.File, func(rel string) int { return LineOf(node, rel) })
		s.probs = append(s.probs, s.withoutBad(vp)...)
	}
	sortProblems(s.probs)
	if len(s.probs) == 0 {
		return v, nil
	}
	return v, s.probs
}

// validateBlock runs v's own checks, if it has any, and re-roots their
// problems under prefix.
func validateBlock(v any, prefix, file string, lineOf func(rel string) int) Problems {
	var ps []Problem
	switch x := v.(type) {
	case Validator:
		ps = x.Validate()
	case interface{ Validate() Problems }:
		ps = x.Validate()
	default:
		return nil
	}
	out := make(Problems, 0, len(ps))
	for _, p := range ps {
		if p.Line == 0 {
			p.Line = lineOf(p.Path)
		}
		p.Path = joinPath(prefix, p.Path)
		p.File = file
		out = append(out, p)
	}
	return out
}

// maxNodes bounds the nodes one decoding visits, so that a small file of
// nested aliases ("billion laughs") cannot make it run for ever.
const maxNodes = 1 << 20

// decodeState is one decoding pass.
type decodeState struct {
	collector
	d *Decoder
	// bad are the paths whose values could not be decoded; validation
	// problems under them are dropped as consequences.
	bad     []string
	visited int
	stopped bool
	// open are the mappings and sequences being decoded, so that an alias
	// back into one of them is refused instead of followed for ever.
	open map[*yaml.Node]bool
}

func (d *Decoder) newState() *decodeState {
	return &decodeState{collector: collector{file: d.File}, d: d}
}

// fail records a problem with the value at path, marking the path bad.
func (s *decodeState) fail(line int, path, format string, args ...any) {
	s.add(line, path, format, args...)
	s.bad = append(s.bad, path)
}

// withoutBad drops problems at or under a bad path.
func (s *decodeState) withoutBad(ps Problems) Problems {
	var out Problems
next:
	for _, p := range ps {
		for _, b := range s.bad {
			if b == "" || p.Path == b || strings.HasPrefix(p.Path, b+".") || strings.HasPrefix(p.Path, b+"[") {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// spend counts node n, at path, against maxNodes and reports whether to
// stop; the problem points at the node where the budget ran out.
func (s *decodeState) spend(n *yaml.Node, path string) bool {
	if s.stopped {
		return true
	}
	s.visited++
	if s.visited > maxNodes {
		s.stopped = true
		s.add(n.Line, path, "file expands to more than %d nodes (nested aliases?)", maxNodes)
		return true
	}
	return false
}

// enter marks the mapping or sequence n as being decoded. It reports false,
// after recording a problem, when n is already being decoded: an alias at
// path leads back into a value that contains it.
func (s *decodeState) enter(n *yaml.Node, path string, line int) bool {
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
		return true
	}
	if s.open[n] {
		s.fail(line, path, "this alias refers to &%s, which contains it", n.Anchor)
		return false
	}
	if s.open == nil {
		s.open = make(map[*yaml.Node]bool)
	}
	s.open[n] = true
	return true
}

// leave undoes enter.
func (s *decodeState) leave(n *yaml.Node) { delete(s.open, n) }

// scalar returns a scalar node's value with ${VAR} expanded.
func (s *decodeState) scalar(n *yaml.Node, path string) string {
	if s.d.Env == nil {
		return n.Value
	}
	v, errs := expand(n.Value, s.d.Env)
	for _, e := range errs {
		line := n.Line
		if n.Style&yaml.LiteralStyle != 0 {
			// A literal block's text starts on the line after its "|".
			line += 1 + e.newlines
		}
		s.fail(line, path, "%s", e.msg)
	}
	return v
}

var (
	nodeType      = reflect.TypeFor[yaml.Node]()
	nodePtrType   = reflect.TypeFor[*yaml.Node]()
	durationType  = reflect.TypeFor[Duration]()
	textUnmarshal = reflect.TypeFor[encoding.TextUnmarshaler]()
	yamlUnmarshal = reflect.TypeFor[yaml.Unmarshaler]()
	hookType      = reflect.TypeFor[nodeDecoder]()
)

// nodeDecoder is implemented by types that decode themselves with the
// decoder's help (Connector, to resolve its config through the Registry).
type nodeDecoder interface {
	decodeNode(s *decodeState, n *yaml.Node, path string, line int)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// value decodes n into v, which must be settable. line is the line to blame
// for a value of the wrong type: the key's line for a mapping entry.
func (s *decodeState) value(n *yaml.Node, path string, v reflect.Value, line int) {
	n = deref(n)
	if n == nil || s.spend(n, path) {
		return
	}
	t := v.Type()
	switch t {
	case nodeType:
		v.Set(reflect.ValueOf(*n))
		return
	case nodePtrType:
		v.Set(reflect.ValueOf(n))
		return
	}
	if isNull(n) {
		return // absent: keep the zero value or the default already there
	}
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(hookType):
		v.Addr().Interface().(nodeDecoder).decodeNode(s, n, path, line)
		return
	case pt.Implements(yamlUnmarshal):
		cp := s.expandedCopy(n, path)
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(cp); err != nil {
			s.fail(line, path, "%v", err)
		}
		return
	case pt.Implements(textUnmarshal):
		if n.Kind != yaml.ScalarNode {
			if t == durationType {
				s.fail(line, path, "expected a duration, e.g. 10m")
			} else {
				s.fail(line, path, "expected a string")
			}
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s.scalar(n, path))); err != nil {
			s.fail(line, path, "%v", err)
		}
		return
	}
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		s.value(n, path, v.Elem(), line)
		return
	}
	if !s.enter(n, path, line) {
		return
	}
	defer s.leave(n)
	switch t.Kind() {
	case reflect.Struct:
		s.structValue(n, path, v, line)
	case reflect.Slice:
		s.sliceValue(n, path, v, line)
	case reflect.Map:
		s.mapValue(n, path, v, line)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			s.add(line, path, "cannot decode into Go type %s", t)
			return
		}
		if g := s.generic(n, path, line); g != nil {
			v.Set(reflect.ValueOf(g))
		}
	default:
		s.scalarValue(n, path, v, line)
	}
}

// scalarValue decodes strings, booleans and numbers.
func (s *decodeState) scalarValue(n *yaml.Node, path string, v reflect.Value, line int) {
	t := v.Type()
	want := map[reflect.Kind]string{reflect.String: "a string", reflect.Bool: "true or false",
		reflect.Float32: "a number", reflect.Float64: "a number"}[t.Kind()]
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		want = "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		want = "a non-negative integer"
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64:
	default:
		s.add(line, path, "cannot decode into Go type %s", t)
		return
	}
	if n.Kind != yaml.ScalarNode {
		s.fail(line, path, "expected %s", want)
		return
	}
	str := s.scalar(n, path)
	var err error
	switch t.Kind() {
	case reflect.String:
		v.SetString(str)
	case reflect.Bool:
		switch strings.ToLower(str) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			err = strconv.ErrSyntax
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		if f, err = strconv.ParseFloat(str, t.Bits()); err == nil {
			v.SetFloat(f)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if i, err = strconv.ParseInt(str, 0, t.Bits()); err == nil {
			v.SetInt(i)
		}
	default:
		var u uint64
		if u, err = strconv.ParseUint(str, 0, t.Bits()); err == nil {
			v.SetUint(u)
		}
	}
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			s.fail(line, path, "%s is out of range", str)
			return
		}
		s.fail(line, path, "expected %s, got %q", want, str)
	}
}

func (s *decodeState) sliceValue(n *yaml.Node, path string, v reflect.Value, line int) {
	if n.Kind != yaml.SequenceNode {
		s.fail(line, path, "expected a list")
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		s.value(item, indexPath(path, i), out.Index(i), item.Line)
	}
	v.Set(out)
}

// key returns a mapping key's text, or false after recording a problem.
func (s *decodeState) key(k *yaml.Node, path string) (string, bool) {
	k = deref(k)
	if k == nil || k.Kind != yaml.ScalarNode {
		line := 0
		if k != nil {
			line = k.Line
		}
		s.fail(line, path, "mapping keys must be strings")
		return "", false
	}
	return k.Value, true
}

// entries walks a mapping's entries, reporting non-string, duplicate and
// merge (<<) keys, and calls f for the others with the key's path and line.
func (s *decodeState) entries(n *yaml.Node, path string, f func(key, kpath string, val *yaml.Node, kline int)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, ok := s.key(n.Content[i], path)
		if !ok {
			continue
		}
		kline := n.Content[i].Line
		kpath := joinPath(path, key)
		if first, dup := seen[key]; dup {
			s.add(kline, kpath, "duplicate key (first at line %d)", first)
			continue
		}
		seen[key] = kline
		if key == "<<" && n.Content[i].ShortTag() == "!!merge" {
			s.add(kline, path, "merge keys (<<) are not supported; write the keys out")
			continue
		}
		f(key, kpath, n.Content[i+1], kline)
	}
}

func (s *decodeState) structValue(n *yaml.Node, path string, v reflect.Value, line int) {
	if n.Kind != yaml.MappingNode {
		s.fail(line, path, "expected a mapping")
		return
	}
	fs := fieldsOf(v.Type())
	s.entries(n, path, func(key, kpath string, val *yaml.Node, kline int) {
		index, ok := fs.byName[key]
		if !ok {
			s.add(kline, kpath, "unknown key%s", didYouMean(key, fs.names))
			return
		}
		s.value(val, kpath, v.FieldByIndex(index), kline)
	})
}

func (s *decodeState) mapValue(n *yaml.Node, path string, v reflect.Value, line int) {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		s.add(line, path, "cannot decode into Go type %s", t)
		return
	}
	if n.Kind != yaml.MappingNode {
		s.fail(line, path, "expected a mapping")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	s.entries(n, path, func(key, kpath string, val *yaml.Node, kline int) {
		elem := reflect.New(t.Elem()).Elem()
		s.value(val, kpath, elem, kline)
		v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
	})
}

// construct makes a value through a registry constructor and decodes node
// into it.
func (s *decodeState) construct(newValue func() any, node *yaml.Node, path string, line int) any {
	if newValue == nil {
		s.add(line, path, "no constructor for this type")
		return nil
	}
	v := newValue()
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		s.add(line, path, "the registry's constructor returned %T, not a pointer", v)
		return nil
	}
	s.value(node, path, rv.Elem(), line)
	return v
}
