// Package config embeds the generated CRDs and the samples so that `idtenant
// dev` and the tests install exactly what `kubectl apply -k config/default`
// would.
package config

import "embed"

// CRDs holds config/crd/bases/*.yaml.
//
//go:embed crd/bases/*.yaml
var CRDs embed.FS

// Samples holds config/samples/*.yaml, applied in file name order.
//
//go:embed samples/*.yaml
var Samples embed.FS

// AdmissionPolicies holds config/admission/*.yaml: the installation's
// cluster-scoped ValidatingAdmissionPolicies and their bindings.
//
//go:embed admission/*.yaml
var AdmissionPolicies embed.FS

// ManagerRole holds config/rbac/role.yaml, the ClusterRole controller-gen
// derives from the reconcilers' RBAC markers: what the manager needs in
// every namespace.
//
//go:embed rbac/role.yaml
var ManagerRole []byte

// ManagerTenantsRole holds config/rbac/tenants/role.yaml, the ClusterRole
// idtenant-manager-tenants: what the manager needs in the namespaces where
// Tenants live (controllers/manager/rbac.go).
//
//go:embed rbac/tenants/role.yaml
var ManagerTenantsRole []byte

// MetricsAuthRole holds config/rbac/metrics_auth_role.yaml: the reviews the
// manager asks the API server about callers of its HTTPS metrics endpoint.
//
//go:embed rbac/metrics_auth_role.yaml
var MetricsAuthRole []byte

// UserRoles holds config/rbac/aggregate_roles.yaml: the ClusterRoles that
// Kubernetes aggregates into the built-in admin, edit and view roles.
//
//go:embed rbac/aggregate_roles.yaml
var UserRoles []byte

// MetricsReaderRole holds config/rbac/metrics_reader_role.yaml: what a
// scraper needs to read the manager's metrics.
//
//go:embed rbac/metrics_reader_role.yaml
var MetricsReaderRole []byte
