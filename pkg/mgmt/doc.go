// Package mgmt is acremu's management plane: a mock of the Azure Resource
// Manager (ARM) surface that az and the Azure SDKs use for container
// registries, and the ADFS-style token endpoint they sign in with.
//
// It serves subscriptions, tenants, resource groups, the generic resources
// list, and Microsoft.ContainerRegistry/registries (create, read, update with
// ARM's merge semantics, delete, list with paging, admin credentials, usages
// and name checks). Requests are decoded and validated before anything is
// stored; every change is one store transaction whose read-modify-write
// happens inside it; after the commit the Hooks announce the change to
// whoever serves registries. Responses use ARM's envelope, headers and key
// order, shaped by api-version where clients depend on it.
//
// Every change is committed before it is answered. A registry create
// answers as ACR's does, as a long-running operation whose status URL
// already reports Succeeded (operations.go); every other write answers
// synchronously (200/201 with provisioningState Succeeded, no
// Azure-AsyncOperation header), which az and the Azure SDK pollers accept.
// The package is an emulator: it models what clients observe, not Azure's
// internals.
package mgmt
