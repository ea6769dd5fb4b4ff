// Package registry is the data plane of one emulated Azure Container
// Registry: every request passes the firewall gate first, then ACR's
// authentication (the /oauth2 token protocol, Basic credentials and bearer
// access tokens), and finally an embedded distribution v3 application that
// stores and serves the content.
//
// Wire formats follow what ACR is observed to send: the firewall 403 body
// with its \u0027-escaped apostrophes, the 401 challenge with the realm built
// from the request's Host, and the {"errors":[…]} envelope for every error.
// Firewall rules and credentials change at run time through Update; a
// request reads the current policy through an atomic pointer and never
// takes a lock to be judged. Tokens issued for a credential (the admin
// user, a repository-scoped token) name it and end with it: the same
// atomic swap that ends a password ends every token issued for it.
//
// Distribution's own 401 body ("authentication required" with Go field
// names as detail) is replaced by ACR's: the access controller registered
// with distribution hands its challenge to a thin response writer that
// writes ACR's body instead, so distribution still decides which access
// every route needs (including cross-repository mounts and the catalog).
//
// Next to /v2/, the registry serves what distribution lacks and ACR has:
// the OCI referrers API and ACR's metadata API /acr/v1/… (catalog, tags,
// repository attributes, untag and repository delete, for az acr
// repository). Both answer from distribution's own storage, so there is no
// second copy of the content to keep in step.
package registry
