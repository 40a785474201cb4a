#!/bin/sh
# demo.sh - the main job on the embedded dual-socket 8-GPU host (make demo).
#
# GPU pools with NUMA-aware placement, through xe-gpupool and the simulated
# hypervisor driver, in a fresh scratch database (tests/tmp/demo/state.db).
# Every command is printed before it runs ("+ xe-gpupool ...").  The refusal
# of a change on a running VM (VM_NOT_HALTED) is expected and checked.
set -eu

cd "$(dirname "$0")/.."
XE="$PWD/xe-cli/xe-gpupool"
DEMO="$PWD/tests/tmp/demo"

if [ ! -x "$XE" ]; then
    echo "demo: $XE is not built (run make)" >&2
    exit 1
fi
rm -rf "$DEMO"
mkdir -p "$DEMO"

# The configuration comes from the environment (GPUPOOL_* variables); no
# /etc/gpupool/gpupool.conf is read.
GPUPOOL_CONFIG="$DEMO/none.conf"
GPUPOOL_DB="$DEMO/state.db"
GPUPOOL_DRIVER=sim
GPUPOOL_TOPOLOGY=embedded
export GPUPOOL_CONFIG GPUPOOL_DB GPUPOOL_DRIVER GPUPOOL_TOPOLOGY
unset GPUPOOL_SYSFS_ROOT GPUPOOL_PCI_DUMP GPUPOOL_GPU_CLASSES 2>/dev/null || true

say() {
    printf '\n### %s\n' "$*"
}

# Run xe-gpupool, echoing the command; its output goes to stdout.
xe() {
    echo "+ xe-gpupool $*"
    "$XE" "$@"
}

# Same, capturing stdout into the variable named by $1.
xe_to() {
    var=$1
    shift
    echo "+ xe-gpupool $*"
    out=$("$XE" "$@")
    printf '%s\n' "$out"
    eval "$var=\$out"
}

# A command that must be refused with the given code.
xe_refused() {
    code=$1
    shift
    echo "+ xe-gpupool $*"
    if "$XE" "$@" 2>"$DEMO/err"; then
        echo "demo: expected $code, but the command succeeded" >&2
        exit 1
    fi
    cat "$DEMO/err"
    if [ "$(head -n 1 "$DEMO/err")" != "$code" ]; then
        echo "demo: expected $code" >&2
        exit 1
    fi
    echo "(refused as expected: $code)"
}

echo "GPUPOOL_DB=$GPUPOOL_DB GPUPOOL_DRIVER=sim GPUPOOL_TOPOLOGY=embedded"

say "The host: two NUMA nodes, four GPUs on each"
xe host-show params=node,socket,pcpu-count,memory-total-mib,gpus
xe_to all_gpus gpu-list --minimal
xe_to node0 gpu-list numa-node=0 --minimal
xe_to node1 gpu-list numa-node=1 --minimal

n0a=$(echo "$node0" | cut -d, -f1); n0b=$(echo "$node0" | cut -d, -f2)
n0c=$(echo "$node0" | cut -d, -f3)
n1a=$(echo "$node1" | cut -d, -f1); n1b=$(echo "$node1" | cut -d, -f2)
n1c=$(echo "$node1" | cut -d, -f3)

say "Pools: training (required locality, hard pinning) and inference"
xe pool-create name-label=training name-description=llm-training \
    numa-policy=required pin-mode=hard
xe pool-create name-label=inference numa-policy=preferred pin-mode=soft
for g in "$n0a" "$n0b" "$n1a" "$n1b"; do
    xe pool-gpu-add pool=training pci-id="$g"
done
xe pool-gpu-add pool=inference pci-id="$n0c"
xe pool-gpu-add pool=inference pci-id="$n1c"
xe pool-list

say "VMs: two trainers (16 vCPUs, 128 GiB) and an inference server (8 vCPUs)"
xe sim-vm-create name-label=trainer-01 vcpus=16 memory=131072
xe sim-vm-create name-label=trainer-02 vcpus=16 memory=131072
xe sim-vm-create name-label=infer-01 vcpus=8 memory=32768

say "Assignments: GPU, pCPUs and memory on one NUMA node"
xe vm-gpu-assign vm=trainer-01 pool=training
xe vm-gpu-assign vm=trainer-02 pool=training
xe vm-gpu-assign vm=infer-01 pool=inference
xe assignment-list params=vm-name-label,pci-id,numa-node,memory-node,pcpus
xe gpu-list pool=training params=pci-id,numa-node,vm-uuid

say "A running VM keeps its GPU: changes are refused until it halts"
xe sim-vm-start vm=trainer-01
xe vm-list params=name-label,power-state,gpu
xe_refused VM_NOT_HALTED vm-gpu-release vm=trainer-01
xe sim-vm-create name-label=trainer-03 vcpus=16 memory=131072
xe sim-vm-start vm=trainer-03
xe_refused VM_NOT_HALTED vm-gpu-assign vm=trainer-03 pool=training

say "Halt, release and reassign"
xe sim-vm-shutdown vm=trainer-01
xe vm-gpu-release vm=trainer-01
xe vm-gpu-assign vm=trainer-01 pool=training pci-id="$n1b"
xe assignment-list vm-name-label=trainer-01 params=vm-name-label,pci-id,numa-node,pcpus,reason

say "The audit log"
xe audit-list --minimal params=operation
xe audit-list operation=vm-gpu-release params=id,time,caller,operation,object

echo
echo "demo: done"
