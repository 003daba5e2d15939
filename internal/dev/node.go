package dev

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// nodeHeartbeat registers the Node "dev" and keeps its Ready condition and
// its Lease in kube-node-lease fresh, as a kubelet does, so that nothing
// in the control plane takes the node for gone.
type nodeHeartbeat struct {
	client kubernetes.Interface
	log    logr.Logger
	// lastStatus is when the Ready condition was last written.
	lastStatus time.Time
}

// Intervals of a kubelet's defaults: the Lease every 10 s, the node
// status at least every 5 minutes (here every minute).
const (
	nodeLeaseDuration   = 40
	nodeLeaseRenew      = 10 * time.Second
	nodeStatusFrequency = time.Minute
)

func (h *nodeHeartbeat) beat(ctx context.Context) error {
	now := metav1.NowMicro()
	if h.lastStatus.IsZero() || time.Since(h.lastStatus) >= nodeStatusFrequency {
		if err := h.writeNode(ctx); err != nil {
			return err
		}
		h.lastStatus = time.Now()
	}
	leases := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	lease, err := leases.Get(ctx, NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		holder, seconds := NodeName, int32(nodeLeaseDuration)
		_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: NodeName},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &now}}, metav1.CreateOptions{})
		return err
	}
	if err != nil || (lease.Spec.RenewTime != nil && now.Sub(lease.Spec.RenewTime.Time) < nodeLeaseRenew) {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// writeNode creates the node or refreshes its status.
func (h *nodeHeartbeat) writeNode(ctx context.Context) error {
	nodes := h.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: NodeName,
			Labels: map[string]string{corev1.LabelHostname: NodeName, corev1.LabelOSStable: "linux"}}}, metav1.CreateOptions{})
		if err == nil {
			h.log.Info("registered node", "node", NodeName)
		}
	}
	if err != nil {
		return err
	}
	now := metav1.Now()
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	node.Status.Capacity, node.Status.Allocatable = capacity, capacity
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: NodeName}}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "idtenant dev runs issuer Pods as local processes", LastHeartbeatTime: now, LastTransitionTime: now}}
	node.Status.NodeInfo.KubeletVersion = "idtenant-dev"
	_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}
