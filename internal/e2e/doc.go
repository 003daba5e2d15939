// Package e2e holds the end-to-end tests: a real control plane (kube-apiserver, etcd,
// kube-controller-manager), the manager, the dev kubelet running issuer Pods as
// processes of the real binary, and clients nobody here wrote (go-oidc,
// oauth2-proxy, a kube-apiserver trusting a Tenant). It has no code of its own.
package e2e
