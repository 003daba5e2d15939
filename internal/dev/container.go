package dev

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// rebind replaces the host of a --flag=[host]:port argument with ip.
func rebind(args []string, flag, ip string) []string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			_, port, err := net.SplitHostPort(v)
			if err == nil {
				args[i] = flag + "=" + net.JoinHostPort(ip, port)
			}
		}
	}
	return args
}

// serviceAccountTokenTTL is how long the ServiceAccount tokens dev gives
// issuer processes live; they are replaced at 80% of it, as the kubelet
// refreshes projected tokens, so a dev session may run for days.
const serviceAccountTokenTTL = 24 * time.Hour

// serviceAccountKubeconfig requests a token for the pod's ServiceAccount
// (as the kubelet's projected token would), writes it to a file and a
// kubeconfig that reads the token from that file (client-go re-reads it
// every minute), and keeps replacing the token until done closes.
func (k *Kubelet) serviceAccountKubeconfig(ctx context.Context, namespace, sa, dir string, done <-chan struct{}) (string, error) {
	tokenPath := filepath.Join(dir, "token")
	if err := writeServiceAccountToken(ctx, k.tokens, namespace, sa, tokenPath); err != nil {
		return "", err
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-time.After(serviceAccountTokenTTL * 8 / 10):
			}
			if err := writeServiceAccountToken(ctx, k.tokens, namespace, sa, tokenPath); err != nil {
				k.Log.Error(err, "refreshing an issuer's ServiceAccount token; it will stop reaching the API server when the old one expires", "file", tokenPath)
			}
		}
	}()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["dev"] = &clientcmdapi.Cluster{Server: k.Config.Host, CertificateAuthorityData: k.Config.CAData}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{TokenFile: tokenPath}
	cfg.Contexts["dev"] = &clientcmdapi.Context{Cluster: "dev", AuthInfo: sa, Namespace: namespace}
	cfg.CurrentContext = "dev"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", err
	}
	return path, nil
}

// writeServiceAccountToken requests a fresh token and replaces the file
// atomically, so a reader never sees half a token.
func writeServiceAccountToken(ctx context.Context, cs kubernetes.Interface, namespace, sa, path string) error {
	expiry := int64(serviceAccountTokenTTL / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, sa, err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(tr.Status.Token), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// downward resolves the Downward API fields the issuer pod uses.
func downward(e corev1.EnvVar, namespace, podName string) string {
	if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil {
		return e.Value
	}
	switch e.ValueFrom.FieldRef.FieldPath {
	case "metadata.name":
		return podName
	case "metadata.namespace":
		return namespace
	}
	return ""
}
