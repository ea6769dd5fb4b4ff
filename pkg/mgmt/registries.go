package mgmt

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

func registryNotFound(rg, name string) error {
	return newError(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		registryType, name, rg)
}

// alreadyInUse is ACR's answer when the (global) name belongs to a
// registry elsewhere. It names the public DNS name, not our login server,
// exactly as ACR words it.
func alreadyInUse(name string) error {
	return newError(http.StatusConflict, "AlreadyInUse",
		"The registry DNS name %s.azurecr.io is already in use. You can check if the name is already claimed using following API: https://docs.microsoft.com/en-us/rest/api/containerregistry/registries/checknameavailability",
		strings.ToLower(name))
}

// lookupRegistry returns the registry name in resource group g, or 404.
// Registry names are global, so one that exists in another group is also
// "not found" here.
func (a *API) lookupRegistry(tx *store.Tx, g store.ResourceGroup, name string) (store.Registry, error) {
	reg, err := tx.Registry(name)
	if errors.Is(err, store.ErrNotFound) || err == nil && !a.inGroup(reg, g) {
		return store.Registry{}, registryNotFound(g.Name, name)
	}
	return reg, err
}

func (a *API) inGroup(reg store.Registry, g store.ResourceGroup) bool {
	return strings.EqualFold(reg.Subscription, g.Subscription) && strings.EqualFold(reg.ResourceGroup, g.Name)
}

func (a *API) render(r *http.Request, reg store.Registry) registryJSON {
	out := renderRegistry(reg, state(r).apiVersion, a.cfg.Hooks.LoginServer(reg))
	a.renderDataEndpoints(reg, &out) // dataendpoints.go
	return out
}

// putRegistry creates a registry (201) or replaces the definition of one in
// the same resource group (200). A create answers as ACR's does, as a
// long-running operation (operations.go): provisioningState Creating and an
// Azure-AsyncOperation URL that already reports Succeeded, because the
// registry is stored and served before the answer. A replace answers 200
// with provisioningState Succeeded and no such header. Like any ARM PUT it
// is a full replace: properties left out return to their defaults; the
// identity (creation time, passwords, port) stays.
func (a *API) putRegistry(w http.ResponseWriter, r *http.Request) error {
	rg, name := pathParam(r, "rg"), pathParam(r, "name")
	if err := validateRegistryName(name); err != nil {
		return err
	}
	var in registryInput
	if err := decodeStrictBody(w, r, &in); err != nil {
		return err
	}
	if in.Location == nil || normalizeLocation(*in.Location) == "" {
		return badRequest("LocationRequired", "The location property is required for this definition.")
	}
	if err := checkRegistryLocation(*in.Location); err != nil {
		return err
	}
	loc := normalizeLocation(*in.Location)
	appID := claimsFrom(r.Context()).AppID
	now := a.now().UTC()
	created := false
	reg, _, err := a.commitRegistry(func(tx *store.Tx) (reg store.Registry, _ bool, err error) {
		g, err := a.lookupGroup(tx, rg)
		if err != nil {
			return reg, false, err
		}
		old, err := tx.Registry(name)
		switch {
		case err == nil:
			if !a.inGroup(old, g) {
				return reg, false, alreadyInUse(name)
			}
			if old.Location != loc {
				return reg, false, newError(http.StatusConflict, "InvalidResourceLocation",
					"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
					old.Name, old.Location, g.Name, loc)
			}
			reg = defaultRegistry()
			reg.Subscription, reg.ResourceGroup, reg.Name, reg.Location = old.Subscription, old.ResourceGroup, old.Name, old.Location
			reg.ID, reg.Passwords, reg.Port, reg.CreatedAt, reg.CreatedBy = old.ID, old.Passwords, old.Port, old.CreatedAt, old.CreatedBy
			reg.PrivateEndpointConnections = old.PrivateEndpointConnections // owned by the endpoints, not the PUT
		case errors.Is(err, store.ErrNotFound):
			reg = defaultRegistry()
			reg.Subscription, reg.ResourceGroup, reg.Name, reg.Location = g.Subscription, g.Name, name, loc
			reg.ID, reg.Passwords = store.NewRegistryID(), [2]string{newPassword(), newPassword()}
			reg.CreatedAt, reg.CreatedBy = now, appID
			created = true
		default:
			return reg, false, err
		}
		// Child resources stay, as in ARM, and so does what ACR fixes at
		// creation (encryption) or assigns (identity ids, compared below).
		if !created {
			reg.Replications, reg.Encryption, reg.Identity = old.Replications, old.Encryption, old.Identity
		}
		if err := in.applyTo(a, &reg, true, created, now); err != nil {
			return reg, false, err
		}
		if err := checkSKUFeatures(reg); err != nil {
			return reg, false, err
		}
		stamp(&reg, appID, now)
		if created {
			// Last, so that invalid input never costs a port.
			if reg.Port, err = a.allocatePort(tx); err != nil {
				return reg, false, err
			}
		}
		return reg, true, nil
	})
	if err != nil {
		return err
	}
	out := a.render(r, reg)
	if !created {
		a.log.Info("registry replaced", "registry", reg.Name)
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	a.log.Info("registry created", "registry", reg.Name, "resourceGroup", reg.ResourceGroup, "sku", reg.SKU, "port", reg.Port)
	// No Retry-After, as ACR sends none: clients poll once at once and find
	// the operation finished.
	w.Header().Set("Azure-AsyncOperation", registryOperationURL(r, reg, a.operationKey.issue(reg.ID)))
	out.Properties.ProvisioningState = "Creating"
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// allocatePort asks the hooks for a data-plane port, telling them which
// ports registries already use (their own and their data endpoints').
func (a *API) allocatePort(tx *store.Tx) (int, error) {
	regs, err := tx.Registries("", "")
	if err != nil {
		return 0, err
	}
	var inUse []int
	for _, r := range regs {
		inUse = appendPorts(inUse, r)
	}
	return a.askPort(inUse, "a new registry")
}

// appendPorts appends the ports r uses to ports.
func appendPorts(ports []int, r store.Registry) []int {
	if r.Port != 0 {
		ports = append(ports, r.Port)
	}
	for _, p := range r.DataEndpointPorts {
		ports = append(ports, p)
	}
	return ports
}

// askPort calls Hooks.AllocatePort for what (named in the 409).
func (a *API) askPort(inUse []int, what string) (int, error) {
	sort.Ints(inUse)
	port, err := a.cfg.Hooks.AllocatePort(inUse)
	switch {
	case errors.Is(err, ErrNoPort):
		e := newError(http.StatusConflict, "NoPortAvailable",
			"No data-plane port is free for %s; delete a registry or start acremu with more registry ports.", what)
		e.cause = err
		return 0, e
	case err != nil:
		return 0, internalError(err)
	}
	return port, nil
}

func (a *API) getRegistry(w http.ResponseWriter, r *http.Request) error {
	reg, err := a.registryFromPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.render(r, reg))
	return nil
}

// patchRegistry merges the update into the stored registry inside one
// transaction, so concurrent PATCHes of different fields never lose each
// other's changes. location and zoneRedundancy are not updatable in ARM
// and are ignored. Answers 200 with the registry, as recorded from ACR.
func (a *API) patchRegistry(w http.ResponseWriter, r *http.Request) error {
	var in registryInput
	if err := decodeStrictBody(w, r, &in); err != nil {
		return err
	}
	appID := claimsFrom(r.Context()).AppID
	reg, _, err := a.commitRegistry(func(tx *store.Tx) (store.Registry, bool, error) {
		reg, err := a.registryInTx(tx, r)
		if err != nil {
			return reg, false, err
		}
		if err := in.applyTo(a, &reg, false, false, a.now().UTC()); err != nil {
			return reg, false, err
		}
		if err := checkSKUFeatures(reg); err != nil {
			return reg, false, err
		}
		stamp(&reg, appID, a.now().UTC())
		return reg, true, nil
	})
	if err != nil {
		return err
	}
	a.log.Info("registry updated", "registry", reg.Name)
	writeJSON(w, http.StatusOK, a.render(r, reg))
	return nil
}

// deleteRegistry answers 200 with an empty body (as recorded from ACR), or
// 204 when there is nothing to delete.
func (a *API) deleteRegistry(w http.ResponseWriter, r *http.Request) error {
	var reg store.Registry
	found := false
	err := a.commit(func(tx *store.Tx) error {
		g, err := a.lookupGroup(tx, pathParam(r, "rg"))
		if err != nil {
			return err
		}
		reg, err = tx.Registry(pathParam(r, "name"))
		if errors.Is(err, store.ErrNotFound) || err == nil && !a.inGroup(reg, g) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return tx.DeleteRegistry(reg.Name)
	}, func() {
		if found {
			a.cfg.Hooks.RegistryDeleted(reg)
		}
	})
	if err != nil {
		return err
	}
	if !found {
		writeEmpty(w, http.StatusNoContent)
		return nil
	}
	a.log.Info("registry deleted", "registry", reg.Name, "resourceGroup", reg.ResourceGroup)
	writeEmpty(w, http.StatusOK)
	return nil
}

// listRegistries lists the registries of the subscription, or of the
// resource group when the route has one, in pages.
func (a *API) listRegistries(w http.ResponseWriter, r *http.Request) error {
	regs, err := a.registriesFromPath(r)
	if err != nil {
		return err
	}
	page, err := paginate(a, r, regs, func(reg store.Registry) string { return strings.ToLower(reg.Name) })
	if err != nil {
		return err
	}
	out := list[registryJSON]{Value: make([]registryJSON, len(page.Value)), NextLink: page.NextLink}
	for i, reg := range page.Value {
		out.Value[i] = a.render(r, reg)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// registryFromPath reads the registry named by the route's resource group
// and name, answering ARM's not-found errors for either.
func (a *API) registryFromPath(r *http.Request) (store.Registry, error) {
	var reg store.Registry
	err := a.cfg.Store.View(func(tx *store.Tx) (err error) {
		reg, err = a.registryInTx(tx, r)
		return err
	})
	return reg, err
}

// registryInTx reads the registry named by the route inside tx.
func (a *API) registryInTx(tx *store.Tx, r *http.Request) (store.Registry, error) {
	g, err := a.lookupGroup(tx, pathParam(r, "rg"))
	if err != nil {
		return store.Registry{}, err
	}
	return a.lookupRegistry(tx, g, pathParam(r, "name"))
}

// routeGroup is the route's resource group as stored ("" when the route
// names none, i.e. a subscription-wide list), or 404 when it does not exist.
func (a *API) routeGroup(tx *store.Tx, r *http.Request) (string, error) {
	g, err := a.groupOfRoute(tx, r)
	return g.Name, err
}

// groupOfRoute is the route's resource group (the zero group when the
// route names none, i.e. a subscription-wide list), or 404 when it does
// not exist.
func (a *API) groupOfRoute(tx *store.Tx, r *http.Request) (store.ResourceGroup, error) {
	name := pathParam(r, "rg")
	if name == "" {
		return store.ResourceGroup{}, nil
	}
	return a.lookupGroup(tx, name)
}

// registriesFromPath lists the registries of the subscription, or of the
// route's resource group when it has one.
func (a *API) registriesFromPath(r *http.Request) ([]store.Registry, error) {
	var regs []store.Registry
	err := a.cfg.Store.View(func(tx *store.Tx) error {
		rg, err := a.routeGroup(tx, r)
		if err != nil {
			return err
		}
		regs, err = tx.Registries(a.cfg.Subscription, rg)
		return err
	})
	return regs, err
}
