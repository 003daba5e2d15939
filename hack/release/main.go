// Command release writes the kubectl plugin's release artifacts: one
// archive per platform (internal/release.BuildPluginArchives), SHA256SUMS,
// and the krew manifest pointing at the archives' download URLs.
//
//	go run ./hack/release -version v0.1.0 -out bin/release
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/idtenant/idtenant/internal/release"
)

func main() {
	version := flag.String("version", "v0.0.0-dev", "release version (v-prefixed semver, as krew requires)")
	out := flag.String("out", "bin/release", "output directory")
	var all []string
	for _, p := range release.PluginPlatforms {
		all = append(all, p.String())
	}
	platforms := flag.String("platforms", strings.Join(all, ","), "comma-separated OS/ARCH list")
	urlBase := flag.String("url", "", "where the archives are downloaded from (default: the GitHub release of -version)")
	flag.Parse()
	if err := run(*version, *out, *platforms, *urlBase); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(version, out, platformList, urlBase string) error {
	platforms, err := release.ParsePlatforms(platformList)
	if err != nil {
		return err
	}
	if urlBase == "" {
		urlBase = "https://github.com/idtenant/idtenant/releases/download/" + version
	}
	archives, err := release.BuildPluginArchives(release.PluginOptions{Source: ".", Version: version, Out: out, Platforms: platforms})
	if err != nil {
		return err
	}
	manifest, err := release.KrewManifest(version, urlBase, archives)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "idtenant.yaml"), manifest, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), release.Checksums(archives), 0o644); err != nil {
		return err
	}
	for _, a := range archives {
		fmt.Printf("%s  %s\n", a.SHA256, a.Path)
	}
	fmt.Printf("krew manifest: %s\n", filepath.Join(out, "idtenant.yaml"))
	return nil
}
