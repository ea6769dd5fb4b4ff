package registry

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/acremu/acremu/pkg/firewall"
)

// Dedicated data endpoints. With dataEndpointEnabled, ACR answers a blob
// GET on the login server with 307 Temporary Redirect to a short-lived
// link on the registry's data endpoint, <registry>.<region>.data.azurecr.io,
// which then serves the bytes. The link has ACR's shape,
//
//	https://<data endpoint>/?t=<key id>&h=<login server>&c=<correlation id>
//	    &r=<repository>&d=<digest>&p=<payload>&s=<signature>&v=1
//
// and is valid for 20 minutes (ACR's documented lifetime). In ACR p and s
// are opaque; here p is the base64url JSON of the registry's ID, the expiry
// and whether the link was issued to a trusted service, and s the
// HMAC-SHA256 of every other parameter under a key derived from the
// instance's HTTP secret and the registry's ID. The data endpoint is judged
// by the registry's own firewall before the link is even read, so a denied
// client gets ACR's 403 there too; a valid link is the only credential it
// takes (as a SAS URL is).
//
// Blob HEADs are answered on the login server (they carry no bytes);
// uploads never use the data endpoint, as in ACR.

// dataLinkLifetime is how long a redirect link stays valid.
const dataLinkLifetime = 20 * time.Minute

// dataLinkPayload is what a link's p parameter carries.
type dataLinkPayload struct {
	Registry string `json:"i"`
	Expiry   int64  `json:"e"` // Unix seconds
	Trusted  bool   `json:"ts,omitempty"`
}

// dataLinkKey derives the key that signs one registry's links.
func dataLinkKey(secret, id string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("acremu data endpoint link\x00" + id))
	return m.Sum(nil)
}

// dataKeyID is the t parameter: 40 hex digits naming the key.
func (r *Registry) dataKeyID() string {
	sum := sha1.Sum(r.dataKey)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (r *Registry) signDataLink(q url.Values) string {
	m := hmac.New(sha256.New, r.dataKey)
	for _, k := range []string{"v", "t", "h", "c", "r", "d", "p"} {
		m.Write([]byte(k + "=" + q.Get(k) + "\n"))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// dataLink builds the redirect target for blob dgst of repository name.
func (r *Registry) dataLink(scheme, host, name, dgst string, trusted bool) string {
	p, _ := json.Marshal(dataLinkPayload{Registry: r.id, Expiry: r.now().Add(dataLinkLifetime).Unix(), Trusted: trusted})
	var c [16]byte
	_, _ = rand.Read(c[:])
	c[6] = c[6]&0x0f | 0x40
	c[8] = c[8]&0x3f | 0x80
	q := url.Values{
		"t": {r.dataKeyID()},
		"h": {r.loginServer},
		"c": {fmt.Sprintf("%x-%x-%x-%x-%x", c[0:4], c[4:6], c[6:8], c[8:10], c[10:])},
		"r": {name},
		"d": {dgst},
		"p": {base64.RawURLEncoding.EncodeToString(p)},
		"v": {"1"},
	}
	q.Set("s", r.signDataLink(q))
	// ACR's order: t, h, c, r, d, p, s, v.
	var b strings.Builder
	b.WriteString(scheme + "://" + host + "/?")
	for i, k := range []string{"t", "h", "c", "r", "d", "p", "s", "v"} {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + url.QueryEscape(q.Get(k)))
	}
	return b.String()
}

// verifyDataLink checks a link's signature, registry and expiry.
func (r *Registry) verifyDataLink(q url.Values) (dataLinkPayload, bool) {
	var p dataLinkPayload
	if q.Get("v") != "1" || !hmac.Equal([]byte(q.Get("s")), []byte(r.signDataLink(q))) {
		return p, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Get("p"))
	if err != nil || json.Unmarshal(raw, &p) != nil {
		return p, false
	}
	if p.Registry != r.id || !strings.EqualFold(q.Get("h"), r.loginServer) || r.now().Unix() >= p.Expiry {
		return p, false
	}
	return p, isSHA256Digest(q.Get("d"))
}

// redirectBlob answers a blob GET of a registry with a data endpoint with
// 307 and a signed link, and reports true; on false nothing was written
// and the request goes on as without a data endpoint (which also writes
// the challenge of an unauthorized request and BLOB_UNKNOWN).
func (r *Registry) redirectBlob(w http.ResponseWriter, req *http.Request) bool {
	host := r.creds.Load().dataEndpoint
	if host == "" || req.Method != http.MethodGet || req.URL.RawPath != "" {
		return false
	}
	name, dgst, ok := splitV2Path(req.URL.Path, "/blobs/")
	if !ok || !isSHA256Digest(dgst) {
		return false
	}
	if _, err := reference.WithName(name); err != nil {
		return false
	}
	if r.authorize(req, repositoryAccess(name, "pull")) != nil {
		return false
	}
	if !r.blobLinked(req.Context(), name, dgst) {
		return false
	}
	// A trusted service was admitted by its managed identity; its link
	// carries that, since the data endpoint sees no credential.
	d := r.policy.Load().Decide(r.resolver.ClientOf(req))
	trusted := !d.Allowed && d.TrustedService
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	h := w.Header()
	h.Add("Docker-Distribution-API-Version", distributionAPIVersion)
	h.Set("Docker-Content-Digest", dgst)
	http.Redirect(w, req, r.dataLink(scheme, host, name, dgst, trusted), http.StatusTemporaryRedirect)
	return true
}

func linkPath(name, dgst string) string {
	return repositoriesRoot + "/" + name + "/_layers/sha256/" + dgst[len("sha256:"):] + "/link"
}

// blobLinked reports whether repository name links blob dgst.
func (r *Registry) blobLinked(ctx context.Context, name, dgst string) bool {
	link, err := r.driver.GetContent(ctx, linkPath(name, dgst))
	return err == nil && string(link) == dgst
}

// ServeDataEndpoint serves the registry's dedicated data endpoint: the
// firewall first (ACR's 403 for a denied client), then the signed link,
// then the blob's bytes (GET or HEAD, with ranges).
func (r *Registry) ServeDataEndpoint(w http.ResponseWriter, req *http.Request) {
	client, decision := r.admit(req)
	if !decision.Allowed && decision.TrustedService {
		if p, ok := r.verifyDataLink(req.URL.Query()); ok && p.Trusted {
			decision = firewall.TrustedServiceAdmitted
		}
	}
	if !decision.Allowed {
		r.deny(w, req, client, decision)
		return
	}
	r.allowed.Add(1)
	if err := r.ready(); err != nil {
		r.writeError(w, req, errInternal(err))
		return
	}
	if req.URL.Path != "/" {
		r.writeError(w, req, errNotFound)
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		r.writeError(w, req, &regError{Status: http.StatusMethodNotAllowed, Code: codeUnsupported, Message: "the data endpoint serves GET and HEAD only"})
		return
	}
	q := req.URL.Query()
	if _, ok := r.verifyDataLink(q); !ok {
		r.writeError(w, req, &regError{Status: http.StatusForbidden, Code: codeDenied,
			Message: "the download link is invalid or has expired; request the blob from the login server again"})
		return
	}
	name, dgst := q.Get("r"), q.Get("d")
	if !r.blobLinked(req.Context(), name, dgst) {
		r.writeError(w, req, errBlobUnknown(dgst))
		return
	}
	content, closeFn, ok := r.openBlobData(req.Context(), dgst)
	if !ok {
		r.writeError(w, req, errBlobUnknown(dgst))
		return
	}
	defer closeFn()
	h := w.Header()
	h.Set("Content-Type", blobMediaType)
	h.Set("ETag", `"`+dgst+`"`)
	h.Set("Cache-Control", blobCacheControl)
	h.Set("Docker-Content-Digest", dgst)
	http.ServeContent(w, req, "", time.Time{}, content)
}

// errBlobUnknown is distribution's answer for a blob it does not serve.
func errBlobUnknown(dgst string) *regError {
	return &regError{Status: http.StatusNotFound, Code: codeBlobUnknown, Message: "blob unknown to registry", Detail: dgst}
}

// openBlobData opens a blob's bytes: the data file itself with filesystem
// storage (so sendfile copies it), else the driver's content.
func (r *Registry) openBlobData(ctx context.Context, dgst string) (io.ReadSeeker, func(), bool) {
	if r.storageDir != "" {
		f, err := os.Open(filepath.Join(r.storageDir, filepath.FromSlash(blobDataPath(digest.Digest(dgst)))))
		if err != nil {
			return nil, nil, false
		}
		return f, func() { f.Close() }, true
	}
	b, err := r.driver.GetContent(ctx, blobDataPath(digest.Digest(dgst)))
	if err != nil {
		return nil, nil, false
	}
	return bytes.NewReader(b), func() {}, true
}
