package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// File is the file name as given to Parse or Load; may be empty.
	File string
	// Line is the 1-based line the problem points at; 0 when unknown.
	Line int
	// Path locates the value, e.g. "connectors[2].config.host"; empty for
	// problems with the file as a whole (such as a YAML syntax error).
	Path string
	// Msg says what is wrong, in lower case, without the path.
	Msg string
}

// String formats the problem as "file:line: path: msg", leaving out the
// parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		if p.File != "" {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(p.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a configuration. It is the error Parse
// and Load return when the file is wrong.
type Problems []Problem

// Error prints one problem a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by line, problems without a line last, and
// keeps the order in which they were found otherwise.
func sortProblems(ps Problems) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Line, b.Line)
	})
}

// joinPath appends a relative path to a prefix: "a" + "b" is "a.b",
// "a" + "[0]" is "a[0]", and either side may be empty.
func joinPath(prefix, rel string) string {
	switch {
	case prefix == "":
		return rel
	case rel == "":
		return prefix
	case rel[0] == '[':
		return prefix + rel
	default:
		return prefix + "." + rel
	}
}

func indexPath(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}

// collector gathers problems for one decoding or validation pass.
type collector struct {
	file  string
	probs Problems
}

func (c *collector) add(line int, path, format string, args ...any) {
	c.probs = append(c.probs, Problem{File: c.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}
