package mgmt

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// DerivedUUID returns a UUID (version 5 layout) derived from parts: the
// same parts always give the same UUID. Identities that acremu invents
// (the service principal's object, managed identities, network GUIDs)
// take their IDs from it, so they are stable across restarts.
func DerivedUUID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// asciiLower lower-cases ASCII letters only, so byte offsets and segment
// boundaries stay where they were (routing relies on it).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// pathParam returns the path segment matched by {name} in the route, with
// the client's spelling: chi routes on the lower-cased path, so its own
// parameter values are lower-cased.
func pathParam(r *http.Request, name string) string {
	pattern := strings.Split(chi.RouteContext(r.Context()).RoutePattern(), "/")
	segs := strings.Split(state(r).path, "/")
	for i, p := range pattern {
		if p == "{"+name+"}" && i < len(segs) {
			return segs[i]
		}
	}
	return ""
}

// Timestamp layouts of real ACR responses: creationDate ends in Z,
// systemData and policy times in +00:00; both with 7 fractional digits.
const (
	layoutZ      = "2006-01-02T15:04:05.0000000Z"
	layoutOffset = "2006-01-02T15:04:05.0000000+00:00"
)

func formatZ(t time.Time) string      { return t.UTC().Format(layoutZ) }
func formatOffset(t time.Time) string { return t.UTC().Format(layoutOffset) }

// normalizeLocation turns "East US" into "eastus", ARM's canonical form.
func normalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(l), " ", ""))
}
