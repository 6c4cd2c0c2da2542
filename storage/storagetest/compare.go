package storagetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// assertEqual fails t if got differs from want. Records are compared field
// by field, recursively, with two relaxations a storage round trip is allowed:
// times are compared with time.Time.Equal (so location and monotonic reading
// do not matter), and a nil slice equals an empty one.
func assertEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	var diffs []string
	diff(&diffs, what, reflect.ValueOf(want), reflect.ValueOf(got))
	for _, d := range diffs {
		t.Error(d)
	}
}

func diff(out *[]string, path string, want, got reflect.Value) {
	if want.IsValid() != got.IsValid() {
		*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, got, want))
		return
	}
	if !want.IsValid() {
		return
	}
	if want.Type() != got.Type() {
		*out = append(*out, fmt.Sprintf("%s: got type %v, want %v", path, got.Type(), want.Type()))
		return
	}
	if want.Type() == timeType {
		w, g := want.Interface().(time.Time), got.Interface().(time.Time)
		if !w.Equal(g) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
		}
		return
	}
	switch want.Kind() {
	case reflect.Struct:
		for i := range want.NumField() {
			f := want.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			diff(out, path+"."+f.Name, want.Field(i), got.Field(i))
		}
	case reflect.Slice, reflect.Array:
		if want.Len() != got.Len() {
			*out = append(*out, fmt.Sprintf("%s: got %d elements %v, want %d %v",
				path, got.Len(), got.Interface(), want.Len(), want.Interface()))
			return
		}
		for i := range want.Len() {
			diff(out, fmt.Sprintf("%s[%d]", path, i), want.Index(i), got.Index(i))
		}
	case reflect.Pointer, reflect.Interface:
		if want.IsNil() || got.IsNil() {
			if want.IsNil() != got.IsNil() {
				*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, got.Interface(), want.Interface()))
			}
			return
		}
		diff(out, path, want.Elem(), got.Elem())
	default:
		if !reflect.DeepEqual(want.Interface(), got.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface()))
		}
	}
}
