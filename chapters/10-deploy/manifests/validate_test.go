package manifests_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	"k8s.io/kubernetes/pkg/apis/apps"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	"k8s.io/kubernetes/pkg/apis/autoscaling"
	_ "k8s.io/kubernetes/pkg/apis/autoscaling/install"
	autoscalingvalidation "k8s.io/kubernetes/pkg/apis/autoscaling/validation"
	"k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/apis/policy"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"
	policyvalidation "k8s.io/kubernetes/pkg/apis/policy/validation"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/stretchr/testify/require"
)

// The API server turns what it receives into its internal types and validates those: versioned object ->
// defaults -> conversion -> the validation functions of k8s.io/kubernetes/pkg/apis/*/validation, with the options
// its registry strategies pass on create. These tests run that same code (Kubernetes v1.37.2) in process.

// toInternal defaults a versioned object (in the default namespace, as kubectl sends it) and converts it to the
// API server's internal type.
func toInternal[T any](t *testing.T, versioned runtime.Object, meta *metav1.ObjectMeta) *T {
	t.Helper()
	obj := versioned.DeepCopyObject()
	legacyscheme.Scheme.Default(obj)
	internal := new(T)
	require.NoError(t, legacyscheme.Scheme.Convert(obj, internal, nil), "converting %s to the internal type", meta.Name)
	return internal
}

func inDefaultNamespace(m *metav1.ObjectMeta) {
	if m.Namespace == "" {
		m.Namespace = metav1.NamespaceDefault
	}
}

func requireValid(t *testing.T, kind, name string, errs field.ErrorList) {
	t.Helper()
	if len(errs) > 0 {
		t.Fatalf("%s %s: the API server would refuse it (Kubernetes v1.37.2 validation):\n%v", kind, name, errs.ToAggregate())
	}
}

func TestManifestsAPIValidation(t *testing.T) {
	o := load(t)

	cm := need(t, o.configMap, "v1 ConfigMap", "it holds the service's settings").DeepCopy()
	inDefaultNamespace(&cm.ObjectMeta)
	requireValid(t, "ConfigMap", cm.Name, corevalidation.ValidateConfigMap(toInternal[core.ConfigMap](t, cm, &cm.ObjectMeta)))

	d := deployment(t, o).DeepCopy()
	inDefaultNamespace(&d.ObjectMeta)
	in := toInternal[apps.Deployment](t, d, &d.ObjectMeta)
	requireValid(t, "Deployment", d.Name, appsvalidation.ValidateDeployment(in, podutil.GetValidationOptionsFromPodTemplate(&in.Spec.Template, nil)))

	svc := need(t, o.service, "v1 Service", "clients find the pods through it").DeepCopy()
	inDefaultNamespace(&svc.ObjectMeta)
	isvc := toInternal[core.Service](t, svc, &svc.ObjectMeta)
	// The Service storage fills the plural clusterIPs from clusterIP before it validates (normalizeClusterIPs in
	// pkg/registry/core/service/storage), and allocates an address when both are empty; validation sees the result.
	if isvc.Spec.ClusterIP != "" && len(isvc.Spec.ClusterIPs) == 0 {
		isvc.Spec.ClusterIPs = []string{isvc.Spec.ClusterIP}
	}
	requireValid(t, "Service", svc.Name, corevalidation.ValidateServiceCreate(isvc))

	hpa := need(t, o.hpa, "autoscaling/v2 HorizontalPodAutoscaler", "it scales the Deployment with the CPU load").DeepCopy()
	inDefaultNamespace(&hpa.ObjectMeta)
	requireValid(t, "HorizontalPodAutoscaler", hpa.Name, autoscalingvalidation.ValidateHorizontalPodAutoscaler(
		toInternal[autoscaling.HorizontalPodAutoscaler](t, hpa, &hpa.ObjectMeta),
		autoscalingvalidation.HorizontalPodAutoscalerSpecValidationOptions{ // the registry strategy's options on create
			MinReplicasLowerBound:           1,
			ScaleTargetRefValidationOptions: autoscalingvalidation.CrossVersionObjectReferenceValidationOptions{},
			ObjectMetricsValidationOptions:  autoscalingvalidation.CrossVersionObjectReferenceValidationOptions{AllowEmptyAPIGroup: true},
		}))

	pdb := need(t, o.pdb, "policy/v1 PodDisruptionBudget", "it keeps a node drain from taking every pod at once").DeepCopy()
	inDefaultNamespace(&pdb.ObjectMeta)
	requireValid(t, "PodDisruptionBudget", pdb.Name, policyvalidation.ValidatePodDisruptionBudget(
		toInternal[policy.PodDisruptionBudget](t, pdb, &pdb.ObjectMeta), policyvalidation.PodDisruptionBudgetValidationOptions{}))
}

// TestManifestsPodSecurityRestricted runs the Pod Security admission checks (k8s.io/pod-security-admission, the code
// behind the namespace label pod-security.kubernetes.io/enforce=restricted) on the pod template.
func TestManifestsPodSecurityRestricted(t *testing.T) {
	d := deployment(t, load(t))
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	require.NoError(t, err)
	spec := d.Spec.Template.Spec.DeepCopy()
	meta := d.Spec.Template.ObjectMeta.DeepCopy()
	res := psapolicy.AggregateCheckResults(eval.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, meta, spec))
	require.True(t, res.Allowed, "Deployment %s: the pod template violates the Pod Security Standard \"restricted\" (a namespace with pod-security.kubernetes.io/enforce=restricted refuses the pods): %s", d.Name, res.ForbiddenDetail())
}
