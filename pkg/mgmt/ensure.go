package mgmt

import (
	"errors"

	"github.com/acremu/acremu/pkg/store"
)

// DefaultLocation is the location of resource groups EnsureRegistry creates.
const DefaultLocation = "eastus"

// EnsureRegistry creates the registry in resource group rg (creating the
// group in DefaultLocation) if no registry of that name exists: Premium
// SKU, admin user enabled with generated passwords, served on the front end
// (port 0; AllocatePort is not asked). It returns the registry and whether
// it was created; an existing registry is returned as it is, wherever it
// lives, since names are global. Used for the default registry at first
// start; RegistryChanged is called when it was created.
func (a *API) EnsureRegistry(rg, name string) (store.Registry, bool, error) {
	if err := validateGroupName(rg); err != nil {
		return store.Registry{}, false, err
	}
	if err := validateRegistryName(name); err != nil {
		return store.Registry{}, false, err
	}
	reg, created, err := a.commitRegistry(func(tx *store.Tx) (store.Registry, bool, error) {
		reg, err := tx.Registry(name)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return reg, false, err
		}
		g, err := tx.ResourceGroup(a.cfg.Subscription, rg)
		if errors.Is(err, store.ErrNotFound) {
			g = store.ResourceGroup{Subscription: a.cfg.Subscription, Name: rg, Location: DefaultLocation, CreatedAt: a.now().UTC()}
			err = tx.PutResourceGroup(g)
		}
		if err != nil {
			return reg, false, err
		}
		now := a.now().UTC()
		reg = defaultRegistry()
		reg.Subscription, reg.ResourceGroup, reg.Name, reg.Location = g.Subscription, g.Name, name, g.Location
		reg.SKU = skuPremium
		reg.AdminUserEnabled = true
		reg.ID, reg.Passwords = store.NewRegistryID(), [2]string{newPassword(), newPassword()}
		reg.CreatedAt, reg.CreatedBy = now, a.cfg.ClientID
		stamp(&reg, a.cfg.ClientID, now)
		return reg, true, nil
	})
	if err != nil {
		return store.Registry{}, false, err
	}
	if created {
		a.log.Info("registry created", "registry", reg.Name, "resourceGroup", reg.ResourceGroup, "sku", reg.SKU)
	}
	return reg, created, nil
}
