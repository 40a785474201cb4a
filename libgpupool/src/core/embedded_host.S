/* embedded_host.S - the embedded default host model (hwloc XML of a
 * dual-socket 8-GPU server), linked into libgpupool as read-only data. */
    .section .rodata
    .global gp_embedded_host_xml
    .hidden gp_embedded_host_xml
    .type gp_embedded_host_xml, @object
gp_embedded_host_xml:
    .incbin "dual-socket-8gpu.xml"
    .byte 0
gp_embedded_host_xml_end:
    .size gp_embedded_host_xml, gp_embedded_host_xml_end - gp_embedded_host_xml
    .global gp_embedded_host_xml_len
    .hidden gp_embedded_host_xml_len
    .type gp_embedded_host_xml_len, @object
    .balign 8
gp_embedded_host_xml_len:
    .quad gp_embedded_host_xml_end - gp_embedded_host_xml - 1
    .size gp_embedded_host_xml_len, 8
    .section .note.GNU-stack,"",@progbits
