package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// object is one Kubernetes object decoded from a manifest file.
type object struct {
	file string
	kind string // apiVersion/kind, e.g. "apps/v1/Deployment"
	name string
	ns   string
	obj  any // a pointer to the typed API object
}

// kinds are the API types keyleak's manifests may contain.
var kinds = map[string]func() any{
	"apps/v1/Deployment":       func() any { return new(appsv1.Deployment) },
	"batch/v1/CronJob":         func() any { return new(batchv1.CronJob) },
	"v1/ConfigMap":             func() any { return new(corev1.ConfigMap) },
	"v1/PersistentVolumeClaim": func() any { return new(corev1.PersistentVolumeClaim) },
	"v1/Secret":                func() any { return new(corev1.Secret) },
	"v1/Service":               func() any { return new(corev1.Service) },
	"v1/ServiceAccount":        func() any { return new(corev1.ServiceAccount) },
}

// decodeManifest decodes every document of a multi-document YAML file
// strictly (unknown or misspelt fields are errors) into its typed object.
func decodeManifest(file string, data []byte) ([]object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		var empty map[string]any
		if err := yaml.Unmarshal(doc, &empty); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		if len(empty) == 0 {
			continue // only comments
		}
		var meta struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		kind := meta.APIVersion + "/" + meta.Kind
		newObj, ok := kinds[kind]
		if !ok {
			return nil, fmt.Errorf("%s: document %d: unexpected kind %q", file, i, kind)
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: %s %q: %w", file, kind, meta.Metadata.Name, err)
		}
		objs = append(objs, object{file: file, kind: kind, name: meta.Metadata.Name, ns: meta.Metadata.Namespace, obj: obj})
	}
}

// loadManifests decodes every manifest in deploy/kubernetes.
func loadManifests(tb testing.TB) []object {
	tb.Helper()
	files, err := filepath.Glob(repoPath(tb, "deploy/kubernetes/*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var objs []object
	for _, f := range files {
		base := filepath.Base(f)
		if base == "kustomization.yaml" {
			continue
		}
		got, err := decodeManifest(base, readRepoFile(tb, "deploy/kubernetes/"+base))
		if err != nil {
			tb.Fatal(err)
		}
		objs = append(objs, got...)
	}
	if len(objs) == 0 {
		tb.Fatal("no Kubernetes objects in deploy/kubernetes")
	}
	return objs
}

// find returns the one object of type T named name.
func find[T any](tb testing.TB, objs []object, name string) T {
	tb.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok && o.name == name {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		tb.Fatalf("want exactly one %T named %q, found %d", zero, name, len(found))
	}
	return found[0]
}

// all returns every object of type T.
func all[T any](objs []object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func TestDecodeManifestIsStrict(t *testing.T) {
	tests := []struct {
		name, doc string
		wantErr   string
	}{
		{name: "misspelt field", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 1\n", wantErr: "unknown field"},
		{name: "wrong type", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: 8080\n", wantErr: "cannot unmarshal"},
		{name: "unexpected kind", doc: "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", wantErr: "unexpected kind"},
		{name: "duplicate field", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n", wantErr: "already set"},
		{name: "valid", doc: "# a comment only\n---\napiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 8080}]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := decodeManifest("test.yaml", []byte(tt.doc))
			if tt.wantErr == "" {
				if err != nil || len(objs) != 1 {
					t.Fatalf("decodeManifest = %d objects, %v; want 1 object", len(objs), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("decodeManifest error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestManifestsAreNamespaceLess(t *testing.T) {
	for _, o := range loadManifests(t) {
		if o.ns != "" {
			t.Errorf("%s: %s %q sets namespace %q; the manifests are applied to a namespace of the operator's choice", o.file, o.kind, o.name, o.ns)
		}
	}
}

// TestKustomizationListsManifests keeps kustomization.yaml in step with
// the files: every manifest except the Secret example is applied.
func TestKustomizationListsManifests(t *testing.T) {
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
		Images     []struct {
			Name   string `json:"name"`
			NewTag string `json:"newTag"`
		} `json:"images"`
	}
	if err := yaml.UnmarshalStrict(readRepoFile(t, "deploy/kubernetes/kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml kind = %q", k.Kind)
	}
	files, _ := filepath.Glob(repoPath(t, "deploy/kubernetes/*.yaml"))
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && b != "secret.example.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources = %v, want %v", got, want)
	}
	var images []string
	for _, im := range k.Images {
		images = append(images, im.Name)
	}
	for _, c := range keyleakDeployment(t, loadManifests(t)).Spec.Template.Spec.Containers {
		name, _, _ := strings.Cut(c.Image, ":")
		if !slices.Contains(images, name) {
			t.Errorf("container %s's image %s has no images entry in kustomization.yaml to pin its tag", c.Name, name)
		}
	}
}

func keyleakDeployment(tb testing.TB, objs []object) *appsv1.Deployment {
	tb.Helper()
	return find[*appsv1.Deployment](tb, objs, "keyleak")
}

func container(tb testing.TB, d *appsv1.Deployment, name string) corev1.Container {
	tb.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("deployment %s has no container %q", d.Name, name)
	return corev1.Container{}
}

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// volumeAt returns the volume mounted at a path that contains p (the
// longest such mount), and the mount.
func volumeAt(tb testing.TB, pod corev1.PodSpec, c corev1.Container, p string) (corev1.Volume, corev1.VolumeMount, bool) {
	tb.Helper()
	var best corev1.VolumeMount
	for _, m := range c.VolumeMounts {
		if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) > len(best.MountPath) {
			best = m
		}
	}
	if best.Name == "" {
		return corev1.Volume{}, best, false
	}
	for _, v := range pod.Volumes {
		if v.Name == best.Name {
			return v, best, true
		}
	}
	tb.Fatalf("container %s mounts volume %q, which the pod does not define", c.Name, best.Name)
	return corev1.Volume{}, best, false
}

// probePort resolves a probe's port (a number or a container port name).
func probePort(tb testing.TB, c corev1.Container, pr *corev1.Probe) (string, int32) {
	tb.Helper()
	if pr == nil || pr.HTTPGet == nil {
		tb.Fatalf("container %s: probe is not an HTTP GET", c.Name)
	}
	if pr.HTTPGet.Port.IntValue() != 0 {
		return pr.HTTPGet.Path, int32(pr.HTTPGet.Port.IntValue())
	}
	for _, p := range c.Ports {
		if p.Name == pr.HTTPGet.Port.String() {
			return pr.HTTPGet.Path, p.ContainerPort
		}
	}
	tb.Fatalf("container %s: probe port %q is not a container port", c.Name, pr.HTTPGet.Port.String())
	return "", 0
}
