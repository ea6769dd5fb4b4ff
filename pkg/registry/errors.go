package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
)

// Messages ACR sends verbatim.
const (
	msgAuthRequired = "authentication required, visit https://aka.ms/acr/authorization for more information."
	msgDeniedFormat = "client with IP '%s' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."
)

// Error codes: distribution's values wherever distribution has the code,
// ACR's own where it has none.
var (
	codeUnknown                 = errcode.ErrorCodeUnknown.String()
	codeUnsupported             = errcode.ErrorCodeUnsupported.String()
	codeUnauthorized            = errcode.ErrorCodeUnauthorized.String()
	codeDenied                  = errcode.ErrorCodeDenied.String()
	codeDigestInvalid           = errcode.ErrorCodeDigestInvalid.String()
	codeNameInvalid             = errcode.ErrorCodeNameInvalid.String()
	codeTagInvalid              = errcode.ErrorCodeTagInvalid.String()
	codeNameUnknown             = errcode.ErrorCodeNameUnknown.String()
	codeManifestUnknown         = errcode.ErrorCodeManifestUnknown.String()
	codeBlobUnknown             = errcode.ErrorCodeBlobUnknown.String()
	codePaginationNumberInvalid = errcode.ErrorCodePaginationNumberInvalid.String()
)

const (
	codeNotFound   = "NOT_FOUND"                     // a path the registry does not serve
	codeTagUnknown = "TAG_UNKNOWN"                   // /acr/v1's unknown tag
	codeDisallowed = "REGISTRY_DISALLOWED_OPERATION" // a changeableAttributes lock
)

// jsonNull makes a regError write "detail":null instead of omitting the key.
var jsonNull = json.RawMessage("null")

// regError is an error in the registry envelope
// {"errors":[{"code":…,"message":…,"detail":…}]}, the format of every error
// this package writes on /v2/ and /oauth2/.
type regError struct {
	Status  int
	Code    string
	Message string
	Detail  any    // omitted when nil; jsonNull writes an explicit null
	Allow   string // the Allow header of a 405, when the route names its methods
	Err     error  // for the log only, never sent
}

var _ error = (*regError)(nil)

func (e *regError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *regError) Unwrap() error { return e.Err }

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// body renders the envelope with a trailing newline. Apostrophes are
// escaped as \u0027 because ACR's encoder does so (Go's does not), and
// clients see the firewall message byte for byte.
func (e *regError) body() []byte {
	b, err := json.Marshal(struct {
		Errors []errorBody `json:"errors"`
	}{[]errorBody{{e.Code, e.Message, e.Detail}}})
	if err != nil {
		// Detail is always built by this package from plain values.
		b = []byte(`{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}`)
	}
	b = bytes.ReplaceAll(b, []byte("'"), []byte(`\u0027`))
	return append(b, '\n')
}

// Write sends e as the whole response.
func (e *regError) Write(w http.ResponseWriter) error {
	body := e.body()
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Docker-Distribution-Api-Version", "registry/2.0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("X-Content-Type-Options")
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	w.WriteHeader(e.Status)
	_, err := w.Write(body)
	return err
}

func errDenied(addr string) *regError {
	return &regError{Status: http.StatusForbidden, Code: codeDenied, Message: fmt.Sprintf(msgDeniedFormat, addr)}
}

func errUnauthorized(detail any, cause error) *regError {
	return &regError{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: msgAuthRequired, Detail: detail, Err: cause}
}

func errUnsupported(msg string) *regError {
	return &regError{Status: http.StatusBadRequest, Code: codeUnsupported, Message: msg}
}

var (
	errNameInvalid      = &regError{Status: http.StatusBadRequest, Code: codeNameInvalid, Message: "invalid repository name"}
	errNotFound         = &regError{Status: http.StatusNotFound, Code: codeNotFound, Message: "the requested resource was not found"}
	errMethodNotAllowed = &regError{Status: http.StatusMethodNotAllowed, Code: codeUnsupported, Message: "the method is not supported on this endpoint"}
)

// methodNotAllowed is the 405 of a route that serves the methods allow.
func methodNotAllowed(allow ...string) *regError {
	e := *errMethodNotAllowed
	e.Allow = strings.Join(allow, ", ")
	return &e
}

// errInternal is a server-side failure. The client sees ACR's generic
// body, {"code":"UNKNOWN","message":"unknown error","detail":null}; the
// cause, which may name files on this machine, goes to the log only.
func errInternal(cause error) *regError {
	return &regError{Status: http.StatusInternalServerError, Code: codeUnknown, Message: "unknown error", Detail: jsonNull, Err: cause}
}

// WriteError writes a response in the registry's error envelope, for
// requests that reach no registry (the front end's unknown hosts).
func WriteError(w http.ResponseWriter, status int, code, message string) error {
	return (&regError{Status: status, Code: code, Message: message}).Write(w)
}

// errBadDigest refuses a digest in a path or query that does not parse.
// The code is distribution's; the message says what was wrong with the
// value, where distribution's generic one speaks of uploaded content.
func errBadDigest(value string, err error) *regError {
	return &regError{Status: http.StatusBadRequest, Code: codeDigestInvalid,
		Message: fmt.Sprintf("'%s' is not a valid digest (want <algorithm>:<hex>, e.g. sha256:…): %v", value, err)}
}
