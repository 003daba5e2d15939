package manager

// What the Tenant reconciler creates in a Tenant's own namespace, and nowhere
// else: the issuer's workload (ServiceAccount, Service, Deployment,
// PodDisruptionBudget), the ResourceQuota bounding its state records, its Role and RoleBinding, its Leases, its HTTPRoute
// or Ingress and cert-manager Certificate (spec.exposure), and the state
// records the collector deletes. `make manifests` renders these markers into
// the ClusterRole idtenant-manager-tenants (config/rbac/tenants/role.yaml),
// apart from the cluster-wide idtenant-manager, so that an installation can
// bind it only in the namespaces where Tenants live (--tenant-namespaces and
// config/tenant-namespaces), instead of letting the operator create Roles
// and RoleBindings in every namespace.
//
// Children are deleted by the garbage collector through owner references;
// only config shards and a single replica's PDB are deleted by hand. The
// manager needs get/update on Leases, and create/get/update on state
// records, only because it grants them to the issuer's Role (RBAC forbids
// granting what one does not hold); it lists and deletes expired records.
//
// +kubebuilder:rbac:groups="",resources=serviceaccounts;services,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=resourcequotas,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses;networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=state.idtenant.dev,resources=sessions;authorizationcodes;refreshfamilies;revokedtokens;consents,verbs=get;list;create;update;delete
