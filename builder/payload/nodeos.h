/* Which node OS the payload's package repositories are for, read from the repositories' own
 * metadata: kubespray-offline builds debs/local on an Ubuntu machine and rpms/local on a RHEL-family
 * one, for nodes of that OS, and a node of another OS cannot use them. */
#pragma once

/* The node OS families of the repositories under the outputs folder DIR, for the payload record
 * (struct payload_record.node_os): "debian" for debs/local with a Packages index listing a
 * package, "rhel<N>" for rpms/local with repodata for each N of the ".el<N>" release tags of its
 * rpms, or "rhel" when none has one. *ret is an empty list (not NULL) when there is neither.
 * 0 or a negative errno. */
int payload_node_os(const char *dir, char ***ret);
