package acremutest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/acremutest"
)

// TestLockDownWithTheSDK is the package's example: deny by default with the
// Azure SDK, see the data plane refuse, admit the test's own address.
func TestLockDownWithTheSDK(t *testing.T) {
	emu := acremutest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	regs := emu.RegistriesClient(t)
	client := emu.HTTPClient()
	v2 := func(loginServer string) int {
		t.Helper()
		resp, err := client.Get("https://" + loginServer + "/v2/")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	setRules := func(rules *armcontainerregistry.NetworkRuleSet) {
		t.Helper()
		poller, err := regs.BeginUpdate(ctx, acremutest.ResourceGroup, emu.Registry.Name, armcontainerregistry.RegistryUpdateParameters{
			Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{NetworkRuleSet: rules},
		}, nil)
		require.NoError(t, err)
		_, err = poller.PollUntilDone(ctx, nil)
		require.NoError(t, err)
	}

	tests := []struct {
		name  string
		rules *armcontainerregistry.NetworkRuleSet
		want  int
	}{
		{"open by default: a challenge", nil, 401},
		{"deny by default", &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny)}, 403},
		{"an IP rule for the test's own address", &armcontainerregistry.NetworkRuleSet{
			DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny),
			IPRules:       []*armcontainerregistry.IPRule{{Action: to.Ptr(armcontainerregistry.ActionAllow), IPAddressOrRange: to.Ptr(acremutest.NATAddr)}},
		}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rules != nil {
				setRules(tt.rules)
			}
			assert.Equal(t, tt.want, v2(emu.Registry.LoginServer))
		})
	}

	t.Run("another registry gets a port of its own", func(t *testing.T) {
		poller, err := regs.BeginCreate(ctx, acremutest.ResourceGroup, "second01", armcontainerregistry.Registry{
			Location: to.Ptr("eastus"), SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNamePremium)},
		}, nil)
		require.NoError(t, err)
		res, err := poller.PollUntilDone(ctx, nil)
		require.NoError(t, err)
		login := *res.Properties.LoginServer
		assert.NotEqual(t, emu.Registry.LoginServer, login)
		assert.Equal(t, 401, v2(login))
	})
	t.Run("admin credentials of the default registry", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, "https://"+emu.Registry.LoginServer+"/v2/", nil)
		require.NoError(t, err)
		req.SetBasicAuth(emu.Registry.Username, emu.Registry.Password)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
	})
}

// BenchmarkStart is the cost of an emulator per test.
func BenchmarkStart(b *testing.B) {
	for range b.N {
		acremutest.Start(b)
	}
}
