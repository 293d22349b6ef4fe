package infra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// removeContainerAndDir removes a container and the host directory that a Prometheus container mounts.
func removeContainerAndDir(ctx context.Context, cli *testcontainers.DockerClient, id string) error {
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err := removeContainer(ctx, cli, id); err != nil {
		return err
	}
	if err == nil && res.Container.Config != nil {
		removePrometheusDir(res.Container.Config.Labels)
	}
	return nil
}

// removeContainer force-removes one container and its anonymous volumes.
func removeContainer(ctx context.Context, cli *testcontainers.DockerClient, id string) error {
	_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

func ownerLabel(pid int) string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(pid)
}

// sweepOrphans removes the containers of their own (not reused) that processes on this host left when they died
// without cleaning up: a test binary killed by a timeout, an interrupt or a crash. It is best effort.
func (p *dockerProvider) sweepOrphans(ctx context.Context, cli *testcontainers.DockerClient) {
	items, err := listContainers(ctx, cli, labelMicrolab+"=1", labelOwner)
	if err != nil {
		return
	}
	host, _ := os.Hostname()
	for _, c := range items {
		h, pid, ok := strings.Cut(c.Labels[labelOwner], "/")
		n, err := strconv.Atoi(pid)
		if ok && err == nil && h == host && !pidAlive(n) {
			_ = removeContainer(ctx, cli, c.ID)
			removePrometheusDir(c.Labels)
		}
	}
}

// dropStale removes a reusable container that was created from another image (LAB_*_IMAGE changed, or the
// official image arrived) or on another network (labelNetwork differs from netMode), so that reuse never
// serves a stale container. It refuses to touch a container of that name that is not ours.
func (p *dockerProvider) dropStale(ctx context.Context, cli *testcontainers.DockerClient, name, ref, netMode string) error {
	id, labels, err := inspectNamed(ctx, cli, name)
	if id == "" || err != nil {
		return err
	}
	if labels[labelMicrolab] != "1" {
		return fmt.Errorf("docker: a container named %s exists but is not microlab's (no label %s=1); remove or rename it", name, labelMicrolab)
	}
	if labels[labelImage] == ref && labels[labelNetwork] == netMode {
		return nil
	}
	_, err = cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove stale %s (image %s, network %q; now %s, %q): %w", name, labels[labelImage], labels[labelNetwork], ref, netMode, err)
	}
	return nil
}

// inspectNamed returns the id and labels of the container called name, or "" when there is none.
func inspectNamed(ctx context.Context, cli *testcontainers.DockerClient, name string) (id string, labels map[string]string, err error) {
	res, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if isNotFound(err) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("inspect container %s: %w", name, err)
	}
	return res.Container.ID, res.Container.Config.Labels, nil
}

// cleanUpFailed removes the container of a failed start when this provider created it, or when it is not
// running (a reused container that cannot start is broken). A container that another process created and still
// uses is left alone. It then removes any container of svc labelled with this session, which covers a create
// request that the daemon completed after ctx was cancelled.
func (p *dockerProvider) cleanUpFailed(ctx context.Context, cli *testcontainers.DockerClient, ctr testcontainers.Container, svc Service) error {
	var errs []error
	if ctr != nil && ctr.GetContainerID() != "" {
		res, err := cli.ContainerInspect(ctx, ctr.GetContainerID(), client.ContainerInspectOptions{})
		switch {
		case isNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("inspect failed container: %w", err))
		case res.Container.Config.Labels[labelSession] == p.session || res.Container.State == nil || !res.Container.State.Running:
			errs = append(errs, removeContainer(ctx, cli, res.Container.ID))
		}
	}
	// The daemon may still be creating a container whose request was cancelled: look twice.
	for i := range 2 {
		if i > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		ids, err := listContainers(ctx, cli, labelSession+"="+p.session, labelService+"="+string(svc))
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, c := range ids {
			errs = append(errs, removeContainer(ctx, cli, c.ID))
		}
	}
	return errors.Join(errs...)
}

// listContainers lists every container (running or not) that carries all the given labels (key=value).
func listContainers(ctx context.Context, cli *testcontainers.DockerClient, labels ...string) ([]container.Summary, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", labels...)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return res.Items, nil
}

func isNotFound(err error) bool {
	return cerrdefs.IsNotFound(err)
}

// dockerDown removes every container labelled microlab=1, running or not, and returns their names.
// `labctl infra down` calls it.
func dockerDown(ctx context.Context) ([]string, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	items, err := listContainers(ctx, cli, labelMicrolab+"=1")
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range items {
		if err := removeContainer(ctx, cli, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		removePrometheusDir(c.Labels)
		removed = append(removed, strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
	}
	return removed, errors.Join(errs...)
}

// withDockerClient calls f with a client of the daemon, closed after.
func withDockerClient(ctx context.Context, f func(cli *testcontainers.DockerClient) error) error {
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return f(cli)
}
