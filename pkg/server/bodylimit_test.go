package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startLimited serves, behind limitBodies with the given timeout, a handler
// that reads the whole body and answers "read N".
func startLimited(t *testing.T, timeout time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(limitBodies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "read %d", len(b))
	}), timeout, unauthBodyMaxBytes))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// trickle sends a request with a 1000-byte Content-Length and then one body
// byte per tick, until the server stops reading or the test ends. It
// returns the connection to read the outcome from.
func trickle(t *testing.T, addr, method, path string, tick time.Duration) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n", method, path)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	return conn
}

func TestSlowBodiesOfUnauthenticatedEndpointsAreCutOff(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, path := range []string{
		"/oauth2/token",
		"/oauth2/exchange",
		"/adfs/oauth2/token",
		"/contoso.onmicrosoft.com/oauth2/v2.0/token",
		"/22222222-2222-2222-2222-222222222222/oauth2/token",
		"/portal/signin",
	} {
		t.Run(path, func(t *testing.T) {
			addr := startLimited(t, timeout)
			// A byte every 20ms: the connection is never idle for long,
			// so only a deadline on the whole body stops it.
			conn := trickle(t, addr, "POST", path, timeout/5)
			start := time.Now()
			conn.SetReadDeadline(start.Add(5 * time.Second))
			// The server answers (or not) and closes the connection; the
			// client's next write may then draw a reset.
			_, err := io.ReadAll(conn)
			// Without the deadline the 1000-byte body takes 20 s to arrive,
			// so the server would still be reading at the client's 5 s.
			require.False(t, os.IsTimeout(err), "server still reading the body after %v", time.Since(start))
		})
	}
}

func TestSlowBlobUploadsAreNotCutOff(t *testing.T) {
	const timeout = 50 * time.Millisecond
	addr := startLimited(t, timeout)
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH /v2/team/app/blobs/uploads/8d0c0c1e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
	for range 5 { // 5 bytes over 4 timeouts
		time.Sleep(timeout)
		_, err := conn.Write([]byte("b"))
		require.NoError(t, err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := io.ReadAll(conn)
	require.NoError(t, err)
	require.Contains(t, string(out), "200 OK")
	require.Contains(t, string(out), "read 5")
}

func TestTokenBodySize(t *testing.T) {
	addr := startLimited(t, time.Minute)
	big := strings.Repeat("x", unauthBodyMaxBytes)
	tests := []struct {
		name, path string
		body       string
		want       string
	}{
		{"token request", "/oauth2/token", "grant_type=password&service=r.azurecr.io", "200 read 40"},
		{"oversized token request", "/oauth2/token", "pad=" + big, "400"},
		{"oversized ARM token request", "/ADFS/OAuth2/Token", "pad=" + big, "400"},
		{"large blob chunk", "/v2/team/app/blobs/uploads/8d0c0c1e", big + big, fmt.Sprintf("200 read %d", 2*len(big))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post("http://"+addr+tt.path, "application/x-www-form-urlencoded", strings.NewReader(tt.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			require.True(t, strings.HasPrefix(fmt.Sprintf("%d %s", resp.StatusCode, b), tt.want), "POST %s = %d %.60s; want %s", tt.path, resp.StatusCode, b, tt.want)
		})
	}
}

// TestEveryPortLimitsTokenBodies goes through a whole server: the ARM token
// endpoint accepts a normal request but refuses one past the body limit
// (its own limit is larger).
func TestEveryPortLimitsTokenBodies(t *testing.T) {
	s := startServer(t, testConfig(t))
	base := fmt.Sprintf("http://127.0.0.1:%d", s.FrontPort())
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "scope": {"https://management.azure.com/.default"}}
	for _, tt := range []struct {
		name string
		pad  int
		want int
	}{
		{"normal", 0, http.StatusOK},
		{"oversized", unauthBodyMaxBytes, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{"pad": {strings.Repeat("x", tt.pad)}}
			for k, v := range form {
				f[k] = v
			}
			resp, err := http.PostForm(base+"/adfs/oauth2/token", f)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode)
		})
	}
}

func TestIsUnauthenticated(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/oauth2/token", true},
		{"/oauth2/exchange", true},
		{"/adfs/oauth2/token", true},
		{"/ADFS/OAuth2/Token/", true},
		{"/common/oauth2/v2.0/token", true},
		{"/portal/signin", true},
		{"/v2/team/app/blobs/uploads/", false},
		{"/v2/team/app/blobs/uploads/8d0c0c1e", false},
		{"/v2/team/app/manifests/v1", false},
		{"/acr/v1/_catalog", false},
		{"/subscriptions/x/resourcegroups/rg", false},
		{"/portal/create", false},
		{"/a/b/oauth2/token", false},
		{"//oauth2/token", false},
		{"/oauth2/authorize", false},
	}
	for _, tt := range tests {
		if got := isUnauthenticated(tt.path); got != tt.want {
			t.Errorf("isUnauthenticated(%q) = %v; want %v", tt.path, got, tt.want)
		}
	}
}
