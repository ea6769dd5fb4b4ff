package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// API versions the portal speaks, as the Azure portal pins its own.
const (
	registryAPI = "2023-07-01"
	groupAPI    = "2022-09-01"
)

// armError is an ARM error response: the status and ARM's own code and
// message, shown to the user as they are.
type armError struct {
	Status  int
	Code    string
	Message string
}

func (e *armError) Error() string { return fmt.Sprintf("ARM %d %s: %s", e.Status, e.Code, e.Message) }

// armClient sends ARM requests in-process to the ARM handler, as the signed
// in user: the same handler, validation and hooks that az reaches.
type armClient struct {
	h     http.Handler
	token string
	sub   string
	from  *http.Request // the browser's request: context, Host and peer
}

// do sends method path?api-version=apiVersion with body (JSON, or none when
// nil) and decodes a 2xx response into out (when non-nil). Non-2xx answers
// are returned as *armError.
func (c armClient) do(method, path, apiVersion string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := url.URL{Path: path, RawQuery: url.Values{"api-version": {apiVersion}}.Encode()}
	return c.send(method, u, rd, out)
}

// follow fetches a URL that ARM gave (a nextLink): only its path and query are
// used, so it always reaches this ARM handler.
func (c armClient) follow(link string, out any) error {
	u, err := url.Parse(link)
	if err != nil {
		return err
	}
	return c.send(http.MethodGet, url.URL{Path: u.Path, RawQuery: u.RawQuery}, http.NoBody, out)
}

func (c armClient) send(method string, u url.URL, body io.Reader, out any) error {
	ctx := context.Background()
	if c.from != nil {
		ctx = c.from.Context()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	if c.from != nil {
		req.Host, req.RemoteAddr, req.TLS = c.from.Host, c.from.RemoteAddr, c.from.TLS
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "acremu-portal")
	if body != http.NoBody {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := newRecorder()
	c.h.ServeHTTP(rec, req)
	if rec.status/100 != 2 {
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(rec.body.Bytes(), &env) != nil || env.Error.Code == "" {
			env.Error.Code = http.StatusText(rec.status)
			env.Error.Message = strings.TrimSpace(rec.body.String())
		}
		return &armError{Status: rec.status, Code: env.Error.Code, Message: env.Error.Message}
	}
	if out == nil || rec.body.Len() == 0 {
		return nil
	}
	return json.Unmarshal(rec.body.Bytes(), out)
}

// recorder captures the in-process ARM response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// ARM paths, unescaped (url.URL escapes them). Segments come from routes
// (which never contain '/') or from forms, checked by segment.
func (c armClient) subPath() string { return "/subscriptions/" + c.sub }

func (c armClient) groupPath(rg string) string { return c.subPath() + "/resourceGroups/" + rg }

func (c armClient) registryPath(rg, name string) string {
	return c.groupPath(rg) + "/providers/Microsoft.ContainerRegistry/registries/" + name
}
