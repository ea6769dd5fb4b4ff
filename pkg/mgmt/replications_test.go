package mgmt_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

func replPath(rg, reg, name string) string {
	return testarm.RegistryPath(rg, reg) + "/replications/" + name
}

func TestReplications(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "basicreg1", "Basic", nil)
	e.mustRegistry("rg", "premium01", "Premium", nil)
	listNames := func(t *testing.T, reg, version string) []string {
		t.Helper()
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", reg)+"/replications", version), nil)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var body struct {
			Value []struct{ Name, Location string }
		}
		require.NoError(t, json.Unmarshal(res.Body, &body))
		var names []string
		for _, v := range body.Value {
			names = append(names, v.Name+"@"+v.Location)
		}
		return names
	}
	westus := map[string]any{"location": "westus"}

	t.Run("every SKU lists the home replication", func(t *testing.T) {
		e := e.forTest(t)
		assert.Equal(t, []string{"eastus@eastus"}, listNames(t, "basicreg1", apiNewest))
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(replPath("rg", "basicreg1", "eastus"), apiNewest), nil)
		require.Equal(t, http.StatusOK, res.Code)
		p := props(t, res)
		assert.Equal(t, "Succeeded", p["provisioningState"])
		assert.Equal(t, "Disabled", p["zoneRedundancy"])
		assert.Equal(t, true, p["regionEndpointEnabled"])
		assert.Equal(t, "Ready", p["status"].(map[string]any)["displayStatus"])
		assert.Equal(t, "Microsoft.ContainerRegistry/registries/replications", res.JSON(t)["type"])
	})
	t.Run("only Premium replicates", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPut, testarm.WithAPI(replPath("rg", "basicreg1", "westus"), apiNewest), westus)
		require.Equal(t, http.StatusBadRequest, res.Code)
		assert.Equal(t, "GeoReplicationNotSupported", res.ErrCode(t))
	})
	t.Run("create, get, update, delete", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPut, testarm.WithAPI(replPath("rg", "premium01", "westus"), apiNewest),
			map[string]any{"location": "West US", "tags": map[string]string{"a": "1"}, "properties": map[string]any{"zoneRedundancy": "Enabled"}})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		assert.Equal(t, "westus", res.JSON(t)["location"])
		assert.Equal(t, "Enabled", props(t, res)["zoneRedundancy"])
		assert.Equal(t, "true", res.Header.Get("X-Go-Azure-Sdk-Skip-Polling-Delay"))

		res = e.arm.Request(http.MethodPut, testarm.WithAPI(replPath("rg", "premium01", "westus"), apiNewest), map[string]any{"location": "westus", "properties": map[string]any{"zoneRedundancy": "Enabled"}})
		require.Equal(t, http.StatusOK, res.Code, "same PUT again: %s", res.Body)
		assert.Equal(t, []string{"eastus@eastus", "westus@westus"}, listNames(t, "premium01", apiNewest))

		res = e.arm.Request(http.MethodPut, testarm.WithAPI(replPath("rg", "premium01", "other01"), apiNewest), westus)
		require.Equal(t, http.StatusConflict, res.Code)
		assert.Equal(t, "ReplicationAlreadyExists", res.ErrCode(t))
		res = e.arm.Request(http.MethodPut, testarm.WithAPI(replPath("rg", "premium01", "westus"), apiNewest), map[string]any{"location": "northeurope"})
		require.Equal(t, http.StatusConflict, res.Code)
		assert.Equal(t, "InvalidResourceLocation", res.ErrCode(t))

		res = e.arm.Request(http.MethodPatch, testarm.WithAPI(replPath("rg", "premium01", "westus"), apiNewest), map[string]any{"properties": map[string]any{"regionEndpointEnabled": false}})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.Equal(t, false, props(t, res)["regionEndpointEnabled"])

		// A registry PUT (full replace) keeps its child resources.
		res = e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "premium01"), apiNewest), map[string]any{"location": "eastus", "sku": map[string]any{"name": "Premium"}})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.Len(t, listNames(t, "premium01", apiNewest), 2)

		// Usages count it; a downgrade is refused while it exists.
		res = e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", "premium01")+"/listUsages", apiNewest), nil)
		assert.Contains(t, string(res.Body), `{"name":"Geo-replications","limit":-1,"currentValue":1,"unit":"Count"}`)
		res = e.arm.Request(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", "premium01"), apiNewest), map[string]any{"sku": map[string]any{"name": "Standard"}})
		require.Equal(t, http.StatusBadRequest, res.Code)
		assert.Equal(t, "GeoReplicationNotSupported", res.ErrCode(t))

		res = e.arm.Request(http.MethodDelete, testarm.WithAPI(replPath("rg", "premium01", "westus"), apiNewest), nil)
		assert.Equal(t, http.StatusOK, res.Code)
		res = e.arm.Request(http.MethodDelete, testarm.WithAPI(replPath("rg", "premium01", "westus"), apiNewest), nil)
		assert.Equal(t, http.StatusNoContent, res.Code)
		res = e.arm.Request(http.MethodGet, testarm.WithAPI(replPath("rg", "premium01", "westus"), apiNewest), nil)
		assert.Equal(t, http.StatusNotFound, res.Code)
		assert.Equal(t, []string{"eastus@eastus"}, listNames(t, "premium01", apiNewest))
	})
	t.Run("the home replication is the registry's", func(t *testing.T) {
		e := e.forTest(t)
		for _, method := range []string{http.MethodPut, http.MethodDelete} {
			res := e.arm.Request(method, testarm.WithAPI(replPath("rg", "premium01", "eastus"), apiNewest), map[string]any{"location": "eastus"})
			require.Equal(t, http.StatusBadRequest, res.Code, method)
			assert.Equal(t, "HomeReplicationNotModifiable", res.ErrCode(t))
		}
		res := e.arm.Request(http.MethodPut, testarm.WithAPI(replPath("rg", "premium01", "homeagain"), apiNewest), map[string]any{"location": "eastus"})
		require.Equal(t, http.StatusBadRequest, res.Code)
		assert.Equal(t, "HomeReplicationNotModifiable", res.ErrCode(t))
	})
	t.Run("old api-version shows fewer properties", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(replPath("rg", "premium01", "eastus"), "2019-05-01"), nil)
		require.Equal(t, http.StatusOK, res.Code)
		assert.NotContains(t, props(t, res), "zoneRedundancy")
		assert.NotContains(t, props(t, res), "regionEndpointEnabled")
		assert.NotContains(t, res.JSON(t), "systemData")
	})
	t.Run("unknown registry", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", "nothere01")+"/replications", apiNewest), nil)
		assert.Equal(t, http.StatusNotFound, res.Code)
	})
}
