package testarm_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

func TestPaths(t *testing.T) {
	reg := testarm.RegistryPath("rg", "reg1")
	assert.Equal(t, "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg1", reg)
	assert.Equal(t, reg+"/scopeMaps/pull", testarm.ChildPath(reg, "scopeMaps", "pull"))
	assert.Equal(t, reg+"?api-version=2022-02-01-preview", testarm.WithAPI(reg, testarm.APIRegistry))
	assert.Equal(t, reg+"?$top=1&api-version=2023-07-01", testarm.WithAPI(reg+"?$top=1", testarm.APICurrent))
}

func TestClockIsSafeForConcurrentUse(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := testarm.NewClock(start)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Add(time.Second); _ = c.Now() })
	}
	wg.Wait()
	assert.Equal(t, start.Add(10*time.Second), c.Now())
	c.Set(start)
	assert.Equal(t, start, c.Now())
}

// fakeARM answers the token endpoint for the development identity only,
// and echoes the bearer token of any other request in an ARM error.
func fakeARM(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/adfs/oauth2/token" {
			if r.PostFormValue("client_id") != testarm.ClientID || r.PostFormValue("client_secret") != testarm.ClientSecret {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "tok-" + r.PostFormValue("client_id")})
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
			"code": "NotFound", "message": r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("Authorization") + " " + r.Header.Get("Content-Type"),
		}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClientSignsInAndDecodesARMErrors(t *testing.T) {
	srv := fakeARM(t)
	c := testarm.NewClient(t, srv.URL)
	res := c.Request(http.MethodPut, testarm.WithAPI("/x", testarm.APICurrent), map[string]any{"a": 1})
	assert.Equal(t, http.StatusNotFound, res.Code)
	assert.Equal(t, "NotFound", res.ErrCode(t))
	assert.Equal(t, "PUT /x?api-version=2023-07-01 Bearer tok-"+testarm.ClientID+" application/json", res.ErrMessage(t))

	c.APIVersion = testarm.APIRegistry
	assert.Equal(t, "GET /x?api-version=2022-02-01-preview Bearer tok-"+testarm.ClientID+" ", c.Request(http.MethodGet, "/x", nil).ErrMessage(t))
	assert.Equal(t, "GET /x?api-version=2021-04-01 Bearer tok-"+testarm.ClientID+" ", c.Request(http.MethodGet, "/x?api-version=2021-04-01", nil).ErrMessage(t))

	form := c.Do(http.MethodPost, srv.URL+"/y", url.Values{"a": {"1"}}, nil)
	assert.Equal(t, "POST /y  application/x-www-form-urlencoded", form.ErrMessage(t))
}

func TestSendReportsWithoutTheTest(t *testing.T) {
	srv := fakeARM(t)
	c := testarm.NewClient(t, srv.URL)
	srv.Close()
	_, err := c.Send(http.MethodGet, "/", nil, nil)
	require.Error(t, err)
}

func TestErrorDecodingFailsOnOtherBodies(t *testing.T) {
	for _, body := range []string{`{"value":[]}`, `not json`} {
		t.Run(body, func(t *testing.T) {
			rec := &recorder{TB: t}
			done := make(chan struct{})
			// FailNow ends the goroutine it runs on, which must not be the test's.
			go func() {
				defer close(done)
				testarm.Response{Code: http.StatusOK, Body: []byte(body)}.ErrCode(rec)
			}()
			<-done
			assert.True(t, rec.failed)
		})
	}
}

// recorder is a test that only remembers whether it failed, so that a
// Response method's failure can be asserted.
type recorder struct {
	testing.TB
	failed bool
}

func (*recorder) Helper()                 {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) FailNow()              { r.failed = true; runtime.Goexit() }
