package manifests_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gomicrolab/microlab/chapters/10-deploy/manifests"
)

// The contract of the orders service (see the package documentation): the manifests must fit it. The HTTP port is
// the image's (10-image), the probe endpoints and the readiness check's bound are 10-probes', the drain delay and the
// shutdown budget are 10-shutdown's Config.
const (
	grpcPort  = 9090
	httpPort  = 8080
	livePath  = "/livez"  // the process is alive; looks at no dependency
	readyPath = "/readyz" // the database answers and the process is not draining
	// readyCheck bounds the database ping behind /readyz (probes.Checker.Timeout): it answers 503 by then.
	readyCheck = 1 * time.Second
	// shutdownBudget is the least the service needs from SIGTERM to exit (shutdown.Config.Budget): drain delay,
	// in-flight calls and the Kafka message, offsets, database.
	shutdownBudget = 20 * time.Second
	startupBudget  = 30 * time.Second
	configMapName  = "orders-config"
	// minPreStop is the least time between the pod leaving the endpoints and SIGTERM: the EndpointSlice change
	// reaches kube-proxy, DNS caches and clients' resolvers in a few seconds on a healthy cluster.
	minPreStop = 3 * time.Second
)

// The environment variables the service reads its settings from (shutdown.Config). A variable that is not set
// leaves the built-in default in place without a word.
const (
	envHTTPAddr       = "HTTP_ADDR"       // listen address of /livez, /readyz and the API, e.g. ":8080"
	envGRPCAddr       = "GRPC_ADDR"       // listen address of the gRPC server, e.g. ":9090"
	envDrainDelay     = "DRAIN_DELAY"     // Config.DrainDelay: keep serving after reporting not ready, e.g. "2s"
	envShutdownBudget = "SHUTDOWN_BUDGET" // Config.Budget: SIGTERM to exit, e.g. "20s"
)

// objects are the documents of manifests.Manifests, decoded into the API types.
type objects struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
	configMap  *corev1.ConfigMap
}

// decodeManifests splits the multi-document YAML and decodes each document strictly (an unknown or duplicate
// field is an error, as `kubectl apply --validate=strict` and the API server's fieldValidation=Strict make it) into
// the API type its apiVersion and kind name.
func decodeManifests(src string) (objects, error) {
	var o objects
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(src)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return o, fmt.Errorf("document %d: %w", i, err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return o, fmt.Errorf("document %d: not YAML: %w", i, err)
		}
		if tm.APIVersion == "" && tm.Kind == "" {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue // an empty document (only comments)
			}
			return o, fmt.Errorf("document %d has no apiVersion and kind: every object names its type", i)
		}
		var target any
		dup := false
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			dup = o.deployment != nil
			o.deployment = &appsv1.Deployment{}
			target = o.deployment
		case "v1 Service":
			dup = o.service != nil
			o.service = &corev1.Service{}
			target = o.service
		case "autoscaling/v2 HorizontalPodAutoscaler":
			dup = o.hpa != nil
			o.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
			target = o.hpa
		case "policy/v1 PodDisruptionBudget":
			dup = o.pdb != nil
			o.pdb = &policyv1.PodDisruptionBudget{}
			target = o.pdb
		case "v1 ConfigMap":
			dup = o.configMap != nil
			o.configMap = &corev1.ConfigMap{}
			target = o.configMap
		case "autoscaling/v1 HorizontalPodAutoscaler":
			return o, fmt.Errorf("document %d: autoscaling/v1 HorizontalPodAutoscaler: use autoscaling/v2 (GA since Kubernetes 1.23), which has the metrics list", i)
		case "policy/v1beta1 PodDisruptionBudget":
			return o, fmt.Errorf("document %d: policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25: use policy/v1", i)
		default:
			return o, fmt.Errorf("document %d: apiVersion %q kind %q: want one of apps/v1 Deployment, v1 Service, autoscaling/v2 HorizontalPodAutoscaler, policy/v1 PodDisruptionBudget, v1 ConfigMap", i, tm.APIVersion, tm.Kind)
		}
		if dup {
			return o, fmt.Errorf("document %d: a second %s %s: the orders service needs exactly one", i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, target); err != nil {
			return o, fmt.Errorf("document %d (%s %s): strict decoding: %w (a lenient client drops a misspelt or misplaced field without a word: the setting you wrote never reaches the cluster)", i, tm.APIVersion, tm.Kind, err)
		}
	}
	return o, nil
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines(doc) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			b.Write(line)
		}
	}
	return b.Bytes()
}

// load decodes manifests.Manifests and fails the test when it does not decode.
func load(t *testing.T) objects {
	t.Helper()
	o, err := decodeManifests(manifests.Manifests)
	require.NoError(t, err, "decoding manifests.Manifests")
	return o
}

// need fails the test when an object is missing.
func need[T any](t *testing.T, obj *T, kind, why string) *T {
	t.Helper()
	if obj == nil {
		t.Fatalf("manifests.Manifests has no %s document, want one: %s", kind, why)
	}
	return obj
}

func deployment(t *testing.T, o objects) *appsv1.Deployment {
	t.Helper()
	return need(t, o.deployment, "apps/v1 Deployment", "it runs the orders pods")
}

// container returns the orders container (the only one, or the one named orders).
func container(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	require.NotEmpty(t, cs, "Deployment %s has no containers", d.Name)
	if len(cs) == 1 {
		return &cs[0]
	}
	for i := range cs {
		if cs[i].Name == "orders" {
			return &cs[i]
		}
	}
	t.Fatalf("Deployment %s has %d containers and none is named orders", d.Name, len(cs))
	return nil
}

// fewestPods is the fewest replicas the Deployment runs once the HPA is in charge: its minReplicas (an HPA
// raises a Deployment below it), else the Deployment's replicas (default 1).
func fewestPods(o objects) int {
	if o.hpa != nil && o.hpa.Spec.MinReplicas != nil {
		return int(*o.hpa.Spec.MinReplicas)
	}
	if o.hpa != nil {
		return 1 // the HPA's default minReplicas
	}
	if o.deployment != nil && o.deployment.Spec.Replicas != nil {
		return int(*o.deployment.Spec.Replicas)
	}
	return 1
}

func TestManifestsDecodeStrict(t *testing.T) {
	o := load(t)
	need(t, o.configMap, "v1 ConfigMap", "it holds the service's settings")
	deployment(t, o)
	need(t, o.service, "v1 Service", "clients find the pods through it")
	need(t, o.hpa, "autoscaling/v2 HorizontalPodAutoscaler", "it scales the Deployment with the CPU load")
	need(t, o.pdb, "policy/v1 PodDisruptionBudget", "it keeps a node drain from taking every pod at once")
}

// TestManifestsDecoderIsStrict proves that the decoder of these tests refuses what a lenient client drops.
func TestManifestsDecoderIsStrict(t *testing.T) {
	for name, src := range map[string]string{
		"unknown field":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndatas:\n  a: b\n",
		"duplicate field": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n",
		"two services":    "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n",
	} {
		_, err := decodeManifests(src)
		require.Error(t, err, "decodeManifests(%s) = nil error, want one", name)
	}
}

func TestManifestsSelectors(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	podLabels := labels.Set(d.Spec.Template.Labels)
	require.NotEmpty(t, podLabels, "Deployment %s: spec.template.metadata.labels is empty: Services, PDBs and the Deployment's own selector find pods by these labels", d.Name)

	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	require.NoError(t, err, "Deployment %s: spec.selector", d.Name)
	require.False(t, sel.Empty(), "Deployment %s: spec.selector is empty, want the pod template's labels", d.Name)
	require.True(t, sel.Matches(podLabels), "Deployment %s: spec.selector %s does not match the pod template's labels %v: the Deployment would not own its own pods (the API server refuses it)", d.Name, sel, podLabels)

	svc := need(t, o.service, "v1 Service", "clients find the pods through it")
	require.NotEmpty(t, svc.Spec.Selector, "Service %s: spec.selector is empty: without it Kubernetes manages no endpoints and DNS returns no pod", svc.Name)
	svcSel := labels.SelectorFromSet(svc.Spec.Selector)
	require.True(t, svcSel.Matches(podLabels), "Service %s: selector %s does not match the pod template's labels %v: the Service has no endpoints and every call fails", svc.Name, svcSel, podLabels)

	pdb := need(t, o.pdb, "policy/v1 PodDisruptionBudget", "it keeps a node drain from taking every pod at once")
	pdbSel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	require.NoError(t, err, "PodDisruptionBudget %s: spec.selector", pdb.Name)
	require.False(t, pdbSel.Empty(), "PodDisruptionBudget %s: spec.selector is empty: in policy/v1 an empty selector selects every pod of the namespace", pdb.Name)
	require.True(t, pdbSel.Matches(podLabels), "PodDisruptionBudget %s: selector %s does not match the pod template's labels %v: the budget protects no orders pod", pdb.Name, pdbSel, podLabels)

	// Another app's pod: the labels the Deployment's selector pins (else all the template's labels) carry other
	// values.
	pinned := d.Spec.Selector.MatchLabels
	if len(pinned) == 0 {
		pinned = d.Spec.Template.Labels
	}
	other := labels.Set{}
	for k, v := range podLabels {
		other[k] = v
	}
	for k, v := range pinned {
		other[k] = "not-" + v
	}
	require.False(t, sel.Matches(other), "Deployment %s: spec.selector %s also matches another app's pods (%v): its ReplicaSets would count and adopt them", d.Name, sel, other)
	require.False(t, svcSel.Matches(other), "Service %s: selector %s also matches another app's pods (%v): calls to orders would land on them", svc.Name, svcSel, other)
	require.False(t, pdbSel.Matches(other), "PodDisruptionBudget %s: selector %s also matches another app's pods (%v): their budgets then cover the same pods, and the Eviction API refuses to evict a pod with more than one budget (500), so every drain of their nodes stalls; select the Deployment's pods only", pdb.Name, pdbSel, other)

	hpa := need(t, o.hpa, "autoscaling/v2 HorizontalPodAutoscaler", "it scales the Deployment with the CPU load")
	ref := hpa.Spec.ScaleTargetRef
	require.Equal(t, "apps/v1 Deployment "+d.Name, ref.APIVersion+" "+ref.Kind+" "+ref.Name,
		"HorizontalPodAutoscaler %s: scaleTargetRef = %s %s %s, want apps/v1 Deployment %s: the HPA scales nothing else", hpa.Name, ref.APIVersion, ref.Kind, ref.Name, d.Name)
}

func TestManifestsHeadlessGRPCService(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	c := container(t, d)
	svc := need(t, o.service, "v1 Service", "clients find the pods through it")

	require.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP,
		"Service %s: spec.clusterIP = %q, want None (headless): a ClusterIP balances connections, and a gRPC client sends every call over one HTTP/2 connection, so one pod would get all of them; headless DNS returns every ready pod and the client's round_robin balancer spreads the calls", svc.Name, svc.Spec.ClusterIP)
	require.Contains(t, []corev1.ServiceType{"", corev1.ServiceTypeClusterIP}, svc.Spec.Type,
		"Service %s: type = %s, want ClusterIP (the default) with clusterIP None: the service is internal", svc.Name, svc.Spec.Type)

	var cport *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].ContainerPort == grpcPort {
			cport = &c.Ports[i]
		}
	}
	require.NotNil(t, cport, "container %s: no containerPort %d: declare the gRPC port (named, so that probes and the Service can refer to it)", c.Name, grpcPort)

	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].AppProtocol != nil && *svc.Spec.Ports[i].AppProtocol == "grpc" || svc.Spec.Ports[i].Name == "grpc" {
			sp = &svc.Spec.Ports[i]
		}
	}
	require.NotNil(t, sp, "Service %s: no port named grpc with appProtocol grpc: meshes, gateways and the reader need to know it is gRPC (HTTP/2), not plain TCP", svc.Name)
	require.Equal(t, "grpc", sp.Name, "Service %s: the gRPC port is named %q, want grpc", svc.Name, sp.Name)
	require.NotNil(t, sp.AppProtocol, "Service %s port %s: appProtocol is not set, want grpc", svc.Name, sp.Name)
	require.Equal(t, "grpc", *sp.AppProtocol, "Service %s port %s: appProtocol = %q, want grpc", svc.Name, sp.Name, *sp.AppProtocol)

	target := sp.TargetPort
	if target.Type == intstr.Int && target.IntVal == 0 {
		target = intstr.FromInt32(sp.Port) // targetPort defaults to port
	}
	switch target.Type {
	case intstr.String:
		require.Equal(t, cport.Name, target.StrVal, "Service %s port %s: targetPort %q names no gRPC container port (the container's port %d is named %q): the endpoints get no port and calls fail", svc.Name, sp.Name, target.StrVal, grpcPort, cport.Name)
	default:
		require.EqualValues(t, grpcPort, target.IntVal, "Service %s port %s: targetPort %d, want the container's gRPC port %d: calls would reach a port nothing listens on", svc.Name, sp.Name, target.IntVal, grpcPort)
	}
	require.False(t, svc.Spec.PublishNotReadyAddresses, "Service %s: publishNotReadyAddresses = true: DNS would return pods that are not ready (starting, database down) and terminating pods too (their endpoints stay ready)", svc.Name)
}

// probeTarget describes where a probe points: "http <port> <path>", "grpc <port> <service>", "tcp <port>" or "exec".
func probeTarget(c *corev1.Container, p *corev1.Probe) string {
	port := func(ip intstr.IntOrString) int32 {
		if ip.Type == intstr.Int {
			return ip.IntVal
		}
		for _, cp := range c.Ports {
			if cp.Name == ip.StrVal {
				return cp.ContainerPort
			}
		}
		return -1
	}
	switch {
	case p.HTTPGet != nil:
		return fmt.Sprintf("http %d %s", port(p.HTTPGet.Port), p.HTTPGet.Path)
	case p.GRPC != nil:
		svc := ""
		if p.GRPC.Service != nil {
			svc = *p.GRPC.Service
		}
		return fmt.Sprintf("grpc %d %q", p.GRPC.Port, svc)
	case p.TCPSocket != nil:
		return fmt.Sprintf("tcp %d", port(p.TCPSocket.Port))
	case p.Exec != nil:
		return "exec " + strings.Join(p.Exec.Command, " ")
	}
	return "none"
}

// window is how long a probe fails before it acts: failureThreshold x periodSeconds (with the API defaults 3
// and 10).
func window(p *corev1.Probe) time.Duration {
	ft, ps := p.FailureThreshold, p.PeriodSeconds
	if ft == 0 {
		ft = 3
	}
	if ps == 0 {
		ps = 10
	}
	return time.Duration(ft*ps) * time.Second
}

// untilRestart is how long a probe that never succeeds lets a container run: the kubelet probes as soon as
// initialDelaySeconds have passed, then every periodSeconds, and acts on the failureThreshold-th failure in a row,
// which comes timeoutSeconds after that probe started (pkg/kubelet/prober/worker.go). API defaults: 3, 10 s, 1 s.
func untilRestart(p *corev1.Probe) time.Duration {
	ft, ps, ts := p.FailureThreshold, p.PeriodSeconds, p.TimeoutSeconds
	if ft == 0 {
		ft = 3
	}
	if ps == 0 {
		ps = 10
	}
	if ts == 0 {
		ts = 1
	}
	return time.Duration(p.InitialDelaySeconds+(ft-1)*ps+ts) * time.Second
}

func TestManifestsProbes(t *testing.T) {
	o := load(t)
	c := container(t, deployment(t, o))
	ready := fmt.Sprintf("http %d %s", httpPort, readyPath)
	readyGRPC := fmt.Sprintf("grpc %d %q", grpcPort, "")
	live := fmt.Sprintf("http %d %s", httpPort, livePath)

	require.NotNil(t, c.ReadinessProbe, "container %s: no readinessProbe: a pod gets traffic as soon as it runs, before it can serve, and keeps it while its database is down or it drains", c.Name)
	got := probeTarget(c, c.ReadinessProbe)
	require.Contains(t, []string{ready, readyGRPC}, got,
		"container %s: readinessProbe = %s, want GET %s on port %d (or the gRPC health check of service \"\" on port %d): only it reports the database and the drain", c.Name, got, readyPath, httpPort, grpcPort)

	require.NotNil(t, c.LivenessProbe, "container %s: no livenessProbe: a deadlocked process would never be restarted", c.Name)
	got = probeTarget(c, c.LivenessProbe)
	require.Equal(t, live, got,
		"container %s: livenessProbe = %s, want GET %s on port %d: liveness must not depend on the database (an outage would restart every pod at once, and the restart does not fix the database) and must differ from readiness", c.Name, got, livePath, httpPort)

	// The service reports its own verdict within readyCheck; the kubelet must wait longer than that for it.
	rt := time.Duration(c.ReadinessProbe.TimeoutSeconds) * time.Second
	if rt == 0 {
		rt = time.Second // the API default
	}
	require.Greater(t, rt, readyCheck, "container %s: readinessProbe.timeoutSeconds = %v, want more than %v: /readyz gives its database ping up to %v before it answers 503, so a slow but healthy database would time the probe out and flap the pod out of the endpoints", c.Name, rt, readyCheck, readyCheck)

	// A slow start must not be taken for a dead process.
	switch sp := c.StartupProbe; {
	case sp != nil:
		require.Equal(t, live, probeTarget(c, sp), "container %s: startupProbe = %s, want GET %s on port %d: it guards the liveness probe, so it asks the same question", c.Name, probeTarget(c, sp), livePath, httpPort)
		require.GreaterOrEqual(t, untilRestart(sp), startupBudget,
			"container %s: startupProbe restarts a starting container after %v (initialDelaySeconds + (failureThreshold-1) x periodSeconds + timeoutSeconds: the kubelet probes at once, then every period, and acts on the failureThreshold-th failure), want at least %v: the service needs that long to start, so it would never start", c.Name, untilRestart(sp), startupBudget)
	default:
		lp := c.LivenessProbe
		require.GreaterOrEqual(t, untilRestart(lp), startupBudget,
			"container %s: no startupProbe, and livenessProbe restarts a starting container after %v (initialDelaySeconds + (failureThreshold-1) x periodSeconds + timeoutSeconds), want at least %v: add a startupProbe (or an initialDelaySeconds) or the pod restarts forever", c.Name, untilRestart(lp), startupBudget)
	}
	require.GreaterOrEqual(t, window(c.LivenessProbe), 10*time.Second,
		"container %s: livenessProbe restarts after %v of failures (failureThreshold x periodSeconds), want at least 10s: one GC pause or a slow node would restart a healthy process", c.Name, window(c.LivenessProbe))
}

func TestManifestsResources(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			require.True(t, hasReq && !req.IsZero(), "container %s: no %s request: the scheduler places pods by their requests, and without them the pod is BestEffort, the first to be evicted", c.Name, name)
			require.True(t, hasLim && !lim.IsZero(), "container %s: no %s limit: one pod with a leak or a hot loop takes the node's %s from its neighbours", c.Name, name, name)
			require.LessOrEqual(t, req.Cmp(lim), 0, "container %s: %s request %s > limit %s, want request <= limit", c.Name, name, req.String(), lim.String())
		}
		mem := c.Resources.Limits[corev1.ResourceMemory]
		require.GreaterOrEqual(t, mem.Cmp(resource.MustParse("64Mi")), 0, "container %s: memory limit %s, want at least 64Mi: a Go service below that is OOM-killed on its first burst", c.Name, mem.String())
	}
}

func TestManifestsAutoscaling(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	hpa := need(t, o.hpa, "autoscaling/v2 HorizontalPodAutoscaler", "it scales the Deployment with the CPU load")

	require.NotNil(t, hpa.Spec.MinReplicas, "HorizontalPodAutoscaler %s: minReplicas not set (default 1), want at least 2: one pod is no availability", hpa.Name)
	minR, maxR := *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas
	require.GreaterOrEqual(t, minR, int32(2), "HorizontalPodAutoscaler %s: minReplicas = %d, want at least 2: with one pod every restart and every drain is an outage", hpa.Name, minR)
	require.Greater(t, maxR, minR, "HorizontalPodAutoscaler %s: maxReplicas = %d, want more than minReplicas %d: otherwise it never scales", hpa.Name, maxR, minR)
	if r := d.Spec.Replicas; r != nil {
		require.True(t, *r >= minR && *r <= maxR, "Deployment %s: replicas = %d outside the HPA's [%d, %d]: every kubectl apply would move the count the HPA chose (leave replicas out when an HPA owns the Deployment)", d.Name, *r, minR, maxR)
	}

	var cpu *autoscalingv2.MetricTarget
	for _, m := range hpa.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU {
			cpu = &m.Resource.Target
		}
	}
	require.NotNil(t, cpu, "HorizontalPodAutoscaler %s: no Resource metric for cpu, want one with a Utilization target", hpa.Name)
	require.Equal(t, autoscalingv2.UtilizationMetricType, cpu.Type, "HorizontalPodAutoscaler %s: cpu target type = %s, want Utilization (a percentage of the pods' CPU requests)", hpa.Name, cpu.Type)
	require.NotNil(t, cpu.AverageUtilization, "HorizontalPodAutoscaler %s: cpu target has no averageUtilization", hpa.Name)
	u := *cpu.AverageUtilization
	require.True(t, u >= 40 && u <= 90, "HorizontalPodAutoscaler %s: averageUtilization = %d%%, want 40..90: below it pays for idle pods, above it there is no headroom while new pods start", hpa.Name, u)

	for _, c := range d.Spec.Template.Spec.Containers {
		req, ok := c.Resources.Requests[corev1.ResourceCPU]
		require.True(t, ok && !req.IsZero(), "container %s: no CPU request, but the HPA scales on CPU utilisation, which is a percentage of the request: without it the HPA reports \"missing request for cpu\" and never scales", c.Name)
	}
}

// scaled resolves an int or percentage against n pods, rounding up like the disruption and deployment controllers
// do for the values used here.
func scaled(t *testing.T, v *intstr.IntOrString, n int, roundUp bool, what string) int {
	t.Helper()
	got, err := intstr.GetScaledValueFromIntOrPercent(v, n, roundUp)
	require.NoError(t, err, "%s: %v", what, v)
	return got
}

func TestManifestsDisruptionBudget(t *testing.T) {
	o := load(t)
	pdb := need(t, o.pdb, "policy/v1 PodDisruptionBudget", "it keeps a node drain from taking every pod at once")
	n := fewestPods(o)
	require.GreaterOrEqual(t, n, 2, "the Deployment may run with %d pod(s) (HPA minReplicas, else replicas): a budget cannot protect one pod without blocking every drain", n)

	switch {
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable != nil:
		t.Fatalf("PodDisruptionBudget %s: both minAvailable and maxUnavailable are set, want one", pdb.Name)
	case pdb.Spec.MinAvailable != nil:
		minAvail := scaled(t, pdb.Spec.MinAvailable, n, true, "minAvailable")
		require.Less(t, minAvail, n, "PodDisruptionBudget %s: minAvailable %s = %d of %d pods: no eviction is ever allowed, so `kubectl drain` hangs and node upgrades stall; want fewer than the replicas (or maxUnavailable: 1)", pdb.Name, pdb.Spec.MinAvailable.String(), minAvail, n)
		require.GreaterOrEqual(t, minAvail, 1, "PodDisruptionBudget %s: minAvailable %s = 0: the budget allows evicting every pod", pdb.Name, pdb.Spec.MinAvailable.String())
	case pdb.Spec.MaxUnavailable != nil:
		maxUnavail := scaled(t, pdb.Spec.MaxUnavailable, n, true, "maxUnavailable")
		require.GreaterOrEqual(t, maxUnavail, 1, "PodDisruptionBudget %s: maxUnavailable %s = 0 of %d pods: no eviction is ever allowed, so `kubectl drain` hangs and node upgrades stall", pdb.Name, pdb.Spec.MaxUnavailable.String(), n)
		require.Less(t, maxUnavail, n, "PodDisruptionBudget %s: maxUnavailable %s = %d of %d pods: a drain may take every pod at once", pdb.Name, pdb.Spec.MaxUnavailable.String(), maxUnavail, n)
	default:
		t.Fatalf("PodDisruptionBudget %s: neither minAvailable nor maxUnavailable is set, want maxUnavailable: 1 (or a minAvailable below the replicas)", pdb.Name)
	}
}

func TestManifestsRollingUpdate(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	n := fewestPods(o)
	s := d.Spec.Strategy
	require.NotEqual(t, appsv1.RecreateDeploymentStrategyType, s.Type, "Deployment %s: strategy Recreate stops every pod before starting new ones: an outage on every release", d.Name)
	ru := s.RollingUpdate
	require.NotNil(t, ru, "Deployment %s: no strategy.rollingUpdate: the defaults (25%% unavailable) stop old pods before new ones are ready, want maxUnavailable: 0 and maxSurge >= 1", d.Name)
	require.NotNil(t, ru.MaxUnavailable, "Deployment %s: rollingUpdate.maxUnavailable not set (default 25%%), want 0: never fewer ready pods than wanted during a rollout", d.Name)
	// The deployment controller rounds maxUnavailable down and maxSurge up.
	require.Equal(t, 0, scaled(t, ru.MaxUnavailable, n, false, "maxUnavailable"), "Deployment %s: rollingUpdate.maxUnavailable = %s, want 0: the rollout must start a new pod and wait until it is ready before stopping an old one", d.Name, ru.MaxUnavailable.String())
	require.NotNil(t, ru.MaxSurge, "Deployment %s: rollingUpdate.maxSurge not set, want at least 1", d.Name)
	require.GreaterOrEqual(t, scaled(t, ru.MaxSurge, n, true, "maxSurge"), 1, "Deployment %s: rollingUpdate.maxSurge = %s, want at least 1 (with maxUnavailable 0 the rollout cannot progress otherwise)", d.Name, ru.MaxSurge.String())

	// A new pod may need the whole startup budget, plus scheduling, the image pull and minReadySeconds, before it
	// counts as progress.
	pd := 600 * time.Second // the API default
	if d.Spec.ProgressDeadlineSeconds != nil {
		pd = time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	}
	minReady := time.Duration(d.Spec.MinReadySeconds) * time.Second
	require.GreaterOrEqual(t, pd, 2*startupBudget+minReady, "Deployment %s: progressDeadlineSeconds = %v, want at least %v (twice the %v startup budget, plus minReadySeconds %v): a new pod that starts as slowly as the service may would mark a healthy rollout failed (ProgressDeadlineExceeded: kubectl rollout status exits 1 and the pipeline rolls back)", d.Name, pd, 2*startupBudget+minReady, startupBudget, minReady)
}

func TestManifestsGracefulShutdown(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	c := container(t, d)

	require.NotNil(t, c.Lifecycle, "container %s: no lifecycle.preStop: SIGTERM arrives at the same moment the pod's endpoint turns not ready, and kube-proxy, DNS and clients learn it seconds later: calls keep arriving at a process that is shutting down", c.Name)
	pre := c.Lifecycle.PreStop
	require.NotNil(t, pre, "container %s: no lifecycle.preStop: SIGTERM arrives at the same moment the pod's endpoint turns not ready, and kube-proxy, DNS and clients learn it seconds later: calls keep arriving at a process that is shutting down", c.Name)
	require.Nil(t, pre.Exec, "container %s: preStop exec %v: the image is FROM scratch, with no shell and no sleep binary, so the hook fails at once; use the kubelet's sleep action (preStop.sleep.seconds, Kubernetes 1.30+)", c.Name, execCommand(pre))
	require.NotNil(t, pre.Sleep, "container %s: preStop is not a sleep action, want preStop.sleep.seconds: wait until the endpoint removal has spread before the process starts to drain", c.Name)
	sleep := time.Duration(pre.Sleep.Seconds) * time.Second
	require.GreaterOrEqual(t, sleep, minPreStop, "container %s: preStop sleeps %v, want at least %v: the endpoint removal takes a few seconds to reach kube-proxy and the clients", c.Name, sleep, minPreStop)

	grace := 30 * time.Second // the API default
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	// The budget the process really gets is the one its environment sets (TestManifestsConfigMap checks the rest).
	budget := shutdownBudget
	if cm := o.configMap; cm != nil {
		if v, ok := containerEnv(c, cm)[envShutdownBudget]; ok {
			if b, err := time.ParseDuration(v); err == nil && b > budget {
				budget = b
			}
		}
	}
	require.Greater(t, grace, sleep+budget,
		"Deployment %s: terminationGracePeriodSeconds = %v, want more than preStop %v + shutdown budget %v (%s): the countdown starts with the preStop hook, and when it runs out the kubelet sends SIGKILL in the middle of the drain", d.Name, grace, sleep, budget, envShutdownBudget)
	require.LessOrEqual(t, grace, 2*(sleep+budget)+30*time.Second, "Deployment %s: terminationGracePeriodSeconds = %v: a stuck process would hold its node's drain that long", d.Name, grace)
}

func execCommand(h *corev1.LifecycleHandler) []string {
	if h.Exec == nil {
		return nil
	}
	return h.Exec.Command
}

func TestManifestsSecurityContext(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	ps := d.Spec.Template.Spec.SecurityContext
	if ps == nil {
		ps = &corev1.PodSecurityContext{}
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		sc := c.SecurityContext
		require.NotNil(t, sc, "container %s: no securityContext, want runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation: false and capabilities drop ALL", c.Name)
		nonRoot := ps.RunAsNonRoot
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		require.True(t, nonRoot != nil && *nonRoot, "container %s: runAsNonRoot is not true (pod or container securityContext): the kubelet would start a root image without complaint", c.Name)
		uid := ps.RunAsUser
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		require.False(t, uid != nil && *uid == 0, "container %s: runAsUser 0 is root", c.Name)
		require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "container %s: readOnlyRootFilesystem is not true: an attacker who gets code execution could write binaries and change files; the service needs no writes", c.Name)
		require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "container %s: allowPrivilegeEscalation is not false: setuid binaries could gain privileges (no_new_privs is off)", c.Name)
		require.False(t, sc.Privileged != nil && *sc.Privileged, "container %s: privileged", c.Name)
		require.NotNil(t, sc.Capabilities, "container %s: no capabilities, want drop: [ALL]: the runtime's default set includes NET_RAW, CHOWN, SETUID and more", c.Name)
		require.True(t, slices.Contains(sc.Capabilities.Drop, "ALL"), "container %s: capabilities.drop = %v, want [ALL]: the runtime's default set includes NET_RAW, CHOWN, SETUID and more", c.Name, sc.Capabilities.Drop)
		require.Empty(t, sc.Capabilities.Add, "container %s: capabilities.add = %v, want none: the service binds ports above 1024 and needs no capability", c.Name, sc.Capabilities.Add)
	}
}

func TestManifestsConfigMap(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	cm := need(t, o.configMap, "v1 ConfigMap", "it holds the service's settings")
	require.Equal(t, configMapName, cm.Name, "ConfigMap name = %q, want %s", cm.Name, configMapName)
	c := container(t, d)

	uses := false
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == cm.Name {
			require.False(t, ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional, "container %s: envFrom ConfigMap %s is optional: a missing or misnamed ConfigMap would start the pod on built-in defaults instead of failing to start", c.Name, cm.Name)
			require.Empty(t, ef.Prefix, "container %s: envFrom prefix %q: the service reads the variables by their names in the ConfigMap", c.Name, ef.Prefix)
			uses = true
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == cm.Name {
			require.False(t, e.ValueFrom.ConfigMapKeyRef.Optional != nil && *e.ValueFrom.ConfigMapKeyRef.Optional, "container %s: env %s from ConfigMap %s is optional: a missing key would start the pod on a default", c.Name, e.Name, cm.Name)
			uses = true
		}
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
			mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == v.Name })
			require.True(t, mounted, "volume %s (ConfigMap %s) is not mounted in container %s", v.Name, cm.Name, c.Name)
			uses = true
		}
	}
	require.True(t, uses, "container %s does not read ConfigMap %s (envFrom configMapRef, env valueFrom configMapKeyRef, or a configMap volume): the service would start with its built-in defaults", c.Name, cm.Name)

	env := containerEnv(c, cm)
	for _, name := range []string{envHTTPAddr, envGRPCAddr, envDrainDelay, envShutdownBudget} {
		_, ok := env[name]
		require.True(t, ok, "container %s: environment variable %s is not set (from ConfigMap %s or env), want it: the service reads its settings from %s, %s, %s and %s, and a misspelt key leaves the built-in default in place without a word", c.Name, name, cm.Name, envHTTPAddr, envGRPCAddr, envDrainDelay, envShutdownBudget)
	}
	for _, a := range []struct {
		name string
		port int
	}{{envHTTPAddr, httpPort}, {envGRPCAddr, grpcPort}} {
		host, port, err := net.SplitHostPort(env[a.name])
		require.NoError(t, err, "container %s: %s = %q, want host:port such as \":%d\"", c.Name, a.name, env[a.name], a.port)
		require.Contains(t, []string{"", "0.0.0.0", "::"}, host, "container %s: %s = %q, want \":%d\": in a container 127.0.0.1 is the pod's own loopback, and the kubelet's probes and the Service's clients come in on the pod IP: the pod would never be ready", c.Name, a.name, env[a.name], a.port)
		require.Equal(t, strconv.Itoa(a.port), port, "container %s: %s = %q, want port %d: the container port, the probes and the Service point there, so nothing would reach the server", c.Name, a.name, env[a.name], a.port)
	}
	delay, err := time.ParseDuration(env[envDrainDelay])
	require.NoError(t, err, "container %s: %s = %q, want a Go duration such as 2s", c.Name, envDrainDelay, env[envDrainDelay])
	budget, err := time.ParseDuration(env[envShutdownBudget])
	require.NoError(t, err, "container %s: %s = %q, want a Go duration such as 20s", c.Name, envShutdownBudget, env[envShutdownBudget])
	require.GreaterOrEqual(t, budget, shutdownBudget, "container %s: %s = %v, want at least %v: the drain of in-flight calls and the Kafka message, the offset commit and the database close need that long; a shorter budget cuts them off", c.Name, envShutdownBudget, budget, shutdownBudget)
	require.Less(t, delay, budget, "container %s: %s = %v with %s = %v, want less than the budget: the drain delay is spent before the drain starts, and the in-flight work gets only what is left", c.Name, envDrainDelay, delay, envShutdownBudget, budget)
}

// containerEnv is the environment the container starts with, as far as ConfigMap cm and literal values make it:
// envFrom first, then env (which wins).
func containerEnv(c *corev1.Container, cm *corev1.ConfigMap) map[string]string {
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == cm.Name {
			for k, v := range cm.Data {
				env[ef.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == cm.Name:
			if v, ok := cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]; ok {
				env[e.Name] = v
			}
		}
	}
	return env
}

func TestManifestsImagePinned(t *testing.T) {
	o := load(t)
	d := deployment(t, o)
	for _, c := range slices.Concat(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers) {
		img := c.Image
		require.NotEmpty(t, img, "container %s: no image", c.Name)
		if _, digest, ok := strings.Cut(img, "@"); ok {
			require.True(t, strings.HasPrefix(digest, "sha256:"), "container %s: image %s: a digest is sha256:<hex>", c.Name, img)
			continue
		}
		name := img[strings.LastIndex(img, "/")+1:]
		_, tag, hasTag := strings.Cut(name, ":")
		require.True(t, hasTag && tag != "" && tag != "latest", "container %s: image %q has tag %q, want a fixed version (orders:1.4.2 or @sha256:...): :latest (or no tag) means each node may run whatever it pulled last, and a rollback has nothing to roll back to", c.Name, img, tag)
		require.NotEqual(t, corev1.PullAlways, c.ImagePullPolicy, "container %s: imagePullPolicy Always with a fixed tag: every pod start depends on the registry, for an image the node already has", c.Name)
	}
}
