//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry/v3"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/stretchr/testify/require"
)

// sdkClients are Azure SDK for Go clients pointed at one acremu.
type sdkClients struct {
	groups     *armresources.ResourceGroupsClient
	registries *armcontainerregistry.RegistriesClient
}

// newSDKClients builds the clients as an Azure Stack or sovereign-cloud user
// would: a custom cloud.Configuration whose authority is acremu's ADFS
// endpoint (tenant "adfs", no instance discovery), the development service
// principal's secret, and a transport that trusts acremu's CA.
func newSDKClients(t *testing.T, in *instance) sdkClients {
	t.Helper()
	base := fmt.Sprintf("https://127.0.0.1:%d", in.Port)
	opts := azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: base + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: base, Audience: base},
			},
		},
		Transport: in.TLSClient(),
		// A failure shows at once instead of after retries with backoff.
		Retry: policy.RetryOptions{MaxRetries: -1},
	}
	cred, err := azidentity.NewClientSecretCredential("adfs", clientID, clientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	armOpts := &arm.ClientOptions{ClientOptions: opts}
	groups, err := armresources.NewResourceGroupsClient(subscription, cred, armOpts)
	require.NoError(t, err)
	registries, err := armcontainerregistry.NewRegistriesClient(subscription, cred, armOpts)
	require.NoError(t, err)
	return sdkClients{groups, registries}
}

// requireARMError requires err to be the ARM error code with status.
func requireARMError(t *testing.T, err error, status int, code, message string) {
	t.Helper()
	var re *azcore.ResponseError
	require.True(t, errors.As(err, &re), "want an ARM error %s, got %v", code, err)
	require.Equal(t, status, re.StatusCode, re.Error())
	require.Equal(t, code, re.ErrorCode, re.Error())
	if message != "" {
		require.Contains(t, re.Error(), message)
	}
}

// TestAzureSDK manages registries with the Azure SDK for Go
// (armcontainerregistry v3, api-version 2025-11-01, and armresources) the
// way the firewall tutorial does with az, asserting what the SDK returns
// and that the data plane enforces it.
func TestAzureSDK(t *testing.T) {
	in := startAcremu(t)
	c := newSDKClients(t, in)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const rg, reg = "sdkrg", "sdkregistry"
	var loginServer string

	// dataPlane is GET /v2/ from this host: 401 (a challenge) when the
	// firewall admits, 403 when it denies.
	dataPlane := func(t *testing.T) int {
		t.Helper()
		resp, err := in.TLSClient().Get("https://" + loginServer + "/v2/")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	update := func(t *testing.T, p armcontainerregistry.RegistryPropertiesUpdateParameters) armcontainerregistry.Registry {
		t.Helper()
		poller, err := c.registries.BeginUpdate(ctx, rg, reg, armcontainerregistry.RegistryUpdateParameters{Properties: &p}, nil)
		require.NoError(t, err)
		res, err := poller.PollUntilDone(ctx, nil)
		require.NoError(t, err)
		return res.Registry
	}
	// setIPRules does what az acr network-rule add/remove does: read, edit
	// the list, write the whole network rule set back.
	setIPRules := func(t *testing.T, edit func([]*armcontainerregistry.IPRule) []*armcontainerregistry.IPRule) armcontainerregistry.Registry {
		t.Helper()
		cur, err := c.registries.Get(ctx, rg, reg, nil)
		require.NoError(t, err)
		nrs := *cur.Properties.NetworkRuleSet
		nrs.IPRules = edit(nrs.IPRules)
		return update(t, armcontainerregistry.RegistryPropertiesUpdateParameters{NetworkRuleSet: &nrs})
	}
	ruleValues := func(r armcontainerregistry.Registry) []string {
		out := []string{}
		for _, ir := range r.Properties.NetworkRuleSet.IPRules {
			require.Equal(t, armcontainerregistry.ActionAllow, *ir.Action)
			out = append(out, *ir.IPAddressOrRange)
		}
		return out
	}

	t.Run("create a resource group and a Premium registry", func(t *testing.T) {
		g, err := c.groups.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil)
		require.NoError(t, err)
		require.Equal(t, rg, *g.Name)
		require.Equal(t, "Succeeded", *g.Properties.ProvisioningState)

		avail, err := c.registries.CheckNameAvailability(ctx, armcontainerregistry.RegistryNameCheckRequest{
			Name: to.Ptr(reg), Type: to.Ptr("Microsoft.ContainerRegistry/registries")}, nil)
		require.NoError(t, err)
		require.True(t, *avail.NameAvailable)

		poller, err := c.registries.BeginCreate(ctx, rg, reg, armcontainerregistry.Registry{
			Location: to.Ptr("eastus"),
			SKU:      &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNamePremium)},
			Properties: &armcontainerregistry.RegistryProperties{
				AdminUserEnabled: to.Ptr(false),
			},
		}, nil)
		require.NoError(t, err)
		res, err := poller.PollUntilDone(ctx, nil)
		require.NoError(t, err)
		r := res.Registry
		require.Equal(t, registryPath(rg, reg), *r.ID)
		require.Equal(t, reg, *r.Name)
		require.Equal(t, "Microsoft.ContainerRegistry/registries", *r.Type)
		require.Equal(t, armcontainerregistry.SKUNamePremium, *r.SKU.Name)
		require.Equal(t, armcontainerregistry.SKUTierPremium, *r.SKU.Tier)
		require.Equal(t, armcontainerregistry.ProvisioningStateSucceeded, *r.Properties.ProvisioningState, "read after the poll, not the 201's Creating")
		in.requireCreatePolled(t, reg)
		require.Equal(t, armcontainerregistry.DefaultActionAllow, *r.Properties.NetworkRuleSet.DefaultAction)
		require.Empty(t, r.Properties.NetworkRuleSet.IPRules)
		require.Equal(t, armcontainerregistry.PublicNetworkAccessEnabled, *r.Properties.PublicNetworkAccess)
		require.Equal(t, armcontainerregistry.NetworkRuleBypassOptionsAzureServices, *r.Properties.NetworkRuleBypassOptions)
		require.False(t, *r.Properties.AdminUserEnabled)
		require.NotNil(t, r.Properties.CreationDate)
		require.Equal(t, clientID, *r.SystemData.CreatedBy)
		loginServer = *r.Properties.LoginServer
		require.Regexp(t, loginServerPattern, loginServer)
		require.Equal(t, http.StatusUnauthorized, dataPlane(t))

		avail, err = c.registries.CheckNameAvailability(ctx, armcontainerregistry.RegistryNameCheckRequest{
			Name: to.Ptr(reg), Type: to.Ptr("Microsoft.ContainerRegistry/registries")}, nil)
		require.NoError(t, err)
		require.False(t, *avail.NameAvailable)
		require.Equal(t, "AlreadyExists", *avail.Reason)

		_, err = c.registries.BeginCreate(ctx, "acremu", reg, armcontainerregistry.Registry{
			Location: to.Ptr("eastus"), SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameBasic)}}, nil)
		requireARMError(t, err, http.StatusConflict, "AlreadyInUse", fmt.Sprintf(alreadyInUseMessage, reg))
	})

	t.Run("list by resource group and subscription", func(t *testing.T) {
		var inGroup, all []string
		for p := c.registries.NewListByResourceGroupPager(rg, nil); p.More(); {
			page, err := p.NextPage(ctx)
			require.NoError(t, err)
			for _, r := range page.Value {
				inGroup = append(inGroup, *r.Name)
			}
		}
		for p := c.registries.NewListPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			require.NoError(t, err)
			for _, r := range page.Value {
				all = append(all, *r.Name)
			}
		}
		require.Equal(t, []string{reg}, inGroup)
		require.ElementsMatch(t, []string{"myregistry", reg}, all)
	})

	t.Run("default action Deny", func(t *testing.T) {
		r := update(t, armcontainerregistry.RegistryPropertiesUpdateParameters{NetworkRuleSet: &armcontainerregistry.NetworkRuleSet{
			DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny)}})
		require.Equal(t, armcontainerregistry.DefaultActionDeny, *r.Properties.NetworkRuleSet.DefaultAction)
		require.Empty(t, r.Properties.NetworkRuleSet.IPRules)
		require.Equal(t, http.StatusForbidden, dataPlane(t))
	})

	t.Run("add and remove IP rules", func(t *testing.T) {
		r := setIPRules(t, func(rules []*armcontainerregistry.IPRule) []*armcontainerregistry.IPRule {
			return append(rules,
				&armcontainerregistry.IPRule{Action: to.Ptr(armcontainerregistry.ActionAllow), IPAddressOrRange: to.Ptr(natAddr)},
				&armcontainerregistry.IPRule{Action: to.Ptr(armcontainerregistry.ActionAllow), IPAddressOrRange: to.Ptr("198.51.100.0/24")})
		})
		require.Equal(t, []string{natAddr, "198.51.100.0/24"}, ruleValues(r))
		require.Equal(t, armcontainerregistry.DefaultActionDeny, *r.Properties.NetworkRuleSet.DefaultAction)
		require.Equal(t, http.StatusUnauthorized, dataPlane(t), "the rule for this host's address admits it")

		r = setIPRules(t, func(rules []*armcontainerregistry.IPRule) []*armcontainerregistry.IPRule {
			var keep []*armcontainerregistry.IPRule
			for _, ir := range rules {
				if *ir.IPAddressOrRange != natAddr {
					keep = append(keep, ir)
				}
			}
			return keep
		})
		require.Equal(t, []string{"198.51.100.0/24"}, ruleValues(r))
		require.Equal(t, http.StatusForbidden, dataPlane(t))
	})

	t.Run("invalid IP rules are refused", func(t *testing.T) {
		_, err := c.registries.BeginUpdate(ctx, rg, reg, armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
			NetworkRuleSet: &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny), IPRules: []*armcontainerregistry.IPRule{
				{Action: to.Ptr(armcontainerregistry.ActionAllow), IPAddressOrRange: to.Ptr("192.168.1.0/24")}}}}}, nil)
		requireARMError(t, err, http.StatusBadRequest, "InvalidIpRule", "192.168.1.0/24")

		many := make([]*armcontainerregistry.IPRule, 101)
		for i := range many {
			many[i] = &armcontainerregistry.IPRule{Action: to.Ptr(armcontainerregistry.ActionAllow), IPAddressOrRange: to.Ptr(fmt.Sprintf("198.51.100.%d", i))}
		}
		_, err = c.registries.BeginUpdate(ctx, rg, reg, armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
			NetworkRuleSet: &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny), IPRules: many}}}, nil)
		requireARMError(t, err, http.StatusBadRequest, "QuotaExceeded", quotaMessage)

		cur, err := c.registries.Get(ctx, rg, reg, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"198.51.100.0/24"}, ruleValues(cur.Registry), "a refused update changes nothing")
	})

	t.Run("disable public network access", func(t *testing.T) {
		setIPRules(t, func(rules []*armcontainerregistry.IPRule) []*armcontainerregistry.IPRule {
			return append(rules, &armcontainerregistry.IPRule{Action: to.Ptr(armcontainerregistry.ActionAllow), IPAddressOrRange: to.Ptr(natAddr)})
		})
		require.Equal(t, http.StatusUnauthorized, dataPlane(t))
		r := update(t, armcontainerregistry.RegistryPropertiesUpdateParameters{PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessDisabled)})
		require.Equal(t, armcontainerregistry.PublicNetworkAccessDisabled, *r.Properties.PublicNetworkAccess)
		require.Equal(t, []string{"198.51.100.0/24", natAddr}, ruleValues(r), "PATCH merges: the rules stay")
		require.Equal(t, http.StatusForbidden, dataPlane(t), "disabled public access overrides the matching rule")

		r = update(t, armcontainerregistry.RegistryPropertiesUpdateParameters{PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessEnabled)})
		require.Equal(t, armcontainerregistry.PublicNetworkAccessEnabled, *r.Properties.PublicNetworkAccess)
		require.Equal(t, http.StatusUnauthorized, dataPlane(t))
	})

	t.Run("admin credentials", func(t *testing.T) {
		_, err := c.registries.ListCredentials(ctx, rg, reg, nil)
		requireARMError(t, err, http.StatusBadRequest, "AdminUserDisabled", "")

		r := update(t, armcontainerregistry.RegistryPropertiesUpdateParameters{AdminUserEnabled: to.Ptr(true)})
		require.True(t, *r.Properties.AdminUserEnabled)
		creds, err := c.registries.ListCredentials(ctx, rg, reg, nil)
		require.NoError(t, err)
		require.Equal(t, reg, *creds.Username)
		require.Len(t, creds.Passwords, 2)
		require.Equal(t, armcontainerregistry.PasswordNamePassword, *creds.Passwords[0].Name)
		require.Equal(t, armcontainerregistry.PasswordNamePassword2, *creds.Passwords[1].Name)
		require.Equal(t, http.StatusOK, in.v2Status(t, loginServer, reg, *creds.Passwords[0].Value))

		renewed, err := c.registries.RegenerateCredential(ctx, rg, reg, armcontainerregistry.RegenerateCredentialParameters{
			Name: to.Ptr(armcontainerregistry.PasswordNamePassword)}, nil)
		require.NoError(t, err)
		require.NotEqual(t, *creds.Passwords[0].Value, *renewed.Passwords[0].Value)
		require.Equal(t, *creds.Passwords[1].Value, *renewed.Passwords[1].Value)
		require.Equal(t, http.StatusUnauthorized, in.v2Status(t, loginServer, reg, *creds.Passwords[0].Value))
	})

	t.Run("Basic SKU cannot disable public access", func(t *testing.T) {
		poller, err := c.registries.BeginCreate(ctx, rg, "sdkbasic", armcontainerregistry.Registry{
			Location: to.Ptr("eastus"), SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameBasic)}}, nil)
		require.NoError(t, err)
		_, err = poller.PollUntilDone(ctx, nil)
		require.NoError(t, err)
		_, err = c.registries.BeginUpdate(ctx, rg, "sdkbasic", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
			PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessDisabled)}}, nil)
		requireARMError(t, err, http.StatusBadRequest, "DisablingPublicNetworkAccessNotSupported", basicPNAMessage)
	})

	t.Run("delete the registry, then the group", func(t *testing.T) {
		poller, err := c.registries.BeginDelete(ctx, rg, reg, nil)
		require.NoError(t, err)
		_, err = poller.PollUntilDone(ctx, nil)
		require.NoError(t, err)
		_, err = c.registries.Get(ctx, rg, reg, nil)
		requireARMError(t, err, http.StatusNotFound, "ResourceNotFound", "")

		gp, err := c.groups.BeginDelete(ctx, rg, nil)
		require.NoError(t, err)
		_, err = gp.PollUntilDone(ctx, nil)
		require.NoError(t, err)
		_, err = c.groups.Get(ctx, rg, nil)
		requireARMError(t, err, http.StatusNotFound, "ResourceGroupNotFound", "")
		_, err = c.registries.Get(ctx, "acremu", "sdkbasic", nil)
		requireARMError(t, err, http.StatusNotFound, "ResourceNotFound", "")
	})
}
