/* Files gapbox-firstboot carries inside it, taken from the source tree at build time (the
 * Makefile makes this object depend on each of them): node-setup.sh, a real shell script that
 * shellcheck reads, whose settings block nodes.c replaces with the site's values. */

	.section .rodata
	.globl fb_node_setup_sh
	.type fb_node_setup_sh, %object
fb_node_setup_sh:
	.incbin "firstboot/node-setup.sh"
	.byte 0
	.size fb_node_setup_sh, . - fb_node_setup_sh

	/* No executable stack for the program that links this. */
	.section .note.GNU-stack, "", %progbits
