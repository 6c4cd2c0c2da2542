// Package connectors owns the contracts between Foyer and its upstream
// identity sources: the Identity a login yields, the small capability
// interfaces a connector may implement (PasswordConnector,
// CallbackConnector, RefreshConnector), found by type assertion, and the
// registry through which cmd/foyer wires connector types.
//
// Connectors know nothing of the gateway: this package and its
// sub-packages must not import gateway. They may import storage for record
// types and internal/config for config problems.
package connectors
