package mgmt

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/acremu/acremu/pkg/store"
)

// groupJSON is a resource group as ARM renders it; tags appear only when set.
type groupJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties provisioningJSON  `json:"properties"`
}

type provisioningJSON struct {
	ProvisioningState string `json:"provisioningState"`
}

func renderGroup(g store.ResourceGroup) groupJSON {
	return groupJSON{
		ID:         "/subscriptions/" + g.Subscription + "/resourceGroups/" + g.Name,
		Name:       g.Name,
		Type:       "Microsoft.Resources/resourceGroups",
		Location:   g.Location,
		Tags:       g.Tags,
		Properties: provisioningJSON{"Succeeded"},
	}
}

// groupInput is the body of PUT and PATCH on a group; nil means absent.
type groupInput struct {
	Location *string            `json:"location"`
	Tags     *map[string]string `json:"tags"`
}

func groupNotFound(rg string) error {
	return newError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", rg)
}

// validateGroupName applies ARM's naming rule: 1-90 letters, digits,
// '-', '_', '.', '(' or ')', not ending in a period.
func validateGroupName(rg string) error {
	var bad []rune
	for _, c := range rg {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune("-_.()", c) && !strings.ContainsRune(string(bad), c) {
			bad = append(bad, c)
		}
	}
	if len(bad) > 0 {
		return badRequest("InvalidResourceGroup",
			"The provided resource group name '%s' has these invalid characters: '%s'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'. See https://aka.ms/resource-group-naming-rules for more details.",
			rg, string(bad))
	}
	if n := len([]rune(rg)); n < 1 || n > 90 || strings.HasSuffix(rg, ".") {
		return badRequest("InvalidResourceGroup",
			"The provided resource group name '%s' is invalid. It must be 1 to 90 characters long and must not end in a period. See https://aka.ms/resource-group-naming-rules for more details.", rg)
	}
	return nil
}

// lookupGroup returns the group, or 404 ResourceGroupNotFound.
func (a *API) lookupGroup(tx *store.Tx, rg string) (store.ResourceGroup, error) {
	g, err := tx.ResourceGroup(a.cfg.Subscription, rg)
	if errors.Is(err, store.ErrNotFound) {
		return g, groupNotFound(rg)
	}
	return g, err
}

func (a *API) putGroup(w http.ResponseWriter, r *http.Request) error {
	rg := pathParam(r, "rg")
	if err := validateGroupName(rg); err != nil {
		return err
	}
	var in groupInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Location == nil || normalizeLocation(*in.Location) == "" {
		return badRequest("LocationRequired", "The location property is required for this definition.")
	}
	if err := checkGroupLocation(*in.Location); err != nil {
		return err
	}
	loc := normalizeLocation(*in.Location)
	var g store.ResourceGroup
	created := false
	err := a.commit(func(tx *store.Tx) error {
		old, err := tx.ResourceGroup(a.cfg.Subscription, rg)
		switch {
		case err == nil:
			if old.Location != loc {
				return groupLocationConflict(loc, old.Location)
			}
			g = old
		case errors.Is(err, store.ErrNotFound):
			g = store.ResourceGroup{Subscription: a.cfg.Subscription, Name: rg, Location: loc, CreatedAt: a.now().UTC()}
			created = true
		default:
			return err
		}
		// PUT replaces the whole definition: absent tags mean none.
		g.Tags = nil
		if in.Tags != nil {
			g.Tags = *in.Tags
		}
		return tx.PutResourceGroup(g)
	}, nil)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		a.log.Info("resource group created", "resourceGroup", g.Name, "location", g.Location)
	}
	writeJSON(w, status, renderGroup(g))
	return nil
}

func groupLocationConflict(want, have string) error {
	return newError(http.StatusConflict, "InvalidResourceGroupLocation",
		"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", want, have)
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	var g store.ResourceGroup
	err := a.cfg.Store.View(func(tx *store.Tx) (err error) {
		g, err = a.lookupGroup(tx, pathParam(r, "rg"))
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderGroup(g))
	return nil
}

// headGroup is ARM's existence check: 204 or 404, no body.
func (a *API) headGroup(w http.ResponseWriter, r *http.Request) error {
	err := a.cfg.Store.View(func(tx *store.Tx) error {
		_, err := a.lookupGroup(tx, pathParam(r, "rg"))
		return err
	})
	if err != nil {
		return err
	}
	writeEmpty(w, http.StatusNoContent)
	return nil
}

// patchGroup changes tags (replaced as a whole when present); the location
// cannot change.
func (a *API) patchGroup(w http.ResponseWriter, r *http.Request) error {
	var in groupInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	var g store.ResourceGroup
	err := a.commit(func(tx *store.Tx) (err error) {
		if g, err = a.lookupGroup(tx, pathParam(r, "rg")); err != nil {
			return err
		}
		if in.Location != nil && normalizeLocation(*in.Location) != g.Location {
			return groupLocationConflict(normalizeLocation(*in.Location), g.Location)
		}
		if in.Tags != nil {
			g.Tags = *in.Tags
		}
		return tx.PutResourceGroup(g)
	}, nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderGroup(g))
	return nil
}

// deleteGroup removes the group and every registry in it in one
// transaction, then tells the hooks about each registry. It answers 200
// at once (az accepts a synchronous delete).
func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	var deleted []store.Registry
	var prepared []PreparedChange
	var g store.ResourceGroup
	err := a.commit(func(tx *store.Tx) (err error) {
		if g, err = a.lookupGroup(tx, pathParam(r, "rg")); err != nil {
			return err
		}
		regs, err := tx.Registries(a.cfg.Subscription, g.Name)
		if err != nil {
			return err
		}
		for _, reg := range regs {
			if err := tx.DeleteRegistry(reg.Name); err != nil {
				return err
			}
		}
		deleted = regs
		if prepared, err = a.deleteGroupNetworks(tx, g); err != nil {
			return err
		}
		return tx.DeleteResourceGroup(a.cfg.Subscription, g.Name)
	}, func() {
		for _, ch := range prepared {
			if ch.Apply != nil {
				ch.Apply()
			}
		}
		for _, reg := range deleted {
			a.cfg.Hooks.RegistryDeleted(reg)
		}
	})
	if err != nil {
		for _, ch := range prepared {
			if ch.Discard != nil {
				ch.Discard()
			}
		}
		return err
	}
	a.log.Info("resource group deleted", "resourceGroup", g.Name, "registries", len(deleted))
	writeEmpty(w, http.StatusOK)
	return nil
}

// deleteGroupNetworks deletes the virtual networks and private endpoints
// of group g, as ARM deletes everything in a group. A registry elsewhere
// that one of those endpoints connected to loses the connection, and the
// private access it gave, in the same transaction: its data plane is
// prepared here and made live with the commit.
func (a *API) deleteGroupNetworks(tx *store.Tx, g store.ResourceGroup) ([]PreparedChange, error) {
	endpoints, err := tx.PrivateEndpoints(g.Subscription, g.Name)
	if err != nil {
		return nil, err
	}
	changed := map[string]store.Registry{} // lower-cased name
	for _, p := range endpoints {
		if err := tx.DeletePrivateEndpoint(p.Subscription, p.ResourceGroup, p.Name); err != nil {
			return nil, err
		}
		for _, c := range p.Connections {
			_, _, regName, ok := parseRegistryID(c.PrivateLinkServiceID)
			if !ok {
				continue
			}
			key := strings.ToLower(regName)
			reg, seen := changed[key]
			if !seen {
				if reg, err = tx.Registry(regName); errors.Is(err, store.ErrNotFound) {
					continue // deleted with the group, or gone before
				} else if err != nil {
					return nil, err
				}
			}
			reg.PrivateEndpointConnections = slices.DeleteFunc(slices.Clone(reg.PrivateEndpointConnections),
				func(x store.PrivateEndpointConnection) bool { return strings.EqualFold(x.Name, c.ConnectionName) })
			changed[key] = reg
		}
	}
	vnets, err := tx.VirtualNetworks(g.Subscription, g.Name)
	if err != nil {
		return nil, err
	}
	for _, v := range vnets {
		if err := tx.DeleteVirtualNetwork(v.Subscription, v.ResourceGroup, v.Name); err != nil {
			return nil, err
		}
	}
	var prepared []PreparedChange
	for _, reg := range changed {
		if err := tx.PutRegistry(reg); err != nil {
			return prepared, err
		}
		ch, err := a.prepareDataPlane(tx, reg)
		if err != nil {
			return prepared, err
		}
		prepared = append(prepared, ch)
	}
	return prepared, nil
}
func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	var groups []store.ResourceGroup
	err := a.cfg.Store.View(func(tx *store.Tx) (err error) {
		groups, err = tx.ResourceGroups(a.cfg.Subscription)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]groupJSON, len(groups))
	for i, g := range groups {
		out[i] = renderGroup(g)
	}
	page, err := paginate(a, r, out, func(g groupJSON) string { return strings.ToLower(g.Name) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
