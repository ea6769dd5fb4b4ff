package registry

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The registry's errors on the wire, byte for byte: status, code (ACR's
// and distribution's values), message, detail, and ACR's \u0027 escaping.
func TestErrorsOnTheWire(t *testing.T) {
	tests := []struct {
		name   string
		err    *regError
		status int
		body   string
		allow  string // the Allow header; "" for none
	}{
		{"firewall denial", errDenied("203.0.113.7"), http.StatusForbidden,
			`{"errors":[{"code":"DENIED","message":"client with IP \u0027203.0.113.7\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`, ""},
		{"unauthorized", errUnauthorized(jsonNull, nil), http.StatusUnauthorized,
			`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":null}]}`, ""},
		{"unsupported", errUnsupported("orderby \"x\" is not supported"), http.StatusBadRequest,
			`{"errors":[{"code":"UNSUPPORTED","message":"orderby \"x\" is not supported"}]}`, ""},
		{"method not allowed", errMethodNotAllowed, http.StatusMethodNotAllowed,
			`{"errors":[{"code":"UNSUPPORTED","message":"the method is not supported on this endpoint"}]}`, ""},
		{"method not allowed on a route that names its methods", methodNotAllowed(http.MethodGet, http.MethodHead), http.StatusMethodNotAllowed,
			`{"errors":[{"code":"UNSUPPORTED","message":"the method is not supported on this endpoint"}]}`, "GET, HEAD"},
		{"not found", errNotFound, http.StatusNotFound,
			`{"errors":[{"code":"NOT_FOUND","message":"the requested resource was not found"}]}`, ""},
		{"internal", errInternal(errors.New("open /srv/secret: no space left on device")), http.StatusInternalServerError,
			`{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":null}]}`, ""},
		{"name invalid", errNameInvalid, http.StatusBadRequest,
			`{"errors":[{"code":"NAME_INVALID","message":"invalid repository name"}]}`, ""},
		{"name unknown", errNameUnknown("hello"), http.StatusNotFound,
			`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"hello"}}]}`, ""},
		{"tag invalid", errTagInvalid, http.StatusBadRequest,
			`{"errors":[{"code":"TAG_INVALID","message":"invalid tag name"}]}`, ""},
		{"tag unknown", errTagNotFound, http.StatusNotFound,
			`{"errors":[{"code":"TAG_UNKNOWN","message":"the specified tag does not exist"}]}`, ""},
		{"manifest unknown", errManifestUnknown, http.StatusNotFound,
			`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, ""},
		{"blob unknown", errBlobUnknown("sha256:abc"), http.StatusNotFound,
			`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:abc"}]}`, ""},
		{"pagination", errPaginationInvalid, http.StatusBadRequest,
			`{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested"}]}`, ""},
		{"bad digest", errBadDigest("sha256:x", errors.New("invalid checksum digest length")), http.StatusBadRequest,
			`{"errors":[{"code":"DIGEST_INVALID","message":"\u0027sha256:x\u0027 is not a valid digest (want \u003calgorithm\u003e:\u003chex\u003e, e.g. sha256:…): invalid checksum digest length"}]}`, ""},
		{"locked", errDisallowed, http.StatusMethodNotAllowed,
			`{"errors":[{"code":"REGISTRY_DISALLOWED_OPERATION","message":"` + msgDisallowed + `","detail":{}}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			assert.NoError(t, tt.err.Write(w))
			assert.Equal(t, tt.status, w.Code)
			assert.Equal(t, tt.body+"\n", w.Body.String())
			assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
			assert.Equal(t, tt.allow, w.Header().Get("Allow"))
		})
	}
}
