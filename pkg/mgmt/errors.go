package mgmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// armError is an error with its ARM wire form. Handlers return it; only
// writeError puts it on the wire.
type armError struct {
	status  int
	code    string
	message string
	// wwwAuthenticate, when set, is sent as the WWW-Authenticate header.
	wwwAuthenticate string
	// cause is logged, never sent.
	cause error
}

func (e *armError) Error() string { return e.code + ": " + e.message }
func (e *armError) Unwrap() error { return e.cause }

func newError(status int, code, format string, args ...any) *armError {
	return &armError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(code, format string, args ...any) *armError {
	return newError(http.StatusBadRequest, code, format, args...)
}

func internalError(err error) *armError {
	return &armError{status: http.StatusInternalServerError, code: "InternalServerError", cause: err}
}

type errorEnvelope struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError writes err in ARM's envelope {"error":{"code","message"}}. It
// is the only place ARM errors reach the wire; errors that are not
// *armError become a 500 whose details go to the log only.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *armError
	if !errors.As(err, &ae) {
		ae = internalError(err)
	}
	if ae.status >= http.StatusInternalServerError {
		id := w.Header().Get(headerRequestID)
		if ae.message == "" {
			ae.message = "Encountered internal server error. Tracking id '" + id + "'."
		}
		a.log.Error("arm request failed", "method", r.Method, "path", r.URL.Path, "requestId", id, "err", err)
	} else {
		a.log.Debug("arm request rejected", "method", r.Method, "path", r.URL.Path, "status", ae.status, "code", ae.code)
	}
	if ae.wwwAuthenticate != "" {
		w.Header().Set("WWW-Authenticate", ae.wwwAuthenticate)
	}
	writeJSON(w, ae.status, errorEnvelope{errorBody{ae.code, ae.message}})
}

// writeJSON writes v as the whole response body. HTML escaping is off so
// URLs (nextLink) read as ARM writes them; there is no trailing newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only programming errors get here: every rendered type is plain data.
		slog.Error("mgmt: encode response", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeEmpty answers with status and no body.
func writeEmpty(w http.ResponseWriter, status int) {
	if status != http.StatusNoContent {
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(status)
}
