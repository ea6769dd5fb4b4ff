package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthURL(t *testing.T) {
	for _, tc := range []struct {
		name, listen, want string
		wantErr            bool
	}{
		{name: "loopback", listen: "127.0.0.1:5000", want: "http://127.0.0.1:5000/_acremu/health"},
		{name: "any IPv4", listen: "0.0.0.0:5000", want: "http://127.0.0.1:5000/_acremu/health"},
		{name: "empty host", listen: ":5000", want: "http://127.0.0.1:5000/_acremu/health"},
		{name: "any IPv6 (dual-stack)", listen: "[::]:5000", want: "http://127.0.0.1:5000/_acremu/health"},
		{name: "host name", listen: "acremu:5000", want: "http://acremu:5000/_acremu/health"},
		{name: "no port", listen: "127.0.0.1", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := healthURL(tc.listen)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestHealthcheckExitCode(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_acremu/health" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer healthy.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name string
		args []string
		env  string // ACREMU_LISTEN
		want int
	}{
		{name: "healthy", args: []string{"--listen", healthy.Listener.Addr().String()}, want: 0},
		{name: "listen from the environment", env: healthy.Listener.Addr().String(), want: 0},
		{name: "flag beats the environment", args: []string{"--listen", failing.Listener.Addr().String()}, env: healthy.Listener.Addr().String(), want: 1},
		{name: "unhealthy status", args: []string{"--listen", failing.Listener.Addr().String()}, want: 1},
		{name: "nobody listening", args: []string{"--listen", closedAddr, "--timeout", "2s"}, want: 1},
		{name: "bad address", args: []string{"--listen", "nonsense"}, want: 2},
		{name: "unknown flag", args: []string{"--bogus"}, want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("ACREMU_LISTEN", tc.env)
			}
			assert.Equal(t, tc.want, run(append([]string{"healthcheck"}, tc.args...)))
		})
	}
}
