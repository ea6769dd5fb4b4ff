package mgmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxJSONDepth is how deeply objects and arrays may nest in a request body:
// Json.NET's default MaxDepth, which ARM's deserialiser applies. Real bodies
// nest four levels at most.
const maxJSONDepth = 64

// smallObject is the number of keys up to which an object's duplicates are
// found by comparing raw keys; larger objects index folded keys in a map.
const smallObject = 8

// jsonBodyError is what checkJSONBody finds wrong, worded for the client
// after Json.NET's messages, which ARM's InvalidRequestContent quotes.
type jsonBodyError struct {
	msg string
}

func (e *jsonBodyError) Error() string { return e.msg }

// jsonKey is an object key in the body: the bytes between its quotes, and
// whether they hold escapes (then it must be decoded to be compared).
type jsonKey struct {
	start, end int
	escaped    bool
}

// jsonFrame is an open object or array.
type jsonFrame struct {
	object bool
	index  int     // array: the current element
	key    jsonKey // object: the current key
	keys   int     // object: where its keys start in the walk's key stack
	seen   map[string]jsonKey
}

// checkJSONBody refuses what encoding/json would silently accept in a
// request body: a top level that is not one object, an object key given
// twice (compared case-insensitively, as ARM's .NET deserialiser matches
// property names, so {"a":1,"A":2} is a duplicate too) and nesting beyond
// maxJSONDepth. Invalid JSON (syntax errors, data after the object) is
// refused too. data must be valid UTF-8: the decoder would replace invalid
// bytes with U+FFFD.
//
// After json.Valid, which does not allocate, the walk is a byte scan over
// known-good JSON. Keys are compared where they lie in data; only escaped
// keys, keys of objects larger than smallObject and error messages cost
// allocations.
func checkJSONBody(data []byte) error {
	if !json.Valid(data) {
		var v any
		return syntaxProblem(data, json.Unmarshal(data, &v))
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return &jsonBodyError{"the request body must be a JSON object, not " + jsonValueKind(data[i])}
	}
	w := jsonWalk{data: data}
	w.stack = w.frameBuf[:0]
	w.keys = w.keyBuf[:0]
	for ; i < len(data); i++ {
		c := data[i]
		switch c {
		case ' ', '\t', '\r', '\n', ':':
		case ',':
			if top := w.top(); top.object {
				w.expectKey = true
			}
		case '}', ']':
			w.pop()
			if len(w.stack) == 0 {
				return nil // json.Valid: only whitespace follows
			}
		case '{', '[':
			w.element()
			if len(w.stack) >= maxJSONDepth {
				return &jsonBodyError{fmt.Sprintf("The reader's MaxDepth of %d has been exceeded. Path '%s', %s",
					maxJSONDepth, w.path(), position(data, i+1))}
			}
			w.stack = append(w.stack, jsonFrame{object: c == '{', index: -1, keys: len(w.keys)})
			w.expectKey = c == '{'
		case '"':
			end, escaped := stringEnd(data, i)
			if w.expectKey {
				w.expectKey = false
				k := jsonKey{i + 1, end, escaped}
				if first, dup := w.addKey(k); dup {
					return w.duplicate(k, first, end+1)
				}
			} else {
				w.element()
			}
			i = end
		default: // a number, true, false or null
			w.element()
			for i+1 < len(data) && !endsScalar(data[i+1]) {
				i++
			}
		}
	}
	return nil
}

// jsonWalk is checkJSONBody's state. Frames and keys start in fixed
// buffers, so typical bodies need no allocation for them.
type jsonWalk struct {
	data      []byte
	stack     []jsonFrame
	keys      []jsonKey // the keys of all open objects, innermost last
	expectKey bool
	frameBuf  [8]jsonFrame
	keyBuf    [32]jsonKey
}

func (w *jsonWalk) top() *jsonFrame { return &w.stack[len(w.stack)-1] }

func (w *jsonWalk) pop() {
	w.keys = w.keys[:w.top().keys]
	w.stack = w.stack[:len(w.stack)-1]
	w.expectKey = false
}

// element counts a value that starts inside an array.
func (w *jsonWalk) element() {
	if len(w.stack) > 0 && !w.top().object {
		w.top().index++
	}
}

// addKey records k as the current key of the innermost object and
// reports whether the object had a key equal to it ignoring case, and
// which.
func (w *jsonWalk) addKey(k jsonKey) (jsonKey, bool) {
	f := w.top()
	f.key = k
	if f.seen != nil {
		fk := foldKey(w.keyString(k))
		if first, ok := f.seen[fk]; ok {
			return first, true
		}
		f.seen[fk] = k
		return jsonKey{}, false
	}
	own := w.keys[f.keys:]
	for _, other := range own {
		if w.sameKey(other, k) {
			return other, true
		}
	}
	if len(own) < smallObject {
		w.keys = append(w.keys, k)
		return jsonKey{}, false
	}
	// A large object: index it by folded key from now on.
	f.seen = make(map[string]jsonKey, 4*smallObject)
	for _, other := range own {
		f.seen[foldKey(w.keyString(other))] = other
	}
	f.seen[foldKey(w.keyString(k))] = k
	w.keys = w.keys[:f.keys]
	return jsonKey{}, false
}

func (w *jsonWalk) sameKey(a, b jsonKey) bool {
	if !a.escaped && !b.escaped {
		return bytes.EqualFold(w.data[a.start:a.end], w.data[b.start:b.end])
	}
	return strings.EqualFold(w.keyString(a), w.keyString(b))
}

// keyString is the key as decoded.
func (w *jsonWalk) keyString(k jsonKey) string {
	if !k.escaped {
		return string(w.data[k.start:k.end])
	}
	var s string
	json.Unmarshal(w.data[k.start-1:k.end+1], &s) // valid: checked by json.Valid
	return s
}

func (w *jsonWalk) duplicate(k, first jsonKey, off int) error {
	key, firstKey := w.keyString(k), w.keyString(first)
	as := ""
	if firstKey != key {
		as = " (as '" + firstKey + "')"
	}
	return &jsonBodyError{fmt.Sprintf("Property with the name '%s' already exists in the current JSON object%s. Path '%s', %s",
		key, as, w.path(), position(w.data, off))}
}

// path renders the open frames as Json.NET prints paths:
// properties.networkRuleSet.ipRules[0].value, with ['…'] around keys that
// are not plain identifiers.
func (w *jsonWalk) path() string {
	var b strings.Builder
	for _, f := range w.stack {
		if !f.object {
			if f.index >= 0 {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
			continue
		}
		if f.key.end == 0 {
			continue // an object whose first key is not read yet
		}
		key := w.keyString(f.key)
		if plainKey(key) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(key)
		} else {
			b.WriteString("['" + key + "']")
		}
	}
	return b.String()
}

// stringEnd returns the index of the quote that closes the string opening
// at data[i], and whether the string has escapes. data is valid JSON.
func stringEnd(data []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return len(data), escaped
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}

// jsonValueKind names the kind of the JSON value that starts with c.
func jsonValueKind(c byte) string {
	switch c {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '[':
		return "an array"
	}
	return "a number"
}

// foldKey is key's case-folded form: two keys fold alike exactly when
// strings.EqualFold says they are equal. Each rune becomes one member of
// its Unicode simple-folding orbit: the lower-case ASCII letter when the
// orbit has one (K, k and the Kelvin sign become k), else the smallest.
// ASCII keys without upper-case letters, the usual case, are returned as
// they are.
func foldKey(key string) string {
	plain := true
	for i := 0; i < len(key) && plain; i++ {
		plain = key[i] < utf8.RuneSelf && !('A' <= key[i] && key[i] <= 'Z')
	}
	if plain {
		return key
	}
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range key {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return foldRune(f)
		}
		least = min(least, f)
	}
	return least
}

// plainKey reports whether Json.NET prints k in a path as .k rather than
// ['k']: it is not empty and has none of its special characters.
func plainKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, ". '/\"[]()\t\n\r\f\b\\\u0085\u2028\u2029")
}

// endsScalar reports whether c ends a number or literal in valid JSON.
func endsScalar(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ']', '}':
		return true
	}
	return false
}

// position is "line L, position P." for a byte offset, as Json.NET ends its
// messages (P counts bytes from the start of the line).
func position(data []byte, off int) string {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n') - 1
	return fmt.Sprintf("line %d, position %d.", line, col)
}

// syntaxProblem words an encoding/json syntax error for the client.
func syntaxProblem(data []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && strings.HasPrefix(se.Error(), "unexpected end of JSON input"):
		return &jsonBodyError{"Unexpected end of the JSON content. " + position(data, len(data))}
	case errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value"):
		return &jsonBodyError{"Additional text encountered after finished reading JSON content. " + position(data, int(se.Offset)-1)}
	case errors.As(err, &se):
		return &jsonBodyError{fmt.Sprintf("Invalid JSON: %s. %s", se.Error(), position(data, int(se.Offset)))}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &jsonBodyError{"Unexpected end of the JSON content. " + position(data, len(data))}
	default:
		return &jsonBodyError{fmt.Sprintf("Invalid JSON: %v.", err)}
	}
}
