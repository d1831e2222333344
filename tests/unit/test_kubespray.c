/* Unit tests for builder/payload/kubespray: download.yml templates matched against files.list
 * URLs (what each expression evaluated to) and where kubespray-offline saves each URL, with its
 * quirks, for both architectures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../builder/payload/kubespray.h"

static void expect_match(const char *template, const char *url, const char *var, const char *want)
{
	char *value = NULL;

	assert_int_equal(kubespray_match(template, url, var, &value), 1);
	if (want)
		assert_string_equal(value, want);
	else
		assert_null(value);
	free(value);
}

static void test_match(void **state)
{
	(void)state;
	/* Each expression reads back what Ansible rendered: versions, facts, filters. */
	expect_match("{{ github_url }}/opencontainers/runc/releases/download/v{{ runc_version }}/runc.{{ image_arch }}",
		     "https://github.com/opencontainers/runc/releases/download/v1.3.4/runc.arm64", "runc_version", "1.3.4");
	expect_match("{{ github_url }}/opencontainers/runc/releases/download/v{{ runc_version }}/runc.{{ image_arch }}",
		     "https://github.com/opencontainers/runc/releases/download/v1.3.4/runc.arm64", "github_url",
		     "https://github.com");
	expect_match("{{ storage_googleapis_url }}/gvisor/releases/release/{{ gvisor_version }}/"
		     "{{ ansible_facts['architecture'] }}/runsc",
		     "https://storage.googleapis.com/gvisor/releases/release/20250106.0/aarch64/runsc",
		     "ansible_facts['architecture']", "aarch64");
	expect_match("{{ github_url }}/kubernetes-sigs/cri-tools/releases/download/v{{ crictl_version }}/crictl-v"
		     "{{ crictl_version }}-{{ ansible_system | lower }}-{{ image_arch }}.tar.gz",
		     "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.33.0/crictl-v1.33.0-linux-amd64.tar.gz",
		     "ansible_system | lower", "linux");
	/* Two expressions side by side: containerd's optional "static-" matches nothing here. */
	expect_match("{{ github_url }}/containerd/containerd/releases/download/v{{ containerd_version }}/containerd-"
		     "{{ 'static-' if containerd_static_binary }}{{ containerd_version }}-linux-{{ image_arch }}.tar.gz",
		     "https://github.com/containerd/containerd/releases/download/v2.2.1/containerd-2.2.1-linux-amd64.tar.gz",
		     "'static-' if containerd_static_binary", "");
	/* No such expression: a match, and no value. */
	expect_match("{{ get_helm_url }}/helm-v{{ helm_version }}-linux-{{ image_arch }}.tar.gz",
		     "https://get.helm.sh/helm-v3.18.4-linux-amd64.tar.gz", "kube_version", NULL);

	/* An expression met twice must match the same text both times. */
	assert_int_equal(kubespray_match("{{ u }}/v{{ etcd_version }}/etcd-v{{ etcd_version }}-linux-{{ a }}.tar.gz",
					 "https://github.com/etcd-io/etcd/releases/download/v3.5.26/etcd-v3.6.5-linux-amd64.tar.gz",
					 NULL, NULL), 0);
	/* The calico CRDs of 2.30 are not those of 2.31, and literals anchor both ends. */
	assert_int_equal(kubespray_match("{{ github_url }}/projectcalico/calico/archive/v{{ calico_version }}.tar.gz",
					 "https://github.com/projectcalico/calico/raw/v3.31.5/manifests/crds.yaml", NULL, NULL), 0);
	assert_int_equal(kubespray_match("{{ dl }}/release/v{{ kube_version }}/bin/linux/{{ image_arch }}/kubelet",
					 "https://dl.k8s.io/release/v1.33.7/bin/linux/amd64/kubelet.sig", NULL, NULL), 0);
	/* More expressions than gapbox reads. */
	assert_int_equal(kubespray_match("{{a}}{{b}}{{c}}{{d}}{{e}}{{f}}{{g}}{{h}}{{i}}{{j}}{{k}}{{l}}{{m}}{{n}}{{o}}{{p}}{{q}}",
					 "x", NULL, NULL), -E2BIG);
}

static void expect_path(const char *url, const char *arch, const char *want)
{
	char *path = kubespray_payload_path(url, arch);

	assert_non_null(path);
	assert_string_equal(path, want);
	free(path);
}

static void test_payload_path(void **state)
{
	(void)state;
	expect_path("https://dl.k8s.io/release/v1.33.7/bin/linux/amd64/kubeadm", "amd64", "kubernetes/v1.33.7/kubeadm");
	expect_path("https://github.com/etcd-io/etcd/releases/download/v3.5.26/etcd-v3.5.26-linux-arm64.tar.gz", "arm64",
		    "kubernetes/etcd/etcd-v3.5.26-linux-arm64.tar.gz");
	expect_path("https://github.com/containernetworking/plugins/releases/download/v1.8.0/cni-plugins-linux-amd64-v1.8.0.tgz",
		    "amd64", "kubernetes/cni/cni-plugins-linux-amd64-v1.8.0.tgz");
	expect_path("https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.33.0/crictl-v1.33.0-linux-amd64.tar.gz",
		    "amd64", "kubernetes/cri-tools/crictl-v1.33.0-linux-amd64.tar.gz");
	expect_path("https://github.com/projectcalico/calico/releases/download/v3.31.5/calicoctl-linux-arm64", "arm64",
		    "kubernetes/calico/v3.31.5/calicoctl-linux-arm64");
	expect_path("https://github.com/projectcalico/calico/archive/v3.30.5.tar.gz", "amd64", "kubernetes/calico/v3.30.5.tar.gz");
	expect_path("https://github.com/projectcalico/calico/raw/v3.31.5/manifests/crds.yaml", "amd64",
		    "kubernetes/calico/crds.yaml");
	expect_path("https://github.com/opencontainers/runc/releases/download/v1.3.4/runc.arm64", "arm64", "runc/v1.3.4/runc.arm64");
	/* runc of another architecture than the nodes' stays at the top, as the script's sed leaves it. */
	expect_path("https://github.com/opencontainers/runc/releases/download/v1.3.4/runc.arm64", "amd64", "runc.arm64");
	expect_path("https://github.com/cilium/cilium-cli/releases/download/v0.18.9/cilium-linux-amd64.tar.gz", "amd64",
		    "cilium-cli/v0.18.9/cilium-linux-amd64.tar.gz");
	expect_path("https://storage.googleapis.com/gvisor/releases/release/20250106.0/x86_64/runsc", "amd64",
		    "gvisor/20250106.0/x86_64/runsc");
	expect_path("https://storage.googleapis.com/gvisor/releases/release/20250106.0/aarch64/containerd-shim-runsc-v1",
		    "arm64", "gvisor/20250106.0/aarch64/containerd-shim-runsc-v1");
	expect_path("https://github.com/lework/skopeo-binary/releases/download/v1.16.1/skopeo-linux-amd64", "amd64",
		    "skopeo/v1.16.1/skopeo-linux-amd64");
	/* The script's yq pattern leaves the architecture after the version. */
	expect_path("https://github.com/mikefarah/yq/releases/download/v4.47.1/yq_linux_arm64", "arm64",
		    "yq/v4.47.1arm64/yq_linux_arm64");
	expect_path("https://storage.googleapis.com/cri-o/artifacts/cri-o.amd64.v1.33.4.tar.gz", "amd64",
		    "cri-o.amd64.v1.33.4.tar.gz");
	expect_path("https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.4.0/standard-install.yaml", "amd64",
		    "standard-install.yaml");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_payload_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
