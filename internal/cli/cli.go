package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/internal/kubescheme"
	"github.com/idtenant/idtenant/internal/version"
)

// Options lets tests give the CLI a client, an HTTP client and the login
// time of the timeline.
type Options struct {
	// Client reads the cluster; built from the kubeconfig flags when nil.
	Client client.Reader
	HTTP   *http.Client
	// Now is when the timeline's user logs in; time.Now when nil. Replica
	// liveness is always judged by the real clock.
	Now func() time.Time
}

// PluginName is the file name under which kubectl runs the binary as a
// plugin, and CompletionPluginName the one kubectl (1.26 and later) runs to
// complete `kubectl idtenant …` on the command line.
const (
	PluginName           = "kubectl-idtenant"
	CompletionPluginName = "kubectl_complete-idtenant"
)

// Run runs `kubectl idtenant explain|timeline|version …`: args start with
// the command's name (or __complete, as kubectl's completion calls it).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, opts Options) error {
	cmd := NewCommand(genericiooptions.IOStreams{In: os.Stdin, Out: stdout, ErrOut: stderr}, opts)
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

// NewCommand is the CLI's command tree. It takes kubectl's standard
// connection flags (--kubeconfig, --context, -n/--namespace, --as, …, from
// k8s.io/cli-runtime), so `idtenant` and `kubectl idtenant` reach the same
// cluster kubectl would.
func NewCommand(streams genericiooptions.IOStreams, opts Options) *cobra.Command {
	kube := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   PluginName,
		Short: "Audit idtenant's Tenants, Applications and APIs: every effective lifetime and what decided it",
		Long: `kubectl idtenant explains what status says about Tenants, Applications and
APIs: every effective lifetime, the setting that decided it, clamps,
advisories, which issuer replicas serve which configuration, and what a user
who logs in now lives through. It reads through your kubeconfig and writes
nothing.

kubectl runs it as a plugin when kubectl-idtenant is on PATH, and completes
its arguments when kubectl_complete-idtenant (a link to it) is too.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl idtenant"},
		// kubectl completes its plugins itself, through
		// kubectl_complete-idtenant; a completion script of this command's
		// own would complete a command nobody types.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	kube.AddFlags(root.PersistentFlags())
	r := &runner{kube: kube, opts: opts}
	_ = root.RegisterFlagCompletionFunc("namespace", r.completeNamespaces)
	root.AddCommand(r.explainCommand(), r.timelineCommand(), versionCommand())
	return root
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the release, the source revision and the Go version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.Get())
		},
	}
}

// runner holds what every command needs: the cluster and the options.
type runner struct {
	kube *genericclioptions.ConfigFlags
	opts Options
}

// client returns the reader and the namespace the flags name (the
// kubeconfig context's when -n is not given).
func (r *runner) client() (client.Reader, string, error) {
	ns := ""
	if r.kube.Namespace != nil {
		ns = *r.kube.Namespace
	}
	if r.opts.Client != nil {
		if ns == "" {
			ns = "default"
		}
		return r.opts.Client, ns, nil
	}
	if ns == "" {
		var err error
		if ns, _, err = r.kube.ToRawKubeConfigLoader().Namespace(); err != nil {
			return nil, "", fmt.Errorf("reading the kubeconfig's namespace: %w", err)
		}
	}
	cfg, err := r.kube.ToRESTConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

func (r *runner) httpClient() *http.Client {
	if r.opts.HTTP != nil {
		return r.opts.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (r *runner) now() time.Time {
	if r.opts.Now != nil {
		return r.opts.Now()
	}
	return time.Now()
}

// outputFlag adds -o/--output: text for people (default), json or yaml.
func outputFlag(cmd *cobra.Command) *string {
	output := cmd.Flags().StringP("output", "o", outputText, "output format: json or yaml (default: text for people)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outputJSON, outputYAML}, cobra.ShellCompDirectiveNoFileComp))
	return output
}

func checkOutput(output string) error {
	if output != outputText && output != outputJSON && output != outputYAML {
		return fmt.Errorf("-o %q: want json or yaml", output)
	}
	return nil
}
