package mgmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
)

// maxBodyBytes bounds request bodies; the largest real body (a registry
// with 100+ IP rules) is a few kilobytes.
const maxBodyBytes = 1 << 20

// decodeBody decodes the JSON request body into v. Unknown fields are
// ignored, as ARM ignores them (newer clients send fields older API
// versions lack). Failures are 400 InvalidRequestContent.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return invalidContent("the request body could not be read: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return invalidContent("the request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return invalidContent("%s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidContent("unexpected data after the JSON value")
	}
	return nil
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
