# tests/xen/suite-numa4.sh - sourced by suite.sh on layout numa4 (4 nodes of
# one pCPU, sockets=4,cores=1; GPUs on nodes 2 and 3, a multifunction GPU,
# one display function on the root bus).  Uses suite.sh's helpers.

note "numa4: pools (pCPUs without a core id still place VMs)"
gp pool-create name-label=n4hard numa-policy=required pin-mode=hard cpu-overcommit=4
check "pool-create n4hard (required, hard)" [ $? -eq 0 ]
gp pool-create name-label=n4soft numa-policy=preferred pin-mode=soft cpu-overcommit=4
check "pool-create n4soft (preferred, soft)" [ $? -eq 0 ]
for g in n4hard:0000:81:00.0 n4hard:0000:c1:00.0 n4soft:0000:82:00.0 n4soft:0000:00:05.0; do
    gp pool-gpu-add pool=${g%%:*} pci-id=${g#*:}; r=$?
    [ $r -eq 0 ] || cat "$W/out"
    check "pool-gpu-add ${g#*:} to ${g%%:*}" [ $r -eq 0 ]
done
check "companion 0000:81:00.1 assignable with 0000:81:00.0 (multifunction)" assignable 0000:81:00.1
check "0000:00:05.0 (root bus) has no node (gpupool: $(gpu_node 0000:00:05.0), xl: '$(xl_dev_node 0000:00:05.0)')" \
    [ "$(gpu_node 0000:00:05.0)" = unknown -a -z "$(xl_dev_node 0000:00:05.0)" ]

# n4guest NAME POOL PCI MODE NFUNCS: assign a halted VM, start it from
# vm-xl-config's lines, check it against Xen, destroy and release it.
n4guest() {
    U=$(uuid)
    gp vm-gpu-assign vm=$U pool=$2 pci-id=$3 vcpus=1 memory=128; r=$?
    [ $r -eq 0 ] || cat "$W/out"
    check "vm-gpu-assign $1 ($U) to $3 in $2" [ $r -eq 0 ]
    [ $r -eq 0 ] || return
    pins=$(expand "$(assign_field $U pcpus)")
    node=$(xl_dev_node "$3")
    [ -n "$node" ] || node=$(nodes_of "$pins")          # root bus: the node of its pins
    [ "$4" = none ] && pins=$(node_cpus "$node")
    echo "$1: assignment node $(assign_field $U numa-node), memory node $(assign_field $U memory-node) ($(assign_field $U memory-node-certainty)), pins '$(assign_field $U pcpus)'; Xen: GPU node '$(xl_dev_node "$3")', pin node $node"
    check "$1: assignment's memory node = $node (Xen's node of the GPU / pins)" [ "$(assign_field $U memory-node)" = "$node" ]
    xlguest "$1" $U 1; r=$?
    check "$1: xl create from the vm-xl-config lines" [ $r -eq 0 ]
    [ $r -eq 0 ] && guest_facts "$1" "$4" "$node" "$pins" "$5" "$3"
    xl destroy "$1" > /dev/null 2>&1
    gp vm-gpu-release vm=$U
}

note "numa4: guests from vm-xl-config, memory on the GPU's node"
n4guest h81 n4hard 0000:81:00.0 hard 2
n4guest hc1 n4hard 0000:c1:00.0 hard 1
n4guest s82 n4soft 0000:82:00.0 soft 1
n4guest s05 n4soft 0000:00:05.0 soft 1
gp pool-param-set pool=n4hard pin-mode=none
check "pool n4hard: pin-mode none" [ $? -eq 0 ]
n4guest n81 n4hard 0000:81:00.0 none 2

note "numa4: what libxl 4.17 does with the old lines (cpus only), and boot-prepare"
gp pool-param-set pool=n4hard pin-mode=hard
UO=$(uuid)
gp vm-gpu-assign vm=$UO pool=n4hard pci-id=0000:c1:00.0 vcpus=1 memory=128
check "vm-gpu-assign $UO to 0000:c1:00.0 (node 3)" [ $? -eq 0 ]
{ mkcfg gO $UO 1; echo 'cpus = "3"'; } > "$W/gO.cfg"
xl -v create -p "$W/gO.cfg" > "$W/xl.out" 2>&1
grep 'numa_place_domain' "$W/xl.out"
dom_pages gO > "$W/pages"
affO=$(xl list -n gO | awk 'NR == 2 { print $NF }')
echo "FACT: layout=$LAYOUT guest=gO lines='cpus = \"3\" only' (no cpus_soft) pages: $(awk '{ printf "%s%s:%s", s++ ? "," : "", $1, $2 }' "$W/pages") node-affinity=$affO"
gp vm-boot-prepare vm=$UO; r=$?
cat "$W/out"
check "vm-boot-prepare of the paused gO" [ $r -eq 0 ]
cert=$(rfield memory-node-certainty < "$W/out")
if [ "$affO" = 3 ]; then wantc=best-effort; else wantc=unknown; fi
check "boot-prepare says memory-node-certainty $wantc (Xen's node affinity of gO: $affO; got: $cert)" [ "$cert" = "$wantc" ]
check "boot-prepare reports gO's node affinity as Xen does ($affO)" [ "$(rfield node-affinity < "$W/out")" = "$affO" ]
xl destroy gO > /dev/null 2>&1
gp vm-gpu-release vm=$UO
