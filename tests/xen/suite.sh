#!/bin/sh
# tests/xen/suite.sh - gpupool's integration suite against real Xen 4.17.
# Runs in dom0 of the QEMU host that tests/xen/run boots, with the project
# tree as cwd; GPUPOOL_LAYOUT (from the dom0 kernel command line) names it:
#  2node: 2 NUMA nodes, VT-d, display functions 0000:21:00.0 0000:22:00.0
#         on node 0, 0000:41:00.0 (+ 0000:41:00.1 audio companion)
#         0000:42:00.0 on node 1;
#  numa4: 4 nodes of one pCPU (sockets=4,cores=1: Xen gives no core id),
#         0000:81:00.0 (+ .1 audio, multifunction) and 0000:82:00.0 on
#         node 2, 0000:c1:00.0 on node 3, 0000:00:05.0 on the root bus.
# Every guest started with a GPU gets its facts from Xen itself (guest_facts:
# per-node pages from the 'u' debug key, node affinity, vCPU affinity, the
# device the guest sees), one "FACT:" line each.
# Prints PASS/FAIL lines and ends with "N passed, N failed".
LAYOUT=${GPUPOOL_LAYOUT:-2node}
ROOT=$(pwd)
X="$ROOT/xe-cli/xe-gpupool"
IMG="$ROOT/build/xen-image"
W=/tmp/gpsuite
rm -rf "$W"; mkdir -p "$W"
export GPUPOOL_DB="$W/state.db"
export GPUPOOL_CONFIG="$W/none.conf"
unset GPUPOOL_DRIVER GPUPOOL_TOPOLOGY GPUPOOL_SYSFS_ROOT GPUPOOL_PCI_DUMP
P=0; F=0
pass() { P=$((P + 1)); echo "PASS: $*"; }
fail() { F=$((F + 1)); echo "FAIL: $*"; }
check() { d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
note() { echo "---- $*"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
uuid() { cat /proc/sys/kernel/random/uuid; }
# "2-3,5" -> "2,3,5"
expand() {
    echo "$1" | tr ',' '\n' | awk -F- 'NF == 2 { for (i = $1; i <= $2; i++) printf "%s%d", s++ ? "," : "", i; next }
                                       NF == 1 && $1 != "" { printf "%s%d", s++ ? "," : "", $1 } END { print "" }'
}
# field of a record printed by xe-gpupool: rfield KEY < output
rfield() { awk -v k="$1" '{ line = $0; sub(/^ +/, "", line) }
    index(line, k " ( R") == 1 { sub(/^[^:]*: ?/, "", line); print line; exit }'; }
gp() { "$X" "$@" > "$W/out" 2> "$W/err"; r=$?; cat "$W/err" >> "$W/out"; return $r; }
code_is() { head -1 "$W/out" | grep -qx "$1"; }
refused() { [ "$1" -ne 0 ] && code_is "$2"; }  # refused RC CODE
assign_field() { "$X" assignment-list vm-uuid="$1" params="$2" | rfield "$2"; }
# cpu -> node from xl info -n
xl info -n | awk '/^cpu_topology/ {t = 1; next} /^device topology/ {t = 0} /^numa_info/ {t = 0}
                  t && $1 ~ /^[0-9]+:$/ { sub(":", "", $1); print $1, $4 }' > "$W/cpunode"
# xl 4.17's info -n prints no cpu_topology line for a CPU whose core id is
# invalid (QEMU sockets=N,cores=1): then CPU -> node from Xen's 'u' key.
if [ "$(wc -l < "$W/cpunode")" -lt "$(xl info | awk '$1 == "nr_cpus" { print $3 }')" ]; then
    echo "xl info -n lists $(wc -l < "$W/cpunode") CPUs: CPU -> node from Xen's 'u' debug key"
    xl dmesg -c > /dev/null 2>&1; xl debug-keys u; sleep 1
    xl dmesg | sed -n 's/.*CPU\([0-9][0-9]*\) -> NODE\([0-9][0-9]*\).*/\1 \2/p' | sort -un > "$W/cpunode"
fi
node_of_cpu() { awk -v c="$1" '$1 == c { print $2 }' "$W/cpunode"; }
nodes_of() { for c in $(echo "$1" | tr ',' ' '); do node_of_cpu "$c"; done | sort -u | tr '\n' ' ' | sed 's/ $//'; }
gpu_node() { "$X" gpu-param-get pci-id="$1" param-name=numa-node 2>/dev/null; }
assignable() { xl pci-assignable-list 2>/dev/null | tr -d ' ' | grep -qx "$1"; }
dom0_driver() { d=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null); echo "${d##*/}"; }
pcilist() { xl pci-list "$1" 2>/dev/null | awk 'NR > 1 { print $2 }' | sort | tr '\n' ' ' | sed 's/ $//'; }
hard_aff() { xl vcpu-list "$1" 2>/dev/null | awk 'NR > 1 { print $(NF - 2) }' | sort -u; }
mkcfg() { # name uuid vcpus
    cat <<EOC
name = "$1"
uuid = "$2"
type = "pv"
kernel = "$IMG/vmlinuz"
ramdisk = "$IMG/guest.cpio.gz"
extra = "console=hvc0 quiet"
memory = 128
vcpus = $3
passthrough = "enabled"
EOC
}
guest_log() { tr -d '\r' < "/var/log/xen/console/guest-$1.log" 2>/dev/null; }
wait_guest_pci() { # name: wait for the guest to print its PCI functions
    i=0; while [ $i -lt 90 ]; do guest_log "$1" | grep -q 'guest: pci done' && break; sleep 1; i=$((i + 1)); done
    guest_log "$1" | grep 'guest: pci functions' | tail -1
}
soft_aff() { xl vcpu-list "$1" 2>/dev/null | awk 'NR > 1 { print $NF }' | sort -u; }
# node of a PCI function as Xen reports it (xl info -n device topology)
xl_dev_node() { xl info -n | awk -v d="$1" '$1 == d { print $2 }'; }
# Per-node pages of domain NAME from Xen's own 'u' debug key ("Memory
# location of each domain" in xl dmesg): "total T" then "NODE PAGES" lines.
dom_pages() {
    id=$(xl domid "$1" 2>/dev/null) || return 1
    xl dmesg -c > /dev/null 2>&1
    xl debug-keys u
    i=0; while [ $i -lt 10 ]; do
        xl dmesg > "$W/dmesg" 2>&1
        grep -q "Domain $id (total" "$W/dmesg" && break
        sleep 1; i=$((i + 1))
    done
    awk -v id="$id" '
        /Domain [0-9]+ \(total: [0-9]+\)/ { l = $0; sub(/.*Domain /, "", l); split(l, a, " ")
            cur = (a[1] == id && !done); if (cur) { done = 1; t = $0; sub(/.*total: /, "", t); sub(/\).*/, "", t); print "total", t }; next }
        cur && /Node [0-9]+: [0-9]+/ { l = $0; sub(/.*Node /, "", l); sub(/:/, "", l); print l; next }
        { cur = 0 }' "$W/dmesg"
}
# guest_facts NAME PIN-MODE NODE PCPUS NFUNCS GPU: what Xen and the guest say
# of a guest gpupool placed (NODE and PCPUS from Xen's own topology:
# xl info -n for the GPU, or the node of the pins for a GPU without one).
# One FACT line, then checks: >= 95% of its pages on NODE, node affinity
# NODE, vCPU hard/soft affinity for the pin mode, NFUNCS functions seen.
guest_facts() {
    gn=$1; gmode=$2; gnode=$3; gwant=$4; gnf=$5; ggpu=$6
    wait_guest_pci "$gn" > /dev/null
    dom_pages "$gn" > "$W/pages"
    gtot=$(awk '$1 == "total" { print $2 }' "$W/pages")
    gon=$(awk -v k="$gnode" '$1 == k { print $2 }' "$W/pages")
    gper=$(awk '$1 != "total" { printf "%s%s:%s", s++ ? "," : "", $1, $2 }' "$W/pages")
    gpct=$(awk -v a="${gon:-0}" -v b="${gtot:-0}" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')
    gaff=$(xl list -n "$gn" 2>/dev/null | awk 'NR == 2 { print $NF }')
    ghard=$(hard_aff "$gn" | tr '\n' ',' | sed 's/,$//')
    gsoft=$(soft_aff "$gn" | tr '\n' ',' | sed 's/,$//')
    gseen=$(guest_log "$gn" | grep '^guest: pci [0-9a-f]\{4\}:' | sed 's/^guest: pci //' | tr '\n' ';')
    echo "FACT: layout=$LAYOUT guest=$gn pin-mode=$gmode gpu=$ggpu node=$gnode pages-on-node=${gon:-?}/${gtot:-?} ($gpct%) per-node=$gper node-affinity=$gaff vcpu-hard=$ghard vcpu-soft=$gsoft guest-sees=$gseen"
    check "$gn ($gmode): >= 95% of its pages on node $gnode (Xen: ${gon:-?} of ${gtot:-?}, $gpct%)" \
        awk -v a="${gon:-0}" -v b="${gtot:-0}" 'BEGIN { exit !(b > 0 && a * 100 >= b * 95) }'
    check "$gn: node affinity $gnode (xl list -n: $gaff)" [ "$gaff" = "$gnode" ]
    case $gmode in
        hard) check "$gn: vCPUs hard and soft affinity $gwant (xl vcpu-list: $ghard / $gsoft)" \
                  [ -n "$gwant" -a "$(expand "$ghard")" = "$gwant" -a "$(expand "$gsoft")" = "$gwant" ] ;;
        *)    check "$gn: vCPUs hard affinity all, soft $gwant (xl vcpu-list: $(hard_aff "$gn") / $gsoft)" \
                  [ -n "$gwant" -a "$(hard_aff "$gn")" = all -a "$(expand "$gsoft")" = "$gwant" ] ;;
    esac
    check "$gn: the guest sees $gnf PCI function(s) ($gseen)" \
        [ "$(guest_log "$gn" | grep -c '^guest: pci [0-9a-f]\{4\}:')" -eq "$gnf" ]
}
# cpus of node N (xl info -n), comma-joined
node_cpus() { awk -v n="$1" '$2 == n { printf "%s%s", s++ ? "," : "", $1 } END { print "" }' "$W/cpunode"; }
# start a guest from vm-xl-config's lines: xlguest NAME UUID VCPUS
xlguest() {
    gp vm-xl-config vm=$2; r=$?
    cat "$W/out"
    { mkcfg "$1" "$2" "$3"; grep -v '^#' "$W/out"; } > "$W/$1.cfg"
    [ $r -eq 0 ] && xl create "$W/$1.cfg" > "$W/xl.out" 2>&1; r=$?
    [ $r -eq 0 ] || cat "$W/xl.out"
    return $r
}

note "driver and topology"
"$X" vm-list > /dev/null 2>&1
check "xe-gpupool runs in dom0 (vm-list)" [ $? -eq 0 ]

# host-show equals xl info -n: nodes, pCPUs per node, memory
xl info -n | awk '/^numa_info/ {t = 1; next} t && $1 ~ /^[0-9]+:$/ { sub(":", "", $1); print $1, $2 }' | sort > "$W/xl_mem"
awk '{ c[$2] = c[$2] (c[$2] == "" ? "" : ",") $1 } END { for (n in c) print n, c[n] }' "$W/cpunode" | sort > "$W/xl_cpus"
"$X" host-show > "$W/hs" 2>&1
awk '{ l = $0; sub(/^ +/, "", l) }
     index(l, "node ( RO)") == 1 { sub(/^[^:]*: /, "", l); n = l }
     index(l, "cpus ( RO)") == 1 { sub(/^[^:]*: /, "", l); print n, l }' "$W/hs" | sort > "$W/gp_cpus"
awk '{ l = $0; sub(/^ +/, "", l) }
     index(l, "node ( RO)") == 1 { sub(/^[^:]*: /, "", l); n = l }
     index(l, "memory-total-mib ( RO)") == 1 { sub(/^[^:]*: /, "", l); print n, l }' "$W/hs" | sort > "$W/gp_mem"
echo "xl nodes/cpus: $(tr '\n' ';' < "$W/xl_cpus")  gpupool: $(tr '\n' ';' < "$W/gp_cpus")"
echo "xl nodes/MiB:  $(tr '\n' ';' < "$W/xl_mem")  gpupool: $(tr '\n' ';' < "$W/gp_mem")"
check "host-show has the nodes and pCPUs per node of xl info -n" cmp -s "$W/xl_cpus" "$W/gp_cpus"
check "host-show has the memory per node of xl info -n" cmp -s "$W/xl_mem" "$W/gp_mem"
if [ "$LAYOUT" = numa4 ]; then
    NNODES=4; GPUNODES="0000:81:00.0:2 0000:82:00.0:2 0000:c1:00.0:3"
else
    NNODES=2; GPUNODES="0000:21:00.0:0 0000:22:00.0:0 0000:41:00.0:1 0000:42:00.0:1"
fi
check "$NNODES NUMA nodes" [ "$(wc -l < "$W/xl_mem")" -eq $NNODES ]
check "host-show lists every pCPU of xl info -n ($(wc -l < "$W/cpunode"))" \
    [ "$(awk '{ n += split($2, a, ",") } END { print n + 0 }' "$W/gp_cpus")" -eq "$(wc -l < "$W/cpunode")" ]

# every emulated GPU on the node QEMU gave it (and xl info -n agrees)
for g in $GPUNODES; do
    id=${g%:*}; want=${g##*:}
    got=$(gpu_node "$id")
    xlnode=$(xl info -n | awk -v d="$id" '$1 == d { print $2 }')
    check "GPU $id on node $want (gpupool: $got, xl: $xlnode)" [ "$got" = "$want" -a "$xlnode" = "$want" ]
done

note "host-validate: the IOMMU verdict follows Xen's boot option"
# Xen's command line (tests/xen/run boots it with iommu=1); the last iommu=
# option wins, as in Xen's parser.
XCMD=$(xl info | sed -n 's/^xen_commandline *: *//p')
IOMMU_OPT=$(echo "$XCMD" | tr ' ' '\n' | sed -n 's/^iommu=//p' | tail -1)
case "$IOMMU_OPT" in
    0|off|no|false) want_iommu=fail ;;
    *) want_iommu=pass ;;  # iommu=1 / on / absent (Xen's default: on where present)
esac
"$X" host-validate --format=json > "$W/validate.json" 2> "$W/validate.err"; rv=$?
# "status" of the object whose "id" is $1 (json-c's pretty output: one key a line)
vstatus() { awk -v id="$1" '$0 ~ "\"id\": \"" id "\"" { f = 1; next }
    f && /"status":/ { sub(/.*"status": "/, ""); sub(/".*/, ""); print; exit }' "$W/validate.json"; }
got_iommu=$(vstatus iommu)
echo "xen_commandline: $XCMD"
echo "host-validate exit $rv, iommu: $got_iommu (want $want_iommu), failed: $(grep -c '"status": "fail"' "$W/validate.json")"
check "host-validate --format=json runs (exit 0 or 2: $rv) with no error" \
    [ \( $rv -eq 0 -o $rv -eq 2 \) -a ! -s "$W/validate.err" ]
check "host-validate iommu = $want_iommu with Xen's iommu=${IOMMU_OPT:-default} (got $got_iommu)" \
    [ "$got_iommu" = "$want_iommu" ]
check "host-validate iommu evidence is libxl physinfo cap_hvm_directio" \
    grep -q 'libxl_get_physinfo cap_hvm_directio=' "$W/validate.json"
check "host-validate's verdict agrees with xl info virt_caps hvm_directio" \
    [ "$(xl info | grep -c '^virt_caps.*hvm_directio')" -eq "$([ "$got_iommu" = pass ] && echo 1 || echo 0)" ]
check "host-validate interrupt-remapping is unknown (libxl_physinfo has no such field)" \
    [ "$(vstatus interrupt-remapping)" = unknown ]
if [ $rv -eq 2 ]; then
    check "host-validate exit 2 means a check failed" grep -q '"status": "fail"' "$W/validate.json"
else
    check "host-validate exit 0 means no check failed" sh -c "! grep -q '\"status\": \"fail\"' '$W/validate.json'"
fi

if [ "$LAYOUT" = numa4 ]; then
    . tests/xen/suite-numa4.sh
    xl list | awk 'NR > 2 { print $1 }' | while read -r d; do xl destroy "$d" > /dev/null 2>&1; done
    echo "$P passed, $F failed"
    [ $F -eq 0 ]
    exit
fi
"$X" gpu-param-list pci-id=0000:41:00.0 > "$W/g41" 2>&1
check "0000:41:00.1 (audio) is a companion of 0000:41:00.0" grep -q '0000:41:00.1' "$W/g41"

note "pools: assignable through pciback"
gp pool-create name-label=p1 numa-policy=required pin-mode=hard cpu-overcommit=4
check "pool-create p1" [ $? -eq 0 ]
gp pool-gpu-add pool=p1 pci-id=0000:41:00.0; r=$?
[ $r -eq 0 ] || cat "$W/out"
check "pool-gpu-add 0000:41:00.0" [ $r -eq 0 ]
check "0000:41:00.0 in xl pci-assignable-list" assignable 0000:41:00.0
check "companion 0000:41:00.1 in xl pci-assignable-list" assignable 0000:41:00.1
check "0000:41:00.0 bound to pciback" [ "$(dom0_driver 0000:41:00.0)" = pciback ]
check "0000:41:00.1 bound to pciback" [ "$(dom0_driver 0000:41:00.1)" = pciback ]
gp pool-gpu-remove pci-id=0000:41:00.0; r=$?
[ $r -eq 0 ] || cat "$W/out"
check "pool-gpu-remove 0000:41:00.0" [ $r -eq 0 ]
check "0000:41:00.0 handed back (not assignable, not pciback)" \
    sh -c "! xl pci-assignable-list | tr -d ' ' | grep -qx 0000:41:00.0 && [ \"\$(basename \"\$(readlink /sys/bus/pci/devices/0000:41:00.0/driver 2>/dev/null)\")\" != pciback ]"
check "companion 0000:41:00.1 handed back" sh -c "! xl pci-assignable-list | tr -d ' ' | grep -qx 0000:41:00.1"
for g in 0000:41:00.0 0000:42:00.0 0000:21:00.0 0000:22:00.0; do
    gp pool-gpu-add pool=p1 pci-id=$g; r=$?
    [ $r -eq 0 ] || cat "$W/out"
    check "pool-gpu-add $g" [ $r -eq 0 ]
done

note "vm-boot-prepare: GPU without companion (0000:42:00.0)"
UA=$(uuid)
gp vm-gpu-assign vm=$UA pool=p1 pci-id=0000:42:00.0 vcpus=2 memory=128; r=$?
[ $r -eq 0 ] || cat "$W/out"
check "vm-gpu-assign halted VM $UA (by uuid) to 0000:42:00.0" [ $r -eq 0 ]
PA=$(expand "$(assign_field $UA pcpus)")
check "assignment pCPUs $PA on node 1" [ "$(nodes_of "$PA")" = 1 ]
# The paused domain gets vm-xl-config's affinity lines (not its pci line):
# xl create -p populates the memory, so they must be there at creation.
mkcfg gA $UA 2 > "$W/gA.cfg"
gp vm-xl-config vm=$UA
grep -E '^(pool|cpus|cpus_soft) = ' "$W/out" >> "$W/gA.cfg"
xl create -p "$W/gA.cfg" > "$W/xl.out" 2>&1 || cat "$W/xl.out"
gp vm-boot-prepare vm=$UA; r=$?
cat "$W/out"
check "vm-boot-prepare (paused, never ran)" [ $r -eq 0 ]
check "vm-boot-prepare: memory-node-certainty best-effort, node affinity 1 (created with the affinity lines)" \
    [ "$(rfield memory-node-certainty < "$W/out")" = best-effort -a "$(rfield node-affinity < "$W/out")" = 1 ]
check "xl pci-list gA = 0000:42:00.0 (got: $(pcilist gA))" [ "$(pcilist gA)" = "0000:42:00.0" ]
aff=$(hard_aff gA)
check "gA vCPUs hard-pinned to $PA (xl vcpu-list: $aff)" [ -n "$PA" -a "$(expand "$aff")" = "$PA" ]
xl unpause gA
gl=$(wait_guest_pci gA)
check "guest gA sees one PCI function ($gl)" [ "$(echo "$gl" | wc -w)" -eq 4 ]
guest_facts gA hard "$(xl_dev_node 0000:42:00.0)" "$PA" 1 0000:42:00.0
gp vm-boot-prepare vm=$UA; r=$?
check "vm-boot-prepare on a domain that ran: VM_ALREADY_RAN" refused $r VM_ALREADY_RAN

note "vm-boot-prepare: GPU with companion (0000:41:00.0 + 0000:41:00.1)"
UB=$(uuid)
gp vm-gpu-assign vm=$UB pool=p1 pci-id=0000:41:00.0 vcpus=1 memory=128; r=$?
check "vm-gpu-assign $UB to 0000:41:00.0" [ $r -eq 0 ]
mkcfg gB $UB 1 > "$W/gB.cfg"
xl create -p "$W/gB.cfg" > "$W/xl.out" 2>&1 || cat "$W/xl.out"
aff_before=$(xl vcpu-list gB | awk 'NR > 1 { print $(NF - 2), $NF }')
t0=$(ms); gp vm-boot-prepare vm=$UB; r=$?; t1=$(ms)
cat "$W/out"
if [ $r -eq 0 ]; then
    check "xl pci-list gB = GPU + companion (got: $(pcilist gB))" [ "$(pcilist gB)" = "0000:41:00.0 0000:41:00.1" ]
    PB=$(expand "$(assign_field $UB pcpus)")
    check "gB vCPUs hard-pinned to $PB" [ "$(expand "$(hard_aff gB)")" = "$PB" ]
    BP_COMPANION=attached
else
    # Refused (libxl cannot hot-add a second function to a PV domain that
    # never ran): gpupool must say so and leave gB as it was.
    BP_COMPANION=refused
    echo "vm-boot-prepare refused after $((t1 - t0)) ms"
    check "refusal is DRIVER_ERROR" refused $r DRIVER_ERROR
    check "gB has no device attached (got: '$(pcilist gB)')" [ -z "$(pcilist gB)" ]
    check "gB affinity unchanged" [ "$(xl vcpu-list gB | awk 'NR > 1 { print $(NF - 2), $NF }')" = "$aff_before" ]
    # The same attach through xl on an identical paused domain.
    xl destroy gB
    sed 's/^name = .*/name = "gBx"/; /^uuid/d' "$W/gB.cfg" > "$W/gBx.cfg"
    xl create -p "$W/gBx.cfg" > /dev/null 2>&1
    xl pci-attach gBx 0000:41:00.0 > "$W/xl1" 2>&1
    xl pci-attach gBx 0000:41:00.1 > "$W/xl2" 2>&1; xr=$?
    cat "$W/xl2"
    xlmsg=$(grep 'libxl__wait_for_backend' "$W/xl2" | head -1 | sed 's/^libxl: error: libxl_device.c:[0-9]*://; s/[0-9][0-9]*/N/g')
    gpmsg=$(grep '^libxl-limitation: ' "$W/out" | sed 's/^libxl-limitation: //; s/[0-9][0-9]*/N/g')
    echo "xl: $xlmsg"; echo "gpupool: $gpmsg"
    check "xl pci-attach of the companion is refused too" [ $xr -ne 0 ]
    check "gpupool names the libxl refusal xl gets (numbers masked)" [ -n "$xlmsg" -a "$xlmsg" = "$gpmsg" ]
    xl destroy gBx > /dev/null 2>&1
fi
xl destroy gB > /dev/null 2>&1
gp vm-gpu-release vm=$UB
check "vm-gpu-release $UB after xl destroy" [ $? -eq 0 ]
for f in 0000:41:00.0 0000:41:00.1; do
    check "$f assignable again after destroy" assignable $f
done

note "vm-xl-config: GPU with companion at domain creation"
UC=$(uuid)
gp vm-gpu-assign vm=$UC pool=p1 pci-id=0000:41:00.0 vcpus=2 memory=128; r=$?
check "vm-gpu-assign $UC to 0000:41:00.0" [ $r -eq 0 ]
gp vm-xl-config vm=$UC; r=$?
cat "$W/out"
check "vm-xl-config prints pci with the companion" grep -qx 'pci = \[ "0000:41:00.0", "0000:41:00.1" \]' "$W/out"
PC=$(expand "$(assign_field $UC pcpus)")
check "vm-xl-config prints one cpus = the assignment's pCPUs ($PC)" [ -n "$PC" -a "$(sed -n 's/^cpus = "\([0-9,-]*\)"$/\1/p' "$W/out" | while read -r c; do expand "$c"; done)" = "$PC" ]
{ mkcfg gC $UC 2; grep -v '^#' "$W/out"; } > "$W/gC.cfg"
xl create "$W/gC.cfg" > "$W/xl.out" 2>&1; r=$?
[ $r -eq 0 ] || cat "$W/xl.out"
check "xl create from the vm-xl-config lines" [ $r -eq 0 ]
check "xl pci-list gC = GPU + companion (got: $(pcilist gC))" [ "$(pcilist gC)" = "0000:41:00.0 0000:41:00.1" ]
check "gC vCPUs hard-pinned to $PC (xl: $(hard_aff gC))" [ -n "$PC" -a "$(expand "$(hard_aff gC)")" = "$PC" ]
gl=$(wait_guest_pci gC)
check "guest gC sees two PCI functions ($gl)" [ "$(echo "$gl" | wc -w)" -eq 5 ]
guest_facts gC hard "$(xl_dev_node 0000:41:00.0)" "$PC" 2 0000:41:00.0

note "every assignment: GPU node = node of its pCPUs (database and Xen)"
for u in $UA $UC; do
    g=$(assign_field $u pci-id); p=$(expand "$(assign_field $u pcpus)")
    name=$(xl list | awk -v u=$u 'NR > 1 { print $1 }' | while read -r n; do
        [ "$(xl list -l "$n" 2>/dev/null | grep -c "$u")" -gt 0 ] && echo "$n"; done | head -1)
    live=""
    [ -n "$name" ] && live=$(nodes_of "$(expand "$(hard_aff "$name")")")
    check "VM $u: GPU $g node $(gpu_node "$g") = pCPU node $(nodes_of "$p") = live vCPU node ${live:-?}" \
        [ -n "$g" -a "$(gpu_node "$g")" = "$(nodes_of "$p")" -a "$live" = "$(nodes_of "$p")" ]
done

note "running VM: assign / release refused, nothing changed"
"$X" assignment-list > "$W/before" 2>&1
gp vm-gpu-release vm=$UC; r=$?
check "vm-gpu-release on running gC: VM_NOT_HALTED" refused $r VM_NOT_HALTED
gp vm-gpu-assign vm=$UC pool=p1 vcpus=1 memory=64; r=$?
check "vm-gpu-assign on running gC: VM_NOT_HALTED" refused $r VM_NOT_HALTED
gp vm-gpu-release vm=gC; r=$?
check "vm-gpu-release by name-label of running gC: VM_NOT_HALTED" refused $r VM_NOT_HALTED
"$X" assignment-list > "$W/after" 2>&1
check "assignments unchanged" cmp -s "$W/before" "$W/after"
check "gC still has its devices" [ "$(pcilist gC)" = "0000:41:00.0 0000:41:00.1" ]
gp pool-gpu-remove pci-id=0000:41:00.0; r=$?
check "pool-gpu-remove of a GPU a live domain holds: GPU_ASSIGNED" refused $r GPU_ASSIGNED
check "0000:41:00.0 still attached to gC" [ "$(pcilist gC)" = "0000:41:00.0 0000:41:00.1" ]

note "after xl destroy the GPU can be reassigned"
xl destroy gC
gp vm-gpu-release vm=$UC; r=$?
check "vm-gpu-release $UC (halted now)" [ $r -eq 0 ]
UD=$(uuid)
gp vm-gpu-assign vm=$UD pool=p1 pci-id=0000:41:00.0 vcpus=1 memory=64; r=$?
[ $r -eq 0 ] || cat "$W/out"
check "0000:41:00.0 reassigned to another VM $UD" [ $r -eq 0 ]
check "assignment of $UD is on node 1" [ "$(nodes_of "$(expand "$(assign_field $UD pcpus)")")" = 1 ]

note "host-reconcile"
gp host-reconcile; cat "$W/out"
xl pci-assignable-remove 0000:22:00.0 > /dev/null 2>&1
check "0000:22:00.0 made unassignable behind gpupool's back" sh -c "! xl pci-assignable-list | tr -d ' ' | grep -qx 0000:22:00.0"
# Xen refuses attaching an unassignable device: gpupool reports libxl's own
# errors, exactly as xl gets them, and changes nothing.
UE=$(uuid)
gp vm-gpu-assign vm=$UE pool=p1 pci-id=0000:22:00.0 vcpus=1 memory=64; r=$?
check "vm-gpu-assign $UE to 0000:22:00.0 (database only)" [ $r -eq 0 ]
mkcfg gE $UE 1 > "$W/gE.cfg"
xl create -p "$W/gE.cfg" > /dev/null 2>&1
affE=$(xl vcpu-list gE | awk 'NR > 1 { print $(NF - 2), $NF }')
gp vm-boot-prepare vm=$UE; r=$?
cat "$W/out"
check "vm-boot-prepare of an unassignable GPU: DRIVER_ERROR" refused $r DRIVER_ERROR
check "gE has no device attached" [ -z "$(pcilist gE)" ]
check "gE affinity unchanged" [ "$(xl vcpu-list gE | awk 'NR > 1 { print $(NF - 2), $NF }')" = "$affE" ]
xl pci-attach gE 0000:22:00.0 > "$W/xlE" 2>&1
cat "$W/xlE"
grep 'libxl: error:' "$W/xlE" | sed 's/^libxl: error: //; s/[0-9][0-9]*/N/g' > "$W/xlmsg"
grep '^libxl-error: ' "$W/out" | sed 's/^libxl-error: //; s/[0-9][0-9]*/N/g' > "$W/gpmsg"
check "gpupool reports libxl's exact errors, as xl pci-attach prints them (numbers masked)" \
    sh -c "[ -s '$W/xlmsg' ] && cmp -s '$W/xlmsg' '$W/gpmsg'"
xl destroy gE > /dev/null 2>&1
gp vm-gpu-release vm=$UE
gp host-reconcile; r=$?
cat "$W/out"
check "host-reconcile reports 0000:22:00.0 not-assignable" \
    sh -c "grep -A1 'kind ( RO).*not-assignable' '$W/out' | grep -q 0000:22:00.0"
gp host-reconcile fix=true; cat "$W/out"
check "host-reconcile fix=true fixes it" grep -q 'fixed ( RO): true' "$W/out"
check "0000:22:00.0 assignable again" assignable 0000:22:00.0
gp host-reconcile
check "no not-assignable difference left" sh -c "! grep -q 'not-assignable' '$W/out'"
xl vcpu-pin gA all 0-3 > /dev/null 2>&1
gp host-reconcile; cat "$W/out"
check "host-reconcile reports gA's changed affinity" grep -q 'affinity-mismatch' "$W/out"
gp host-reconcile fix=true
check "fix=true re-pins gA to $PA" [ "$(expand "$(hard_aff gA)")" = "$PA" ]

note "pin modes soft and none: guests from vm-xl-config, memory on the GPU's node"
gp pool-gpu-remove pci-id=0000:21:00.0
check "pool-gpu-remove 0000:21:00.0 from p1" [ $? -eq 0 ]
gp pool-create name-label=p2 numa-policy=required pin-mode=soft cpu-overcommit=4
gp pool-gpu-add pool=p2 pci-id=0000:21:00.0; r=$?
check "pool p2 (soft) with 0000:21:00.0" [ $r -eq 0 ]
N21=$(xl_dev_node 0000:21:00.0)
for m in soft none; do
    [ $m = none ] && { gp pool-param-set pool=p2 pin-mode=none; check "pool p2: pin-mode none" [ $? -eq 0 ]; }
    U=$(uuid)
    gp vm-gpu-assign vm=$U pool=p2 vcpus=2 memory=128; r=$?
    [ $r -eq 0 ] || cat "$W/out"
    check "vm-gpu-assign $U (pin-mode $m) to 0000:21:00.0" [ $r -eq 0 ]
    pins=$(expand "$(assign_field $U pcpus)")
    [ $m = none ] && pins=$(node_cpus "$N21")
    xlguest g$m $U 2; r=$?
    check "g$m: xl create from the vm-xl-config lines" [ $r -eq 0 ]
    [ $r -eq 0 ] && guest_facts g$m $m "$N21" "$pins" 1 0000:21:00.0
    xl destroy g$m > /dev/null 2>&1
    gp vm-gpu-release vm=$U
done

note "timing inside dom0 (5 runs each, ms)"
t() { s=$(ms); i=0; while [ $i -lt 5 ]; do "$@" > /dev/null 2>&1; i=$((i + 1)); done; echo $(( ($(ms) - s) / 5 )); }
a=$(t "$X" gpu-list); b=$(t xl pci-assignable-list); c=$(t "$X" host-show); d=$(t xl info -n)
echo "xe-gpupool gpu-list ${a} ms, xl pci-assignable-list ${b} ms, ratio $(awk -v a=$a -v b=$b 'BEGIN { printf "%.1f", b ? a / b : 0 }')"
echo "xe-gpupool host-show ${c} ms, xl info -n ${d} ms, ratio $(awk -v a=$c -v b=$d 'BEGIN { printf "%.1f", b ? a / b : 0 }')"
echo "vm-boot-prepare with companion: ${BP_COMPANION:-not run}"

xl destroy gA > /dev/null 2>&1
echo "$P passed, $F failed"
[ $F -eq 0 ]
