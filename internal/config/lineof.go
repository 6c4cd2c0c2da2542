package config

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LineOf returns the line of the value that path names below node, for
// paths such as "groups[1].filter", "[0].id" or "" (node itself). A mapping
// entry's line is the line of its key. When the path leads to a key or item
// that is missing, LineOf returns the line of the deepest node that exists
// (the parent), so a "required" problem points at the block that lacks the
// key. It returns 0 when node is nil.
func LineOf(node *yaml.Node, path string) int {
	n := deref(node)
	if n == nil {
		return 0
	}
	line := n.Line
	for _, seg := range splitPath(path) {
		n = deref(n)
		if n == nil {
			break
		}
		var next *yaml.Node
		nextLine := 0
		if seg.key != "" || seg.index < 0 {
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == seg.key {
						next, nextLine = n.Content[i+1], k.Line
						break
					}
				}
			}
		} else if n.Kind == yaml.SequenceNode && seg.index < len(n.Content) {
			next = n.Content[seg.index]
			nextLine = next.Line
		}
		if next == nil {
			break
		}
		n, line = next, nextLine
	}
	return line
}

// deref follows an alias and unwraps a document node.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		case n.Kind == yaml.DocumentNode:
			return nil
		default:
			return n
		}
	}
	return nil
}

// pathSeg is one step of a path: a mapping key, or a sequence index when key
// is empty and index >= 0.
type pathSeg struct {
	key   string
	index int
}

// splitPath splits "a.b[2].c" into a, b, [2], c. Anything that is not a
// well-formed index is taken as part of a key.
func splitPath(path string) []pathSeg {
	var segs []pathSeg
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
			continue
		case '[':
			if end := strings.IndexByte(path, ']'); end > 0 {
				if i, err := strconv.Atoi(path[1:end]); err == nil && i >= 0 {
					segs = append(segs, pathSeg{index: i})
					path = path[end+1:]
					continue
				}
			}
		}
		end := strings.IndexAny(path[1:], ".[")
		if end < 0 {
			segs = append(segs, pathSeg{key: path, index: -1})
			break
		}
		segs = append(segs, pathSeg{key: path[:end+1], index: -1})
		path = path[end+1:]
	}
	return segs
}
