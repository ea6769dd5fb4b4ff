package mgmt

import "net/http"

// metadataEndpoints serves ARM's cloud metadata, which `az cloud register
// --endpoint-resource-manager` reads. Every endpoint points back at this
// server (the request's scheme and host), with the ADFS authority under
// /adfs. api-version 2015-01-01 (az 2.45) gets the single-cloud object;
// 2019-05-01 and later get the list of clouds that newer clients expect.
func (a *API) metadataEndpoints(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query().Get("api-version")
	if v != "" && !validAPIVersion(v) {
		return badRequest("InvalidApiVersionParameter",
			"The api-version '%s' is invalid. The supported versions are of the form 'YYYY-MM-DD' or 'YYYY-MM-DD-preview'.", v)
	}
	base := baseURL(r)
	auth := metadataAuth{LoginEndpoint: base + "/adfs", Audiences: []string{base + "/"}}
	if v == "" || v[:10] < "2019-05-01" {
		writeJSON(w, http.StatusOK, struct {
			Gallery        string       `json:"galleryEndpoint"`
			Graph          string       `json:"graphEndpoint"`
			Portal         string       `json:"portalEndpoint"`
			Authentication metadataAuth `json:"authentication"`
		}{base + "/", base + "/graph/", base + "/", auth})
		return nil
	}
	auth.Tenant, auth.IdentityProvider = "adfs", "ADFS"
	writeJSON(w, http.StatusOK, []metadataCloud{{
		Portal:          base + "/",
		Authentication:  auth,
		GraphAudience:   base + "/graph/",
		Graph:           base + "/graph/",
		Name:            "AcrEmu",
		Suffixes:        map[string]string{},
		ResourceManager: base + "/",
		Gallery:         base + "/",
	}})
	return nil
}

type metadataAuth struct {
	LoginEndpoint    string   `json:"loginEndpoint"`
	Audiences        []string `json:"audiences"`
	Tenant           string   `json:"tenant,omitempty"`
	IdentityProvider string   `json:"identityProvider,omitempty"`
}

type metadataCloud struct {
	Portal          string            `json:"portal"`
	Authentication  metadataAuth      `json:"authentication"`
	GraphAudience   string            `json:"graphAudience"`
	Graph           string            `json:"graph"`
	Name            string            `json:"name"`
	Suffixes        map[string]string `json:"suffixes"`
	ResourceManager string            `json:"resourceManager"`
	Gallery         string            `json:"gallery"`
}
