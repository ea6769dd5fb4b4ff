package mgmt

import (
	"errors"
	"fmt"

	"github.com/acremu/acremu/pkg/store"
)

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

// assignDataPorts sets reg.DataEndpointPorts for the record about to be
// stored: a region that keeps its data endpoint keeps the port the stored
// record gives it, a region without one yet gets a port from
// Hooks.AllocatePort (0: served on the front end, nothing stored), and
// the ports of regions that no longer have a data endpoint (turned off,
// replication deleted) are dropped. The port is owned here, not by the
// changes that build the record, so no change can lose it.
func (a *API) assignDataPorts(tx *store.Tx, reg *store.Registry) error {
	var stored map[string]int
	switch old, err := tx.Registry(reg.Name); {
	case err == nil && old.ID == reg.ID:
		stored = old.DataEndpointPorts
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	ports := map[string]int{}
	var missing []string
	for _, region := range reg.DataEndpointRegions() {
		if p, ok := stored[region]; ok {
			ports[region] = p
		} else {
			missing = append(missing, region)
		}
	}
	if len(missing) > 0 {
		regs, err := tx.Registries("", "")
		if err != nil {
			return err
		}
		var inUse []int
		for _, r := range regs {
			if r.ID != reg.ID {
				inUse = appendPorts(inUse, r)
			}
		}
		inUse = appendPorts(inUse, store.Registry{Port: reg.Port, DataEndpointPorts: ports})
		for _, region := range missing {
			p, err := a.askPort(inUse, fmt.Sprintf("the data endpoint of registry '%s' in region '%s'", reg.Name, region))
			if err != nil {
				return err
			}
			if p != 0 {
				ports[region] = p
				inUse = append(inUse, p)
			}
		}
	}
	if len(ports) == 0 {
		ports = nil
	}
	reg.DataEndpointPorts = ports
	return nil
}
