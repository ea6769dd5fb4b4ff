package mgmt

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

// Names of the admin user's two passwords, as in ACR.
var passwordNames = [2]string{"password", "password2"}

// newPassword returns 52 URL-safe random characters (312 bits), the length
// of ACR's admin passwords, without characters that need shell quoting.
func newPassword() string {
	var b [39]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

type credentialsJSON struct {
	Username  string         `json:"username"`
	Passwords []passwordJSON `json:"passwords"`
}

type passwordJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func renderCredentials(reg store.Registry) credentialsJSON {
	return credentialsJSON{
		Username: reg.Name,
		Passwords: []passwordJSON{
			{passwordNames[0], reg.Passwords[0]},
			{passwordNames[1], reg.Passwords[1]},
		},
	}
}

// adminDisabled refuses admin credentials while the admin user is off.
// ACR's exact error is unknown (az checks adminUserEnabled before asking),
// so acremu uses its own code and says how to fix it.
func adminDisabled(name string) error {
	return badRequest("AdminUserDisabled",
		"The admin user of registry '%s' is disabled. Enable it (properties.adminUserEnabled: true) to use admin credentials.", name)
}

func (a *API) listCredentials(w http.ResponseWriter, r *http.Request) error {
	reg, err := a.registryFromPath(r)
	if err != nil {
		return err
	}
	if !reg.AdminUserEnabled {
		return adminDisabled(reg.Name)
	}
	writeJSON(w, http.StatusOK, renderCredentials(reg))
	return nil
}

// regenerateCredential replaces one admin password. The front end learns
// of it through RegistryChanged, so the old password stops working.
func (a *API) regenerateCredential(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name *string `json:"name"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	idx := -1
	if in.Name != nil {
		for i, n := range passwordNames {
			if strings.EqualFold(*in.Name, n) {
				idx = i
			}
		}
	}
	if idx < 0 {
		got := "<missing>"
		if in.Name != nil {
			got = *in.Name
		}
		return badRequest("InvalidPasswordName",
			"The password name '%s' is invalid. Allowed values are 'password' and 'password2'.", got)
	}
	reg, _, err := a.commitRegistry(func(tx *store.Tx) (store.Registry, bool, error) {
		reg, err := a.registryInTx(tx, r)
		if err != nil {
			return reg, false, err
		}
		if !reg.AdminUserEnabled {
			return reg, false, adminDisabled(reg.Name)
		}
		reg.Passwords[idx] = newPassword()
		return reg, true, nil
	})
	if err != nil {
		return err
	}
	a.log.Info("registry password regenerated", "registry", reg.Name, "password", passwordNames[idx])
	writeJSON(w, http.StatusOK, renderCredentials(reg))
	return nil
}
