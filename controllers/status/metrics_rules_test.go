package status

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/idtenant/idtenant/internal/statecollector"
)

// TestPrometheusExamplesUseExportedMetrics reads config/prometheus the way
// a user applies it: every metric an alert queries is one this manager
// exports, with the labels the alert uses, and the ServiceMonitor selects
// the manager's metrics Service by its labels and port name. A renamed
// metric or label fails here, not as an alert that silently never fires.
func TestPrometheusExamplesUseExportedMetrics(t *testing.T) {
	exported := map[string][]string{} // metric name → its labels
	descLine := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	for _, c := range append([]prometheus.Collector{ObjectMetrics}, statecollector.Metrics()...) {
		ch := make(chan *prometheus.Desc, 10)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			m := descLine.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the metric description %s", d)
			}
			exported[m[1]] = strings.Split(m[2], ",")
		}
	}
	if len(exported) < 9 {
		t.Fatalf("read %d metric descriptions: %v", len(exported), exported)
	}

	var rules struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	readYAML(t, "../../config/prometheus/rules.yaml", &rules)
	selector := regexp.MustCompile(`(idtenant_[a-z_]+)(\{([^}]*)\})?`)
	matcher := regexp.MustCompile(`([a-z_]+)\s*(=~|!=|!~|=)`)
	grouping := regexp.MustCompile(`(?:by|ignoring|on)\s*\(([^)]*)\)`)
	alerts := 0
	for _, group := range rules.Spec.Groups {
		for _, rule := range group.Rules {
			alerts++
			used := selector.FindAllStringSubmatch(rule.Expr, -1)
			if len(used) == 0 {
				t.Errorf("%s: queries no idtenant metric", rule.Alert)
			}
			for _, sel := range used {
				labels, ok := exported[sel[1]]
				if !ok {
					t.Errorf("%s: %s is not a metric the manager exports", rule.Alert, sel[1])
					continue
				}
				for _, m := range matcher.FindAllStringSubmatch(sel[3], -1) {
					if !slices.Contains(labels, m[1]) {
						t.Errorf("%s: %s has no label %q (it has %v)", rule.Alert, sel[1], m[1], labels)
					}
				}
				for _, g := range grouping.FindAllStringSubmatch(rule.Expr, -1) {
					for _, l := range strings.Split(g[1], ",") {
						if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
							t.Errorf("%s: groups by %q, which %s does not have", rule.Alert, l, sel[1])
						}
					}
				}
			}
		}
	}
	if alerts < 4 {
		t.Errorf("%d alerts in rules.yaml; the examples promised are missing", alerts)
	}

	var monitor struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Endpoints []struct {
				Port        string `json:"port"`
				HonorLabels bool   `json:"honorLabels"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	readYAML(t, "../../config/prometheus/monitor.yaml", &monitor)
	// The series' namespace label is the object's; Prometheus replaces a
	// target's labels unless told to honor them.
	for _, e := range monitor.Spec.Endpoints {
		if !e.HonorLabels {
			t.Errorf("ServiceMonitor endpoint %s without honorLabels: every series would say namespace=idtenant-system", e.Port)
		}
	}
	manifests, err := os.ReadFile("../../config/manager/manager.yaml")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, doc := range strings.Split(string(manifests), "\n---\n") {
		var svc struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Ports []struct {
					Name string `json:"name"`
				} `json:"ports"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &svc); err != nil || svc.Kind != "Service" {
			continue
		}
		selected := true
		for k, v := range monitor.Spec.Selector.MatchLabels {
			selected = selected && svc.Metadata.Labels[k] == v
		}
		if !selected {
			continue
		}
		for _, p := range svc.Spec.Ports {
			found = found || (len(monitor.Spec.Endpoints) > 0 && p.Name == monitor.Spec.Endpoints[0].Port)
		}
	}
	if !found {
		t.Error("the ServiceMonitor selects no Service port of config/manager/manager.yaml")
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
