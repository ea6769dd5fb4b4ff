// Package firewall decides whether a client may reach a registry's data
// plane, the way Azure Container Registry's network rules do.
//
// It has two halves. A Policy is one registry's networkRuleSet and
// publicNetworkAccess compiled into an immutable value whose Decide method
// takes no lock and allocates nothing; a registry swaps in a new Policy
// atomically when its rules change. A Resolver turns a connection's peer
// address (and, only from trusted proxies, forwarding headers) into the
// Client the policy judges: NAT translation to a public address, and
// detection of private-endpoint sources.
//
// The package knows nothing of routing, storage or logging.
package firewall
