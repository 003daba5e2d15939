package serving

import (
	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
)

// BlocksApplication says whether p keeps the whole Application out of the
// issuer (not just some of its APIs).
func BlocksApplication(p *status.Problem) bool { return p != nil && !p.ServedWithout }

// WithAPIs returns app with spec.apis replaced by kept, the entries the
// issuer serves; app itself when nothing was left out.
func WithAPIs(app *v1alpha1.Application, kept []v1alpha1.APIAccess) *v1alpha1.Application {
	if len(kept) == len(app.Spec.APIs) {
		return app
	}
	out := app.DeepCopy()
	out.Spec.APIs = kept
	return out
}
