package mgmt

import "net/http"

// metadataEndpoints serves ARM's cloud metadata. Every endpoint points back
// at this server (the request's scheme and host). ARM has three shapes,
// chosen by api-version:
//
//   - before 2019-05-01 (az 2.45's `az cloud register
//     --endpoint-resource-manager` asks for 2015-01-01): one object with
//     galleryEndpoint, graphEndpoint, portalEndpoint and the ADFS authority
//     under /adfs;
//   - 2019-05-01 up to 2022-09-01: a list of clouds, with the ADFS
//     authority;
//   - 2022-09-01 and later (go-azure-sdk, hence Terraform's azurerm
//     provider): one cloud object with microsoftGraphResourceId and the DNS
//     suffixes. Its authority is Entra-style (identity provider AAD, tenant
//     "common", tokens from /{tenant}/oauth2/v2.0/token on this host):
//     go-azure-sdk refuses an ADFS authority as Azure Stack.
func (a *API) metadataEndpoints(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query().Get("api-version")
	if v != "" && !validAPIVersion(v) {
		return badRequest("InvalidApiVersionParameter",
			"The api-version '%s' is invalid. The supported versions are of the form 'YYYY-MM-DD' or 'YYYY-MM-DD-preview'.", v)
	}
	base := baseURL(r)
	auth := metadataAuth{LoginEndpoint: base + "/adfs", Audiences: []string{base + "/"}}
	switch {
	case v == "" || v[:10] < "2019-05-01":
		writeJSON(w, http.StatusOK, struct {
			Gallery        string       `json:"galleryEndpoint"`
			Graph          string       `json:"graphEndpoint"`
			Portal         string       `json:"portalEndpoint"`
			Authentication metadataAuth `json:"authentication"`
		}{base + "/", base + "/graph/", base + "/", auth})
	case v[:10] < "2022-09-01":
		auth.Tenant, auth.IdentityProvider = "adfs", "ADFS"
		writeJSON(w, http.StatusOK, []metadataCloud{{
			Portal:          base + "/",
			Authentication:  auth,
			GraphAudience:   base + "/graph/",
			Graph:           base + "/graph/",
			Name:            cloudName,
			Suffixes:        map[string]string{},
			ResourceManager: base + "/",
			Gallery:         base + "/",
		}})
	default:
		writeJSON(w, http.StatusOK, metadataCloud{
			Portal: base + "/",
			Authentication: metadataAuth{
				LoginEndpoint: base, Audiences: []string{base + "/"},
				Tenant: "common", IdentityProvider: "AAD",
			},
			GraphAudience: base + "/graph/",
			Graph:         base + "/graph/",
			Name:          cloudName,
			// The public cloud's suffixes: clients build endpoints for
			// services acremu does not emulate from them, and only need
			// them to be present. Registries' login servers are acremu's
			// own (properties.loginServer), whatever acrLoginServer says.
			Suffixes: map[string]string{
				"acrLoginServer": "azurecr.io",
				"keyVaultDns":    "vault.azure.net",
				"storage":        "core.windows.net",
			},
			ResourceManager:          base + "/",
			Gallery:                  base + "/",
			MicrosoftGraphResourceID: base + "/graph/",
		})
	}
	return nil
}

// cloudName is the cloud's name in the metadata.
const cloudName = "AcrEmu"

type metadataAuth struct {
	LoginEndpoint    string   `json:"loginEndpoint"`
	Audiences        []string `json:"audiences"`
	Tenant           string   `json:"tenant,omitempty"`
	IdentityProvider string   `json:"identityProvider,omitempty"`
}

type metadataCloud struct {
	Portal                   string            `json:"portal"`
	Authentication           metadataAuth      `json:"authentication"`
	GraphAudience            string            `json:"graphAudience"`
	Graph                    string            `json:"graph"`
	Name                     string            `json:"name"`
	Suffixes                 map[string]string `json:"suffixes"`
	ResourceManager          string            `json:"resourceManager"`
	Gallery                  string            `json:"gallery"`
	MicrosoftGraphResourceID string            `json:"microsoftGraphResourceId,omitempty"`
}
