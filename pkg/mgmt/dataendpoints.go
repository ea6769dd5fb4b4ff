package mgmt

import "github.com/acremu/acremu/pkg/store"

// DataEndpointHooks is an optional extension of Hooks: when the Hooks
// value implements it, a registry with dataEndpointEnabled lists the host
// names of its dedicated data endpoints (one per region: the home region
// and each replication) as dataEndpointHostNames.
type DataEndpointHooks interface {
	DataEndpointHostNames(r store.Registry) []string
}

// renderDataEndpoints fills dataEndpointHostNames where the api-version
// shows it.
func (a *API) renderDataEndpoints(reg store.Registry, out *registryJSON) {
	h, ok := a.cfg.Hooks.(DataEndpointHooks)
	if !ok || !reg.DataEndpointEnabled || out.Properties.DataEndpointHostNames == nil {
		return
	}
	if names := h.DataEndpointHostNames(reg); names != nil {
		out.Properties.DataEndpointHostNames = &names
	}
}
