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
  replicas: 1
  # TODO(10-manifests): a rolling update that never goes below the wanted number of ready pods.
  selector:
    matchLabels:
      app.kubernetes.io/name: orders
  template:
    metadata:
      labels:
        app.kubernetes.io/name: orders
    spec:
      # TODO(10-manifests): a grace period longer than the preStop sleep plus SHUTDOWN_BUDGET; a pod securityContext
      # that refuses to run as root (uid 65532) with the RuntimeDefault seccomp profile.
      containers:
        - name: orders
          # TODO(10-manifests): a fixed version, not latest.
          image: registry.example.com/microlab/orders:latest
          ports:
            - name: grpc
              containerPort: 9090
          # TODO(10-manifests): the HTTP port 8080; settings from the ConfigMap orders-config; CPU and memory
          # requests and limits; startup, liveness and readiness probes (each on the right endpoint,
          # and readiness patient enough for the 1 s database ping behind /readyz); a preStop
          # hook that waits for the endpoint removal to spread; a container securityContext (no privilege
          # escalation, read-only root filesystem, no capabilities).
# TODO(10-manifests): a headless Service for gRPC clients, a HorizontalPodAutoscaler on CPU utilisation and a
# PodDisruptionBudget that lets a node drain proceed, one pod at a time.
`
