package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/registry"
)

// importImage serves mgmt.ImportHooks: it copies an image from one served
// registry to another the way ACR's import service does, as a client of
// both data planes. There is no network in between: requests go straight
// to each registry's handler (inProcessTransport), so the firewall, ACR
// authentication, locks and distribution's own checks all apply as for
// any client. go-containerregistry walks the image: an index with every
// manifest it names, each manifest with its config and layers, byte for
// byte, so digests do not change.
//
// The import service is a trusted Azure service. Its requests reach both
// registries as a client that the firewall marks as such, and each
// registry's own policy decides: rules that admit everyone admit it; a
// registry with networkRuleBypassOptions AzureServices lets it pass its IP
// rules and disabled public access when it authenticates with its managed
// identity (ACR tokens exchanged from it); with None it is denied like
// anyone. The service uses that identity for the target always, and for
// the source when no credentials were sent; credentials sent for the
// source are used instead, so a network-restricted source refuses them, as
// ACR does ("Invalid message Forbidden Forbidden {…DENIED…}").
func (s *Server) importImage(ctx context.Context, op mgmt.ImportOperation) error {
	set := s.regs.Load()
	src, ok1 := set.byName[strings.ToLower(op.Source.Name)]
	dst, ok2 := set.byName[strings.ToLower(op.Target.Name)]
	if !ok1 || !ok2 {
		return fmt.Errorf("import: registry %s or %s is not served", op.Source.Name, op.Target.Name)
	}
	srcLogin, dstLogin := s.loginServer(src.rec), s.loginServer(dst.rec)

	srcRef, err := name.ParseReference(srcLogin+"/"+op.SourceImage, name.WeakValidation)
	if err != nil {
		return invalidImport("The source image '%s' is not a valid image reference.", op.SourceImage)
	}
	srcTag := "latest"
	if t, ok := srcRef.(name.Tag); ok {
		srcTag = t.TagStr()
	}
	type target struct {
		repo name.Repository
		tag  string // "": untagged
	}
	var targets []target
	for _, t := range op.TargetTags {
		repo, tag, hasTag := splitRepoTag(t)
		if !hasTag {
			tag = srcTag
		}
		r, err := name.NewRepository(dstLogin+"/"+repo, name.StrictValidation)
		if err == nil {
			_, err = name.NewTag(r.Name()+":"+tag, name.StrictValidation)
		}
		if err != nil {
			return invalidImport("The target tag '%s' is not a valid repository[:tag].", t)
		}
		targets = append(targets, target{r, tag})
	}
	for _, t := range op.UntaggedRepositories {
		r, err := name.NewRepository(dstLogin+"/"+t, name.StrictValidation)
		if err != nil {
			return invalidImport("The target repository '%s' is not a valid repository name.", t)
		}
		targets = append(targets, target{repo: r})
	}

	srcT := s.importTransport(src.reg)
	dstT := s.importTransport(dst.reg)
	srcAuth := authn.Anonymous
	switch {
	case op.Credentials != nil:
		srcAuth = authn.FromConfig(authn.AuthConfig{Username: op.Credentials.Username, Password: op.Credentials.Password})
	case op.SourceByResourceID:
		if srcAuth, err = s.importIdentity(ctx, srcT, srcLogin, op); err != nil {
			return importFailure(srcT, err)
		}
	}
	dstAuth, err := s.importIdentity(ctx, dstT, dstLogin, op)
	if err != nil {
		return importFailure(dstT, err)
	}
	srcOpts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(srcT), remote.WithAuth(srcAuth)}
	dstOpts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(dstT), remote.WithAuth(dstAuth)}

	desc, err := remote.Get(srcRef, srcOpts...)
	if err != nil {
		if srcT.failed().status == http.StatusNotFound {
			return &mgmt.ImportError{Status: http.StatusBadRequest, Code: "InvalidParameters", Failed: true,
				Message: fmt.Sprintf("Source image %s not found.", srcRef.Name()), Cause: err}
		}
		return importFailure(srcT, err)
	}

	// NoForce: an existing target tag fails the import before anything is
	// copied.
	if !op.Force {
		for _, t := range targets {
			if t.tag == "" {
				continue
			}
			_, err := remote.Head(t.repo.Tag(t.tag), dstOpts...)
			if err == nil {
				return &mgmt.ImportError{Status: http.StatusConflict, Code: "Conflict",
					Message: fmt.Sprintf("Tag %s:%s already exists in target registry.", t.repo.RepositoryStr(), t.tag)}
			}
			if dstT.failed().status != http.StatusNotFound {
				return importFailure(dstT, err)
			}
			dstT.reset()
		}
	}

	for _, t := range targets {
		var ref name.Reference = t.repo.Digest(desc.Digest.String())
		if t.tag != "" {
			ref = t.repo.Tag(t.tag)
		}
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err == nil {
				err = remote.WriteIndex(ref, idx, dstOpts...)
			}
			if err != nil {
				return importFailure(srcT, importFailure(dstT, err))
			}
			continue
		}
		img, err := desc.Image()
		if err == nil {
			err = remote.Write(ref, img, dstOpts...)
		}
		if err != nil {
			return importFailure(srcT, importFailure(dstT, err))
		}
	}
	return nil
}

func invalidImport(format string, args ...any) error {
	return &mgmt.ImportError{Status: http.StatusBadRequest, Code: "InvalidParameters", Message: fmt.Sprintf(format, args...)}
}

// importFailure turns err into the failed operation ACR reports, quoting
// the data plane's refusal recorded by t the way ACR does. An error that is
// already an ImportError, or one t saw no refusal for, passes through (the
// latter as a 500: it is not the caller's doing).
func importFailure(t *inProcessTransport, err error) error {
	var ie *mgmt.ImportError
	if errors.As(err, &ie) {
		return err
	}
	f := t.failed()
	if f.status == 0 {
		return err
	}
	text := strings.ReplaceAll(http.StatusText(f.status), " ", "")
	return &mgmt.ImportError{Status: http.StatusBadRequest, Code: "InvalidParameters", Failed: true,
		Message: "Invalid message " + text + " " + text + " " + strings.TrimSpace(string(f.body)), Cause: err}
}

// splitRepoTag splits "repo[:tag]"; the tag separator is the last colon
// after the last slash.
func splitRepoTag(s string) (repo, tag string, hasTag bool) {
	slash := strings.LastIndex(s, "/")
	if i := strings.LastIndex(s, ":"); i > slash {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// importServiceAddr is the address the import service's requests come
// from: a TEST-NET-1 address (RFC 5737), public in form and in no IP rule
// anyone would write, so that the registry's own rules decide.
var importServiceAddr = netip.MustParseAddr("192.0.2.10")

// importTransport returns a transport that serves every request with reg's
// handler, as the import service's trusted-service client. The requests
// count as TLS (the realm is https, as for any client of the login server).
func (s *Server) importTransport(reg *registry.Registry) *inProcessTransport {
	return &inProcessTransport{h: reg, client: firewall.Client{
		Peer: importServiceAddr, Source: importServiceAddr, Addr: importServiceAddr, TrustedService: true,
	}}
}

// importIdentity authenticates the import service at one registry with
// its managed identity: an ARM token naming the identity (the target
// registry's; the caller stays its subject), exchanged at the registry's
// /oauth2/exchange like any managed identity's token. The refresh token it
// gets then serves go-containerregistry's token requests.
func (s *Server) importIdentity(ctx context.Context, t *inProcessTransport, login string, op mgmt.ImportOperation) (authn.Authenticator, error) {
	mirid := "/subscriptions/" + op.Target.Subscription + "/resourceGroups/" + op.Target.ResourceGroup +
		"/providers/Microsoft.ContainerRegistry/registries/" + op.Target.Name
	claims := s.managedIdentityClaims(mirid, "", "https://management.azure.com/")
	if op.Caller != "" {
		claims.Subject = op.Caller
	}
	arm, err := s.signer.Sign(claims, mgmt.TokenTTL)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"access_token"}, "service": {login}, "tenant": {s.cfg.Tenant}, "access_token": {arm}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+login+"/oauth2/exchange", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := t.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("import: exchange at %s: %s", login, resp.Status)
	}
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.RefreshToken == "" {
		return nil, fmt.Errorf("import: exchange at %s: no refresh token (%v)", login, err)
	}
	return authn.FromConfig(authn.AuthConfig{Username: registry.NullGUID, IdentityToken: out.RefreshToken}), nil
}

// inProcessTransport is an http.RoundTripper that answers with a handler
// instead of the network: the request runs in its own goroutine and the
// body streams through a pipe, so blobs are never held whole. The client
// the firewall judges is set in the request's context, where the front
// end puts it for connections it accepts. The first refusal (a status of
// 400 or more other than 401, which is a challenge) is remembered for the
// error message.
type inProcessTransport struct {
	h      http.Handler
	client firewall.Client

	mu   sync.Mutex
	fail refusal
}

type refusal struct {
	status int
	body   []byte
}

// maxRefusalBody bounds the error body kept for the message.
const maxRefusalBody = 4 << 10

func (t *inProcessTransport) failed() refusal {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fail
}

func (t *inProcessTransport) reset() {
	t.mu.Lock()
	t.fail = refusal{}
	t.mu.Unlock()
}

func (t *inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(firewall.NewContext(req.Context(), t.client))
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = netip.AddrPortFrom(t.client.Peer, 443).String()
	in.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: req.URL.Hostname()}
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeResponseWriter{header: http.Header{}, pw: pw, head: req.Method == http.MethodHead, ready: make(chan struct{})}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				w.WriteHeader(http.StatusInternalServerError)
				w.finish(fmt.Errorf("import: handler panic: %v", p))
				return
			}
			w.finish(nil)
		}()
		t.h.ServeHTTP(w, in)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	resp := &http.Response{
		Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: pr, ContentLength: -1, Request: req,
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" {
		fmt.Sscan(cl, &resp.ContentLength)
	}
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
		pr.Close()
	}
	// A 401 is the challenge everyone first gets, except from the token
	// endpoint, where it refuses the credentials.
	if w.status >= 400 && (w.status != http.StatusUnauthorized || strings.HasPrefix(req.URL.Path, "/oauth2/")) {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		t.mu.Lock()
		if t.fail.status == 0 {
			t.fail = refusal{w.status, body}
		}
		t.mu.Unlock()
	}
	return resp, nil
}

// pipeBuffer is how much of a body pipeResponseWriter holds back: a
// response that ends within it gets a Content-Length, as net/http gives
// it (clients such as go-containerregistry rely on it for manifests).
const pipeBuffer = 64 << 10

// pipeResponseWriter hands the status and headers over when the handler
// finishes or has written more than pipeBuffer, and streams the rest of
// the body into a pipe.
type pipeResponseWriter struct {
	header http.Header
	sent   http.Header
	status int
	pw     *io.PipeWriter
	head   bool
	buf    []byte
	ready  chan struct{}
	handed bool
}

func (w *pipeResponseWriter) Header() http.Header { return w.header }

func (w *pipeResponseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.sent = w.header.Clone()
	}
}

func (w *pipeResponseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.head {
		return len(p), nil
	}
	if !w.handed {
		if len(w.buf)+len(p) <= pipeBuffer {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.handOver(); err != nil {
			return 0, err
		}
	}
	return w.pw.Write(p)
}

// handOver releases the response and writes what was held back.
func (w *pipeResponseWriter) handOver() error {
	w.handed = true
	close(w.ready)
	_, err := w.pw.Write(w.buf)
	w.buf = nil
	return err
}

// finish ends the response: a body that fit the buffer gets its length.
func (w *pipeResponseWriter) finish(err error) {
	w.WriteHeader(http.StatusOK)
	if !w.handed {
		if !w.head && w.sent.Get("Content-Length") == "" && w.status != http.StatusNoContent && w.status != http.StatusNotModified {
			w.sent.Set("Content-Length", strconv.Itoa(len(w.buf)))
		}
		if herr := w.handOver(); herr != nil && err == nil {
			err = herr
		}
	}
	w.pw.CloseWithError(err)
}

func (w *pipeResponseWriter) Flush() {}

// ImportImage implements mgmt.ImportHooks.
func (h *hooks) ImportImage(ctx context.Context, op mgmt.ImportOperation) error {
	return (*Server)(h).importImage(ctx, op)
}

var _ mgmt.ImportHooks = (*hooks)(nil)
