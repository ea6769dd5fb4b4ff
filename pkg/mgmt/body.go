package mgmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// maxBodyBytes bounds request bodies; the largest real body (a registry
// with 100+ IP rules) is a few kilobytes.
const maxBodyBytes = 1 << 20

// decodeBody decodes the JSON request body into v, refusing rather than
// guessing:
//
//   - a Content-Type that is not JSON (application/json or any
//     application/…+json, parameters allowed; a charset other than UTF-8 is
//     refused too) is 415 UnsupportedMediaType, ARM's answer. curl -d sends
//     application/x-www-form-urlencoded and is refused so. A request
//     without Content-Type is read as JSON, as ARM tolerates it.
//   - an empty body, invalid UTF-8, a top level other than one object
//     (null, [], a string, a number), a property given twice in any object
//     (compared case-insensitively, as ARM's deserialiser matches names),
//     nesting deeper than 64, syntax errors, trailing data and values of
//     the wrong type are 400 InvalidRequestContent.
//
// Unknown fields are ignored, as ARM ignores them (newer clients send
// fields older API versions lack).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	return decode(w, r, v, false)
}

// decodeStrictBody is decodeBody for bodies whose every property acremu
// models (registries and their child resources): a property v has no
// field for is refused with 400 UnsupportedProperty naming it, instead of
// being accepted and dropped. v's types list the read-only properties
// clients send back, so that those pass.
func decodeStrictBody(w http.ResponseWriter, r *http.Request, v any) error {
	return decode(w, r, v, true)
}

func decode(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return invalidContent("the request body could not be read: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return invalidContent("the request body is empty")
	}
	if !utf8.Valid(data) {
		return invalidContent("the request body is not valid UTF-8 (at byte %d)", invalidUTF8At(data))
	}
	if err := checkJSONBody(data); err != nil {
		return invalidContent("%s", err.Error())
	}
	if err := json.Unmarshal(data, v); err != nil {
		return invalidContent("%s", describeJSONError(err))
	}
	if strict {
		d := json.NewDecoder(bytes.NewReader(data))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return badRequest("UnsupportedProperty",
					"The property %s is not supported by acremu: it would not be stored or honoured, so the request is refused. Remove it from the request.", strings.ReplaceAll(name, `"`, "'"))
			}
			return invalidContent("%s", describeJSONError(err))
		}
	}
	return nil
}

// checkContentType accepts a missing Content-Type, application/json and
// application/…+json, with parameters, in UTF-8.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		typ, sub, _ := strings.Cut(mt, "/")
		isJSON := typ == "application" && (sub == "json" || strings.HasSuffix(sub, "+json"))
		cs := strings.ToLower(params["charset"])
		isUTF8 := cs == "" || cs == "utf-8" || cs == "utf8"
		switch {
		case isJSON && isUTF8:
			return nil
		case !isJSON:
			ct = mt // ARM names the media type without its parameters
		}
	}
	return newError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		"The content media type '%s' is not supported. Only 'application/json' is supported.", ct)
}

// invalidUTF8At is the offset of the first byte that is not valid UTF-8.
func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

func invalidContent(format string, args ...any) error {
	return badRequest("InvalidRequestContent",
		"The request content was invalid and could not be deserialized: '%s'.", fmt.Sprintf(format, args...))
}

// describeJSONError says what was wrong in the client's terms, without Go
// type names.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "the request body"
		}
		return fmt.Sprintf("%s must be %s, not %s", field, jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at offset %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON is truncated"
	default:
		return err.Error()
	}
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "a number"
	default:
		return "a " + t.Kind().String()
	}
}
