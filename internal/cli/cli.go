package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/internal/kubescheme"
)

const usage = `usage:
  idtenant explain application NAME [-n NAMESPACE] [--live=true] [-o json|yaml]
      the Tenant → Application → APIs tree: every effective lifetime and the
      setting that decided it, clamps, advisories, which issuer replicas serve
      which generation, and a live check of discovery and JWKS
  idtenant timeline application NAME [-n NAMESPACE] [--width 48] [--svg FILE] [-o json|yaml]
      what happens to a user who logs in now: when the ID token, each API's
      access token and the refresh token expire, when the session ends

Both read status through your kubeconfig (--kubeconfig, --context, KUBECONFIG)
and write nothing. As a kubectl plugin (the binary named kubectl-idtenant on
PATH): kubectl idtenant explain application NAME -n NAMESPACE.
`

// Options lets tests give the CLI a client, an HTTP client and the login
// time of the timeline.
type Options struct {
	Client client.Reader
	HTTP   *http.Client
	// Now is when the timeline's user logs in; time.Now when nil.
	Now func() time.Time
}

// Run runs `idtenant explain|timeline …`; args start after the command
// name.
func Run(ctx context.Context, command string, args []string, stdout, stderr io.Writer, opts Options) error {
	fl := flag.NewFlagSet(command, flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, usage) }
	namespace := fl.String("n", "", "namespace (default: the kubeconfig context's)")
	fl.StringVar(namespace, "namespace", "", "namespace (default: the kubeconfig context's)")
	kubeconfig := fl.String("kubeconfig", "", "kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
	kubeContext := fl.String("context", "", "kubeconfig context")
	live := fl.Bool("live", true, "explain: fetch the issuer's discovery document and JWKS")
	width := fl.Int("width", 48, "timeline: width of the longest bar, in characters")
	svg := fl.String("svg", "", "timeline: also write the picture as SVG to this file")
	output := fl.String("o", outputText, "output format: json or yaml (default: text for people)")
	fl.StringVar(output, "output", outputText, "output format: json or yaml (default: text for people)")
	// Flags may follow the positional arguments, as kubectl allows.
	var positional []string
	for rest := args; ; {
		if err := fl.Parse(rest); err != nil {
			return err
		}
		if fl.NArg() == 0 {
			break
		}
		positional = append(positional, fl.Arg(0))
		rest = fl.Args()[1:]
	}
	if len(positional) != 2 || (positional[0] != "application" && positional[0] != "app" && positional[0] != "applications") {
		fl.Usage()
		return fmt.Errorf("%s: want `application NAME`", command)
	}
	name := positional[1]
	if *output != outputText && *output != outputJSON && *output != outputYAML {
		return fmt.Errorf("-o %q: want json or yaml", *output)
	}
	if *width < 10 || *width > 400 {
		return fmt.Errorf("--width %d: want 10 to 400 characters", *width)
	}

	c, ns := opts.Client, *namespace
	if c == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = *kubeconfig
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: *kubeContext})
		cfg, err := cc.ClientConfig()
		if err != nil {
			return fmt.Errorf("loading kubeconfig: %w", err)
		}
		if ns == "" {
			if ns, _, err = cc.Namespace(); err != nil {
				return err
			}
		}
		if c, err = client.New(cfg, client.Options{Scheme: kubescheme.New()}); err != nil {
			return err
		}
	}
	if ns == "" {
		ns = "default"
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	// Replica liveness is judged by the real clock, whatever time the
	// timeline starts at.
	v, err := gather(ctx, c, ns, name, time.Now())
	if err != nil {
		return err
	}
	switch command {
	case "explain":
		if *live && v.tenant != nil {
			hc := opts.HTTP
			if hc == nil {
				hc = &http.Client{Timeout: 10 * time.Second}
			}
			v.live = checkLive(ctx, hc, v.tenant.Spec.IssuerURL)
		}
		if *output != outputText {
			return write(stdout, *output, v.report())
		}
		explain(stdout, v)
		return nil
	case "timeline":
		if *output != outputText {
			r, err := timelineOf(v.app, now())
			if err != nil {
				return err
			}
			return write(stdout, *output, r)
		}
		if err := timeline(stdout, v.app, now(), *width); err != nil {
			return err
		}
		if *svg != "" {
			f, err := os.Create(*svg)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := timelineSVG(f, v.app, now()); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "\nwrote %s\n", *svg)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", command)
}
