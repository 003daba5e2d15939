package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Output formats of -o: the text a person reads (default), or JSON and
// YAML a script reads. The structured forms carry the same facts as the
// text, from status, with stable field names.
const (
	outputText = ""
	outputJSON = "json"
	outputYAML = "yaml"
)

// explainReport is `idtenant explain -o json|yaml`.
type explainReport struct {
	Application explainObject `json:"application"`
	// Effective is the Application's status.effective: every lifetime its
	// users get and the setting that decided it (boundBy).
	Effective *v1alpha1.ApplicationEffective `json:"effective,omitempty"`
	Tenant    *explainTenant                 `json:"tenant,omitempty"`
	// TenantError says why the Tenant could not be read.
	TenantError string       `json:"tenantError,omitempty"`
	APIs        []explainAPI `json:"apis,omitempty"`
	// MissingAPIs are spec.apis entries that could not be read, and why.
	MissingAPIs []string         `json:"missingAPIs,omitempty"`
	Replicas    []explainReplica `json:"replicas,omitempty"`
	Live        *explainLive     `json:"live,omitempty"`
}

type explainObject struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Ready and Reason are the Ready condition's status and reason.
	Ready   string `json:"ready,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

type explainTenant struct {
	explainObject
	IssuerURL string                    `json:"issuerURL"`
	Effective *v1alpha1.TenantEffective `json:"effective,omitempty"`
	Issuer    *v1alpha1.IssuerStatus    `json:"issuer,omitempty"`
	State     *v1alpha1.StateStatus     `json:"state,omitempty"`
	Policy    *v1alpha1.LifetimePolicy  `json:"policy,omitempty"`
	Session   *v1alpha1.SessionSpec     `json:"session,omitempty"`
}

type explainAPI struct {
	explainObject
	Audience  string                 `json:"audience"`
	Effective *v1alpha1.APIEffective `json:"effective,omitempty"`
}

type explainReplica struct {
	Slot        string `json:"slot"`
	Holder      string `json:"holder"`
	Generation  int64  `json:"generation"`
	ConfigError string `json:"configError,omitempty"`
	Live        bool   `json:"live"`
}

type explainLive struct {
	DiscoveryURL   string   `json:"discoveryURL"`
	DiscoveryError string   `json:"discoveryError,omitempty"`
	Issuer         string   `json:"issuer,omitempty"`
	JWKSURL        string   `json:"jwksURL,omitempty"`
	JWKSError      string   `json:"jwksError,omitempty"`
	KeyIDs         []string `json:"keyIDs,omitempty"`
}

func objectOf(namespace, name string, conditions []metav1.Condition) explainObject {
	o := explainObject{Namespace: namespace, Name: name}
	for _, c := range conditions {
		if c.Type == v1alpha1.ConditionReady {
			o.Ready, o.Reason, o.Message = string(c.Status), c.Reason, c.Message
		}
	}
	return o
}

// report is v as explainReport.
func (v *view) report() explainReport {
	r := explainReport{Application: objectOf(v.app.Namespace, v.app.Name, v.app.Status.Conditions), Effective: v.app.Status.Effective,
		MissingAPIs: v.missing, Replicas: replicasOf(v.replicas), Live: liveOf(v.live)}
	if t := v.tenant; t != nil {
		tr := tenantOf(t)
		r.Tenant = &tr
	} else if v.tenantErr != nil {
		r.TenantError = v.tenantErr.Error()
	}
	for _, a := range v.apis {
		r.APIs = append(r.APIs, apiOf(a))
	}
	return r
}

func tenantOf(t *v1alpha1.Tenant) explainTenant {
	return explainTenant{explainObject: objectOf(t.Namespace, t.Name, t.Status.Conditions), IssuerURL: t.Spec.IssuerURL,
		Effective: t.Status.Effective, Issuer: t.Status.Issuer, State: t.Status.State, Policy: t.Spec.Policy, Session: t.Spec.Session}
}

func apiOf(a *v1alpha1.API) explainAPI {
	return explainAPI{explainObject: objectOf(a.Namespace, a.Name, a.Status.Conditions), Audience: a.Spec.Audience, Effective: a.Status.Effective}
}

func applicationOf(a *v1alpha1.Application) explainApplication {
	return explainApplication{explainObject: objectOf(a.Namespace, a.Name, a.Status.Conditions), Type: a.Spec.Type,
		ClientID: a.Status.ClientID, Effective: a.Status.Effective}
}

func replicasOf(replicas []replica) []explainReplica {
	var out []explainReplica
	for _, rep := range replicas {
		out = append(out, explainReplica{Slot: rep.slot, Holder: rep.holder, Generation: rep.generation, ConfigError: rep.configError, Live: rep.live})
	}
	return out
}

func liveOf(l *liveCheck) *explainLive {
	if l == nil {
		return nil
	}
	r := &explainLive{DiscoveryURL: l.discoveryURL, Issuer: l.issuer, JWKSURL: l.jwksURL, DiscoveryError: errString(l.discoveryErr), JWKSError: errString(l.jwksErr)}
	for _, k := range l.keys {
		r.KeyIDs = append(r.KeyIDs, k.Kid)
	}
	return r
}

// timelineReport is `idtenant timeline -o json|yaml`: for a user who logs
// in at LoginAt and then does nothing, when each token and the session end.
type timelineReport struct {
	Application explainObject   `json:"application"`
	LoginAt     time.Time       `json:"loginAt"`
	Events      []timelineEntry `json:"events"`
}

type timelineEntry struct {
	What string `json:"what"`
	// After is the Go duration from the login; At the clock time.
	After string    `json:"after"`
	At    time.Time `json:"at"`
	// BoundBy is the setting that decided it.
	BoundBy string `json:"boundBy"`
	// EndsSession: the session's end, which nothing outlives.
	EndsSession bool `json:"endsSession,omitempty"`
}

func timelineOf(app *v1alpha1.Application, login time.Time) (timelineReport, error) {
	events := timelineEvents(app)
	if len(events) == 0 {
		return timelineReport{}, fmt.Errorf("Application %s/%s has no effective lifetimes in status yet", app.Namespace, app.Name)
	}
	r := timelineReport{Application: objectOf(app.Namespace, app.Name, app.Status.Conditions), LoginAt: login.UTC()}
	for _, e := range events {
		r.Events = append(r.Events, timelineEntry{What: e.label, After: e.at.String(), At: login.Add(e.at).UTC(), BoundBy: e.why, EndsSession: e.cutoff})
	}
	return r, nil
}

// write prints v as JSON or YAML.
func write(w io.Writer, format string, v any) error {
	switch format {
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case outputYAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("-o %q: want json or yaml", format)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
