package mgmt_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// operationURL is the shape of the Azure-AsyncOperation URL of a registry
// create, as ACR sends it (acr-api.md §1.3), on the given base URL.
func operationURL(base, rg, name, apiVersion string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(base+testarm.RegistryPath(rg, name)) +
		`/operationStatuses/registries-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}` +
		regexp.QuoteMeta("?api-version="+apiVersion) + `$`)
}

// TestRegistryCreateOperation walks ACR's long-running create: the 201
// with Creating and the operation URL, the poll of that URL, and every
// way a poll can name an operation acremu did not issue.
func TestRegistryCreateOperation(t *testing.T) {
	e := newEnv(t)
	e.hooks.nextPort = 5000
	e.mustGroup("rg")
	e.mustGroup("other")
	reg := testarm.RegistryPath("rg", "myRegistry")
	create := `{"location":"eastus","sku":{"name":"Premium"}}`

	var opURL, opPath, opID string // of myRegistry's create, once it ran
	// poll is the create's operation as a path below the server, with the
	// api-version replaced when one is given.
	poll := func(apiVersion string) string {
		if apiVersion == "" {
			return opPath
		}
		return testarm.WithAPI(strings.SplitN(opPath, "?", 2)[0], apiVersion)
	}
	opOf := func(registryPath, id string) string {
		return testarm.WithAPI(registryPath+"/operationStatuses/"+id, testarm.APIRegistry)
	}

	steps := []struct {
		name     string
		method   string
		path     func() string
		body     any
		noToken  bool
		wantCode int
		wantErr  string
		check    func(t *testing.T, res testarm.Response)
	}{
		{name: "create: 201, Creating, Azure-AsyncOperation without Location or Retry-After", method: "PUT",
			path: func() string { return testarm.WithAPI(reg, testarm.APIRegistry) }, body: create, wantCode: 201,
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, "Creating", res.JSON(t)["properties"].(map[string]any)["provisioningState"])
				opURL = res.Header.Get("Azure-AsyncOperation")
				assert.Regexp(t, operationURL(e.srv.URL, "rg", "myRegistry", testarm.APIRegistry), opURL)
				assert.Empty(t, res.Header.Get("Location"))
				assert.Empty(t, res.Header.Get("Retry-After"))
				opPath = strings.TrimPrefix(opURL, e.srv.URL)
				opID = regexp.MustCompile(`registries-[0-9a-f-]{36}`).FindString(opURL)
				assert.Equal(t, []string{"changed:myRegistry"}, eventNames(e.hooks.Events()), "stored and served before the answer")
			}},
		{name: "get before the poll: Succeeded, the create has finished", method: "GET",
			path: func() string { return testarm.WithAPI(reg, testarm.APIRegistry) }, wantCode: 200,
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, "Succeeded", res.JSON(t)["properties"].(map[string]any)["provisioningState"])
			}},
		{name: "poll: 200, exactly ACR's body, the header repeated", method: "GET", path: func() string { return poll("") }, wantCode: 200,
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, `{"status":"Succeeded"}`, string(res.Body))
				assert.Equal(t, opURL, res.Header.Get("Azure-AsyncOperation"))
				assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
				assert.Equal(t, testarm.APIRegistry, res.Header.Get("api-supported-versions"))
			}},
		{name: "poll in another letter case", method: "GET", wantCode: 200,
			path: func() string {
				return testarm.WithAPI(strings.ToUpper(strings.SplitN(opPath, "?", 2)[0]), strings.ToUpper(testarm.APIRegistry))
			},
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, `{"status":"Succeeded"}`, string(res.Body))
				assert.Equal(t, opURL, res.Header.Get("Azure-AsyncOperation"), "canonical spelling")
			}},
		{name: "poll at another api-version: the header names it", method: "GET", path: func() string { return poll("2025-11-01") }, wantCode: 200,
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, strings.Replace(opURL, testarm.APIRegistry, "2025-11-01", 1), res.Header.Get("Azure-AsyncOperation"))
			}},
		{name: "poll without api-version", method: "GET", path: func() string { return strings.SplitN(opPath, "?", 2)[0] },
			wantCode: 400, wantErr: "MissingApiVersionParameter"},
		{name: "poll at an api-version ACR lacks", method: "GET", path: func() string { return poll("2024-01-01-preview") },
			wantCode: 400, wantErr: "NoRegisteredProviderFound"},
		{name: "poll without a token", method: "GET", path: func() string { return poll("") }, noToken: true,
			wantCode: 401, wantErr: "AuthenticationFailed"},
		{name: "poll with another method", method: "POST", path: func() string { return poll("") },
			wantCode: 405, wantErr: "MethodNotAllowed"},
		{name: "poll in another subscription", method: "GET", wantCode: 404, wantErr: "SubscriptionNotFound",
			path: func() string {
				return strings.Replace(opPath, testarm.Subscription, "99999999-9999-9999-9999-999999999999", 1)
			}},
		{name: "poll in a missing group", method: "GET", wantCode: 404, wantErr: "ResourceGroupNotFound",
			path: func() string { return opOf(testarm.RegistryPath("nope", "myRegistry"), opID) }},
		{name: "poll in another group", method: "GET", wantCode: 404, wantErr: "ResourceNotFound",
			path: func() string { return opOf(testarm.RegistryPath("other", "myRegistry"), opID) }},
		{name: "unknown operation id", method: "GET", wantCode: 404, wantErr: "ResourceNotFound",
			path: func() string { return opOf(reg, "registries-61a07a09-f0b3-11ec-b345-84a93e82798c") },
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, "The Resource 'Microsoft.ContainerRegistry/registries/myRegistry/operationStatuses/registries-61a07a09-f0b3-11ec-b345-84a93e82798c' under resource group 'rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
					res.ErrMessage(t))
			}},
		{name: "issued id with one digit changed", method: "GET", wantCode: 404, wantErr: "ResourceNotFound",
			path: func() string { return opOf(reg, flipLastDigit(opID)) }},
		{name: "issued id without its prefix", method: "GET", wantCode: 404, wantErr: "ResourceNotFound",
			path: func() string { return opOf(reg, strings.TrimPrefix(opID, "registries-")) }},
		{name: "not an id", method: "GET", wantCode: 404, wantErr: "ResourceNotFound",
			path: func() string { return opOf(reg, "registries-zz") }},
		{name: "create another registry", method: "PUT", body: create, wantCode: 201,
			path: func() string { return testarm.WithAPI(testarm.RegistryPath("rg", "secondRegistry"), "2025-11-01") },
			check: func(t *testing.T, res testarm.Response) {
				assert.Regexp(t, operationURL(e.srv.URL, "rg", "secondRegistry", "2025-11-01"), res.Header.Get("Azure-AsyncOperation"))
			}},
		{name: "operation of another registry", method: "GET", wantCode: 404, wantErr: "ResourceNotFound",
			path: func() string { return opOf(testarm.RegistryPath("rg", "secondRegistry"), opID) }},
		{name: "replace: 200, Succeeded, no operation", method: "PUT", body: create, wantCode: 200,
			path: func() string { return testarm.WithAPI(reg, testarm.APIRegistry) },
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, "Succeeded", res.JSON(t)["properties"].(map[string]any)["provisioningState"])
				assert.Empty(t, res.Header.Get("Azure-AsyncOperation"))
			}},
		{name: "patch: 200, Succeeded, no operation", method: "PATCH", body: `{"tags":{"a":"b"}}`, wantCode: 200,
			path: func() string { return testarm.WithAPI(reg, testarm.APIRegistry) },
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, "Succeeded", res.JSON(t)["properties"].(map[string]any)["provisioningState"])
				assert.Empty(t, res.Header.Get("Azure-AsyncOperation"))
			}},
		{name: "the create's operation outlives later writes", method: "GET", path: func() string { return poll("") }, wantCode: 200},
		{name: "delete: 200, no operation", method: "DELETE", wantCode: 200,
			path: func() string { return testarm.WithAPI(reg, testarm.APIRegistry) },
			check: func(t *testing.T, res testarm.Response) {
				assert.Empty(t, res.Body)
				assert.Empty(t, res.Header.Get("Azure-AsyncOperation"))
			}},
		{name: "poll after the delete", method: "GET", path: func() string { return poll("") }, wantCode: 404, wantErr: "ResourceNotFound"},
		{name: "create again under the same name", method: "PUT", body: create, wantCode: 201,
			path: func() string { return testarm.WithAPI(reg, testarm.APIRegistry) }},
		{name: "the first create's operation is not the new registry's", method: "GET", path: func() string { return poll("") },
			wantCode: 404, wantErr: "ResourceNotFound"},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			e := e.forTest(t)
			var res testarm.Response
			if s.noToken {
				res = e.arm.Do(s.method, s.path(), s.body, nil)
			} else {
				res = e.arm.Request(s.method, s.path(), s.body)
			}
			require.Equal(t, s.wantCode, res.Code, "%s", res.Body)
			if s.wantErr != "" {
				assert.Equal(t, s.wantErr, res.ErrCode(t))
			}
			if s.check != nil {
				s.check(t, res)
			}
		}) {
			t.FailNow()
		}
	}
}

// TestRegistryOperationURLIsTheClients: the operation URL uses the scheme
// and host the client reached, because clients follow it verbatim.
func TestRegistryOperationURLIsTheClients(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	tlsSrv := httptest.NewTLSServer(e.api)
	t.Cleanup(tlsSrv.Close)
	byName := strings.Replace(e.srv.URL, "127.0.0.1", "localhost", 1)

	for _, tc := range []struct {
		name, base string
		client     *http.Client
	}{
		{name: "plain HTTP by address", base: e.srv.URL, client: e.srv.Client()},
		{name: "plain HTTP by name", base: byName, client: e.srv.Client()},
		{name: "HTTPS", base: tlsSrv.URL, client: tlsSrv.Client()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testarm.NewClient(t, tc.base)
			c.HTTP = tc.client
			c.SignIn(testarm.ClientID, testarm.ClientSecret)
			name := "reg" + strings.NewReplacer(" ", "", "HTTPS", "tls").Replace(tc.name)
			res := c.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", name), testarm.APIRegistry),
				`{"location":"eastus","sku":{"name":"Basic"}}`)
			require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
			op := res.Header.Get("Azure-AsyncOperation")
			require.Regexp(t, operationURL(tc.base, "rg", name, testarm.APIRegistry), op)
			polled := c.Request(http.MethodGet, op, nil)
			require.Equal(t, http.StatusOK, polled.Code, "%s", polled.Body)
			assert.Equal(t, `{"status":"Succeeded"}`, string(polled.Body))
		})
	}
}

func eventNames(events []hookEvent) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev.kind+":"+ev.reg.Name)
	}
	return out
}

// flipLastDigit changes the last hex digit of id.
func flipLastDigit(id string) string {
	last := id[len(id)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return id[:len(id)-1] + string(repl)
}
