/* gapbox-firstboot: configures the admin server's services at every boot (configure), checks
 * them (verify) and reports (--status). A thin front end over firstboot/. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "dashboard.h"
#include "firstboot.h"
#include "kubespray.h"
#include "log.h"
#include "sbuf.h"
#include "service.h"

/* --port's name for the registry's loopback listener, which has no service record of its own. */
#define REGISTRY_LOOPBACK "registry-loopback"

/* The names --port takes: "dns, ntp, http, registry" and LAST "registry-loopback". NULL when out
 * of memory. */
static char *port_names(const char *last)
{
	struct sbuf b = SBUF_INIT;
	char *text;

	for (const struct fb_service *const *s = fb_services; *s; s++)
		if ((*s)->port != FB_PORT_NONE)
			sbuf_printf(&b, "%s%s", b.len ? ", " : "", (*s)->name);
	sbuf_printf(&b, "%s" REGISTRY_LOOPBACK, last);
	return sbuf_finish(&b, &text, NULL) < 0 ? NULL : text;
}

static void usage(FILE *f)
{
	_cleanup_free_ char *ports = port_names(", ");

	fputs("Usage: gapbox-firstboot COMMAND [OPTIONS]\n"
	      "\n"
	      "Commands:\n"
	      "  configure          read " FB_CONFIG_PATH " and gapbox.* kernel parameters, write every\n"
	      "                     service's configuration (only what changed), apply NAT, mount the\n"
	      "                     registry storage; run by gapbox-firstboot.service\n"
	      "  verify             restart what changed, check that each service runs and answers, check\n"
	      "                     every listed image, write " GB_RUN_STATUS " and the banner;\n"
	      "                     run by gapbox-firstboot-verify.service\n"
	      "  status, --status   print the status as a table; exit 0 when healthy, 1 when not\n"
	      "  dashboard          add what the nodes did (" FB_SITE_LOG ", chronyc clients), the\n"
	      "                     payload's images and the machine's uptime, memory and disks to the\n"
	      "                     status and the page, every 5 s; run by gapbox-dashboard.service\n"
	      "                     (--once: one refresh)\n"
	      "\n"
	      "Options:\n"
	      "  --root DIR         work under DIR: render there, start, mount and apply nothing\n"
	      "  --config FILE      the appliance configuration (default " FB_CONFIG_PATH ")\n"
	      "  --cmdline FILE     read gapbox.* parameters from FILE (default /proc/cmdline, none with --root)\n"
	      "  --interfaces LIST  the NICs, in order, as NAME[=MAC],... instead of /sys/class/net\n"
	      "  --payload DIR      where the payload is read from (default " GB_RUN_PAYLOAD ")\n"
	      "  --check            with --root, vet each configuration with its daemon's checker too\n"
	      "  --probe ADDR       verify: probe ADDR instead of the internal address\n",
	      f);
	fprintf(f, "  --port NAME=PORT   verify: probe NAME (%s) on PORT\n", ports ? ports : "a service");
	fputs("  --console FILE     verify: write the banner to FILE (default /dev/console)\n"
	      "  -v, --verbose      say more; -q, --quiet: errors only\n"
	      "  -h, --help         this text; --version: the version\n",
	      f);
}

static int parse_port(const char *arg, struct fb_options *o)
{
	_cleanup_free_ char *name = NULL;
	const struct fb_service *s;
	const char *eq = strchr(arg, '=');
	char *end;
	long port;

	if (!eq || !(name = strndup(arg, (size_t)(eq - arg))))
		return -EINVAL;
	port = strtol(eq + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -EINVAL;
	if (streq(name, REGISTRY_LOOPBACK)) {
		o->registry_loopback_port = (unsigned)port;
		return 0;
	}
	s = fb_service_find(name);
	if (!s || s->port == FB_PORT_NONE)
		return -EINVAL;
	o->ports[s->port] = (unsigned)port;
	return 0;
}

static int firstboot_main(int argc, char **argv);

static void kubespray_usage(FILE *f)
{
	fputs("Usage: gapbox-kubespray COMMAND [CLUSTER] [OPTIONS]\n"
	      "\n"
	      "The kubespray workspace on this admin, " FB_KUBESPRAY_WORKSPACE "/kubespray-VERSION, for the\n"
	      "cluster CLUSTER (default " FB_KUBESPRAY_CLUSTER "):\n"
	      "  init               extract the payload's kubespray (and its patches), install its\n"
	      "                     requirements.txt into a venv from this admin's PyPI mirror, put\n"
	      "                     inventory/CLUSTER/inventory.ini and group_vars/all/offline.yml in\n"
	      "                     place (never over an edit); safe to run again\n"
	      "  preflight          check each node of the inventory over SSH: DNS, NTP, the package\n"
	      "                     repository and an image pull; exit 1 when one is not ready (before\n"
	      "                     init: the nodes of the site's inventory.ini)\n"
	      "  exec CMD [ARG...]  run ansible, ansible-playbook... with the workspace's Ansible: the\n"
	      "                     venv's, or for an ansible_in_container payload (no pypi/) its image\n"
	      "                     through containerd (init imports it), with the workspace, the\n"
	      "                     payload and the SSH key at their own paths\n"
	      "\n"
	      "Options:\n"
	      "  --workspace DIR    the workspace (default " FB_KUBESPRAY_WORKSPACE ")\n"
	      "  --payload DIR      the payload (default " GB_RUN_PAYLOAD ")\n"
	      "  --node-files DIR   offline.yml and inventory.ini (default " GB_RUN_NODE_FILES ")\n"
	      "  --status FILE      the admin's status (default " GB_RUN_STATUS ")\n"
	      "  --index-url URL    the PyPI mirror (default: this admin's, on 127.0.0.1)\n"
	      "  --ssh-key FILE     the admin's SSH key for Ansible (default /root/.ssh/id_ed25519)\n"
	      "  -v, --verbose      say more; -q, --quiet: errors only\n"
	      "  -h, --help         this text; --version: the version\n",
	      f);
}

static int kubespray_main(int argc, char **argv)
{
	enum { OPT_WORKSPACE = 256, OPT_PAYLOAD, OPT_NODE_FILES, OPT_STATUS, OPT_INDEX_URL, OPT_SSH_KEY, OPT_VERSION };
	static const struct option options[] = {
		{ "workspace", required_argument, NULL, OPT_WORKSPACE },
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "node-files", required_argument, NULL, OPT_NODE_FILES },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "index-url", required_argument, NULL, OPT_INDEX_URL },
		{ "ssh-key", required_argument, NULL, OPT_SSH_KEY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{}
	};
	struct fb_kubespray_options o = {};
	const char *command;
	int c, r, exec_at = 0;

	gb_log_set_ident("gapbox-kubespray");
	/* Options go before or after the command, but for exec: its arguments (ansible -i ...) are not
	 * ours, so getopt stops at it. */
	for (int i = 1; i < argc; i++) {
		bool takes_value = false;

		for (const struct option *opt = options; opt->name && argv[i][0] == '-'; opt++)
			takes_value = takes_value || (opt->has_arg == required_argument && strncmp(argv[i], "--", 2) == 0 &&
						      streq(argv[i] + 2, opt->name));
		if (takes_value)
			i++;
		else if (argv[i][0] != '-') {
			if (streq(argv[i], "exec"))
				exec_at = i;
			break;
		}
	}
	while ((c = getopt_long(exec_at ? exec_at : argc, argv, "vqh", options, NULL)) >= 0) {
		switch (c) {
		case OPT_WORKSPACE: o.workspace = optarg; break;
		case OPT_PAYLOAD: o.payload = optarg; break;
		case OPT_NODE_FILES: o.node_files = optarg; break;
		case OPT_STATUS: o.status = optarg; break;
		case OPT_INDEX_URL: o.index_url = optarg; break;
		case OPT_SSH_KEY: o.ssh_key = optarg; break;
		case 'v': gb_log_set_level(GB_LOG_DEBUG); break;
		case 'q': gb_log_set_level(GB_LOG_ERR); break;
		case 'h': kubespray_usage(stdout); return 0;
		case OPT_VERSION: puts("gapbox-kubespray " GB_VERSION); return 0;
		default: kubespray_usage(stderr); return 2;
		}
	}
	if (exec_at)
		return fb_kubespray_exec(&o, argv + exec_at + 1) < 0 ? 2 : 0;
	if (optind >= argc || argc - optind > 2) {
		kubespray_usage(stderr);
		return 2;
	}
	command = argv[optind];
	o.cluster = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (streq(command, "init"))
		r = fb_kubespray_init(&o);
	else if (streq(command, "preflight"))
		r = fb_kubespray_preflight(&o);
	else {
		log_error("unknown command '%s': expected init, preflight or exec", command);
		kubespray_usage(stderr);
		return 2;
	}
	return r < 0 ? 2 : r;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');

	/* One binary, two commands: gapbox-kubespray is a link to gapbox-firstboot. */
	if (streq(self ? self + 1 : argv[0], "gapbox-kubespray"))
		return kubespray_main(argc, argv);
	return firstboot_main(argc, argv);
}

static int firstboot_main(int argc, char **argv)
{
	enum { OPT_ROOT = 256, OPT_CONFIG, OPT_CMDLINE, OPT_INTERFACES, OPT_PAYLOAD, OPT_CHECK, OPT_PROBE, OPT_PORT,
	       OPT_CONSOLE, OPT_STATUS, OPT_VERSION, OPT_ONCE };
	static const struct option options[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "interfaces", required_argument, NULL, OPT_INTERFACES },
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "probe", required_argument, NULL, OPT_PROBE },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ "status", no_argument, NULL, OPT_STATUS },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{}
	};
	struct fb_options o = {};
	const char *command = NULL;
	int c, r;

	gb_log_set_ident("gapbox-firstboot");
	while ((c = getopt_long(argc, argv, "vqh", options, NULL)) >= 0) {
		switch (c) {
		case OPT_ROOT: o.root = optarg; break;
		case OPT_CONFIG: o.config_path = optarg; break;
		case OPT_CMDLINE: o.cmdline_path = optarg; break;
		case OPT_INTERFACES: o.interfaces = optarg; break;
		case OPT_PAYLOAD: o.payload = optarg; break;
		case OPT_CHECK: o.check = true; break;
		case OPT_PROBE: o.probe = optarg; break;
		case OPT_PORT:
			if (parse_port(optarg, &o) < 0) {
				_cleanup_free_ char *names = port_names(" or ");

				log_error("--port %s: expected %s, '=', and a port", optarg, names ? names : "a service");
				return 2;
			}
			break;
		case OPT_CONSOLE: o.console = optarg; break;
		case OPT_STATUS: command = "status"; break;
		case OPT_ONCE: o.once = true; break;
		case 'v': gb_log_set_level(GB_LOG_DEBUG); break;
		case 'q': gb_log_set_level(GB_LOG_ERR); break;
		case 'h': usage(stdout); return 0;
		case OPT_VERSION: puts("gapbox-firstboot " GB_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		if (command || optind + 1 < argc) {
			usage(stderr);
			return 2;
		}
		command = argv[optind];
	}
	if (!command) {
		usage(stderr);
		return 2;
	}
	if (o.root && !*o.root) {
		log_error("--root needs a folder");
		return 2;
	}

	if (streq(command, "configure"))
		r = fb_configure(&o);
	else if (streq(command, "verify")) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		r = fb_verify(&o);
		curl_global_cleanup();
	} else if (streq(command, "tls-init"))
		r = fb_tls_setup(&o);
	else if (streq(command, "status")) {
		r = fb_print_status(&o);
		return r < 0 ? 2 : r;
	} else if (streq(command, "dashboard"))
		r = fb_dashboard(&o, o.once ? 0 : 5);
	else {
		log_error("unknown command '%s': expected configure, verify, status or dashboard", command);
		usage(stderr);
		return 2;
	}
	return r < 0 ? 1 : 0;
}
