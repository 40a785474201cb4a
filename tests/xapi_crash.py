#!/usr/bin/env python3
"""Crash and concurrency tests of gpupool under the xapi driver (issue 9,
"Done when"), against tests/xapi_standin.py.  Run by `make check`.

    tests/xapi_crash.py [--stride S] [--jobs N] [--ops OP,...|all]
                        [--only kill|concurrency] [--show N] [--keep]

1. kill_points.  For vm-gpu-assign, vm-gpu-release, pool-gpu-add and
   pool-gpu-remove (xe-gpupool with GPUPOOL_DRIVER=xapi and the other
   GPUPOOL_* variables), one clean run is traced (strace -f -o) and its
   syscalls counted.  strace counts `when=` per syscall and per tracee
   (strace(1): "Accounting of syscalls that are subject to injection is done
   per syscall and per tracee"), so `-e inject=all:signal=KILL:when=N` kills
   at the first call that is the N-th of its own syscall, not at the N-th
   syscall: over N = 1..count it reaches only as many places as the most
   frequent syscall has calls (185 of 1240 for assign).  Here the point for
   the clean run's N-th syscall, the k-th call of NAME, is
   `strace -f -o /dev/null -e trace=NAME -e inject=NAME:signal=KILL:when=k`
   (the tracee dies on entering that call, before it runs): one kill point
   per syscall.  N=1 (the execve that starts the command) cannot be killed:
   strace never injects there.  After each kill:
     - every other point runs `xe-gpupool host-reconcile fix=true` and checks;
       the others go straight to the follow-up call, which is then the next
       call (every journaled call first settles the intents of dead callers);
     - (g) if the kill left the stores disagreeing, host-reconcile must
       report a difference;
     - the follow-up: assign/release: vm-gpu-assign of a second VM to the
       pool, whose only GPU is the one moved: refused (POOL_HAS_NO_FREE_GPU
       or NO_PLACEMENT) exactly when the first VM holds it, else it gets it;
       pool-gpu-add/remove: the same call again, which must leave the GPU a
       member / no member.  Then the checks again:
       (a) no GPU BDF in other-config:pci of two VMs;
       (b) sqlite's assignments and the VMs' other-config agree: each
           assignment's GPU is in its VM's pci and gpupool:pci, the VM marked
           gpupool:vm=<its uuid>; each VM so marked has an assignment; no VM
           without one names a pool GPU;
       (c) no intents (or intent items) left;
       (d) no VM's blocked_operations holds "gpupool: GPU assignment being
           written";
       (e) a pool member's dom0 access is disabled/disable_on_reboot, any
           other GPU's is what it was before the test;
       (f) a VM without assignment keeps no gpupool:* key, no
           VCPUs_params:mask, no affinity; an assigned VM (pin-mode hard) has
           mask == gpupool:mask == its pCPUs, and an affinity;
       (g) a pool member GPU's PCI object says gpupool:pool=<its pool> in
           other_config (the pool-wide membership), any other none;
     - (r) gpupool's own calls put the world back (release / assign /
       remove / add), and xapi's VM and PCI records and sqlite's rows must
       be exactly those the op started from; if not, the world is rebuilt.
   Every worker has its own stand-in and database; points run in parallel.
   All ~4000 points take about 1250 CPU seconds (17 minutes on a busy
   2-core VM), so make check runs every S-th (--stride, $XAPI_CRASH_STRIDE,
   default 5: a prime, so that the points fall at every offset of the 18
   syscalls of one xapi round trip) and prints how many it ran;
   XAPI_CRASH_STRIDE=1 runs all of them.  --ops all
   adds pool-gpu-add-hidden / pool-gpu-remove-hidden: the same on a GPU the
   admin hid from dom0 before gpupool (gpupool must never give it back).
2. concurrency: 32 concurrent assign_gpu calls of xapi-plugin/gpupool (run
   as xapi runs it, by tests/plugin_call.py's method_call() and run()) on 32
   halted VMs and a pool of 8 GPUs: exactly 8 successes, 24 refusals
   POOL_HAS_NO_FREE_GPU / NO_PLACEMENT, 0 DATABASE_BUSY, no GPU twice (the
   stand-in's state and sqlite, checks (a)-(g)); then rounds of 32 mixed
   release_gpu / assign_gpu calls spread over two seconds: every release
   succeeds, every assign succeeds or is refused as full, sqlite's count
   adds up, same checks.

Output ends with cmocka-style totals ([  PASSED  ] n test(s). ...) that
tests/run-tests counts; exit 1 if a check fails.  Without strace, or where
ptrace is not allowed, kill_points is skipped with the reason.  A failing
run keeps its scratch directory (tests/tmp/xapi_crash.*): each worker's
stand-in state, call log and database.
"""
import argparse
import json
import os
import queue
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import plugin_call  # noqa: E402  (runs the plugin exactly as xapi does)

CLI = os.path.join(ROOT, "xe-cli", "xe-gpupool")
PLUGIN = os.path.join(ROOT, "xapi-plugin", "gpupool")
STANDIN = os.path.join(ROOT, "tests", "xapi_standin.py")
SESSION = plugin_call.SESSION
BLOCK_REASON = "gpupool: GPU assignment being written"   # GP_XAPI_BLOCK_REASON
HIDDEN = ("disabled", "disable_on_reboot")
NULL_REF = "OpaqueRef:NULL"
REFUSED_FULL = ("POOL_HAS_NO_FREE_GPU", "NO_PLACEMENT")

# The embedded host (libgpupool/data/dual-socket-8gpu.xml): 8 GPUs.
GPUS = ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
        "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"]
G1 = GPUS[0]           # the GPU the kill points move around; dom0 has it at first
HIDDEN_AT_FIRST = GPUS[1]  # hidden from dom0 by the admin before gpupool
VM_A = "c1a5e000-0000-4000-8000-00000000000a"
VM_B = "c1a5e000-0000-4000-8000-00000000000b"

# op: (its kind, the GPU it moves).  The "-hidden" variants (not run by
# default) move a GPU that the admin had hidden from dom0 before gpupool.
OPS = {
    "assign": ("assign", G1),
    "release": ("release", G1),
    "pool-gpu-add": ("add", G1),
    "pool-gpu-remove": ("remove", G1),
    "pool-gpu-add-hidden": ("add", HIDDEN_AT_FIRST),
    "pool-gpu-remove-hidden": ("remove", HIDDEN_AT_FIRST),
}
DEFAULT_OPS = ["assign", "release", "pool-gpu-add", "pool-gpu-remove"]


def op_args(op):
    kind, gpu = OPS[op]
    return {"assign": ["vm-gpu-assign", "vm=" + VM_A, "pool=p"],
            "release": ["vm-gpu-release", "vm=" + VM_A],
            "add": ["pool-gpu-add", "pool=p", "pci-id=" + gpu],
            "remove": ["pool-gpu-remove", "pci-id=" + gpu]}[kind]


def base_state(n_vms=0):
    """The stand-in's state.json: VMs A and B (or n_vms VMs), the 8 GPUs."""
    if n_vms:
        vms = [{"uuid": "c0c0c0c0-0000-4000-8000-%012d" % i, "name_label": "conc-%02d" % i,
                "power_state": "Halted", "VCPUs_max": 4, "memory_static_max": 8 << 30}
               for i in range(n_vms)]
    else:
        vms = [{"uuid": VM_A, "name_label": "crash-a", "power_state": "Halted", "VCPUs_max": 4,
                "memory_static_max": 8 << 30, "other_config": {"xo:resource_set": "keep-me"},
                "VCPUs_params": {"weight": "512"}},
               {"uuid": VM_B, "name_label": "crash-b", "power_state": "Halted", "VCPUs_max": 4,
                "memory_static_max": 8 << 30}]
    pcis = [{"pci_id": g, "dom0_access": "disabled" if g == HIDDEN_AT_FIRST else "enabled"}
            for g in GPUS]
    return {"vms": vms, "pcis": pcis}


def initial_access(state):
    return {p["pci_id"].lower(): p.get("dom0_access", "enabled") for p in state["pcis"]}


def pci_bdfs(value):
    """BDFs of an other-config:pci value ("0/0000:18:00.0,1/0000:18:00.1")."""
    return [e.strip().split("/", 1)[-1].lower() for e in (value or "").split(",") if e.strip()]


def cpuset(text):
    out = set()
    for part in (text or "").split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.update(range(int(lo), int(hi) + 1))
        elif part:
            out.add(int(part))
    return out


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    @property
    def code(self):
        """The error name: the first line of xe-gpupool's stderr."""
        lines = self.err.strip().splitlines()
        return lines[0].strip() if lines else ""

    def __repr__(self):
        return "rc=%s %s" % (self.rc, self.err.strip().replace("\n", " | ")[:300])


class HarnessError(Exception):
    pass


class World:
    """One stand-in (its own socket, state, log) and one gpupool database."""

    def __init__(self, top, name):
        self.dir = os.path.join(top, name)
        os.makedirs(self.dir, exist_ok=True)
        j = lambda f: os.path.join(self.dir, f)  # noqa: E731
        self.sock, self.state, self.out = j("xapi.sock"), j("state.json"), j("state.json.out")
        self.log, self.ready, self.db = j("calls.jsonl"), j("ready"), j("gpupool.db")
        self.conf = j("gpupool.conf")
        self.proc = None
        self.initial = None
        self.op = None
        self.snapshot = None

    # -- stand-in ---------------------------------------------------------------
    def start(self, state):
        self.stop()
        for p in (self.sock, self.ready, self.out, self.log, self.db, self.db + "-wal",
                  self.db + "-shm", self.db + "-journal"):
            if os.path.lexists(p):
                os.unlink(p)
        with open(self.state, "w") as f:
            json.dump(state, f)
        with open(self.conf, "w") as f:
            # The plugin gets only PATH and GPUPOOL_CONFIG, as under xapi.
            f.write("db = %s\ndriver = xapi\nxapi-socket = %s\ntopology = embedded\n"
                    % (self.db, self.sock))
        self.initial = initial_access(state)
        err = open(os.path.join(self.dir, "standin.stderr"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, STANDIN, "--socket", self.sock, "--state", self.state,
             "--log", self.log, "--session", SESSION, "--ready", self.ready],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        err.close()
        deadline = time.monotonic() + 30
        while not (os.path.exists(self.ready) and os.path.exists(self.sock)):
            if self.proc.poll() is not None:
                raise HarnessError("stand-in exited (%s), see %s/standin.stderr"
                                   % (self.proc.returncode, self.dir))
            if time.monotonic() > deadline:
                raise HarnessError("stand-in not ready after 30 s in %s" % self.dir)
            time.sleep(0.005)

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    # -- gpupool ----------------------------------------------------------------
    def env(self):
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                "GPUPOOL_CONFIG": os.path.join(self.dir, "none.conf"),  # absent: env only
                "GPUPOOL_DRIVER": "xapi", "GPUPOOL_DB": self.db,
                "GPUPOOL_XAPI_SOCKET": self.sock, "GPUPOOL_TOPOLOGY": "embedded"}

    def cli(self, *args, prefix=(), timeout=120):
        try:
            p = subprocess.run(list(prefix) + [CLI] + list(args), env=self.env(),
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Result("timeout", "", "TIMEOUT of the test harness after %d s" % timeout)
        return Result(p.returncode, p.stdout.decode("utf-8", "replace"),
                      p.stderr.decode("utf-8", "replace"))

    def must(self, *args):
        r = self.cli(*args)
        if r.rc != 0:
            raise HarnessError("xe-gpupool %s: %r" % (" ".join(args), r))
        return r

    # -- what the two stores say --------------------------------------------------
    def xapi(self):
        with open(self.out) as f:
            return json.load(f)

    def sqlite(self):
        facts = {"assign": {}, "members": set(), "gpu_pool": {}, "intents": []}
        if not os.path.exists(self.db):
            return facts
        con = sqlite3.connect(self.db, timeout=60)
        try:
            tables = {r[0] for r in
                      con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "assignments" in tables:
                for vm, pci, pcpus, pin in con.execute(
                        "SELECT vm_uuid, pci_id, pcpus, pin_mode FROM assignments"):
                    facts["assign"][vm.lower()] = (pci.lower(), pcpus, pin)
            if "pool_members" in tables:
                facts["gpu_pool"] = {r[0].lower(): r[1] for r in con.execute(
                    "SELECT pci_id, pool_uuid FROM pool_members")}
            for t in ("pool_members", "pool_companions"):
                if t in tables:
                    facts["members"].update(r[0].lower() for r in
                                            con.execute("SELECT pci_id FROM %s" % t))
            if "intents" in tables:
                facts["intents"] = [r for r in con.execute(
                    "SELECT id, operation, owner_pid FROM intents")]
                if "intent_items" in tables:
                    facts["intents"] += [("item",) + r for r in con.execute(
                        "SELECT intent_id, kind, key FROM intent_items")]
        finally:
            con.close()
        return facts

    def disagreements(self):
        """Checks (a)-(g); returns (messages, sqlite facts)."""
        xs, db = self.xapi(), self.sqlite()
        found = []
        vms = {v["uuid"].lower(): v for v in xs["vms"]}
        named = {}
        for u, v in vms.items():
            for b in pci_bdfs(v.get("other_config", {}).get("pci")):
                named.setdefault(b, []).append(u)
        for b, us in sorted(named.items()):
            if len(us) > 1:
                found.append("(a) GPU %s is in other-config:pci of %d VMs: %s"
                             % (b, len(us), ", ".join(sorted(us))))
        for u, (pci, pcpus, pin) in sorted(db["assign"].items()):
            v = vms.get(u)
            if v is None:
                found.append("(b) assignment %s -> %s: xapi has no such VM" % (u, pci))
                continue
            oc = v.get("other_config", {})
            if pci not in pci_bdfs(oc.get("pci")):
                found.append("(b) assignment %s -> %s, but other-config:pci=%r"
                             % (u, pci, oc.get("pci")))
            if ((oc.get("gpupool:vm") or "").lower() != u
                    or pci not in pci_bdfs(oc.get("gpupool:pci"))):
                found.append("(b) assignment %s -> %s, but gpupool:vm=%r gpupool:pci=%r"
                             % (u, pci, oc.get("gpupool:vm"), oc.get("gpupool:pci")))
            mask = v.get("VCPUs_params", {}).get("mask")
            if pin == "hard" and (mask is None or cpuset(mask) != cpuset(pcpus)
                                  or oc.get("gpupool:mask") != mask):
                found.append("(f) assignment %s pins %s, but VCPUs_params:mask=%r gpupool:mask=%r"
                             % (u, pcpus, mask, oc.get("gpupool:mask")))
            if v.get("affinity", NULL_REF) == NULL_REF:
                found.append("(f) assigned VM %s has no affinity" % u)
        for u, v in sorted(vms.items()):
            oc = v.get("other_config", {})
            if u not in db["assign"]:
                if (oc.get("gpupool:vm") or "").lower() == u:
                    found.append("(b) VM %s carries gpupool:vm but has no assignment" % u)
                for b in pci_bdfs(oc.get("pci")):
                    if b in db["members"]:
                        found.append("(b) VM %s names pool GPU %s in other-config:pci=%r without "
                                     "an assignment" % (u, b, oc.get("pci")))
                left = sorted(k for k in oc if k.startswith("gpupool:"))
                if left:
                    found.append("(f) VM %s has no assignment but keeps %s" % (u, ", ".join(left)))
                if "mask" in v.get("VCPUs_params", {}):
                    found.append("(f) VM %s has no assignment but VCPUs_params:mask=%r"
                                 % (u, v["VCPUs_params"]["mask"]))
                if v.get("affinity", NULL_REF) != NULL_REF:
                    found.append("(f) VM %s has no assignment but affinity %s" % (u, v["affinity"]))
            for op, why in sorted(v.get("blocked_operations", {}).items()):
                if why == BLOCK_REASON:
                    found.append("(d) VM %s: blocked_operations:%s=%r" % (u, op, why))
        if db["intents"]:
            found.append("(c) intents left: %r" % (db["intents"],))
        for p in xs["pcis"]:
            b = p["pci_id"].lower()
            acc = p.get("dom0_access")
            if b in db["members"]:
                if acc not in HIDDEN:
                    found.append("(e) pool member %s: dom0 access %s" % (b, acc))
            elif acc != self.initial.get(b):
                found.append("(e) %s is in no pool: dom0 access %s, before the test %s"
                             % (b, acc, self.initial.get(b)))
            mark = (p.get("other_config") or {}).get("gpupool:pool")
            if mark != db["gpu_pool"].get(b):
                found.append("(g) %s: PCI other_config gpupool:pool=%r, sqlite's pool %r"
                             % (b, mark, db["gpu_pool"].get(b)))
        return found, db

    @staticmethod
    def stable_oc(oc):
        """other_config without what differs between two runs of one
        operation: the time in gpupool:placement (the assignment's created)."""
        oc = dict(oc or {})
        if "gpupool:placement" in oc:
            try:
                p = json.loads(oc["gpupool:placement"])
                p.pop("created", None)
                oc["gpupool:placement"] = json.dumps(p, sort_keys=True)
            except ValueError:
                pass
        return oc

    def fingerprint(self):
        """What a reset must restore: xapi's VM and PCI records, sqlite's rows."""
        xs, db = self.xapi(), self.sqlite()
        vms = {v["uuid"].lower(): json.dumps(
            [self.stable_oc(v.get(k)) if k == "other_config" else v.get(k)
             for k in ("power_state", "other_config", "VCPUs_params",
                       "blocked_operations", "affinity")], sort_keys=True)
            for v in xs["vms"]}
        pcis = sorted((p["pci_id"], p.get("host"), p.get("dom0_access"),
                       (p.get("other_config") or {}).get("gpupool:pool")) for p in xs["pcis"])
        return {"vms": vms, "pcis": pcis, "assign": db["assign"],
                "members": sorted(db["members"]), "intents": db["intents"]}


# ---- kill points -------------------------------------------------------------------

def holders(db, gpu):
    return sorted(vm for vm, a in db["assign"].items() if a[0] == gpu)


def setup_op(w, op):
    """Fresh stand-in and database, brought to op's starting state."""
    w.start(base_state())
    w.must("pool-create", "name-label=p")
    kind, gpu = OPS[op]
    if kind != "add":
        w.must("pool-gpu-add", "pool=p", "pci-id=" + gpu)
    if kind == "release":
        w.must("vm-gpu-assign", "vm=" + VM_A, "pool=p")
    # Warm up: the op once and back, so the journal's tables exist as they do
    # at every later point (the clean run is traced in the same state).
    w.must(*op_args(op))
    reset(w, op)
    bad, _ = w.disagreements()
    if bad:
        raise HarnessError("starting state of %s disagrees: %s" % (op, bad))
    w.op = op
    w.snapshot = w.fingerprint()


def follow_up(w, op):
    """The follow-up call and what it must have done; returns problems."""
    probs = []
    kind, gpu = OPS[op]
    if kind in ("assign", "release"):
        r = w.cli("vm-gpu-assign", "vm=" + VM_B, "pool=p")
        h = holders(w.sqlite(), gpu)
        if r.rc == 0:
            if h != [VM_B]:
                probs.append("follow-up: assigning %s to a second VM succeeded, holders now %s"
                             % (gpu, h))
        elif r.code in REFUSED_FULL:
            if h != [VM_A]:
                probs.append("follow-up: second VM refused (%s) but %s is held by %s"
                             % (r.code, gpu, h or "nobody"))
        else:
            probs.append("follow-up: vm-gpu-assign of a second VM failed: %r" % r)
    elif kind == "add":
        r = w.cli(*op_args(op))
        if r.rc != 0:
            probs.append("follow-up: pool-gpu-add again failed: %r" % r)
        elif gpu not in w.sqlite()["members"]:
            probs.append("follow-up: pool-gpu-add succeeded but %s is no member" % gpu)
    else:
        r = w.cli(*op_args(op))
        if r.rc != 0 and r.code != "GPU_NOT_IN_POOL":
            probs.append("follow-up: pool-gpu-remove again failed: %r" % r)
        elif gpu in w.sqlite()["members"]:
            probs.append("follow-up: pool-gpu-remove answered %s but %s is still a member"
                         % (r.rc, gpu))
    return probs


def reset(w, op):
    """Bring the world back to op's starting state with gpupool's own calls."""
    kind, gpu = OPS[op]
    if kind in ("assign", "release"):
        for vm in holders(w.sqlite(), gpu):
            if kind == "assign" or vm != VM_A:
                w.must("vm-gpu-release", "vm=" + vm)
        if kind == "release" and not holders(w.sqlite(), gpu):
            w.must("vm-gpu-assign", "vm=" + VM_A, "pool=p")
    elif kind == "add":
        w.must("pool-gpu-remove", "pci-id=" + gpu)
    else:
        w.must("pool-gpu-add", "pool=p", "pci-id=" + gpu)


def diff_fingerprints(a, b):
    out = []
    for k in a:
        if a[k] != b[k]:
            if isinstance(a[k], dict):
                for key in sorted(set(a[k]) | set(b[k])):
                    if a[k].get(key) != b[k].get(key):
                        out.append("%s %s: %s -> %s" % (k, key, a[k].get(key), b[k].get(key)))
            else:
                out.append("%s: %s -> %s" % (k, a[k], b[k]))
    return "; ".join(out)


def killed(rc):
    return rc in (-signal.SIGKILL, 128 + signal.SIGKILL)


def run_point(w, point, stats):
    op, idx, name, k = point["op"], point["n"], point["name"], point["k"]
    if w.op != op:
        setup_op(w, op)
    probs = []
    r = w.cli(*op_args(op), prefix=["strace", "-f", "-qq", "-o", "/dev/null",
                                    "-e", "trace=" + name,
                                    "-e", "inject=%s:signal=KILL:when=%d" % (name, k)])
    was_killed = killed(r.rc)
    if not was_killed and r.rc != 0:
        probs.append("the run that was not killed failed: %r" % r)
    mode = point["mode"]
    # What the kill left, before any call repairs it (reading sqlite here
    # changes nothing a next call would not: uncommitted WAL frames are
    # ignored by every reader).
    left, _ = w.disagreements()
    if mode == "reconcile":
        rr = w.cli("host-reconcile", "fix=true")
        if rr.rc != 0:
            probs.append("after kill: host-reconcile fix=true failed: %r" % rr)
        m = re.search(r"^(\d+) differences, (\d+) fixed$", rr.out, re.M)
        if left and (not m or int(m.group(1)) == 0):
            probs.append("(g) the kill left %s, but host-reconcile reported no difference: %r"
                         % (left, rr.out[-300:]))
        bad, _ = w.disagreements()
        probs += ["after host-reconcile fix=true: " + b for b in bad]
    probs += follow_up(w, op)
    bad, _ = w.disagreements()
    probs += ["after the follow-up call: " + b for b in bad]
    try:
        reset(w, op)
        fp = w.fingerprint()
        if fp != w.snapshot:
            probs.append("(r) after the reset the world is not where %s started: %s"
                         % (op, diff_fingerprints(w.snapshot, fp)))
            w.op = None
    except HarnessError as e:
        probs.append("(r) reset failed: %s" % e)
        w.op = None
    with stats["lock"]:
        s = stats[op]
        s["run"] += 1
        s["killed"] += was_killed
        s["left"] += bool(left)
        for letter in sorted({m[:3] for m in left}):
            s["kinds"][letter] = s["kinds"].get(letter, 0) + 1
        if not was_killed:
            s["not_killed"].append("N=%d %s#%d" % (idx, name, k))
        s[mode] += 1
        if probs:
            s["bad_points"] += 1
            stats["problems"].append(dict(point, killed=was_killed, problems=probs))


def clean_trace(top, op):
    """Trace one clean run of op; returns its syscalls as (name, k, line)."""
    w = World(top, "clean-" + op)
    try:
        setup_op(w, op)
        path = os.path.join(w.dir, "clean.strace")
        r = w.cli(*op_args(op), prefix=["strace", "-f", "-qq", "-o", path])
        if r.rc != 0:
            raise HarnessError("clean run of %s failed: %r" % (op, r))
        bad, _ = w.disagreements()
        if bad:
            raise HarnessError("clean run of %s leaves disagreement: %s" % (op, bad))
        calls, seen = [], {}
        with open(path) as f:
            for line in f:
                # "PID name(args...) = ret"; "<... name resumed>" continues a
                # call already counted; "+++"/"---" lines are no syscalls.
                m = re.match(r"^(?:\d+\s+)?([a-z_][a-z0-9_]*)\(", line)
                if not m:
                    continue
                name = m.group(1)
                seen[name] = seen.get(name, 0) + 1
                calls.append((name, seen[name], line.rstrip("\n")))
        return calls
    finally:
        w.stop()


def strace_problem():
    """None if strace can kill a tracee by injection here, else the reason."""
    if not shutil.which("strace"):
        return "strace not found in PATH"
    try:
        p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=exit_group",
                            "-e", "inject=exit_group:signal=KILL:when=1",
                            "/bin/sh", "-c", "exit 0"],
                           capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "strace does not run: %s" % e
    if not killed(p.returncode):
        return "strace cannot inject SIGKILL here (exit %s: %s)" % (
            p.returncode, p.stderr.decode("utf-8", "replace").strip()[:200])
    return None


def test_kill_points(top, args):
    t0 = time.monotonic()
    ops = args.ops
    traces = {op: clean_trace(top, op) for op in ops}
    points = []
    for op in ops:
        for i, (name, k, line) in enumerate(traces[op], 1):
            if (i - 1) % args.stride == 0:
                # Every other point of an op reconciles first.
                mode = "reconcile" if len(points) % 2 == 0 else "direct"
                points.append({"op": op, "n": i, "name": name, "k": k, "line": line,
                               "mode": mode})
    stats = {"lock": threading.Lock(), "problems": [], "errors": []}
    for op in ops:
        stats[op] = {"syscalls": len(traces[op]), "run": 0, "killed": 0, "reconcile": 0,
                     "direct": 0, "left": 0, "kinds": {}, "bad_points": 0, "not_killed": []}
    q = queue.Queue()
    for p in points:
        q.put(p)

    def worker(wid):
        w = World(top, "w%d" % wid)
        try:
            while True:
                try:
                    p = q.get_nowait()
                except queue.Empty:
                    return
                try:
                    run_point(w, p, stats)
                except Exception as e:  # harness trouble: report, rebuild, go on
                    with stats["lock"]:
                        stats["errors"].append("%s point %d (%s#%d): %s: %s"
                                               % (p["op"], p["n"], p["name"], p["k"],
                                                  type(e).__name__, e))
                    w.op = None
        finally:
            w.stop()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0

    print("kill points (one per syscall of a clean run%s), %d workers, %.0f s:"
          % ("" if args.stride == 1 else ", every %d-th" % args.stride, args.jobs, elapsed))
    total_run = total_bad = total_left = 0
    for op in ops:
        s = stats[op]
        total_run += s["run"]
        total_bad += s["bad_points"]
        total_left += s["left"]
        print("  %-16s syscalls %4d, points run %4d (killed %d, done before the point %d); "
              "the kill left the stores disagreeing at %d; recovered by host-reconcile %d, "
              "by the next call %d; points with a failed check: %d"
              % (op, s["syscalls"], s["run"], s["killed"], s["run"] - s["killed"], s["left"],
                 s["reconcile"], s["direct"], s["bad_points"]))
        if s["kinds"]:
            print("      what the kill left, points per check: %s" % ", ".join(
                "%s %d" % kv for kv in sorted(s["kinds"].items())))
        if s["not_killed"]:
            print("      not killed: %s (strace never injects into the execve that starts "
                  "the command; other points: the run ended before that call)" % ", ".join(
                      sorted(s["not_killed"], key=lambda t: int(t.split()[0][2:])))[:400])
    print("  total: %d kill points of %d syscalls; the kill left disagreement at %d, "
          "a check failed after recovery at %d; %d harness errors"
          % (total_run, sum(stats[op]["syscalls"] for op in ops), total_left, total_bad,
             len(stats["errors"])))
    for p in sorted(stats["problems"], key=lambda p: (ops.index(p["op"]), p["n"]))[:args.show]:
        print("  DISAGREEMENT %s N=%d (%s call #%d, %s, %s): clean run's syscall N: %s"
              % (p["op"], p["n"], p["name"], p["k"], "killed" if p["killed"] else "not killed",
                 "host-reconcile first" if p["mode"] == "reconcile" else "next call first",
                 p["line"][:160]))
        for m in p["problems"]:
            print("      " + m)
    if len(stats["problems"]) > args.show:
        print("  ... %d more disagreeing points" % (len(stats["problems"]) - args.show))
    for e in stats["errors"][:args.show]:
        print("  HARNESS ERROR " + e)
    ok = total_bad == 0 and not stats["errors"] and total_run == len(points)
    return ok


# ---- concurrency --------------------------------------------------------------------

def plugin(w, fn, **kw):
    return plugin_call.run(PLUGIN, w.conf, plugin_call.method_call(fn, kw))


def concurrent_calls(w, calls, delays=None):
    """Start every (fn, args) at once (a barrier), each its own plugin process,
    after its delay (seconds) if delays are given."""
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def one(i):
        fn, kw = calls[i]
        barrier.wait()
        if delays:
            time.sleep(delays[i])
        try:
            results[i] = plugin(w, fn, **kw)
        except Exception as e:
            results[i] = {"status": None, "error": None, "decode_error": repr(e)}

    ts = [threading.Thread(target=one, args=(i,)) for i in range(len(calls))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def tally(results):
    t = {}
    for r in results:
        if r.get("status") == "Success":
            key = "Success"
        elif r.get("error"):
            key = r["error"][0]
        else:
            key = "undecodable: %s %s" % (r.get("decode_error"), r.get("stderr", "")[:200])
        t[key] = t.get(key, 0) + 1
    return t


def test_concurrency(top, args):
    n_vms, n_gpus = 32, 8
    w = World(top, "conc")
    ok = True
    t0 = time.monotonic()
    try:
        state = base_state(n_vms)
        w.start(state)
        vms = [v["uuid"] for v in state["vms"]]
        w.must("pool-create", "name-label=big")
        for g in GPUS[:n_gpus]:
            w.must("pool-gpu-add", "pool=big", "pci-id=" + g)

        def check(label, results, expect):
            nonlocal ok
            t = tally(results)
            bad, db = w.disagreements()
            gpus = [a[0] for a in db["assign"].values()]
            problems = list(bad)
            if len(set(gpus)) != len(gpus):
                problems.append("a GPU assigned twice in sqlite: %s" % sorted(gpus))
            for r in results:
                if r.get("decode_error") or r.get("exit") not in (0, None):
                    problems.append("plugin reply: exit %s decode_error %s stderr %r"
                                    % (r.get("exit"), r.get("decode_error"), r.get("stderr")))
            problems += expect(t, db)
            print("  %-34s %s; sqlite holds %d assignments%s"
                  % (label, ", ".join("%s %d" % kv for kv in sorted(t.items())),
                     len(db["assign"]), "" if problems else "; agreement"))
            for p in problems:
                print("      DISAGREEMENT " + p)
            ok = ok and not problems
            return db

        print("concurrency: %d concurrent plugin calls, %d halted VMs, pool of %d GPUs:"
              % (n_vms, n_vms, n_gpus))

        def expect_first(t, db):
            p = []
            if t.get("Success", 0) != n_gpus:
                p.append("expected %d successes, got %d" % (n_gpus, t.get("Success", 0)))
            refused = sum(t.get("GPUPOOL_" + c, 0) for c in REFUSED_FULL)
            if refused != n_vms - n_gpus:
                p.append("expected %d refusals %s, got %s" % (n_vms - n_gpus, REFUSED_FULL, t))
            if t.get("GPUPOOL_DATABASE_BUSY"):
                p.append("%d GPUPOOL_DATABASE_BUSY" % t["GPUPOOL_DATABASE_BUSY"])
            if len(db["assign"]) != n_gpus:
                p.append("sqlite holds %d assignments, expected %d" % (len(db["assign"]), n_gpus))
            return p

        res = concurrent_calls(w, [("assign_gpu", {"vm_uuid": u, "pool": "big"}) for u in vms])
        winners = {vms[i].lower() for i, r in enumerate(res) if r.get("status") == "Success"}
        db = check("32 x assign_gpu:", res, expect_first)
        if winners != set(db["assign"]):
            print("      DISAGREEMENT successful calls %s != sqlite's assigned VMs %s"
                  % (sorted(winners), sorted(db["assign"])))
            ok = False

        rng = random.Random(9)
        for rnd in range(1, args.mixed_rounds + 1):
            held = sorted(db["assign"])
            free = [u for u in vms if u.lower() not in db["assign"]]
            calls = [("release_gpu", {"vm_uuid": u}) for u in held] + \
                    [("assign_gpu", {"vm_uuid": u, "pool": "big"}) for u in free]
            rng.shuffle(calls)
            before = len(held)
            # Spread over two seconds (32 calls at once take about that long),
            # so that assigns come before, while and after releases.
            res = concurrent_calls(w, calls, [rng.uniform(0, 2.0) for _ in calls])

            def expect_mixed(t, db, calls=calls, res=res, before=before):
                p = []
                rel_ok = sum(1 for c, r in zip(calls, res)
                             if c[0] == "release_gpu" and r.get("status") == "Success")
                as_ok = sum(1 for c, r in zip(calls, res)
                            if c[0] == "assign_gpu" and r.get("status") == "Success")
                for c, r in zip(calls, res):
                    if r.get("status") != "Success":
                        code = (r.get("error") or ["?"])[0]
                        full = ["GPUPOOL_" + x for x in REFUSED_FULL]
                        if c[0] == "release_gpu" or code not in full:
                            p.append("%s %s: %s" % (c[0], c[1]["vm_uuid"], r.get("error")))
                if t.get("GPUPOOL_DATABASE_BUSY"):
                    p.append("%d GPUPOOL_DATABASE_BUSY" % t["GPUPOOL_DATABASE_BUSY"])
                if len(db["assign"]) != before - rel_ok + as_ok:
                    p.append("sqlite holds %d assignments; %d before, %d released, %d assigned"
                             % (len(db["assign"]), before, rel_ok, as_ok))
                if len(db["assign"]) > n_gpus:
                    p.append("more assignments than GPUs")
                return p

            db = check("mixed round %d (%d release, %d assign):" % (rnd, len(held), len(free)),
                       res, expect_mixed)
        print("  concurrency took %.0f s" % (time.monotonic() - t0))
    except HarnessError as e:
        print("  HARNESS ERROR %s" % e)
        ok = False
    finally:
        w.stop()
    return ok


# ---- main -----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("XAPI_CRASH_JOBS", 0)) or
                    max(2, 2 * (os.cpu_count() or 1)))
    ap.add_argument("--stride", type=int, default=int(os.environ.get("XAPI_CRASH_STRIDE", 5)),
                    help="run every S-th kill point (default $XAPI_CRASH_STRIDE or 5; 1: all)")
    ap.add_argument("--ops", default=",".join(DEFAULT_OPS),
                    help="comma-separated, or 'all' (%s)" % ", ".join(OPS))
    ap.add_argument("--only", choices=("kill", "concurrency"))
    ap.add_argument("--mixed-rounds", type=int, default=2)
    ap.add_argument("--show", type=int, default=20, help="disagreeing points printed in full")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    args.ops = list(OPS) if args.ops == "all" else [o for o in args.ops.split(",") if o]
    for o in args.ops:
        if o not in OPS:
            ap.error("unknown op %s (%s)" % (o, ", ".join(OPS)))
    os.chdir(ROOT)
    for b in (CLI, PLUGIN):
        if not os.access(b, os.X_OK):
            print("%s is not built (make all)" % b)
            print("[  FAILED  ] 1 test(s), listed below:")
            return 1
    tmp_root = os.path.join(ROOT, "tests", "tmp")
    os.makedirs(tmp_root, exist_ok=True)
    top = tempfile.mkdtemp(prefix="xapi_crash.", dir=tmp_root)
    if len(os.path.join(top, "w99", "xapi.sock")) > 100:  # sun_path holds 108 bytes
        top = tempfile.mkdtemp(prefix="gpupool-xapi_crash.")

    tests = []
    if args.only in (None, "kill"):
        tests.append(("kill_points", test_kill_points, strace_problem()))
    if args.only in (None, "concurrency"):
        tests.append(("concurrency", test_concurrency, None))
    passed, failed, skipped = [], [], []
    print("[==========] xapi_crash: Running %d test(s)." % len(tests))
    for name, fn, skip in tests:
        print("[ RUN      ] %s" % name)
        if skip:
            print("[  SKIPPED ] %s: %s" % (name, skip))
            skipped.append(name)
            continue
        t0 = time.monotonic()
        try:
            good = fn(top, args)
        except Exception as e:
            print("  HARNESS ERROR %s: %s" % (type(e).__name__, e))
            good = False
        sys.stdout.flush()
        if good:
            print("[       OK ] %s (%.0f s)" % (name, time.monotonic() - t0))
            passed.append(name)
        else:
            print("[  FAILED  ] %s (%.0f s)" % (name, time.monotonic() - t0))
            failed.append(name)
    print("[==========] xapi_crash: %d test(s) run." % len(tests))
    print("[  PASSED  ] %d test(s)." % len(passed))
    if skipped:
        print("[  SKIPPED ] %d test(s), listed below:" % len(skipped))
        for n in skipped:
            print("[  SKIPPED ] %s" % n)
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % len(failed))
        for n in failed:
            print("[  FAILED  ] %s" % n)
        print("scratch directory kept: %s" % top)
    elif not args.keep:
        shutil.rmtree(top, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
