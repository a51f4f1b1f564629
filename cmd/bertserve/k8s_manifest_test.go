package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestKubernetesManifests decodes every manifest in deploy/k8s strictly
// into the Kubernetes API types (a misspelt or misplaced field fails),
// runs every bertserve command line in them through the CLI's flag
// parsing (so they name only flags the binary has, with values it
// accepts), and checks what the manifests promise: an Indexed Job whose
// completions match --shards, probes on /ready and /health, a grace
// period longer than the server's drain, resources, paths on volumes.
func TestKubernetesManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	kinds := map[string]int{}
	var deployments []*appsv1.Deployment
	var services []*corev1.Service
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s document %d: %v", name, i, err)
			}
			where := name + " " + meta.Kind
			kinds[meta.Kind]++
			switch meta.Kind {
			case "Job":
				var j batchv1.Job
				decodeStrict(t, where, doc, &j)
				checkPod(t, where, &j.Spec.Template.Spec)
				checkJob(t, where, &j)
			case "Deployment":
				var d appsv1.Deployment
				decodeStrict(t, where, doc, &d)
				checkPod(t, where, &d.Spec.Template.Spec)
				checkServing(t, where, &d)
				deployments = append(deployments, &d)
			case "Service":
				var s corev1.Service
				decodeStrict(t, where, doc, &s)
				services = append(services, &s)
			default:
				t.Errorf("%s: unexpected kind %q (add a check for it here)", name, meta.Kind)
			}
		}
	}
	if kinds["Job"] < 2 || kinds["Deployment"] < 1 || kinds["Service"] < 1 {
		t.Fatalf("want the embed and merge Jobs, a Deployment and a Service; found %v", kinds)
	}
	for _, s := range services {
		matched := false
		for _, d := range deployments {
			if labelsMatch(s.Spec.Selector, d.Spec.Template.Labels) {
				matched = true
				for _, p := range s.Spec.Ports {
					if !hasPort(d.Spec.Template.Spec.Containers, p.TargetPort.String()) {
						t.Errorf("Service %s: targetPort %s is no container port of Deployment %s", s.Name, p.TargetPort.String(), d.Name)
					}
				}
			}
		}
		if !matched {
			t.Errorf("Service %s selects %v, which no Deployment's pods carry", s.Name, s.Spec.Selector)
		}
	}
}

func decodeStrict(t *testing.T, where string, doc []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		t.Fatalf("%s: not a valid Kubernetes object: %v", where, err)
	}
}

// argValue returns the value of --name in args ("--name=v" or "--name v").
func argValue(args []string, name string) (string, bool) {
	for i, a := range args {
		switch {
		case a == "--"+name && i+1 < len(args):
			return args[i+1], true
		case strings.HasPrefix(a, "--"+name+"="):
			return strings.TrimPrefix(a, "--"+name+"="), true
		}
	}
	return "", false
}

// checkPod checks every container that runs bertserve: its command line
// parses, its paths lie on volumes it mounts, it requests resources.
func checkPod(t *testing.T, where string, pod *corev1.PodSpec) {
	t.Helper()
	all := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
	for _, c := range all {
		where := where + " container " + c.Name
		if len(c.Command) != 1 || filepath.Base(c.Command[0]) != "bertserve" || len(c.Args) == 0 {
			t.Errorf("%s: want command [bertserve] and the subcommand in args, got %v %v", where, c.Command, c.Args)
			continue
		}
		dryRun, parsedBy = true, ""
		var stderr strings.Builder
		code := run(c.Args, &stderr)
		dryRun = false
		if code != 0 || !strings.HasPrefix(parsedBy, c.Args[0]) {
			t.Errorf("%s: `bertserve %s` does not parse (exit %d): %s", where, strings.Join(c.Args, " "), code, stderr.String())
		}
		for _, flag := range []string{"model", "input", "output", "heads", "dir"} {
			v, ok := argValue(c.Args, flag)
			if !ok {
				continue
			}
			if !onVolume(c.VolumeMounts, v) {
				t.Errorf("%s: --%s %s is on no volume the container mounts", where, flag, v)
			}
		}
		if c.Args[0] == "merge" && len(c.Args) > 1 && !onVolume(c.VolumeMounts, c.Args[1]) {
			t.Errorf("%s: merge reads %s, on no volume the container mounts", where, c.Args[1])
		}
		req := c.Resources.Requests
		if req.Cpu().IsZero() || req.Memory().IsZero() {
			t.Errorf("%s: no cpu and memory requests", where)
		}
		if v, ok := argValue(c.Args, "threads"); ok {
			n, _ := strconv.Atoi(v)
			if int64(n) > req.Cpu().Value() {
				t.Errorf("%s: --threads %d but %s CPUs requested", where, n, req.Cpu())
			}
		}
	}
	for _, c := range all {
		for _, m := range c.VolumeMounts {
			found := false
			for _, v := range pod.Volumes {
				found = found || v.Name == m.Name
			}
			if !found {
				t.Errorf("%s container %s mounts %q, which the pod does not define", where, c.Name, m.Name)
			}
		}
	}
}

func onVolume(mounts []corev1.VolumeMount, path string) bool {
	for _, m := range mounts {
		if path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

func checkJob(t *testing.T, where string, j *batchv1.Job) {
	t.Helper()
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q; a Job's failed pod must be replaced (Never)", where, j.Spec.Template.Spec.RestartPolicy)
	}
	args := j.Spec.Template.Spec.Containers[0].Args
	if args[0] != "embed" {
		return
	}
	if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("%s: an embed Job must be Indexed (completionMode: Indexed), so each pod gets JOB_COMPLETION_INDEX", where)
	}
	if v, _ := argValue(args, "shard"); v != "auto" {
		t.Errorf("%s: --shard %q, want auto (the index from JOB_COMPLETION_INDEX)", where, v)
	}
	shards, _ := argValue(args, "shards")
	if j.Spec.Completions == nil || strconv.Itoa(int(*j.Spec.Completions)) != shards {
		t.Errorf("%s: completions %s and --shards %s must agree", where, deref(j.Spec.Completions), shards)
	}
	if j.Spec.BackoffLimitPerIndex == nil {
		t.Errorf("%s: no backoffLimitPerIndex: a failed shard would fail the Job instead of being retried", where)
	}
	if out, _ := argValue(args, "output"); !strings.HasSuffix(out, "/") {
		t.Errorf("%s: --output %q must be a directory (end in /) for shard files", where, out)
	}
}

func checkServing(t *testing.T, where string, d *appsv1.Deployment) {
	t.Helper()
	if !labelsMatch(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("%s: selector %v does not match the pod labels %v", where, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	pod := d.Spec.Template.Spec
	for _, c := range pod.Containers {
		if c.Args[0] != "serve" {
			continue
		}
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
			want  string
		}{{"readiness", c.ReadinessProbe, "/ready"}, {"liveness", c.LivenessProbe, "/health"}} {
			if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.want {
				t.Errorf("%s: the %s probe must GET %s", where, p.name, p.want)
				continue
			}
			if !hasPort([]corev1.Container{c}, p.probe.HTTPGet.Port.String()) {
				t.Errorf("%s: the %s probe's port %s is not the container's", where, p.name, p.probe.HTTPGet.Port.String())
			}
		}
		addr, _ := argValue(c.Args, "addr")
		if _, port, _ := strings.Cut(addr, ":"); port == "" || !hasPort([]corev1.Container{c}, port) {
			t.Errorf("%s: --addr %q listens on no declared container port", where, addr)
		}
		drain := 30 * time.Second // serve's default --shutdown-timeout
		if v, ok := argValue(c.Args, "shutdown-timeout"); ok {
			var err error
			if drain, err = time.ParseDuration(v); err != nil {
				t.Fatal(err)
			}
		}
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			drain += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= drain {
			t.Errorf("%s: terminationGracePeriodSeconds %s must exceed the preStop pause plus --shutdown-timeout (%v), or the kubelet kills a draining server", where, deref(pod.TerminationGracePeriodSeconds), drain)
		}
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func hasPort(cs []corev1.Container, port string) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.Name == port || strconv.Itoa(int(p.ContainerPort)) == port {
				return true
			}
		}
	}
	return false
}

func deref[T int32 | int64](p *T) string {
	if p == nil {
		return "(unset)"
	}
	return strconv.FormatInt(int64(*p), 10)
}
