package registry

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/token"
)

// A refusal of authorize, written by writeError, is the 401 distribution
// writes for the same record through v2Writer: same header, same body.
func TestAuthorizeRefusalMatchesDistribution(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	e.pushImage("hello", "v1")
	const someDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	pullOther := []token.Access{{Type: "repository", Name: "other", Actions: []string{"pull"}}}
	tests := []struct {
		name          string
		ours, theirs  string // paths answered by authorize and by distribution
		access        []token.Access
		noCredentials bool
	}{
		{name: "catalog without credentials", ours: "/acr/v1/_catalog", theirs: "/v2/_catalog", noCredentials: true},
		{name: "catalog with a pull token", ours: "/acr/v1/_catalog", theirs: "/v2/_catalog", access: pullOther},
		{name: "referrers without credentials", ours: "/v2/hello/referrers/" + someDigest, theirs: "/v2/hello/manifests/" + someDigest, noCredentials: true},
		{name: "referrers of another repository", ours: "/v2/hello/referrers/" + someDigest, theirs: "/v2/hello/manifests/" + someDigest, access: pullOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr http.Header
			if !tt.noCredentials {
				hdr = bearer(accessToken(t, e.host, tt.access...))
			}
			ours, theirs := e.do(http.MethodGet, tt.ours, nil, hdr), e.do(http.MethodGet, tt.theirs, nil, hdr)
			require.Equal(t, http.StatusUnauthorized, ours.status, ours.body)
			require.Equal(t, http.StatusUnauthorized, theirs.status, theirs.body)
			assert.Equal(t, theirs.header.Get("Www-Authenticate"), ours.header.Get("Www-Authenticate"))
			assert.Equal(t, theirs.header.Get("Content-Type"), ours.header.Get("Content-Type"))
			assert.Equal(t, theirs.body, ours.body)
		})
	}
}
