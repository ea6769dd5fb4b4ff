package mgmt

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

// A registry create answers as ACR's does in azure-cli's recordings of real
// traffic (test_acr_network_rule.yaml): 201 with
// provisioningState "Creating" and an Azure-AsyncOperation URL
// …/registries/{name}/operationStatuses/registries-{uuid}?api-version=…,
// whose status is {"status":"Succeeded"}. The create itself is committed
// before the answer, so the operation has finished by the time anyone
// polls, and a GET of the registry shows Succeeded at once.
//
// Operation ids carry their own proof: eight random bytes and eight bytes
// of an HMAC (a key made per process) over the registry's ID and those
// random bytes, laid out as a version 4 UUID. Only ids acremu issued for
// that very registry verify, without keeping any state; ids issued before
// a restart, or for a registry since deleted (its ID is gone with it), are
// unknown.

// operationPrefix starts every registry operation id, as in ACR.
const operationPrefix = "registries-"

// operationStatusJSON is an operation's status. ACR's body for a finished
// registry operation is exactly {"status":"Succeeded"}.
type operationStatusJSON struct {
	Status string `json:"status"`
}

// operationKey signs registry operation ids.
type operationKey [32]byte

func newOperationKey() operationKey {
	var k operationKey
	rand.Read(k[:])
	return k
}

// issue returns a new operation id for the registry with ID registryID.
func (k *operationKey) issue(registryID string) string {
	var nonce [8]byte
	rand.Read(nonce[:])
	nonce[6] = nonce[6]&0x0f | 0x40 // UUID version 4
	return k.idFor(registryID, nonce)
}

// idFor is the operation id that nonce gives for registryID.
func (k *operationKey) idFor(registryID string, nonce [8]byte) string {
	mac := hmac.New(sha256.New, k[:])
	mac.Write([]byte("registry operation\x00" + registryID + "\x00"))
	mac.Write(nonce[:])
	var b [16]byte
	copy(b[:8], nonce[:])
	copy(b[8:], mac.Sum(nil))
	b[8] = b[8]&0x3f | 0x80 // UUID variant
	return fmt.Sprintf("%s%x-%x-%x-%x-%x", operationPrefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// verify reports whether id (in any letter case) was issued for the
// registry with ID registryID.
func (k *operationKey) verify(registryID, id string) bool {
	id = asciiLower(id)
	rest, ok := strings.CutPrefix(id, operationPrefix)
	if !ok || len(rest) != 36 {
		return false
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(rest, "-", ""))
	if err != nil || len(raw) != 16 {
		return false
	}
	var nonce [8]byte
	copy(nonce[:], raw)
	return hmac.Equal([]byte(k.idFor(registryID, nonce)), []byte(id))
}

// registryOperationURL is the absolute URL of operation id of reg, on the
// scheme and host the client used, at the request's api-version.
func registryOperationURL(r *http.Request, reg store.Registry, id string) string {
	return baseURL(r) + registryID(reg) + "/operationStatuses/" + id +
		"?api-version=" + url.QueryEscape(state(r).apiVersion)
}

// getRegistryOperation answers a poll of an operation that a registry
// create issued: 200 {"status":"Succeeded"} with the Azure-AsyncOperation
// header repeated, as ACR answers. Unknown ids, and ids of another
// registry, are 404.
func (a *API) getRegistryOperation(w http.ResponseWriter, r *http.Request) error {
	reg, err := a.registryFromPath(r)
	if err != nil {
		return err
	}
	id := pathParam(r, "operation")
	if !a.operationKey.verify(reg.ID, id) {
		return newError(http.StatusNotFound, "ResourceNotFound",
			"The Resource '%s/%s/operationStatuses/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
			registryType, pathParam(r, "name"), id, pathParam(r, "rg"))
	}
	w.Header().Set("Azure-AsyncOperation", registryOperationURL(r, reg, asciiLower(id)))
	writeJSON(w, http.StatusOK, operationStatusJSON{Status: "Succeeded"})
	return nil
}
