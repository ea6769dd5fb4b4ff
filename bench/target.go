package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// repo is the repository the benchmark pushes to and pulls from.
const repo = "bench/blob"

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// target is one server under test.
type target struct {
	name      string
	base      string // http://127.0.0.1:port
	host      string // Host header
	auth      string // Authorization header; "" for none
	proc      *proc
	plainFile bool // the file server: every path is the blob

	client http.Client
}

// image is a layer, a config and an OCI manifest that references both.
type image struct {
	layer, config, manifest []byte
	layerDigest             digest.Digest
}

// newImage makes an image with size bytes of deterministic random layer.
func newImage(size int, seed uint64) (*image, error) {
	layer := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = rng.Read(layer)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	img := &image{layer: layer, config: config, layerDigest: digest.FromBytes(layer)}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.FromBytes(config), "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": img.layerDigest, "size": len(layer)}},
	}
	var err error
	img.manifest, err = json.Marshal(m)
	return img, err
}

// request builds a request to path with the target's Host and credentials.
func (t *target) request(method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequest(method, t.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Host = t.host
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	return req, nil
}

// do sends a request and returns the status, headers and body.
func (t *target) do(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// pushBlob uploads b monolithically: POST, then PUT with the body.
func (t *target) pushBlob(b []byte) error {
	req, err := t.request(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		return err
	}
	status, h, body, err := t.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusAccepted {
		return fmt.Errorf("POST upload: %d %s", status, body)
	}
	loc, err := url.Parse(h.Get("Location"))
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", digest.FromBytes(b).String())
	req, err = t.request(http.MethodPut, loc.Path+"?"+q.Encode(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(b))
	req.Header.Set("Content-Type", "application/octet-stream")
	if status, _, body, err = t.do(req); err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("PUT upload: %d %s", status, body)
	}
	return nil
}

func (t *target) pushImage(img *image) error {
	for _, b := range [][]byte{img.layer, img.config} {
		if err := t.pushBlob(b); err != nil {
			return err
		}
	}
	req, err := t.request(http.MethodPut, "/v2/"+repo+"/manifests/v1", bytes.NewReader(img.manifest))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ociManifest)
	status, _, body, err := t.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("PUT manifest: %d %s", status, body)
	}
	return nil
}

// pushLayer pushes img's layer and returns MB/s.
func (t *target) pushLayer(img *image) (float64, error) {
	start := time.Now()
	if err := t.pushBlob(img.layer); err != nil {
		return 0, err
	}
	return float64(len(img.layer)) / time.Since(start).Seconds() / 1e6, nil
}

func (t *target) blobPath(d digest.Digest) string {
	if t.plainFile {
		return "/blob"
	}
	return "/v2/" + repo + "/blobs/" + d.String()
}

// verifyBlob GETs the layer once (the warm-up) and checks its digest.
func (t *target) verifyBlob(img *image) error {
	req, err := t.request(http.MethodGet, t.blobPath(img.layerDigest), nil)
	if err != nil {
		return err
	}
	status, _, body, err := t.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusOK || digest.FromBytes(body) != img.layerDigest {
		return fmt.Errorf("blob GET: status %d, %d bytes, sha256 %x", status, len(body), sha256.Sum256(body))
	}
	return nil
}

// blobGets runs total full GETs of the layer over clients parallel
// clients, each on its own connection, and returns MB/s.
func (t *target) blobGets(img *image, clients, total int) (float64, error) {
	size := int64(len(img.layer))
	var next atomic.Int64
	errs := make(chan error, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			defer c.CloseIdleConnections()
			buf := make([]byte, 1<<20)
			for next.Add(1) <= int64(total) {
				req, err := t.request(http.MethodGet, t.blobPath(img.layerDigest), nil)
				if err != nil {
					errs <- err
					return
				}
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					return
				}
				n, err := io.CopyBuffer(discard{}, resp.Body, buf)
				resp.Body.Close()
				if err == nil && (resp.StatusCode != http.StatusOK || n != size) {
					err = fmt.Errorf("blob GET: status %d, %d of %d bytes", resp.StatusCode, n, size)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(size) * float64(total) / elapsed.Seconds() / 1e6, nil
}

// rawRequest is an HTTP/1.1 request as bytes, for the load generator.
type rawRequest struct {
	head bool
	b    []byte
}

func (t *target) raw(method, path string, headers ...string) rawRequest {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, t.host)
	if t.auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", t.auth)
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return rawRequest{head: method == http.MethodHead, b: b.Bytes()}
}

func (t *target) v2Request() rawRequest { return t.raw(http.MethodGet, "/v2/") }

func (t *target) manifestRequest(method string) rawRequest {
	return t.raw(method, "/v2/"+repo+"/manifests/v1", "Accept: "+ociManifest)
}

// rate sends req over o.conns keep-alive connections for o.rateDur and
// returns requests per second. Every answer must be a 200.
func (t *target) rate(o options, req rawRequest) (float64, error) {
	addr := strings.TrimPrefix(t.base, "http://")
	var count atomic.Int64
	var firstErr error
	var mu sync.Mutex
	deadline := time.Now().Add(o.rateDur)
	var wg sync.WaitGroup
	start := time.Now()
	for range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := loadConn(addr, req, deadline, &count); err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(count.Load()) / elapsed.Seconds(), nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// loadConn repeats req on one connection until deadline.
func loadConn(addr string, req rawRequest, deadline time.Time, count *atomic.Int64) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	for time.Now().Before(deadline) {
		if _, err := c.Write(req.b); err != nil {
			return err
		}
		status, err := readResponse(br, req.head)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("status %d", status)
		}
		count.Add(1)
	}
	return nil
}

// readResponse reads one response with a Content-Length body (no body for
// HEAD) and returns its status.
func readResponse(br *bufio.Reader, head bool) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length := int64(-1)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok {
			switch {
			case bytes.EqualFold(k, []byte("Content-Length")):
				if length, err = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err != nil {
					return 0, err
				}
			case bytes.EqualFold(k, []byte("Transfer-Encoding")):
				return 0, errors.New("chunked responses are not supported by the load generator")
			}
		}
	}
	if head || status == http.StatusNotModified || status == http.StatusNoContent {
		return status, nil
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	_, err = br.Discard(int(length))
	return status, err
}

// acrToken takes an access token for scope with the admin credentials.
func (t *target) acrToken(user, password, scope string) (string, error) {
	q := url.Values{"service": {t.host}, "scope": {scope}}
	req, err := t.request(http.MethodGet, "/oauth2/token?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(user, password)
	status, _, body, err := t.do(req)
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token: %d %s", status, body)
	}
	return tok.AccessToken, nil
}
