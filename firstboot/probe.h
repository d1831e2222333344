/* Asking the services whether they answer: a DNS query, an NTP query, HTTP requests (also
 * the registry API), and who holds a port when a service is not the one answering. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* Ask SERVER:PORT for the A record of NAME over UDP; 0 when it answers with EXPECT among the
 * addresses, else negative with *ret_error ("timed out", "REFUSED", "answered 10.0.0.1"). */
int probe_dns(struct in_addr server, unsigned port, const char *name, struct in_addr expect, int timeout_ms,
	      char **ret_error);
/* Send an NTP client request; 0 when a server reply comes back (*ret_stratum gets its stratum). */
int probe_ntp(struct in_addr server, unsigned port, int timeout_ms, unsigned *ret_stratum, char **ret_error);
/* GET (or HEAD) URL, proxies ignored; *ret_status gets the HTTP status (0 when none came). ACCEPT
 * (may be NULL) is sent as the Accept header. CA_FILE (may be NULL) allows https:// URLs, whose
 * server must have a certificate signed by that CA. 0 when a response came, negative with
 * *ret_error otherwise. */
int probe_http(const char *url, bool head, const char *accept, const char *ca_file, int timeout_ms, long *ret_status,
	       char **ret_error);
/* Process bound to PORT (tcp or udp) on ADDR or a wildcard address: *ret_pid and *ret_comm
 * (NULL when the socket's owner could not be found). 1 found, 0 nobody, negative errno. */
int probe_port_owner(bool tcp, struct in_addr addr, unsigned port, int *ret_pid, char **ret_comm);
