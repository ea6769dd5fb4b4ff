// Package portal serves acremu's web portal under /portal/: the Azure
// portal's container-registry blades (registries, create, delete, resource
// groups, Overview, Access keys and Networking) as server-rendered pages.
//
// The portal holds no state of its own and never touches the store: every
// read and change is an ARM request that it sends in-process to the ARM
// handler with the bearer token its user obtained at sign-in, so the portal
// and az can never disagree and ARM's validation errors are shown as ARM
// words them. Beyond the real portal, the Networking blade lists the
// registry's recent firewall denials.
//
// Sessions live in a cookie sealed (AES-GCM) with a key of this acremu
// instance, so a cookie from another instance, or a forged one, opens
// nothing. Every state-changing request carries a CSRF token derived from
// the session; the cookie is HttpOnly and SameSite=Strict, and pages are
// served with a strict Content-Security-Policy. Pages work without
// JavaScript; one small script only adds copy buttons.
package portal
