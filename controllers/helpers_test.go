package controllers_test

import (
	"context"
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// update re-reads obj and applies mutate until the write wins.
func update[T client.Object](t *testing.T, obj T, mutate func(T)) {
	t.Helper()
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		mutate(obj)
		g.Expect(k8s.Update(context.Background(), obj)).To(Succeed())
	})
}

// condition fetches obj and returns its condition of type typ.
func condition(g Gomega, obj client.Object, typ string) metav1.Condition {
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	var conds []metav1.Condition
	var gen int64
	switch o := obj.(type) {
	case *v1alpha1.Tenant:
		conds, gen = o.Status.Conditions, o.Status.ObservedGeneration
	case *v1alpha1.Application:
		conds, gen = o.Status.Conditions, o.Status.ObservedGeneration
	case *v1alpha1.API:
		conds, gen = o.Status.Conditions, o.Status.ObservedGeneration
	}
	g.Expect(gen).To(Equal(obj.GetGeneration()), "status describes the current generation")
	c := meta.FindStatusCondition(conds, typ)
	g.Expect(c).NotTo(BeNil(), "condition %s", typ)
	g.Expect(c.ObservedGeneration).To(Equal(obj.GetGeneration()))
	return *c
}

// expectReady waits until obj is Ready=True.
func expectReady(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, func(g Gomega) {
		g.Expect(condition(g, obj, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	})
}

// expectNotReady waits until obj is Ready=False with reason, and returns the
// Ready message.
func expectNotReady(t *testing.T, obj client.Object, reason string) string {
	t.Helper()
	var msg string
	eventually(t, func(g Gomega) {
		c := condition(g, obj, v1alpha1.ConditionReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(reason))
		msg = c.Message
	})
	return msg
}

// statusText is the object's status as a user sees it in -o yaml.
func statusText(g Gomega, app *v1alpha1.Application) string {
	b, err := json.Marshal(app.Status)
	g.Expect(err).NotTo(HaveOccurred())
	return string(b)
}
