// Package manifests holds the Kubernetes manifests of the orders service: the service this chapter shuts down
// gracefully (10-shutdown), probes (10-probes) and packs into a FROM scratch image (10-image), with its gRPC API
// next to the HTTP one. The contract of that service, which the manifests must fit:
//
//   - HTTP on port 8080 (the image's port): GET /livez answers 200 while the process is alive and looks at no
//     dependency; GET /readyz answers 200 only when the database answers and the process is not draining, and
//     gives its database ping up to 1 s before it answers 503. gRPC on port 9090, with grpc.health.v1: the
//     overall status "" is NOT_SERVING in the same cases as /readyz.
//   - After SIGTERM it reports not ready, keeps serving for its drain delay, drains (in-flight calls, the Kafka
//     message, offsets) and closes the database, all within its shutdown budget: at least 20 s.
//   - It starts within 30 s (migrations, warm caches) and needs no write access to its root filesystem.
//   - It reads its settings from environment variables, which the ConfigMap orders-config holds: HTTP_ADDR and
//     GRPC_ADDR (listen addresses, such as ":8080"), DRAIN_DELAY and SHUTDOWN_BUDGET (Go durations, the
//     DrainDelay and Budget of 10-shutdown's Config). A variable that is not set keeps its built-in default.
//   - The image is FROM scratch, runs as uid 65532 and has no shell and no sleep binary.
//
// Manifests is a multi-document YAML file kept in a Go string so that labctl can check, reset and diff it like
// any other exercise file. `go run ./10-deploy/cmd/manifests` prints it for kubectl.
package manifests

// Manifests are the objects to `kubectl apply -f`: the ConfigMap, the Deployment, the headless Service, the
// HorizontalPodAutoscaler and the PodDisruptionBudget of the orders service (Kubernetes 1.30 or later).
const Manifests = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: orders-config
  labels:
    app.kubernetes.io/name: orders
data:
  HTTP_ADDR: ":8080"
  GRPC_ADDR: ":9090"
  DRAIN_DELAY: 2s
  SHUTDOWN_BUDGET: 20s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  labels:
    app.kubernetes.io/name: orders
spec:
  # No replicas: the HorizontalPodAutoscaler owns the count. With replicas here, every kubectl apply would
  # reset the count the HPA chose.
  selector:
    matchLabels:
      app.kubernetes.io/name: orders
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Never below the wanted count during a rollout: start a new pod, wait until it is ready, then stop an
      # old one.
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        app.kubernetes.io/name: orders
    spec:
      # preStop sleep (5 s) + SHUTDOWN_BUDGET (20 s) + a margin. The countdown starts with the preStop hook;
      # when it runs out, the kubelet sends SIGKILL.
      terminationGracePeriodSeconds: 40
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: orders
          # A fixed version, never :latest: every node runs the same code, and a rollback means something.
          image: registry.example.com/microlab/orders:1.4.2
          ports:
            - name: grpc
              containerPort: 9090
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: orders-config
          resources:
            # The scheduler places pods by requests; the HPA's utilisation is a percentage of the CPU request.
            requests:
              cpu: 250m
              memory: 128Mi
            limits:
              cpu: "1"
              memory: 256Mi
          # Until the first success, neither liveness nor readiness runs. The kubelet probes at once, then every
          # 2 s, and restarts on the 20th failure in a row: 19 x 2 s + 1 s timeout = 39 s to start (30 s needed).
          startupProbe:
            httpGet:
              path: /livez
              port: http
            periodSeconds: 2
            failureThreshold: 20
          # Restart only a process that is stuck itself; a database outage must not restart every pod.
          livenessProbe:
            httpGet:
              path: /livez
              port: http
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          # Out of the Service while the database is down or the process drains. timeoutSeconds exceeds the 1 s
          # that /readyz gives its database ping, so the probe gets the service's answer, not a timeout.
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          lifecycle:
            # Keep serving while the endpoint removal reaches every client and kube-proxy; the image has no
            # sleep binary, so it is the kubelet's sleep action (Kubernetes 1.30+), not exec.
            preStop:
              sleep:
                seconds: 5
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
---
# Headless: DNS returns the address of every ready pod, and the client's round_robin balancer spreads calls
# over them. A ClusterIP would balance connections, and a gRPC client keeps one connection for all its calls.
apiVersion: v1
kind: Service
metadata:
  name: orders
  labels:
    app.kubernetes.io/name: orders
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: orders
  ports:
    - name: grpc
      port: 9090
      targetPort: grpc
      appProtocol: grpc
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: orders
  labels:
    app.kubernetes.io/name: orders
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: orders
  minReplicas: 3
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
---
# A node drain may evict one pod at a time; the other two keep serving.
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: orders
  labels:
    app.kubernetes.io/name: orders
spec:
  maxUnavailable: 1
  # A pod that is not ready does not serve anyway: evicting it must not block the drain.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      app.kubernetes.io/name: orders
`
