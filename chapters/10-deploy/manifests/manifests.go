// Package manifests holds the Kubernetes manifests of the orders service: the gRPC service this chapter shuts
// down gracefully, probes and packs into a FROM scratch image. The contract of that service, which the manifests
// must fit:
//
//   - gRPC on port 9090 (with grpc.health.v1: the overall status "" is NOT_SERVING while the database is down
//     or the process drains), HTTP on port 8080: GET /livez answers 200 while the process is alive and does not
//     look at any dependency; GET /readyz answers 200 only when the database answers and the process is not
//     draining.
//   - After SIGTERM it takes up to 25 s to drain (finish in-flight calls, commit offsets, close the database).
//   - It starts within 30 s (migrations, warm caches) and needs no write access to its root filesystem.
//   - It reads its settings from environment variables, which the ConfigMap orders-config holds.
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
  LOG_LEVEL: info
  GRPC_ADDR: ":9090"
  HTTP_ADDR: ":8080"
  DRAIN_TIMEOUT: 25s
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
      # TODO(10-manifests): a grace period longer than the preStop sleep plus the 25 s drain; a pod securityContext
      # that refuses to run as root (uid 65532) with the RuntimeDefault seccomp profile.
      containers:
        - name: orders
          # TODO(10-manifests): a fixed version, not latest.
          image: registry.example.com/microlab/orders:latest
          ports:
            - name: grpc
              containerPort: 9090
          # TODO(10-manifests): the HTTP port 8080; settings from the ConfigMap orders-config; CPU and memory
          # requests and limits; startup, liveness and readiness probes (each on the right endpoint); a preStop
          # hook that waits for the endpoint removal to spread; a container securityContext (no privilege
          # escalation, read-only root filesystem, no capabilities).
# TODO(10-manifests): a headless Service for gRPC clients, a HorizontalPodAutoscaler on CPU utilisation and a
# PodDisruptionBudget that lets a node drain proceed, one pod at a time.
`
