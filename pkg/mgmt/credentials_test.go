package mgmt_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/store"
)

type credentials struct {
	Username  string `json:"username"`
	Passwords []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"passwords"`
}

func decodeCredentials(t *testing.T, res testarm.Response) credentials {
	t.Helper()
	var c credentials
	require.NoError(t, json.Unmarshal(res.Body, &c))
	return c
}

func TestCredentials(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "adminOff1", "Basic", nil)
	e.mustRegistry("rg", "adminOn1", "Basic", map[string]any{"adminUserEnabled": true})
	stored := e.stored("adminOn1")

	t.Run("list", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPost, testarm.WithAPI(testarm.RegistryPath("rg", "adminOn1")+"/listCredentials", testarm.APIRegistry), nil)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.Equal(t, `{"username":"adminOn1","passwords":[{"name":"password","value":"`+stored.Passwords[0]+
			`"},{"name":"password2","value":"`+stored.Passwords[1]+`"}]}`, string(res.Body))
	})

	tests := []struct {
		name     string
		registry string // absent01 does not exist
		body     string
		wantCode int
		wantErr  string
		changed  int // index of the password that must change; -1 none
	}{
		{"regenerate password2", "adminOn1", `{"name":"password2"}`, 200, "", 1},
		{"regenerate password", "adminOn1", `{"name":"password"}`, 200, "", 0},
		{"unknown password name", "adminOn1", `{"name":"password3"}`, 400, "InvalidPasswordName", -1},
		{"missing password name", "adminOn1", `{}`, 400, "InvalidPasswordName", -1},
		{"no body", "adminOn1", ``, 400, "InvalidRequestContent", -1},
		{"admin disabled", "adminOff1", `{"name":"password"}`, 400, "AdminUserDisabled", -1},
		{"missing registry", "absent01", `{"name":"password"}`, 404, "ResourceNotFound", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			var before [2]string
			if tt.registry != "absent01" {
				before = e.stored(tt.registry).Passwords
			}
			events := len(e.hooks.Events())
			res := e.arm.Request(http.MethodPost, testarm.WithAPI(testarm.RegistryPath("rg", tt.registry)+"/regenerateCredential", testarm.APIRegistry), tt.body)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, res.ErrCode(t))
				if tt.registry != "absent01" {
					assert.Equal(t, before, e.stored(tt.registry).Passwords)
				}
				assert.Len(t, e.hooks.Events(), events)
				return
			}
			after := e.stored(tt.registry).Passwords
			assert.NotEqual(t, before[tt.changed], after[tt.changed])
			assert.Equal(t, before[1-tt.changed], after[1-tt.changed])
			c := decodeCredentials(t, res)
			assert.Equal(t, "adminOn1", c.Username)
			assert.Equal(t, after[0], c.Passwords[0].Value)
			assert.Equal(t, after[1], c.Passwords[1].Value)
			// The front end hears of the new password.
			evs := e.hooks.Events()
			require.Len(t, evs, events+1)
			assert.Equal(t, after, evs[len(evs)-1].reg.Passwords)
		})
	}

	t.Run("list with admin disabled", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPost, testarm.WithAPI(testarm.RegistryPath("rg", "adminOff1")+"/listCredentials", testarm.APIRegistry), nil)
		require.Equal(t, http.StatusBadRequest, res.Code)
		assert.Equal(t, "AdminUserDisabled", res.ErrCode(t))
	})
}

func TestListUsages(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "premium01", "Premium", ipRules("52.57.22.38", "16.17.18.0/24"))
	e.mustRegistry("rg", "basic0001", "Basic", nil)
	tests := []struct {
		registry string
		want     map[string][2]float64 // name -> limit, currentValue
	}{
		{"premium01", map[string][2]float64{"Size": {536870912000, 0}, "Webhooks": {500, 0}, "IPRules": {100, 2}, "VNetRules": {100, 0},
			"PrivateEndpointConnections": {200, 0}, "Geo-replications": {-1, 0}, "ScopeMaps": {50000, 0}, "Tokens": {50000, 0}}},
		{"basic0001", map[string][2]float64{"Size": {10737418240, 0}, "Webhooks": {2, 0}, "IPRules": {0, 0}, "VNetRules": {0, 0},
			"PrivateEndpointConnections": {0, 0}, "Geo-replications": {0, 0}, "ScopeMaps": {100, 0}, "Tokens": {100, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.registry, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", tt.registry)+"/listUsages", testarm.APIRegistry), nil)
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			got := map[string][2]float64{}
			for _, u := range res.JSON(t)["value"].([]any) {
				um := u.(map[string]any)
				got[um["name"].(string)] = [2]float64{um["limit"].(float64), um["currentValue"].(float64)}
				wantUnit := "Count"
				if um["name"] == "Size" {
					wantUnit = "Bytes"
				}
				assert.Equal(t, wantUnit, um["unit"])
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, []string{"name", "limit", "currentValue", "unit"}, keyOrder(t, res.Body, "value", "0"))
		})
	}
}

func TestCheckNameAvailability(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "takenName", "Basic", nil)
	path := testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/checkNameAvailability", testarm.APIRegistry)
	tests := []struct {
		name     string
		body     string
		wantCode int
		want     string
		wantErr  string
	}{
		{name: "available", body: `{"name":"freename1","type":"Microsoft.ContainerRegistry/registries"}`, wantCode: 200,
			want: `{"nameAvailable":true}`},
		{name: "taken, other casing", body: `{"name":"TAKENNAME","type":"Microsoft.ContainerRegistry/registries"}`, wantCode: 200,
			want: `{"nameAvailable":false,"reason":"AlreadyExists","message":"The registry TAKENNAME is already in use."}`},
		{name: "invalid name", body: `{"name":"bad-name","type":"Microsoft.ContainerRegistry/registries"}`, wantCode: 200,
			want: `{"nameAvailable":false,"reason":"Invalid","message":"The registry name 'bad-name' is invalid. Registry names must be 5 to 50 characters long and may contain only alphanumeric characters."}`},
		{name: "too short", body: `{"name":"abc","type":"Microsoft.ContainerRegistry/registries"}`, wantCode: 200,
			want: `{"nameAvailable":false,"reason":"Invalid","message":"The registry name 'abc' is invalid. Registry names must be 5 to 50 characters long and may contain only alphanumeric characters."}`},
		{name: "extra fields of newer clients", body: `{"name":"freename2","type":"Microsoft.ContainerRegistry/registries","resourceGroupName":"rg","autoGeneratedDomainNameLabelScope":"Unsecure"}`,
			wantCode: 200, want: `{"nameAvailable":true}`},
		{name: "no type", body: `{"name":"freename3"}`, wantCode: 200, want: `{"nameAvailable":true}`},
		{name: "wrong type", body: `{"name":"freename4","type":"Microsoft.Storage/storageAccounts"}`, wantCode: 400, wantErr: "InvalidResourceType"},
		{name: "no name", body: `{"type":"Microsoft.ContainerRegistry/registries"}`, wantCode: 400, wantErr: "InvalidRequestContent"},
		{name: "malformed", body: `{"name":`, wantCode: 400, wantErr: "InvalidRequestContent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(http.MethodPost, path, tt.body)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, res.ErrCode(t))
				return
			}
			assert.Equal(t, tt.want, string(res.Body))
		})
	}
}

// sizedHooks adds the optional UsageReporter to fakeHooks.
type sizedHooks struct{ *fakeHooks }

func (sizedHooks) UsedBytes(r store.Registry) int64 { return int64(len(r.Name)) * 1000 }

func TestListUsagesReportsSize(t *testing.T) {
	e := newEnv(t, func(c *mgmt.Config) { c.Hooks = sizedHooks{c.Hooks.(*fakeHooks)} })
	e.mustGroup("rg")
	e.mustRegistry("rg", "sized0001", "Standard", nil)
	res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", "sized0001")+"/listUsages", testarm.APIRegistry), nil)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	size := res.JSON(t)["value"].([]any)[0].(map[string]any)
	assert.Equal(t, "Size", size["name"])
	assert.EqualValues(t, 9000, size["currentValue"])
	assert.EqualValues(t, int64(100)<<30, size["limit"])
}
