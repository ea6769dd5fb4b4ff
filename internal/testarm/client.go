package testarm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Client sends ARM requests to one acremu front end. Its failing methods
// report to the test it is bound to, so they must run on that test's
// goroutine; other goroutines use Send.
type Client struct {
	t testing.TB
	// Base is the front end's URL, without a trailing slash.
	Base string
	// HTTP sends the requests.
	HTTP *http.Client
	// APIVersion, when set, is the api-version Request adds to paths
	// that carry none.
	APIVersion string
	token      string
}

// NewClient is a client of the front end at base, bound to t.
func NewClient(t testing.TB, base string) *Client {
	return &Client{t: t, Base: strings.TrimSuffix(base, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// For is c bound to t instead: a subtest reports its failures to itself.
// The copy shares c's server, HTTP client and token.
func (c *Client) For(t testing.TB) *Client {
	cp := *c
	cp.t = t
	return &cp
}

// Token signs in like az does, with client credentials at
// /adfs/oauth2/token, and returns the access token; anything but a 200
// fails the test.
func (c *Client) Token(clientID, secret string) string {
	c.t.Helper()
	res := c.Do(http.MethodPost, "/adfs/oauth2/token", url.Values{
		"client_id": {clientID}, "client_secret": {secret}, "grant_type": {"client_credentials"},
		"client_info": {"1"}, "scope": {c.Base + "//.default"},
	}, nil)
	require.Equal(c.t, http.StatusOK, res.Code, "token endpoint: %s", res.Body)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(c.t, json.Unmarshal(res.Body, &body))
	require.NotEmpty(c.t, body.AccessToken, "token endpoint: %s", res.Body)
	return body.AccessToken
}

// SignIn signs in with the given credentials; Request sends the token.
func (c *Client) SignIn(clientID, secret string) *Client {
	c.t.Helper()
	c.token = c.Token(clientID, secret)
	return c
}

// BearerToken is the token Request sends, signing in with the development
// identity first if c has none yet.
func (c *Client) BearerToken() string {
	c.t.Helper()
	if c.token == "" {
		c.SignIn(ClientID, ClientSecret)
	}
	return c.token
}

// Request sends an ARM request with c's token. body may be nil, a string
// (sent verbatim as JSON), url.Values (sent as a form), an io.Reader (sent
// verbatim with no Content-Type of its own) or a value to encode as JSON.
func (c *Client) Request(method, path string, body any) Response {
	c.t.Helper()
	if c.APIVersion != "" && !strings.Contains(path, "api-version=") {
		path = WithAPI(path, c.APIVersion)
	}
	return c.Do(method, path, body, http.Header{"Authorization": {"Bearer " + c.BearerToken()}})
}

// Do sends a request with exactly the given headers (and the body's
// Content-Type). path is below Base unless it is an absolute URL.
func (c *Client) Do(method, path string, body any, header http.Header) Response {
	c.t.Helper()
	res, err := c.Send(method, path, body, header)
	require.NoError(c.t, err)
	return res
}

// Send is Do without the test: it only returns what went wrong, so any
// goroutine may call it.
func (c *Client) Send(method, path string, body any, header http.Header) (Response, error) {
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	case string:
		rd, contentType = strings.NewReader(b), "application/json"
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd, contentType = bytes.NewReader(data), "application/json"
	}
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = c.Base + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		return Response{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Code: res.StatusCode, Header: res.Header, Body: data}, nil
}

// Response is a fully read answer.
type Response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// ErrCode is error.code of an ARM error body.
func (r Response) ErrCode(t testing.TB) string {
	t.Helper()
	code, _, err := r.armError()
	require.NoError(t, err)
	return code
}

// ErrMessage is error.message of an ARM error body.
func (r Response) ErrMessage(t testing.TB) string {
	t.Helper()
	_, msg, err := r.armError()
	require.NoError(t, err)
	return msg
}

func (r Response) armError() (code, message string, err error) {
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return "", "", fmt.Errorf("not JSON: %w; body: %s", err, r.Body)
	}
	if body.Error == nil {
		return "", "", errors.New("no ARM error in " + string(r.Body))
	}
	return body.Error.Code, body.Error.Message, nil
}
