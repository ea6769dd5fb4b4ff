package registry

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// acrTimeLayout is how ACR's metadata API writes times.
const acrTimeLayout = "2006-01-02T15:04:05.0000000Z07:00"

// acrTime renders t in ACR's layout, in UTC.
func acrTime(t time.Time) string { return t.UTC().Format(acrTimeLayout) }

// writeJSONStatus writes v as a JSON response with status.
func writeJSONStatus(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errInternal(err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // too late for an error response
	return nil
}
