// Command chart writes the generated parts of dist/chart from
// dist/install.yaml (internal/release.ChartFiles): run by make
// build-installer.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/idtenant/idtenant/internal/release"
)

func main() {
	install := flag.String("install", "dist/install.yaml", "the kustomize output")
	rules := flag.String("rules", "config/prometheus/rules.yaml", "the example alerts (PrometheusRule)")
	out := flag.String("out", "dist/chart", "the chart directory")
	version := flag.String("version", "", "chart version (semver, no v)")
	flag.Parse()
	if err := run(*install, *rules, *out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(install, rules, out, version string) error {
	if version == "" {
		return fmt.Errorf("-version is required")
	}
	data, err := os.ReadFile(install)
	if err != nil {
		return err
	}
	ruleData, err := os.ReadFile(rules)
	if err != nil {
		return err
	}
	files, err := release.ChartFiles(data, ruleData, version)
	if err != nil {
		return err
	}
	// templates/crds/ holds only generated files: a CRD removed from
	// config/ leaves. crds/ is where older charts kept them.
	for _, dir := range []string{"crds", "templates/crds"} {
		if err := os.RemoveAll(filepath.Join(out, dir)); err != nil {
			return err
		}
	}
	values, err := os.ReadFile(filepath.Join(out, "values.yaml"))
	if err != nil {
		return err
	}
	if files["README.md"], err = release.ChartReadme(values); err != nil {
		return err
	}
	for name, content := range files {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
