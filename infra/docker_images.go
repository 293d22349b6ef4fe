package infra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Which image serves a service, and the promise that no image is ever pulled.
//
// Each service has an official image (the testcontainers-go module's default) and a local stand-in that
// infra/images/build.sh builds without a registry. The official image wins when it is on this machine;
// otherwise the stand-in serves. LAB_<SERVICE>_IMAGE names one image to use instead of both.
// Nothing here pulls: an image that is not local is an error that names the builder.

// errImageMissing means that no usable image of a service is on this machine.
var errImageMissing = errors.New("image not on this machine")

// buildCommand is what a user runs to build the stand-in images.
const buildCommand = "infra/images/build.sh"

// standInPrefix starts the repository of every image build.sh makes; an override under it runs as a stand-in.
const standInPrefix = "microlab/"

// kfakeReadyLine is what infra/images/kfake prints once its broker accepts connections.
const kfakeReadyLine = "microlab kfake ready"

// dockerSpec says how to find an image for one service.
type dockerSpec struct {
	svc      Service
	official string // the testcontainers-go module's default image
	imageEnv string // variable that names one image to use instead
	standIn  string // tag made by infra/images/build.sh; keep in step with the tags there
	buildArg string // build.sh argument that builds standIn
}

var dockerSpecs = map[Service]dockerSpec{
	MySQLService:    {MySQLService, "mysql:8.0.36", "LAB_MYSQL_IMAGE", "microlab/mariadb:10.11", "mariadb"},
	RedisService:    {RedisService, "redis:7", "LAB_REDIS_IMAGE", "microlab/redis:7.0", "redis"},
	ConsulService:   {ConsulService, "hashicorp/consul:1.15", "LAB_CONSUL_IMAGE", "microlab/consul:1.20.6", "consul"},
	KafkaService:    {KafkaService, "confluentinc/confluent-local:7.5.0", "LAB_KAFKA_IMAGE", "microlab/kafka-kfake:1", "kafka"},
	PostgresService: {PostgresService, "postgres:16", "LAB_POSTGRES_IMAGE", "microlab/postgres:15", "postgres"},
	RabbitMQService: {RabbitMQService, "rabbitmq:3.10-management", "LAB_RABBITMQ_IMAGE", "microlab/rabbitmq:3.10", "rabbitmq"},
	// Jaeger v2.13.0 is the release of the module's v1.76.0 (JaegerVersion), which the stand-in is built from.
	JaegerService:     {JaegerService, "jaegertracing/jaeger:2.13.0", "LAB_JAEGER_IMAGE", "microlab/jaeger:2.13.0", "jaeger"},
	PrometheusService: {PrometheusService, "prom/prometheus:v2.53.0", "LAB_PROMETHEUS_IMAGE", "microlab/prometheus:2.42", "prometheus"},
	// The stand-in is etcd's own main at the version in go.mod (go.etcd.io/etcd/server/v3), built by build.sh.
	EtcdService: {EtcdService, "gcr.io/etcd-development/etcd:v3.5.21", "LAB_ETCD_IMAGE", "microlab/etcd:3.7.0", "etcd"},
}

func specFor(svc Service) (dockerSpec, error) {
	spec, ok := dockerSpecs[svc]
	if !ok {
		return dockerSpec{}, fmt.Errorf("docker: unknown service %q", svc)
	}
	return spec, nil
}

// imageChoice is the image picked for a service.
type imageChoice struct {
	ref     string // what testcontainers is given (before its hub prefix)
	local   string // the name it has on this machine (after the hub prefix)
	standIn bool   // a microlab/ image: started with its own command and wait strategy
}

// hubPrefix returns TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX as testcontainers reads it (environment or
// ~/.testcontainers.properties).
func hubPrefix() string { return testcontainers.ReadConfig().Config.HubImageNamePrefix }

// withHubPrefix returns the name testcontainers turns image into: Docker Hub images get the hub prefix,
// images that name another registry (a first path element with a dot or a port) keep their name.
func withHubPrefix(prefix, image string) string {
	if prefix == "" {
		return image
	}
	if first, _, ok := strings.Cut(image, "/"); ok && strings.ContainsAny(first, ".:") {
		return image
	}
	return path.Join(prefix, image)
}

// dockerHubSubstitutor rewrites images that name Docker Hub explicitly (docker.io/..., registry.hub.docker.com/...),
// which testcontainers' own hub prefix leaves alone, so that a mirror prefix applies to them too.
type dockerHubSubstitutor struct{ prefix string }

func (s dockerHubSubstitutor) Description() string {
	return "microlab Docker Hub mirror (" + s.prefix + ")"
}

func (s dockerHubSubstitutor) Substitute(image string) (string, error) {
	return stripDockerHub(s.prefix, image), nil
}

func stripDockerHub(prefix, image string) string {
	if prefix == "" {
		return image
	}
	for _, hub := range []string{"docker.io/", "index.docker.io/", "registry.hub.docker.com/"} {
		if rest, ok := strings.CutPrefix(image, hub); ok {
			return strings.TrimPrefix(rest, "library/")
		}
	}
	return image
}

// localOnlySubstitutor is the last substitutor before testcontainers' hub prefix. It changes nothing but
// fails the start when the image that would run is not on this machine, because testcontainers pulls
// missing images and has no setting to forbid that.
type localOnlySubstitutor struct{ prefix string }

func (localOnlySubstitutor) Description() string { return "microlab never-pull guard" }

func (s localOnlySubstitutor) Substitute(image string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	final := withHubPrefix(s.prefix, image)
	ok, err := imageExists(ctx, cli, final)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: %s (never pulled)", errImageMissing, final)
	}
	return image, nil
}

// imageSubstitutors returns the substitutors every container gets.
func imageSubstitutors() testcontainers.CustomizeRequestOption {
	prefix := hubPrefix()
	return testcontainers.WithImageSubstitutors(dockerHubSubstitutor{prefix}, localOnlySubstitutor{prefix})
}

func imageExists(ctx context.Context, cli client.APIClient, name string) (bool, error) {
	_, err := cli.ImageInspect(ctx, name)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", name, err)
	}
}

// chooseImage picks the image for spec among those on this machine: LAB_<SERVICE>_IMAGE if set,
// else the official image, else the stand-in. It never pulls.
func chooseImage(ctx context.Context, cli client.APIClient, spec dockerSpec) (imageChoice, error) {
	prefix := hubPrefix()
	candidates := []string{spec.official, spec.standIn}
	if v := strings.TrimSpace(os.Getenv(spec.imageEnv)); v != "" {
		candidates = []string{v}
	}
	var tried []string
	for _, ref := range candidates {
		ref = stripDockerHub(prefix, ref)
		choice := imageChoice{ref: ref, local: withHubPrefix(prefix, ref), standIn: strings.HasPrefix(ref, standInPrefix)}
		ok, err := imageExists(ctx, cli, choice.local)
		if err != nil {
			return imageChoice{}, err
		}
		if !ok && choice.standIn && choice.local != ref {
			// testcontainers would run the stand-in under the mirror prefix: give the local image that name too.
			if ok, err = aliasImage(ctx, cli, ref, choice.local); err != nil {
				return imageChoice{}, err
			}
		}
		if ok {
			return choice, nil
		}
		tried = append(tried, choice.local)
	}
	hint := fmt.Sprintf("build the local image with `%s %s` (or `docker pull %s` where a registry is reachable)",
		buildCommand, spec.buildArg, withHubPrefix(prefix, spec.official))
	if len(candidates) == 1 {
		hint = fmt.Sprintf("%s names it; build or load that image, or unset %s", spec.imageEnv, spec.imageEnv)
	}
	return imageChoice{}, fmt.Errorf("%w: none of %s, and images are never pulled; %s",
		errImageMissing, strings.Join(tried, ", "), hint)
}

// aliasImage tags the local image src as dst (a local operation) and reports whether src exists.
func aliasImage(ctx context.Context, cli client.APIClient, src, dst string) (bool, error) {
	ok, err := imageExists(ctx, cli, src)
	if err != nil || !ok {
		return false, err
	}
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: dst}); err != nil {
		return false, fmt.Errorf("tag %s as %s: %w", src, dst, err)
	}
	return true, nil
}
