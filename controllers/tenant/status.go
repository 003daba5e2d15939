package tenant

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/keys"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// passTiming times one pass of the Tenant reconciler.
type passTiming struct {
	start time.Time
	wait  time.Duration
}

// tenantObservation is what one Tenant reconcile found out.
type tenantObservation struct {
	// pass is when this pass started and, inside the window after a full
	// pass, how long until the next full one (coalesce.go).
	pass         passTiming
	effective    lifetime.Tenant
	applications int32
	apis         int32
	// users is the parsed user directory.
	users []issuerconfig.User
	// usersProblem is set when spec.usersSecretRef is missing or invalid.
	usersProblem *status.Problem
	// served is what the issuer configuration holds.
	served servedObjects
	// keys are the signing keys after this reconcile's rotation step.
	keys      []keys.Key
	keyPolicy keys.Policy
	// sealingKeys is the sealing key ring and sealingPolicy its schedule.
	sealingKeys   []issuerconfig.SealingKey
	sealingPolicy keys.SealingPolicy
	keysProblem   *status.Problem
	// stateKey is the tenant's state key; it goes into the issuer
	// configuration and nowhere else.
	stateKey []byte
	// config is the rendered configuration; deployment the issuer's name.
	config     configRendered
	deployment string
	// replicas is what the issuer replicas report.
	replicas issuerReplicas
	// state is the state collector's latest count (Kubernetes store), nil
	// before its first pass over this Tenant.
	state *v1alpha1.StateStatus
	// ownershipProblem is set when an object the Tenant would own exists
	// under someone else's control.
	ownershipProblem *status.Problem
	// audienceClaims are the audience claims after this reconcile's
	// decision (internal/audience).
	audienceClaims []v1alpha1.AudienceClaim
	// issuerURLProblem is set when an older Tenant uses the same issuer URL.
	issuerURLProblem *status.Problem
	// namespaceProblem is set when the operator does not serve Tenants in
	// this namespace (--tenant-namespaces).
	namespaceProblem *status.Problem
	// exposure is the Exposed condition; nil without spec.exposure.
	exposure *exposureObservation
	// connections is status.connections; connectionSecrets the client
	// secrets read (issuer configuration only); connectionsRecheck when
	// the next discovery check is due.
	connections        []v1alpha1.ConnectionStatus
	connectionSecrets  map[string]string
	connectionEpochs   map[string]int64
	connectionsRecheck time.Duration
	// stateDB is the PostgreSQL state store's database (statedb.go); nil
	// with the other stores.
	stateDB *stateObservation
}

// DiscoveryURL is where OpenID Provider metadata lives for issuerURL.
func DiscoveryURL(issuerURL string) string {
	return strings.TrimSuffix(issuerURL, "/") + "/.well-known/openid-configuration"
}

// tenantStatus derives the whole status of tenant from obs.
func tenantStatus(tenant *v1alpha1.Tenant, obs tenantObservation) v1alpha1.TenantStatus {
	gen := tenant.Generation
	eff := obs.effective.Status()
	st := v1alpha1.TenantStatus{
		ObservedGeneration: gen,
		Conditions:         append([]metav1.Condition(nil), tenant.Status.Conditions...),
		IssuerURL:          tenant.Spec.IssuerURL,
		DiscoveryURL:       DiscoveryURL(tenant.Spec.IssuerURL),
		Effective:          &eff,
		Applications:       obs.applications,
		APIs:               obs.apis,
		AudienceClaims:     obs.audienceClaims,
	}
	if obs.config.generation > 0 {
		st.Issuer = &v1alpha1.IssuerStatus{
			ConfigGeneration:   obs.config.generation,
			ConfigSecrets:      obs.config.secrets,
			ConfigBytes:        obs.config.bytes,
			ServedApplications: int32(len(obs.served.apps)),
			ServedAPIs:         int32(len(obs.served.apis)),
			Keys:               keyStatus(obs.keys),
			Deployment:         obs.deployment,
			Replicas:           obs.effective.Replicas,
			LiveReplicas:       obs.replicas.live,
			SyncedReplicas:     obs.replicas.synced,
			ServedGeneration:   obs.replicas.served,
		}
		setIssuerConditions(&st.Conditions, gen, obs.config.generation, obs.replicas)
	} else if tenant.Status.Issuer != nil {
		st.Issuer = tenant.Status.Issuer.DeepCopy() // last good, kept while a problem blocks rendering
	}
	st.State = stateStatus(tenant, obs)
	st.Advisories = tenantAdvisories(tenant.Spec, obs.users)
	st.Connections = obs.connections
	if len(obs.connections) > 0 {
		setConnectionsCondition(&st.Conditions, gen, obs.connections)
	} else {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionConnectionsReady)
	}
	if db := obs.stateDB; db != nil {
		cond := metav1.ConditionFalse
		if db.check.Ready() {
			cond = metav1.ConditionTrue
		} else if db.check.Reason == v1alpha1.ReasonStateChecking {
			cond = metav1.ConditionUnknown
		}
		status.SetCondition(&st.Conditions, gen, v1alpha1.ConditionStateReady, cond, db.check.Reason, db.check.Message)
	} else {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionStateReady)
	}
	if e := obs.exposure; e != nil {
		status.SetCondition(&st.Conditions, gen, v1alpha1.ConditionExposed, e.status, e.reason, e.message)
	} else {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionExposed)
	}
	r := status.ReadyWith(fmt.Sprintf("%s %d Applications and %d APIs attached.", obs.effective.Summary(), obs.applications, obs.apis))
	for _, p := range []*status.Problem{obs.namespaceProblem, obs.issuerURLProblem, obs.ownershipProblem, obs.usersProblem, obs.keysProblem, stateProblem(obs), issuerProblem(obs)} {
		if p != nil {
			r = status.FromProblem(p)
			break
		}
	}
	status.SetKstatusConditions(&st.Conditions, gen, r)
	return st
}

// issuerProblem keeps the Tenant from Ready until every live issuer replica
// serves the newest configuration.
func issuerProblem(obs tenantObservation) *status.Problem {
	rep, gen := obs.replicas, obs.config.generation
	switch {
	case gen == 0:
		return &status.Problem{Reason: v1alpha1.ReasonIssuerPending, Message: "Rendering the issuer configuration."}
	case rep.live == 0:
		return &status.Problem{Reason: v1alpha1.ReasonIssuerPending, Message: fmt.Sprintf("Configuration generation %d is rendered; no issuer replica is up yet.", gen)}
	case rep.synced < rep.live:
		return &status.Problem{Reason: v1alpha1.ReasonIssuerPending, Message: fmt.Sprintf("%d of %d live issuer replicas serve configuration generation %d.", rep.synced, rep.live, gen)}
	}
	return nil
}

// stateStatus is status.state: the collector's latest count with the
// Kubernetes or PostgreSQL store, else the last one published (a new
// leader has not counted yet); nothing with the Memory store, which the
// operator cannot see into.
func stateStatus(tenant *v1alpha1.Tenant, obs tenantObservation) *v1alpha1.StateStatus {
	var st *v1alpha1.StateStatus
	switch {
	case obs.effective.StateType == v1alpha1.StateMemory:
		return nil
	case obs.state != nil && (obs.state.Backend == obs.effective.StateType || obs.state.Backend == ""):
		st = obs.state
	case tenant.Status.State != nil && tenant.Status.State.Backend == obs.effective.StateType:
		st = tenant.Status.State.DeepCopy()
	case tenant.Status.State != nil && tenant.Status.State.Backend == "" && obs.effective.StateType == v1alpha1.StateKubernetes:
		st = tenant.Status.State.DeepCopy() // published by an operator before backends were named
	case obs.stateDB != nil:
		st = &v1alpha1.StateStatus{}
	default:
		return nil
	}
	st.Backend = obs.effective.StateType
	if db := obs.stateDB; db != nil {
		if db.database != nil {
			st.Schema = db.database.Schema
		}
		if db.check.Ready() {
			st.SchemaVersion = db.check.Migration.To
		}
	}
	return st
}
