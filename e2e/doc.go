// Package e2e holds acremu's end-to-end tests: a real acremu binary driven
// by real clients (the docker daemon and CLI, the Azure CLI, crane, oras,
// regctl, skopeo, the OCI conformance suite, docker compose and Chromium).
// They are behind the e2e build tag; `make test` installs what they need and
// runs them.
package e2e
