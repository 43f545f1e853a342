package deploy

import (
	"net"
	"path"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

const (
	nonRootID      = 65532 // the image's user and group (Dockerfile)
	httpPort       = 8080  // keyleak's public listener (Dockerfile EXPOSE)
	adminPort      = 8081  // loopback-only admin listener: never exposed
	databasePath   = "/data/keyleak.db"
	configPath     = "/etc/keyleak/keyleak.yaml"
	shutdownDrainS = 20 // keyleak drains this long on SIGTERM
)

func TestDeploymentRunsOneWriter(t *testing.T) {
	d := keyleakDeployment(t, loadManifests(t))
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1: bbolt allows one writer", deref32(d.Spec.Replicas))
	}
	if got := d.Spec.Strategy.Type; got != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate: a rolling update would start a second writer", got)
	}
	pod := d.Spec.Template.Spec
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < shutdownDrainS+5 {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least %d (keyleak drains %d s)", deref(g), shutdownDrainS+5, shutdownDrainS)
	}
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
		t.Fatal("the deployment has no selector labels")
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
}

func TestPodSecurity(t *testing.T) {
	d := keyleakDeployment(t, loadManifests(t))
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil {
		t.Fatal("the pod has no securityContext")
	}
	if psc.FSGroup == nil || *psc.FSGroup != nonRootID {
		t.Errorf("fsGroup = %v, want %d so the volumes are writable by keyleak's user", psc.FSGroup, nonRootID)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a Kubernetes API token; keyleak never calls the Kubernetes API")
	}
	for _, c := range pod.Containers {
		t.Run(c.Name, func(t *testing.T) {
			sc := c.SecurityContext
			if sc == nil {
				t.Fatal("no securityContext")
			}
			// Container settings win over the pod's; either may carry these.
			nonRoot := firstBool(sc.RunAsNonRoot, psc.RunAsNonRoot)
			user := firstInt(sc.RunAsUser, psc.RunAsUser)
			group := firstInt(sc.RunAsGroup, psc.RunAsGroup)
			if nonRoot == nil || !*nonRoot {
				t.Error("runAsNonRoot is not true")
			}
			if user == nil || *user != nonRootID || group == nil || *group != nonRootID {
				t.Errorf("runs as %v:%v, want %d:%d", deref(user), deref(group), nonRootID, nonRootID)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Error("readOnlyRootFilesystem is not true")
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Error("allowPrivilegeEscalation is not false")
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Error("privileged")
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				t.Errorf("capabilities = %+v, want drop ALL and add none", sc.Capabilities)
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("seccompProfile = %+v, want RuntimeDefault", seccomp)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
				t.Error("no CPU or memory request")
			}
			if c.Resources.Limits.Memory().IsZero() {
				t.Error("no memory limit")
			}
			if c.Resources.Limits.Memory().Cmp(*c.Resources.Requests.Memory()) < 0 {
				t.Error("memory limit below the request")
			}
			for _, p := range c.Ports {
				if p.ContainerPort == adminPort {
					t.Errorf("port %d (the loopback-only admin listener) is declared", adminPort)
				}
			}
		})
	}
}

func TestKeyleakContainer(t *testing.T) {
	objs := loadManifests(t)
	d := keyleakDeployment(t, objs)
	c := container(t, d, "keyleak")
	if want := []string{"serve", "--config", configPath}; !slices.Equal(c.Args, want) {
		t.Errorf("args = %q, want %q", c.Args, want)
	}
	if got, _ := envValue(c, "KEYLEAK_DATABASE"); got != databasePath {
		t.Errorf("KEYLEAK_DATABASE = %q, want %q", got, databasePath)
	}
	var ports []int32
	for _, p := range c.Ports {
		ports = append(ports, p.ContainerPort)
	}
	if !slices.Contains(ports, httpPort) {
		t.Errorf("container ports = %v, want %d", ports, httpPort)
	}
	probes := []struct {
		name     string
		probe    *corev1.Probe
		wantPath string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	}
	for _, p := range probes {
		if p.probe == nil {
			t.Errorf("no %s probe", p.name)
			continue
		}
		gotPath, gotPort := probePort(t, c, p.probe)
		if gotPath != p.wantPath || gotPort != httpPort {
			t.Errorf("%s probe = GET %s on %d, want GET %s on %d", p.name, gotPath, gotPort, p.wantPath, httpPort)
		}
	}
}

// TestVolumes checks where keyleak's files live: the database on a
// ReadWriteOnce claim at /data, the settings from the ConfigMap, and
// every KEYLEAK_*_FILE under a read-only Secret volume holding that key.
func TestVolumes(t *testing.T) {
	objs := loadManifests(t)
	d := keyleakDeployment(t, objs)
	pod := d.Spec.Template.Spec
	secret := find[*corev1.Secret](t, objs, "keyleak") // secret.example.yaml: its shape
	for _, c := range pod.Containers {
		t.Run(c.Name, func(t *testing.T) {
			db, ok := envValue(c, "KEYLEAK_DATABASE")
			if !ok {
				t.Fatal("KEYLEAK_DATABASE is not set")
			}
			v, m, ok := volumeAt(t, pod, c, db)
			if !ok || m.MountPath != "/data" || m.ReadOnly {
				t.Fatalf("the database %s is not on a writable mount at /data (mount %+v)", db, m)
			}
			requireClaim(t, objs, v, corev1.ReadWriteOnce)

			cfg := flagValue(c.Args, "--config")
			v, m, ok = volumeAt(t, pod, c, cfg)
			if !ok || v.ConfigMap == nil {
				t.Fatalf("--config %s is not on a ConfigMap volume", cfg)
			}
			cm := find[*corev1.ConfigMap](t, objs, v.ConfigMap.Name)
			if _, ok := cm.Data[strings.TrimPrefix(cfg, m.MountPath+"/")]; !ok {
				t.Errorf("ConfigMap %s has no key for %s", cm.Name, cfg)
			}

			for _, e := range c.Env {
				if !strings.HasPrefix(e.Name, "KEYLEAK_") || !strings.HasSuffix(e.Name, "_FILE") {
					continue
				}
				v, m, ok := volumeAt(t, pod, c, e.Value)
				if !ok || v.Secret == nil {
					t.Errorf("%s=%s is not under a mounted Secret volume", e.Name, e.Value)
					continue
				}
				if !m.ReadOnly {
					t.Errorf("Secret volume %s is mounted writable", v.Name)
				}
				if v.Secret.DefaultMode != nil && *v.Secret.DefaultMode&0o007 != 0 {
					t.Errorf("Secret volume %s has mode %o: readable by others", v.Name, *v.Secret.DefaultMode)
				}
				if v.Secret.SecretName != secret.Name {
					t.Errorf("%s reads Secret %q; the example Secret is %q", e.Name, v.Secret.SecretName, secret.Name)
					continue
				}
				key := path.Clean(strings.TrimPrefix(e.Value, m.MountPath+"/"))
				if _, ok := secret.StringData[key]; !ok {
					t.Errorf("%s=%s: secret.example.yaml has no key %q", e.Name, e.Value, key)
				}
			}
		})
	}
}

func TestBackupContainer(t *testing.T) {
	objs := loadManifests(t)
	d := keyleakDeployment(t, objs)
	pod := d.Spec.Template.Spec
	c := container(t, d, "backup")
	dir, ok := envValue(c, "BACKUP_DIR")
	if !ok {
		t.Fatal("BACKUP_DIR is not set")
	}
	v, m, ok := volumeAt(t, pod, c, dir+"/keyleak-x.db")
	if !ok || m.ReadOnly {
		t.Fatalf("backups in %s are not on a writable volume", dir)
	}
	requireClaim(t, objs, v, corev1.ReadWriteOnce)
	data, _, _ := volumeAt(t, pod, container(t, d, "keyleak"), databasePath)
	if data.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == data.PersistentVolumeClaim.ClaimName {
		t.Error("backups are written to the database's own volume")
	}
	if got, want := flagValue(c.Args, "--config"), flagValue(container(t, d, "keyleak").Args, "--config"); got != want {
		t.Errorf("backup --config = %q, want the server's %q", got, want)
	}
	for _, e := range c.Env {
		if strings.HasSuffix(e.Name, "_FILE") {
			t.Errorf("the backup container is given %s; it needs no secrets", e.Name)
		}
	}
}

func TestService(t *testing.T) {
	objs := loadManifests(t)
	d := keyleakDeployment(t, objs)
	svc := find[*corev1.Service](t, objs, "keyleak")
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("service selector %s=%s does not select keyleak's pod", k, v)
		}
	}
	if len(svc.Spec.Selector) == 0 {
		t.Error("service has no selector")
	}
	c := container(t, d, "keyleak")
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("service ports = %+v, want only %d", svc.Spec.Ports, httpPort)
	}
	p := svc.Spec.Ports[0]
	target := p.TargetPort.IntValue()
	for _, cp := range c.Ports {
		if cp.Name == p.TargetPort.String() {
			target = int(cp.ContainerPort)
		}
	}
	if p.Port != httpPort || target != httpPort {
		t.Errorf("service port %d → %d, want %d → %d", p.Port, target, httpPort, httpPort)
	}
}

func TestServiceAccountCarriesAWSRole(t *testing.T) {
	objs := loadManifests(t)
	d := keyleakDeployment(t, objs)
	sa := find[*corev1.ServiceAccount](t, objs, d.Spec.Template.Spec.ServiceAccountName)
	arn := sa.Annotations["eks.amazonaws.com/role-arn"]
	if !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.Contains(arn, ":role/") {
		t.Errorf("service account %s role-arn annotation = %q, want an IAM role ARN placeholder", sa.Name, arn)
	}
}

func TestSettingsMatchManifests(t *testing.T) {
	objs := loadManifests(t)
	cfg := keyleakSettings(t, find[*corev1.ConfigMap](t, objs, "keyleak").Data["keyleak.yaml"])
	if got := cfg["database"]; got != databasePath {
		t.Errorf("keyleak.yaml database = %v, want %s (the volume)", got, databasePath)
	}
	if _, port, err := net.SplitHostPort(str(cfg["listen"])); err != nil || port != "8080" {
		t.Errorf("keyleak.yaml listen = %v, want port %d (the container port)", cfg["listen"], httpPort)
	}
	if host, _, err := net.SplitHostPort(str(cfg["admin_listen"])); err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("keyleak.yaml admin_listen = %v, want a loopback address", cfg["admin_listen"])
	}
}

func requireClaim(tb testing.TB, objs []object, v corev1.Volume, mode corev1.PersistentVolumeAccessMode) {
	tb.Helper()
	if v.PersistentVolumeClaim == nil {
		tb.Fatalf("volume %s is not a PersistentVolumeClaim", v.Name)
	}
	pvc := find[*corev1.PersistentVolumeClaim](tb, objs, v.PersistentVolumeClaim.ClaimName)
	if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{mode}) {
		tb.Errorf("claim %s access modes = %v, want [%s]", pvc.Name, pvc.Spec.AccessModes, mode)
	}
	if size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; size.Cmp(resource.MustParse("100Mi")) < 0 {
		tb.Errorf("claim %s requests %s", pvc.Name, size.String())
	}
}

func flagValue(args []string, name string) string {
	if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func firstBool(a, b *bool) *bool {
	if a != nil {
		return a
	}
	return b
}

func firstInt(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

func deref(p *int64) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func deref32(p *int32) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
