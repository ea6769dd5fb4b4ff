package registry

import (
	"context"
	"crypto/rand"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/token"
)

// The fast path answers exactly as distribution does, byte for byte:
// every case goes once through Registry.ServeHTTP (with the fast path) and
// once straight to distribution over the same storage.
func TestBlobFastPathMatchesDistribution(t *testing.T) {
	e := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = t.TempDir() })
	blob := make([]byte, 100_000)
	_, _ = rand.Read(blob)
	dg := e.pushBlob("team/app", blob).Digest
	other := e.pushBlob("team/other", []byte("only linked in team/other")).Digest

	reference := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		vw := &v2Writer{ResponseWriter: w}
		req = req.WithContext(context.WithValue(req.Context(), v2WriterKey{}, vw))
		e.reg.serveDistribution(vw, req)
	}))
	defer reference.Close()

	pull := bearer(accessToken(t, e.host, token.Access{Type: "repository", Name: "team/app", Actions: []string{"pull"}}))
	pullOther := bearer(accessToken(t, e.host, token.Access{Type: "repository", Name: "team/other", Actions: []string{"pull"}}))
	blobURL := "/v2/team/app/blobs/" + dg.String()
	cases := []struct {
		name     string
		method   string
		path     string
		header   http.Header
		wantCode int
		wantFast bool
	}{
		{"GET", http.MethodGet, blobURL, pull, http.StatusOK, true},
		{"HEAD", http.MethodHead, blobURL, pull, http.StatusOK, true},
		{"GET as admin", http.MethodGet, blobURL, basic(testName, testPW1), http.StatusOK, true},
		{"range", http.MethodGet, blobURL, merge(pull, http.Header{"Range": {"bytes=10-99"}}), http.StatusPartialContent, true},
		{"suffix range", http.MethodGet, blobURL, merge(pull, http.Header{"Range": {"bytes=-7"}}), http.StatusPartialContent, true},
		{"open range", http.MethodGet, blobURL, merge(pull, http.Header{"Range": {"bytes=99990-"}}), http.StatusPartialContent, true},
		{"two ranges", http.MethodGet, blobURL, merge(pull, http.Header{"Range": {"bytes=0-3,50-60"}}), http.StatusPartialContent, true},
		{"HEAD range", http.MethodHead, blobURL, merge(pull, http.Header{"Range": {"bytes=0-9"}}), http.StatusPartialContent, true},
		{"unsatisfiable range", http.MethodGet, blobURL, merge(pull, http.Header{"Range": {"bytes=200000-"}}), http.StatusRequestedRangeNotSatisfiable, true},
		{"If-None-Match matches", http.MethodGet, blobURL, merge(pull, http.Header{"If-None-Match": {`"` + dg.String() + `"`}}), http.StatusNotModified, true},
		{"If-None-Match differs", http.MethodGet, blobURL, merge(pull, http.Header{"If-None-Match": {`"sha256:0"`}}), http.StatusOK, true},
		{"If-Range stale", http.MethodGet, blobURL, merge(pull, http.Header{"Range": {"bytes=0-9"}, "If-Range": {`"x"`}}), http.StatusOK, true},
		{"unknown digest", http.MethodGet, "/v2/team/app/blobs/" + digest.FromString("absent").String(), pull, http.StatusNotFound, false},
		{"unknown digest HEAD", http.MethodHead, "/v2/team/app/blobs/" + digest.FromString("absent").String(), pull, http.StatusNotFound, false},
		{"bad digest", http.MethodGet, "/v2/team/app/blobs/sha256:" + strings.Repeat("Z", 64), pull, http.StatusBadRequest, false},
		{"upper-case hex", http.MethodGet, "/v2/team/app/blobs/sha256:" + strings.ToUpper(dg.Encoded()), pull, http.StatusBadRequest, false},
		{"short digest", http.MethodGet, "/v2/team/app/blobs/sha256:abc", pull, http.StatusBadRequest, false},
		{"blob of another repository", http.MethodGet, "/v2/team/app/blobs/" + other.String(), pull, http.StatusNotFound, false},
		{"the other repository's own blob", http.MethodGet, "/v2/team/other/blobs/" + other.String(), pullOther, http.StatusOK, true},
		{"no credentials", http.MethodGet, blobURL, nil, http.StatusUnauthorized, false},
		{"token for another repository", http.MethodGet, blobURL, pullOther, http.StatusUnauthorized, false},
		{"wrong password", http.MethodGet, blobURL, basic(testName, "nope"), http.StatusUnauthorized, false},
		{"invalid repository name", http.MethodGet, "/v2/Team/App/blobs/" + dg.String(), basic(testName, testPW1), http.StatusNotFound, false},
		{"DELETE is distribution's", http.MethodDelete, "/v2/team/other/blobs/" + digest.FromString("absent").String(), basic(testName, testPW1), http.StatusNotFound, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			send := func(base string) response {
				req, err := http.NewRequest(tc.method, base+tc.path, nil)
				require.NoError(t, err)
				req.Host = e.host // the token's audience
				for k, v := range tc.header {
					req.Header[k] = v
				}
				return e.send(http.DefaultClient, req)
			}
			got, want := send(e.srv.URL), send(reference.URL)
			assert.Equal(t, tc.wantCode, want.status, want.body)
			assert.Equal(t, want.status, got.status)
			want, got = normalise(want), normalise(got)
			assert.Equal(t, want.header, got.header)
			assert.Equal(t, want.body, got.body)

			req := httptest.NewRequest(tc.method, "http://"+e.host+tc.path, nil)
			req.Header = tc.header.Clone()
			if req.Header == nil {
				req.Header = http.Header{}
			}
			req = req.WithContext(firewall.NewContext(req.Context(), e.reg.resolver.FromPeer(netip.MustParseAddr("127.0.0.1"))))
			assert.Equal(t, tc.wantFast, e.reg.serveBlobFile(httptest.NewRecorder(), req), "served by the fast path")
		})
	}
}

// normalise drops what differs between any two answers: the date, and the
// random boundary of a multipart/byteranges body.
func normalise(r response) response {
	r.header.Del("Date")
	ct := r.header.Get("Content-Type")
	if _, params, err := mime.ParseMediaType(ct); err == nil && params["boundary"] != "" {
		b := params["boundary"]
		r.header.Set("Content-Type", strings.ReplaceAll(ct, b, "BOUNDARY"))
		r.body = strings.ReplaceAll(r.body, b, "BOUNDARY")
	}
	return r
}

// The fast path copies through the connection's io.ReaderFrom (sendfile
// for a TCP connection): the body arrives whole through a real server.
func TestBlobFastPathLargeBlob(t *testing.T) {
	e := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = t.TempDir() })
	blob := make([]byte, 3<<20)
	_, _ = rand.Read(blob)
	dg := e.pushBlob("big", blob).Digest
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v2/big/blobs/"+dg.String(), nil)
	require.NoError(t, err)
	req.Header = basic(testName, testPW1)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, dg, digest.FromBytes(got))
}
