package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// kind is an idtenant object kind the CLI explains.
type kind string

const (
	kindTenant      kind = "tenant"
	kindApplication kind = "application"
	kindAPI         kind = "api"
)

// kindNames are the names each kind answers to, as kubectl knows them:
// singular, plural, short name and the fully qualified plural (which no
// other product's Application or Tenant can shadow).
var kindNames = map[kind][]string{
	kindTenant:      {"tenant", "tenants", "idt", "tenants.idtenant.dev", "tenant.idtenant.dev"},
	kindApplication: {"application", "applications", "app", "apps", "idapp", "applications.idtenant.dev", "application.idtenant.dev"},
	kindAPI:         {"api", "apis", "idapi", "apis.idtenant.dev", "api.idtenant.dev"},
}

func parseKind(name string, allowed ...kind) (kind, error) {
	for _, k := range allowed {
		for _, n := range kindNames[k] {
			if strings.EqualFold(name, n) {
				return k, nil
			}
		}
	}
	names := make([]string, len(allowed))
	for i, k := range allowed {
		names[i] = string(k)
	}
	return "", fmt.Errorf("%q is not one of %s (or their plural, short or fully qualified names)", name, strings.Join(names, ", "))
}

func (r *runner) explainCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain (tenant|application|api) NAME",
		Short: "Every effective lifetime of a Tenant, Application or API and the setting that decided it",
		Long: `explain draws what status says as a tree.

  application  the Tenant → Application → APIs tree: the ID token, session,
               refresh token and each API's access tokens per flow, with the
               setting that decided each (and the configured value when a
               shorter one cut it), clamps, advisories, the issuer replicas
               and a live check of discovery and JWKS
  tenant       the Tenant's session and signing, its issuer replicas, and
               every Application and API attached to it, one line each
  api          the API's access token lifetimes, and for each Application
               that asks for it the lifetime its tokens get per flow`,
		Example: `  kubectl idtenant explain application backoffice -n shop
  kubectl idtenant explain tenant acme -n identity -o yaml
  kubectl idtenant explain apis.idtenant.dev orders -n shop --live=false`,
		Args:              kindAndName("explain (tenant|application|api) NAME"),
		ValidArgsFunction: r.completeKindAndName(kindTenant, kindApplication, kindAPI),
	}
	output := outputFlag(cmd)
	live := cmd.Flags().Bool("live", true, "fetch the issuer's discovery document and JWKS from this machine")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		k, err := parseKind(args[0], kindTenant, kindApplication, kindAPI)
		if err != nil {
			return err
		}
		if err := checkOutput(*output); err != nil {
			return err
		}
		c, ns, err := r.client()
		if err != nil {
			return err
		}
		ctx, out := cmd.Context(), cmd.OutOrStdout()
		switch k {
		case kindApplication:
			v, err := gather(ctx, c, ns, args[1], time.Now())
			if err != nil {
				return err
			}
			if *live && v.tenant != nil {
				v.live = checkLive(ctx, r.httpClient(), v.tenant.Spec.IssuerURL)
			}
			if *output != outputText {
				return write(out, *output, v.report())
			}
			explain(out, v)
		case kindTenant:
			v, err := gatherTenant(ctx, c, ns, args[1], time.Now())
			if err != nil {
				return err
			}
			if *live {
				v.live = checkLive(ctx, r.httpClient(), v.tenant.Spec.IssuerURL)
			}
			if *output != outputText {
				return write(out, *output, v.report())
			}
			writeTenant(out, v)
		case kindAPI:
			v, err := gatherAPI(ctx, c, ns, args[1])
			if err != nil {
				return err
			}
			if *output != outputText {
				return write(out, *output, v.report())
			}
			writeAPI(out, v)
		}
		return nil
	}
	return cmd
}

func (r *runner) timelineCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "timeline application NAME",
		Short: "What happens to a user who logs in now: when each token expires and the session ends",
		Long: `timeline draws, for a user who logs in now and then does nothing, when the
ID token, each API's access token and the refresh token expire and when the
session ends, each with the setting that decided it.`,
		Example: `  kubectl idtenant timeline application backoffice -n shop
  kubectl idtenant timeline application backoffice -n shop --svg timeline.svg`,
		Args:              kindAndName("timeline application NAME"),
		ValidArgsFunction: r.completeKindAndName(kindApplication),
	}
	output := outputFlag(cmd)
	width := cmd.Flags().Int("width", 48, "width of the longest bar, in characters")
	svg := cmd.Flags().String("svg", "", "also write the picture as SVG to this file")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if _, err := parseKind(args[0], kindApplication); err != nil {
			return err
		}
		if err := checkOutput(*output); err != nil {
			return err
		}
		if *width < 10 || *width > 400 {
			return fmt.Errorf("--width %d: want 10 to 400 characters", *width)
		}
		c, ns, err := r.client()
		if err != nil {
			return err
		}
		ctx, out, login := cmd.Context(), cmd.OutOrStdout(), r.now()
		// Replica liveness is judged by the real clock, whatever time the
		// timeline starts at.
		v, err := gather(ctx, c, ns, args[1], time.Now())
		if err != nil {
			return err
		}
		if *output != outputText {
			rep, err := timelineOf(v.app, login)
			if err != nil {
				return err
			}
			return write(out, *output, rep)
		}
		if err := timeline(out, v.app, login, *width); err != nil {
			return err
		}
		if *svg == "" {
			return nil
		}
		f, err := os.Create(*svg)
		if err != nil {
			return err
		}
		if err := timelineSVG(f, v.app, login); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nwrote %s\n", *svg)
		return nil
	}
	return cmd
}

// kindAndName wants two arguments, and says which when it does not get
// them (the usage itself is a --help away).
func kindAndName(form string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 2 {
			return fmt.Errorf("want `%s`, got %d argument(s); see %s --help", form, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// completeKindAndName completes the kind, then the names of that kind in
// the namespace the flags name.
func (r *runner) completeKindAndName(kinds ...kind) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			var out []cobra.Completion
			for _, k := range kinds {
				if strings.HasPrefix(string(k), prefix) {
					out = append(out, string(k))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		case 1:
			k, err := parseKind(args[0], kinds...)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			c, ns, err := r.client()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var list client.ObjectList
			switch k {
			case kindTenant:
				list = &v1alpha1.TenantList{}
			case kindApplication:
				list = &v1alpha1.ApplicationList{}
			case kindAPI:
				list = &v1alpha1.APIList{}
			}
			if err := c.List(cmd.Context(), list, client.InNamespace(ns)); err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return namesWithPrefix(list, prefix), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

func (r *runner) completeNamespaces(cmd *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, _, err := r.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var list corev1.NamespaceList
	if err := c.List(cmd.Context(), &list); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return namesWithPrefix(&list, prefix), cobra.ShellCompDirectiveNoFileComp
}

func namesWithPrefix(list client.ObjectList, prefix string) []cobra.Completion {
	var out []cobra.Completion
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		if m, err := meta.Accessor(o); err == nil && strings.HasPrefix(m.GetName(), prefix) {
			out = append(out, m.GetName())
		}
		return nil
	})
	sort.Strings(out)
	return out
}
