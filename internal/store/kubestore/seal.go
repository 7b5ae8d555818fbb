package kubestore

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/audit"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/store/kubestore/segment"
)

// Labels and keys of a segment ConfigMap.
const (
	// ManagedByLabel is the label config/rbac's admission policy requires on every object hugai
	// writes.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// AuditOfLabel holds the UID of the HugAIDeployment whose events a segment holds: the UID,
	// not the name, so a deleted and recreated object never reads its predecessor's chain.
	AuditOfLabel = "hugai.io/audit-of"
	// EventsKey is the segment's data key: a JSON array of audit events, in seq order.
	EventsKey = "events.json"
	firstAnn  = "hugai.io/audit-first-seq"
	lastAnn   = "hugai.io/audit-last-seq"
)

// seal writes events (committed ones, in seq order) into immutable segment ConfigMaps owned by
// hd. It runs before the status write that drops them from the tail: if that write never
// happens the events are in both places, which verification reads as one. A segment that exists
// already (the same seal, retried) is accepted only if it holds exactly these events.
func seal(ctx context.Context, c client.Client, hd *hugaiv1.HugAIDeployment, events []audit.Event) error {
	for _, seg := range segment.Chunks(events) {
		first, last := seg[0].Seq, seg[len(seg)-1].Seq
		data, err := segment.Encode(seg)
		if err != nil {
			return fmt.Errorf("seal audit events %d-%d: %w", first, last, err)
		}
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name: segment.Name(hd.Name, first, last), Namespace: hd.Namespace,
				Labels: map[string]string{ManagedByLabel: "hugai", AuditOfLabel: string(hd.UID)},
				Annotations: map[string]string{
					firstAnn: strconv.FormatInt(first, 10), lastAnn: strconv.FormatInt(last, 10),
				},
				// Deleting the HugAIDeployment deletes its chain with it, as deleting a service's
				// data dir would.
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: hugaiv1.GroupVersion.String(), Kind: "HugAIDeployment", Name: hd.Name, UID: hd.UID,
				}},
			},
			Immutable: ptr.To(true),
			Data:      map[string]string{EventsKey: string(data)},
		}
		err = c.Create(ctx, cm)
		if apierrors.IsAlreadyExists(err) {
			var have corev1.ConfigMap
			if gerr := c.Get(ctx, client.ObjectKeyFromObject(cm), &have); gerr != nil {
				return fmt.Errorf("seal audit events %d-%d: read existing segment %s: %w", first, last, cm.Name, gerr)
			}
			if have.Labels[AuditOfLabel] != string(hd.UID) || have.Data[EventsKey] != string(data) {
				return fmt.Errorf("seal audit events %d-%d: segment %s exists and holds other events", first, last, cm.Name)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("seal audit events %d-%d into ConfigMap %s: %w", first, last, cm.Name, err)
		}
	}
	return nil
}

// readSegments returns the events of every segment of hd, in no particular order (merge sorts).
// A segment that cannot be decoded is tampering, reported at the first seq it claims.
func readSegments(ctx context.Context, c client.Reader, hd *hugaiv1.HugAIDeployment) ([]audit.Event, error) {
	var cms corev1.ConfigMapList
	if err := c.List(ctx, &cms, client.InNamespace(hd.Namespace), client.MatchingLabels{AuditOfLabel: string(hd.UID)}); err != nil {
		return nil, fmt.Errorf("list the audit segments of HugAIDeployment %s/%s: %w", hd.Namespace, hd.Name, err)
	}
	var out []audit.Event
	for _, cm := range cms.Items {
		seg, err := segment.Decode(cm.Name, cm.Annotations[firstAnn], cm.Data[EventsKey])
		if err != nil {
			return nil, err
		}
		out = append(out, seg...)
	}
	return out, nil
}
