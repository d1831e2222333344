/* Unit tests for a netboot's pure parts: ip=, BOOTIF= and gapbox.fetch= as boot loaders write them,
 * udhcpc's lease, and the boot record of a netboot. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootrecord.h"
#include "log.h"
#include "../../initramfs/net.h"
#include "../../initramfs/netparams.h"
#include "../../initramfs/params.h"

static char *log_buf;
static size_t log_size;
static FILE *log_stream;

static int setup(void **state)
{
	(void)state;
	log_stream = open_memstream(&log_buf, &log_size);
	gb_log_set_stream(log_stream);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gb_log_set_stream(NULL);
	fclose(log_stream);
	free(log_buf);
	return 0;
}

static const char *ntoa(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 4;
	return inet_ntop(AF_INET, &a, buf[i], sizeof(buf[i]));
}

static void test_ip_static_as_ipxe_writes_it(void **state)
{
	struct net_ipconf c;

	(void)state;
	/* iPXE: ip=${ip}:${next-server}:${gateway}:${netmask} */
	assert_int_equal(net_ipconf_parse("10.0.2.15:10.0.2.2:10.0.2.2:255.255.255.0", &c), 0);
	assert_true(c.given);
	assert_false(c.dhcp);
	assert_string_equal(ntoa(c.client), "10.0.2.15");
	assert_string_equal(ntoa(c.server), "10.0.2.2");
	assert_string_equal(ntoa(c.gateway), "10.0.2.2");
	assert_int_equal(net_netmask_prefix(c.netmask), 24);
	assert_string_equal(c.device, "");

	/* The full nine fields, as the kernel documents them. */
	assert_int_equal(net_ipconf_parse("192.168.1.5:192.168.1.1::255.255.0.0:admin:eth1:off:192.168.1.1:9.9.9.9", &c), 0);
	assert_string_equal(c.hostname, "admin");
	assert_string_equal(c.device, "eth1");
	assert_string_equal(ntoa(c.gateway), "0.0.0.0");
	assert_string_equal(ntoa(c.dns[1]), "9.9.9.9");
	assert_int_equal(net_netmask_prefix(c.netmask), 16);

	/* No netmask: the class default, as the kernel takes it. */
	assert_int_equal(net_ipconf_parse("10.1.2.3::::::off", &c), 0);
	assert_int_equal(net_netmask_prefix(c.netmask), 8);
}

static void test_ip_dhcp(void **state)
{
	struct net_ipconf c;

	(void)state;
	assert_int_equal(net_ipconf_parse("dhcp", &c), 0);
	assert_true(c.dhcp);
	assert_int_equal(net_ipconf_parse("on", &c), 0);
	assert_true(c.dhcp);
	/* pxelinux's IPAPPEND 1 with an empty client field, or autoconf dhcp with a device. */
	assert_int_equal(net_ipconf_parse(":::::eth0:dhcp", &c), 0);
	assert_true(c.dhcp);
	assert_string_equal(c.device, "eth0");
	assert_int_equal(net_ipconf_parse("::::", &c), 0);
	assert_true(c.dhcp);
}

static void test_ip_refused(void **state)
{
	struct net_ipconf c;

	(void)state;
	assert_int_equal(net_ipconf_parse("", &c), -EINVAL);
	assert_int_equal(net_ipconf_parse("maybe", &c), -EINVAL);
	assert_int_equal(net_ipconf_parse("10.0.2.300:::255.255.255.0", &c), -EINVAL);
	assert_int_equal(net_ipconf_parse("10.0.2.15:::255.0.255.0", &c), -EINVAL);
	assert_int_equal(net_ipconf_parse("10.0.2.15:::255.255.255.0::averyveryverylongname0:off", &c), -EINVAL);
	assert_int_equal(net_ipconf_parse("10.0.2.15:::255.255.255.0::eth0:sometimes", &c), -EINVAL);
	/* autoconf off and no address: nothing to configure. */
	assert_int_equal(net_ipconf_parse(":::::eth0:off", &c), -EINVAL);
}

static void test_bootif(void **state)
{
	uint8_t mac[6];
	char text[18];

	(void)state;
	assert_int_equal(net_bootif_parse("01-52-54-00-12-34-5A", mac), 0);
	assert_string_equal(net_mac_text(mac, text), "52:54:00:12:34:5a");
	assert_int_equal(net_bootif_parse("52:54:00:ab:cd:ef", mac), 0);
	assert_string_equal(net_mac_text(mac, text), "52:54:00:ab:cd:ef");
	assert_int_equal(net_bootif_parse("52-54-00-ab-cd-ef", mac), 0);
	assert_int_equal(net_bootif_parse("06-52-54-00-12-34-56", mac), -EINVAL);
	assert_int_equal(net_bootif_parse("01-52-54-00-12-34-5", mac), -EINVAL);
	assert_int_equal(net_bootif_parse("01-52-54-00-12-34-5g", mac), -EINVAL);
	assert_int_equal(net_bootif_parse("52:54:00:ab:cd:ef:", mac), -EINVAL);
	assert_int_equal(net_bootif_parse(NULL, mac), -EINVAL);
}

static void test_fetch_url(void **state)
{
	char long_url[NETBOOT_URL_MAX + 16];

	(void)state;
	assert_int_equal(net_fetch_url_check("http://10.0.2.100/"), 0);
	assert_int_equal(net_fetch_url_check("HTTP://boot.example:8080/gapbox"), 0);
	assert_int_equal(net_fetch_url_check("https://boot.example/gapbox"), -EINVAL);
	assert_int_equal(net_fetch_url_check("ftp://10.0.2.100/"), -EINVAL);
	assert_int_equal(net_fetch_url_check("http:///path"), -EINVAL);
	assert_int_equal(net_fetch_url_check("http://"), -EINVAL);
	assert_int_equal(net_fetch_url_check("http://a/\"b"), -EINVAL);
	assert_int_equal(net_fetch_url_check("http://a/b\tc"), -EINVAL);
	memset(long_url, 'a', sizeof(long_url) - 1);
	memcpy(long_url, "http://", 7);
	long_url[sizeof(long_url) - 1] = '\0';
	assert_int_equal(net_fetch_url_check(long_url), -ENAMETOOLONG);
}

static void test_cmdline(void **state)
{
	struct init_params p;
	char mac[18];

	(void)state;
	init_params_defaults(&p);
	assert_int_equal(init_params_parse_cmdline(&p, "console=ttyS0 gapbox.fetch=http://10.0.2.100/ "
						       "BOOTIF=01-52-54-00-12-34-56 ip=10.0.2.15:10.0.2.2:10.0.2.2:255.255.255.0"),
			 0);
	assert_string_equal(p.fetch_url, "http://10.0.2.100/");
	assert_true(p.have_bootif);
	assert_string_equal(net_mac_text(p.bootif, mac), "52:54:00:12:34:56");
	assert_true(p.ip.given);
	assert_false(p.ip.dhcp);
	assert_int_equal(p.n_invalid, 0);

	/* Bad values are said and left out; the medium boot stays. */
	init_params_defaults(&p);
	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.fetch=tftp://x/ BOOTIF=xx ip=bogus"), 0);
	assert_string_equal(p.fetch_url, "");
	assert_false(p.have_bootif);
	assert_false(p.ip.given);
	assert_int_equal(p.n_invalid, 3);
	fflush(log_stream);
	assert_non_null(strstr(log_buf, "ignoring gapbox.fetch=tftp://x/: expected an http:// URL"));
}

static void test_lease(void **state)
{
	struct net_link l = { 0 };

	(void)state;
	assert_int_equal(net_lease_parse("interface=ens3\nip=10.0.2.15\nsubnet=255.255.255.0\nrouter=10.0.2.2 10.0.2.3\n"
					 "dns=10.0.2.3 10.0.2.4\nsiaddr=10.0.2.2\n",
					 &l),
			 0);
	assert_string_equal(ntoa(l.addr), "10.0.2.15");
	assert_string_equal(ntoa(l.gateway), "10.0.2.2");
	assert_string_equal(ntoa(l.dns[1]), "10.0.2.4");
	assert_string_equal(ntoa(l.server), "10.0.2.2");
	assert_int_equal(net_lease_parse("ip=10.0.2.15\n", &l), -EBADMSG);
	assert_int_equal(net_lease_parse("ip=10.0.2.15\nsubnet=255.0.255.0\n", &l), -EBADMSG);
	assert_int_equal(net_lease_parse("", &l), -EBADMSG);
}

static void test_record(void **state)
{
	struct boot_record rec = { .from_ram = true, .medium_released = true, .ram_bytes = 330ULL * 1024 * 1024,
				   .url = "http://10.0.2.100/", .nic = "ens3", .nic_mac = "52:54:00:12:34:56",
				   .address = "10.0.2.15/24 from DHCP" },
			   back;
	char path[] = "/tmp/gapbox-test-bootrecord-XXXXXX", line[512];
	char *text = NULL, *err = NULL;
	int fd;

	(void)state;
	assert_int_equal(boot_record_format(&rec, &text), 0);
	assert_non_null(strstr(text, "\"url\":\"http://10.0.2.100/\""));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(boot_record_load(path, &back, &err), 0);
	assert_string_equal(back.nic_mac, "52:54:00:12:34:56");
	assert_string_equal(boot_record_describe(&back, line, sizeof(line)),
			    "from the network: http://10.0.2.100/ (330 MiB fetched into RAM and checked, over ens3 "
			    "10.0.2.15/24 from DHCP)");
	free(text);
	/* A medium's record has no netboot members. */
	rec = (struct boot_record){ .medium = "sr0" };
	assert_int_equal(boot_record_format(&rec, &text), 0);
	assert_null(strstr(text, "url"));
	free(text);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_static_as_ipxe_writes_it),
		cmocka_unit_test(test_ip_dhcp),
		cmocka_unit_test(test_ip_refused),
		cmocka_unit_test(test_bootif),
		cmocka_unit_test(test_fetch_url),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
