package mgmt_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

func TestResourceGroupCRUD(t *testing.T) {
	e := newEnv(t)
	rg := testarm.WithAPI(testarm.SubscriptionPath+"/resourcegroups/MyGroup", testarm.APIGroups) // the resources SDK's casing
	// Steps run in order against one server.
	steps := []struct {
		name     string
		method   string
		path     string
		body     any
		wantCode int
		wantErr  string
		check    func(t *testing.T, res testarm.Response)
	}{
		{name: "head absent", method: "HEAD", path: rg, wantCode: 404},
		{name: "get absent", method: "GET", path: rg, wantCode: 404, wantErr: "ResourceGroupNotFound", check: func(t *testing.T, res testarm.Response) {
			assert.Equal(t, "Resource group 'MyGroup' could not be found.", res.ErrMessage(t))
		}},
		{name: "create without location", method: "PUT", path: rg, body: `{}`, wantCode: 400, wantErr: "LocationRequired"},
		{name: "create with bad name", method: "PUT", path: testarm.WithAPI(testarm.GroupPath("bad!name"), testarm.APIGroups), body: `{"location":"eastus"}`, wantCode: 400, wantErr: "InvalidResourceGroup"},
		{name: "create with trailing period", method: "PUT", path: testarm.WithAPI(testarm.GroupPath("name."), testarm.APIGroups), body: `{"location":"eastus"}`, wantCode: 400, wantErr: "InvalidResourceGroup"},
		{name: "create", method: "PUT", path: rg, body: `{"location":"East US","tags":{"a":"1"}}`, wantCode: 201, check: func(t *testing.T, res testarm.Response) {
			assert.Equal(t, map[string]any{
				"id":         testarm.SubscriptionPath + "/resourceGroups/MyGroup",
				"name":       "MyGroup",
				"type":       "Microsoft.Resources/resourceGroups",
				"location":   "eastus",
				"tags":       map[string]any{"a": "1"},
				"properties": map[string]any{"provisioningState": "Succeeded"},
			}, res.JSON(t))
			assert.Equal(t, []string{"id", "name", "type", "location", "tags", "properties"}, keyOrder(t, res.Body))
		}},
		{name: "create again, other casing", method: "PUT", path: testarm.WithAPI(testarm.GroupPath("mygroup"), testarm.APIGroups), body: `{"location":"eastus"}`, wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			assert.Equal(t, "MyGroup", res.JSON(t)["name"], "the original spelling stays")
			assert.NotContains(t, res.JSON(t), "tags", "PUT replaces tags")
		}},
		{name: "create again elsewhere", method: "PUT", path: rg, body: `{"location":"westus"}`, wantCode: 409, wantErr: "InvalidResourceGroupLocation"},
		{name: "head present", method: "HEAD", path: testarm.WithAPI(testarm.GroupPath("MYGROUP"), testarm.APIGroups), wantCode: 204},
		{name: "get", method: "GET", path: testarm.WithAPI(testarm.GroupPath("mygroup"), testarm.APIGroups), wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			assert.Equal(t, testarm.SubscriptionPath+"/resourceGroups/MyGroup", res.JSON(t)["id"])
		}},
		{name: "patch tags", method: "PATCH", path: rg, body: `{"tags":{"b":"2"}}`, wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			assert.Equal(t, map[string]any{"b": "2"}, res.JSON(t)["tags"])
		}},
		{name: "patch location", method: "PATCH", path: rg, body: `{"location":"westus"}`, wantCode: 409, wantErr: "InvalidResourceGroupLocation"},
		{name: "patch bad json", method: "PATCH", path: rg, body: `{"tags":`, wantCode: 400, wantErr: "InvalidRequestContent"},
		{name: "list", method: "GET", path: testarm.WithAPI(testarm.SubscriptionPath+"/resourcegroups", testarm.APIGroups), wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			v := res.JSON(t)["value"].([]any)
			require.Len(t, v, 1)
			assert.Equal(t, "MyGroup", v[0].(map[string]any)["name"])
			assert.Equal(t, map[string]any{"b": "2"}, v[0].(map[string]any)["tags"])
		}},
		{name: "delete", method: "DELETE", path: rg, wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			assert.Empty(t, res.Body)
		}},
		{name: "delete again", method: "DELETE", path: rg, wantCode: 404, wantErr: "ResourceGroupNotFound"},
		{name: "list empty", method: "GET", path: testarm.WithAPI(testarm.SubscriptionPath+"/resourcegroups", testarm.APIGroups), wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			assert.Equal(t, `{"value":[]}`, string(res.Body))
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(s.method, s.path, s.body)
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

func TestResourceGroupDeleteCascades(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("doomed")
	e.mustGroup("kept")
	e.mustRegistry("doomed", "first1", "Premium", nil)
	e.mustRegistry("doomed", "second2", "Basic", nil)
	e.mustRegistry("kept", "third3", "Basic", nil)

	res := e.arm.Request(http.MethodDelete, testarm.WithAPI(testarm.SubscriptionPath+"/resourcegroups/DOOMED", testarm.APIGroups), nil)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	var deleted []string
	for _, ev := range e.hooks.Events() {
		if ev.kind == "deleted" {
			deleted = append(deleted, ev.reg.Name)
		}
	}
	assert.ElementsMatch(t, []string{"first1", "second2"}, deleted)

	res = e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/registries", testarm.APIRegistry), nil)
	require.Equal(t, http.StatusOK, res.Code)
	v := res.JSON(t)["value"].([]any)
	require.Len(t, v, 1)
	assert.Equal(t, "third3", v[0].(map[string]any)["name"])

	// The names are free again.
	res = e.arm.Request(http.MethodPost, testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/checkNameAvailability", testarm.APIRegistry),
		`{"name":"first1","type":"Microsoft.ContainerRegistry/registries"}`)
	assert.Equal(t, `{"nameAvailable":true}`, string(res.Body))
}
