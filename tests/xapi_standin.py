#!/usr/bin/env python3
"""A stand-in for xapi 26.1.4 (as XCP-ng 8.3 ships it), for tests.

xapi itself cannot run here.  This server answers XenAPI calls over XML-RPC on
Unix sockets (Python's xmlrpc.server, no hand-written XML), one socket per
host of a pool, and behaves the way xapi does at tag v26.1.4 of
xapi-project/xen-api for what gpupool touches.  Every modelled behaviour cites
the upstream file (and function) it follows; "stand-in:" marks what is a test
affordance or a simplification rather than upstream behaviour.

    xapi_standin.py --state STATE.json --log CALLS.jsonl
                    [--socket PATH] [--remote-socket PATH] [--socket-dir DIR]
                    [--session REF] [--ready FILE]

  --socket PATH         host 0's local socket (xapi's /var/lib/xcp/xapi)
  --remote-socket PATH  host 0's "remote" socket (see below)
  --socket-dir DIR      DIR/<name_label>.sock (local) and
                        DIR/<name_label>.remote.sock (remote) for every host
  --session REF         a session that exists from the start: local
                        superuser on the pool master (default
                        OpaqueRef:plugin-session)
  --ready FILE          written (our pid) once every socket listens

Local sockets are pre-authenticated as root (ocaml/xapi/context.ml preauth):
any user name logs in as local superuser without a password check
(ocaml/xapi/xapi_session.ml login_with_password, `root branch).  A "remote"
socket stands for the host's HTTPS port: no pre-authentication, so passwords
and RBAC roles apply, and a slave refuses logins with HOST_IS_SLAVE.  All
sockets share one database: on a slave's Unix socket every call but the
whitelisted ones (session.login_with_password, ...) is forwarded to the
master (ocaml/xapi/api_server.ml, api_server_common.ml forward/whitelist), so
a login there makes a session whose this_host is the slave and everything
else behaves as on the master.

STATE.json (every key optional):
  "pool": {"uuid", "name_label", "name_description", "other_config": {},
           "ha_enabled": false (stand-in: a flag only, HA is not modelled;
                                it makes designate_new_master refuse)}
      the pool object, OpaqueRef:pool-0; its master is the current master.
  "hosts": [{"uuid", "name_label", "enabled": true,
             "live": true (false: the host is down -- Host_metrics.live --
                          and its sockets answer nothing),
             "full": false (the host cannot fit another VM: memory),
             "address", "guest_VCPUs_params": {}, "other_config": {},
             "config": path (GPUPOOL_CONFIG for that host's plugins/hooks),
             "hooks_dir": path (that host's /etc/xapi.d; hooks run from
                          <hooks_dir>/vm-pre-start/* etc.),
             "plugins_dir": path (that host's /etc/xapi.d/plugins)}]
      host i is "OpaqueRef:host-<i>"; host 0 is the pool master at start
      (pool.designate_new_master hands the role to another).  Without
      "hosts": one host, OpaqueRef:host-0.
  "users": {"name": {"password": "...", "role": "pool-admin" |
            "pool-operator" | "vm-power-admin" | "vm-admin" | "vm-operator" |
            "read-only", "sid": "..."}}
      subjects of an external directory (a user other than root makes the
      pool's external auth on); "root" may carry the root password checked on
      remote sockets (any password when absent).
  "sessions": {"REF": {"user": name, "host": host, "local_superuser": bool}}
      sessions that exist from the start (besides --session).
  "vms": [{"uuid", "name_label", "name_description", "power_state" (Halted),
           "is_a_template", "is_a_snapshot", "snapshot_of" (VM uuid or ref),
           "is_control_domain", "VCPUs_max" (4), "VCPUs_at_startup",
           "memory_static_max" (8 GiB), "domid", "other_config": {},
           "VCPUs_params": {}, "platform": {}, "tags": [],
           "blocked_operations": {}, "domain_type": "hvm" | "pv" | "pvh" |
           "pv_in_pvh", "HVM_boot_policy", "affinity", "resident_on" (host
           uuid, ref or name; a Running VM without one is on host 0, the
           master at start),
           "disks": [vdi uuid]}]                   refs "OpaqueRef:vm-<i>"
  "srs": [{"uuid", "name_label", "shared": false, "hosts": [host...]}]
      a PBD (currently attached) per listed host; default: every host when
      shared, host 0 otherwise.                    refs "OpaqueRef:sr-<i>"
  "vdis": [{"uuid", "sr" (SR uuid), "name_label"}] refs "OpaqueRef:vdi-<i>"
  "pcis": [{"pci_id", "host", "class_id" (e.g. "0302", "1200", "0200",
            "0403"), "class_name", "vendor_id", "vendor_name", "device_id",
            "device_name", "dom0_access" (enabled), "physical_function":
            BDF (the entry is an SR-IOV VF of that device),
            "other_config": {} (of its PCI object)}]
      devices of the hosts; xapi has PCI objects only for some of them (see
      PCI below).  An entry without class_id is a display device (0302).
  "vgpus": [{"vm": vm uuid, "pci_id", "host": host, "type": "passthrough"}]
      pci_id/host name the PGPU whose GPU_group the VGPU is in; a Running
      VM's VGPU is resident on that PGPU.
  "plugin_env": {"GPUPOOL_X": "..."}  extra variables for plugins and hooks
  "delay": {"METHOD": seconds}        answer that method late
  "fail": {"METHOD": ["CODE", params...]}  that method fails so; or
          {"METHOD": {"error": [...], "after": n, "times": m}}: calls n+1 ..
          n+m fail (m absent: every later call)
  "refuse_connections_after": N       every socket closes its Nth accepted
                                      connection and later ones unanswered

Each call is appended to CALLS.jsonl as {"method", "params", "host"} (host:
the name_label of the socket's host; "remote": true on a remote socket; a
session ref the stand-in knows is shown as "SESSION").  Plugin and hook runs
are logged as {"event": "plugin" | "hook", ...}.  After each call that can
change something (stand-in: not after a get_*, whose answer leaves the last
dump true) the state is written to STATE.json.out: {"pool", "hosts", "vms",
"pcis", "pgpus", "vgpus", "srs", "pbds", "vdis", "vbds", "resets",
"devices_without_pci_object"}.

Methods: session.login_with_password, logout, get_this_host, get_record,
get_<field>; <Class>.get_all, get_all_records, get_record, get_by_uuid,
get_by_name_label, get_<field> for VM, host, pool, PCI, PGPU, VGPU,
GPU_group, VGPU_type, SR, PBD, VDI, VBD (also under the alternative wire
name "VM_get_record"); VM.add_to_/remove_from_/set_ other_config,
VCPUs_params, blocked_operations; VM.add_to_/remove_from_platform;
VM.set_affinity, set_name_label, set_name_description, set_tags, add_tags,
remove_tags, set_domain_type, set_HVM_boot_policy, VM.clone, start,
start_on, hard_shutdown, clean_shutdown, shutdown; host.call_plugin,
enable, disable, set_/add_to_/remove_from_guest_VCPUs_params,
add_to_/remove_from_other_config; pool.add_to_/remove_from_other_config,
designate_new_master; PCI.get_dom0_access_status, disable_dom0_access,
enable_dom0_access, add_to_/remove_from_other_config.  stand-in, no
session: standin.set_host_live(host, bool) (a host goes down / comes back).

Size: records and load-time lookups are built from per-call indexes
(stand-in: class Index), so 64 hosts with 1024 PCI objects start in well
under a second and answer get_all_records in tens of milliseconds.

Upstream files followed (xen-api v26.1.4):
  ocaml/xapi/context.ml (preauth), ocaml/xapi/api_server.ml,
  ocaml/idl/datamodel_pool.ml, ocaml/xapi/xapi_pool.ml,
  ocaml/xapi/xapi_pool_transition.ml, ocaml/xapi/dbsync_master.ml,
  ocaml/xapi/xapi_sync.ml, ocaml/xapi/db_gc.ml,
  ocaml/database/db_cache_types.ml, ocaml/libs/stunnel/stunnel.ml,
  ocaml/xapi/api_server_common.ml, ocaml/xapi/xapi_session.ml,
  ocaml/xapi/rbac.ml, ocaml/idl/datamodel_roles.ml, ocaml/xapi/xapi_role.ml,
  ocaml/idl/datamodel_common.ml, ocaml/idl/datamodel_utils.ml,
  ocaml/idl/datamodel_vm.ml, ocaml/idl/datamodel_host.ml,
  ocaml/idl/datamodel.ml (PCI), ocaml/idl/ocaml_backend/gen_server.ml,
  ocaml/xapi/server_helpers.ml, ocaml/xapi/exnHelper.ml,
  ocaml/database/db_cache_impl.ml, ocaml/idl/escaping.ml,
  ocaml/xapi/message_forwarding.ml, ocaml/xapi/xapi_plugins.ml,
  ocaml/xapi/xapi_host.ml, ocaml/libs/http-lib/xMLRPC.ml,
  ocaml/libs/xml-light2/xml.ml, ocaml/forkexecd/lib/forkhelpers.ml,
  ocaml/xapi/xapi_pci.ml, ocaml/xapi/xapi_pci_helpers.ml,
  ocaml/xapi/xapi_pgpu.ml, ocaml/xapi/xapi_gpu_group.ml,
  ocaml/xapi/xapi_vgpu_type.ml, ocaml/xapi/vgpuops.ml,
  ocaml/xapi/xapi_pgpu_helpers.ml, ocaml/xapi/xapi_vm.ml,
  ocaml/xapi/xapi_vm_helpers.ml, ocaml/xapi/xapi_vm_placement.ml,
  ocaml/xapi/vm_placement.ml, ocaml/xapi/xapi_vm_lifecycle.ml,
  ocaml/xapi/xapi_vm_clone.ml, ocaml/xapi/helpers.ml, ocaml/xapi/pciops.ml,
  ocaml/xapi/xapi_xenops.ml, ocaml/xenopsd/lib/xenops_hooks.ml,
  ocaml/xenopsd/lib/xenops_server.ml, ocaml/xenopsd/xc/xenops_server_xen.ml,
  ocaml/xenopsd/xc/device.ml, ocaml/xapi/xapi_globs.ml.
"""
import argparse
import inspect
import json
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET
import xmlrpc.client
from xml.parsers.expat import ErrorString, ExpatError
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

HOST_REF = "OpaqueRef:host-0"   # host 0: the default host of state entries
POOL_REF = "OpaqueRef:pool-0"
NULL_REF = "OpaqueRef:NULL"
XAPI_VERSION = "26.1.4"

# -- RBAC roles ---------------------------------------------------------------
# ocaml/idl/datamodel_roles.ml: `ordered` (decreasing privilege) and
# roles_gte; client-cert is an internal role between vm-operator and
# read-only.
ROLES = ["pool-admin", "pool-operator", "vm-power-admin", "vm-admin",
         "vm-operator", "client-cert", "read-only"]
USER_ROLES = [r for r in ROLES if r != "client-cert"]


def roles_gte(role):
    return ROLES[:ROLES.index(role) + 1]


R_POOL_ADMIN = roles_gte("pool-admin")
R_POOL_OP = roles_gte("pool-operator")
R_VM_POWER_ADMIN = roles_gte("vm-power-admin")
R_VM_ADMIN = roles_gte("vm-admin")
R_VM_OP = roles_gte("vm-operator")
R_ALL = roles_gte("read-only")
R_CLIENT_CERT = ["client-cert"]

# ocaml/idl/datamodel_vm.ml, field other_config: ~map_keys_roles (checked in
# this order by rbac.ml permission_of_action: List.find, "*" a prefix).
VM_OTHER_CONFIG_KEYS = [("pci", R_POOL_ADMIN), ("folder", R_VM_OP),
                        ("XenCenter.CustomFields.*", R_VM_OP)]
# ocaml/idl/datamodel_host.ml, field other_config.
HOST_OTHER_CONFIG_KEYS = [("folder", R_VM_OP), ("XenCenter.CustomFields.*", R_VM_OP)]
# ocaml/idl/datamodel_pool.ml, field other_config (no ~writer_roles: the
# object's messages_default_allowed_roles, _R_POOL_OP).
POOL_OTHER_CONFIG_KEYS = [("folder", R_VM_OP), ("XenCenter.CustomFields.*", R_VM_OP),
                          ("EMPTY_FOLDERS", R_VM_OP)]

# ocaml/idl/datamodel_vm.ml `operations` (message names) + the extra values.
VM_OPERATIONS = [
    "snapshot", "clone", "copy", "create_template", "revert", "checkpoint",
    "snapshot_with_quiesce", "provision", "start", "start_on", "pause",
    "unpause", "clean_shutdown", "clean_reboot", "hard_shutdown",
    "power_state_reset", "hard_reboot", "suspend", "csvm", "resume",
    "resume_on", "pool_migrate", "migrate_send", "get_boot_record",
    "send_sysrq", "send_trigger", "query_services", "shutdown", "call_plugin",
    "changing_memory_live", "awaiting_memory_live", "changing_dynamic_range",
    "changing_static_range", "changing_memory_limits", "changing_shadow_memory",
    "changing_shadow_memory_live", "changing_VCPUs", "changing_VCPUs_live",
    "changing_NVRAM", "assert_operation_valid", "data_source_op",
    "update_allowed_operations", "make_into_template", "import", "export",
    "metadata_export", "reverting", "destroy", "create_vtpm", "sysprep"]

# ocaml/forkexecd/lib/forkhelpers.ml default_path_env_pair: the environment
# of every plugin and hook xapi/xenopsd spawn.
DEFAULT_PATH = "/sbin:/usr/sbin:/bin:/usr/bin"

# Class names of a few PCI classes (pci.ids), for records only.
CLASS_NAMES = {"0100": "SCSI storage controller", "0106": "SATA controller",
               "0108": "Non-Volatile memory controller",
               "0200": "Ethernet controller", "0207": "Infiniband controller",
               "0300": "VGA compatible controller", "0302": "3D controller",
               "0380": "Display controller", "0403": "Audio device",
               "0c03": "USB controller", "1200": "Processing accelerators",
               "0b40": "Co-processor"}

BDF_RE = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$")
# ocaml/xapi/pciops.ml of_string: "%d/%04x:%02x:%02x.%01x"
SLASH_BDF_RE = re.compile(
    r"^\s*(\d+)/([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])")


# wire names of the classes with implicit get_* messages here
CLASSES = ("VM", "host", "pool", "PCI", "PGPU", "VGPU", "GPU_group", "VGPU_type",
           "SR", "PBD", "VDI", "VBD", "session")


def class_base(cid):
    """The base class of a "%04x" class id (its most significant byte)."""
    try:
        return int(cid, 16) & 0xff00
    except ValueError:
        return -1


class Failure(Exception):
    def __init__(self, *desc):
        super().__init__(desc)
        self.desc = [str(d) for d in desc]


def xml_chars(s):
    """ocaml/libs/xml-light2/xml.ml esc_pcdata: characters below 0x20 other
    than tab, newline and carriage return are dropped from XML text."""
    return "".join(c for c in s if c >= " " or c in "\t\n\r")


def canon_bdf(s):
    m = BDF_RE.match(s.strip())
    if not m:
        return s.strip().lower()
    return "%s:%s:%s.%s" % tuple(g.lower() for g in m.groups())


def slot_of(bdf):
    return bdf.rsplit(".", 1)[0]


def parse_other_config_pci(value):
    """ocaml/xapi/pciops.ml other_pcidevs_of_vm: other-config:pci split on
    ',', each "n/dddd:bb:dd.f"; entries that do not scan are skipped."""
    out = []
    for dev in value.split(","):
        m = SLASH_BDF_RE.match(dev)
        if m:
            _, d, b, s, f = m.groups()
            out.append("%04x:%02x:%02x.%x" % (int(d, 16), int(b, 16), int(s, 16), int(f)))
    return out


def ocaml_string_of_float(f):
    """OCaml's string_of_float (stdlib valid_float_lexem of "%.12g"): a "."
    appended when the text is only digits and "-"."""
    t = "%.12g" % f
    return t + "." if all(c in "0123456789-" for c in t) else t


def new_uuid():
    return str(uuidlib.uuid4())


# -- method registry --------------------------------------------------------
API = {}
READS = set()   # methods that change nothing STATE.json.out shows


def api(name, roles=R_ALL, keys=None, session=True, reads=False):
    """Register a XenAPI method.  roles: ~allowed_roles in the datamodel;
    keys: the field's ~map_keys_roles (add_to_/remove_from_ only); reads:
    the call changes no state (stand-in: STATE.json.out is not rewritten)."""
    def deco(fn):
        API[name] = (fn, roles, keys or [], session)
        if reads:
            READS.add(name)
        return fn
    return deco


class Ctx:
    def __init__(self, host, remote):
        self.host = host        # index of the socket's host
        self.remote = remote    # a "remote" (non-preauthenticated) socket
        self.session = None


class Index:
    """stand-in: the reverse links records show (host.PCIs, VM.VBDs,
    VM.attached_PCIs, ...), each built on first use in one pass over its
    table, so that records cost time linear in the number of objects (xapi
    keeps them in its database).  Valid for one call (the state lock held)."""

    def __init__(self, xapi):
        self.x = xapi
        self.groups = {}
        self.pci_at = self.order = None

    def of(self, table, field, key):
        """The refs of the rows of xapi.<table> whose <field> is key, in
        table order."""
        m = self.groups.get((table, field))
        if m is None:
            m = self.groups[(table, field)] = {}
            for r, o in getattr(self.x, table).items():
                m.setdefault(o[field], []).append(r)
        return list(m.get(key, ()))

    def attached_pcis(self, vm):
        """VM.attached_PCIs: the PCIs whose attached_VMs hold the VM (see
        Xapi._attached_vms), in table order."""
        x = self.x
        v = x.vms[vm]
        if v["power_state"] not in ("Running", "Paused"):
            return []
        if self.pci_at is None:
            self.pci_at, self.order = {}, {}
            for n, (r, p) in enumerate(x.pcis.items()):
                self.pci_at.setdefault((p["host"], canon_bdf(p["pci_id"])), []).append(r)
                self.order[r] = n
        found = {p for bdf in x._vm_bdfs(vm, vgpus=self.of("vgpus", "VM", vm))
                 for p in self.pci_at.get((v["resident_on"], bdf), ())}
        return sorted(found, key=self.order.get)


class Xapi:
    def __init__(self, state, log_path, session, state_out=None):
        self.lock = threading.Lock()
        self.log_path = log_path
        self.state_out = state_out
        self.delay = state.get("delay", {})
        self.fail = state.get("fail", {})
        self.calls = {}
        self.refuse_after = state.get("refuse_connections_after")
        self.plugin_env = {k: str(v) for k, v in state.get("plugin_env", {}).items()
                           if k.startswith("GPUPOOL_")}
        self.next_domid = 1
        self.counter = {}
        self.resets = []
        self.messages = []       # message.create (ocaml/xapi/xapi_message.ml)
        self.tasks = 0
        self._load_hosts(state)
        self._load_pool(state)
        self.users = state.get("users", {})
        self.sessions = {}
        if session:
            self._new_session(self.master, uname="root", superuser=True, originator="test",
                              ref=session)
        for ref, s in state.get("sessions", {}).items():
            user = s.get("user", "root")
            superuser = s.get("local_superuser", user == "root")
            hidx = self._host_index(s.get("host", self.hosts[self.master]["ref"]), strict=True)
            self._new_session(hidx, uname=user,
                              superuser=superuser, originator="test", ref=ref,
                              role=None if superuser else self.users.get(user, {}).get("role"))
        self._load_storage(state)
        self._load_vms(state)
        self._load_pcis(state)
        self._load_vgpus(state)

    # ---------------------------------------------------------------- loading
    def _ref(self, kind):
        n = self.counter.get(kind, 0)
        self.counter[kind] = n + 1
        return "OpaqueRef:%s-%d" % (kind, n)

    def _load_hosts(self, state):
        hosts = state.get("hosts") or [{}]
        self.hosts = []
        for i, h in enumerate(hosts):
            self.hosts.append({
                "ref": "OpaqueRef:host-%d" % i,
                "uuid": h.get("uuid") or new_uuid(),
                "name_label": h.get("name_label", "host%d" % i),
                "name_description": h.get("name_description", ""),
                "enabled": bool(h.get("enabled", True)),
                "live": bool(h.get("live", True)),
                "full": bool(h.get("full", False)),
                "address": h.get("address", "192.0.2.%d" % (i + 1)),
                "guest_VCPUs_params": dict(h.get("guest_VCPUs_params", {})),
                "other_config": dict(h.get("other_config", {})),
                "config": h.get("config"),
                "hooks_dir": h.get("hooks_dir"),
                "plugins_dir": h.get("plugins_dir"),
            })
        self.counter["host"] = len(self.hosts)
        # stand-in: lookups by ref and by ref, uuid or name_label (the first
        # host naming it so, as a scan in host order finds it)
        self.host_by_ref = {h["ref"]: i for i, h in enumerate(self.hosts)}
        self.host_by_name = {}
        for i, h in enumerate(self.hosts):
            for k in (h["ref"], h["uuid"], h["name_label"]):
                self.host_by_name.setdefault(k, i)
        # the pool master, an index into self.hosts: host 0 at start
        # (stand-in), moved by pool.designate_new_master
        self.master = 0

    def _load_pool(self, state):
        """The pool object (ocaml/idl/datamodel_pool.ml); xapi has exactly
        one (Helpers.get_pool).  stand-in: ha_enabled is only a flag here
        (HA itself is not modelled); it gates what xapi refuses with HA on."""
        p = state.get("pool") or {}
        self.pool = {"uuid": p.get("uuid") or self.pool_uuid,
                     "name_label": p.get("name_label", ""),
                     "name_description": p.get("name_description", ""),
                     "other_config": {str(k): str(v)
                                      for k, v in (p.get("other_config") or {}).items()},
                     "ha_enabled": bool(p.get("ha_enabled", False))}

    def _host_index(self, x, strict=False):
        """A host named by ref, uuid or name_label; None when unknown."""
        i = self.host_by_name.get(x) if isinstance(x, str) else None
        if i is None and strict:
            raise ValueError("unknown host %r" % x)
        return i

    def _host_ref_of(self, x):
        """State value -> host ref (unknown strings kept as they are)."""
        if x is None or x == "":
            return NULL_REF
        i = self._host_index(x)
        return self.hosts[i]["ref"] if i is not None else x

    def _load_storage(self, state):
        self.srs, self.pbds, self.vdis, self.vbds = {}, {}, {}, {}
        for s in state.get("srs", []):
            ref = self._ref("sr")
            shared = bool(s.get("shared", False))
            hosts = s.get("hosts")
            if hosts is None:
                hosts = [h["ref"] for h in self.hosts] if shared else [HOST_REF]
            self.srs[ref] = {"uuid": s.get("uuid") or new_uuid(),
                             "name_label": s.get("name_label", "sr%d" % len(self.srs)),
                             "name_description": "", "shared": shared,
                             "type": s.get("type", "nfs" if shared else "lvm"),
                             "content_type": "user", "other_config": {},
                             "sm_config": {}, "tags": []}
            for h in hosts:
                self.pbds[self._ref("pbd")] = {
                    "uuid": new_uuid(), "host": self._host_ref_of(h), "SR": ref,
                    "currently_attached": True, "device_config": {}, "other_config": {}}
        srs = self._uuid_map(self.srs)
        for v in state.get("vdis", []):
            sr = srs.get(v.get("sr"))
            if sr is None:
                raise ValueError("VDI %r: unknown SR %r" % (v.get("uuid"), v.get("sr")))
            self.vdis[self._ref("vdi")] = {
                "uuid": v.get("uuid") or new_uuid(),
                "name_label": v.get("name_label", "disk"), "name_description": "",
                "SR": sr, "virtual_size": str(v.get("virtual_size", 10 << 30)),
                "type": "user", "sharable": False, "read_only": False,
                "other_config": {}, "sm_config": {}, "tags": []}

    @staticmethod
    def _uuid_map(objs):
        """{uuid or ref: ref}: the first object in table order whose ref or
        uuid it is (stand-in: how state entries name each other)."""
        m = {}
        for ref, rec in objs.items():
            m.setdefault(ref, ref)
            m.setdefault(rec["uuid"], ref)
        return m

    def _load_vms(self, state):
        self.vms = {}
        vdis = self._uuid_map(self.vdis)
        for i, vm in enumerate(state.get("vms", [])):
            power = vm.get("power_state", "Halted")
            running = power in ("Running", "Paused")
            resident = self._host_ref_of(vm.get("resident_on"))
            if running and resident == NULL_REF:
                # stand-in: a running VM is somewhere: on the master (at
                # load, host 0)
                resident = self.hosts[self.master]["ref"]
            hbp = vm.get("HVM_boot_policy")
            # ocaml/xapi/xapi_vm_helpers.ml derive_domain_type /
            # derive_hvm_boot_policy ("BIOS order": Constants.hvm_default_boot_policy)
            dtype = vm.get("domain_type") or ("pv" if hbp == "" else "hvm")
            if hbp is None:
                hbp = "BIOS order" if dtype == "hvm" else ""
            rec = {
                "uuid": vm.get("uuid") or new_uuid(),
                "name_label": vm.get("name_label", "vm%d" % i),
                "name_description": vm.get("name_description", ""),
                "power_state": power,
                "is_a_template": bool(vm.get("is_a_template", False)),
                "is_default_template": False,
                "is_a_snapshot": bool(vm.get("is_a_snapshot", False)),
                "snapshot_of": vm.get("snapshot_of", NULL_REF),
                "is_control_domain": bool(vm.get("is_control_domain", False)),
                "VCPUs_max": str(vm.get("VCPUs_max", 4)),
                "VCPUs_at_startup": str(vm.get("VCPUs_at_startup", vm.get("VCPUs_max", 4))),
                "memory_static_max": str(vm.get("memory_static_max", 8 << 30)),
                "memory_dynamic_max": str(vm.get("memory_static_max", 8 << 30)),
                "memory_dynamic_min": str(vm.get("memory_static_max", 8 << 30)),
                "memory_static_min": str(vm.get("memory_static_min", 1 << 30)),
                "domid": str(vm.get("domid", -1)),
                "other_config": dict(vm.get("other_config", {})),
                "VCPUs_params": dict(vm.get("VCPUs_params", {})),
                "platform": dict(vm.get("platform", {})),
                "tags": list(vm.get("tags", [])),
                "blocked_operations": dict(vm.get("blocked_operations", {})),
                "current_operations": {},
                "resident_on": resident,
                "scheduled_to_be_resident_on": NULL_REF,
                "affinity": self._host_ref_of(vm.get("affinity")),
                "domain_type": dtype,
                "HVM_boot_policy": hbp,
                "HVM_boot_params": {},
                "ha_restart_priority": "",
                "ha_always_run": False,
                "user_version": "1",
                "suspend_VDI": NULL_REF,
                "parent": NULL_REF,
            }
            ref = "OpaqueRef:vm-%d" % i
            self.vms[ref] = rec
            try:
                self.next_domid = max(self.next_domid, int(rec["domid"]) + 1)
            except ValueError:
                pass
            for n, d in enumerate(vm.get("disks", [])):
                vdi = vdis.get(d)
                if vdi is None:
                    raise ValueError("VM %s: unknown VDI %r" % (rec["uuid"], d))
                self._new_vbd(ref, vdi, str(n))
        self.counter["vm"] = len(self.vms)
        vms = self._uuid_map(self.vms)
        for rec in self.vms.values():
            s = rec["snapshot_of"]
            if s != NULL_REF and not s.startswith("OpaqueRef:"):
                rec["snapshot_of"] = vms.get(s) or s

    def _new_vbd(self, vm, vdi, userdevice):
        ref = self._ref("vbd")
        self.vbds[ref] = {"uuid": new_uuid(), "VM": vm, "VDI": vdi,
                          "userdevice": userdevice, "device": "", "bootable": userdevice == "0",
                          "mode": "RW", "type": "Disk", "empty": False,
                          "unpluggable": True, "other_config": {}}
        return ref

    def _load_pcis(self, state):
        """ocaml/xapi/xapi_pci.ml update_pcis: xapi keeps PCI objects only for
        devices whose class is a storage (0x01), network (0x02) or display
        (0x03) controller (is_class_of_kind: class_id land 0xff00, the base
        class), plus the devices `related` to those: the other functions of
        the same slot (ocaml/xapi/xapi_pci_helpers.ml is_related_to: same
        domain, bus and device, another function, neither a virtual
        function).  Entries without class_id are display devices (0302)."""
        entries = []
        for i, p in enumerate(state.get("pcis", [])):
            cid = str(p.get("class_id", "0302")).lower()
            entries.append({
                "i": i, "pci_id": p["pci_id"], "bdf": canon_bdf(p["pci_id"]),
                "host": self._host_ref_of(p.get("host", HOST_REF)),
                "class_id": cid,
                "class_name": p.get("class_name", CLASS_NAMES.get(cid, "3D controller")),
                "vendor_id": p.get("vendor_id", "10de"),
                "vendor_name": p.get("vendor_name", "NVIDIA Corporation"),
                "device_id": p.get("device_id", "20b0"),
                "device_name": p.get("device_name", "GA100 [A100 SXM4 40GB]"),
                "dom0_access": p.get("dom0_access", "enabled"),
                "vf": bool(p.get("physical_function")),
                "physical_function": p.get("physical_function"),
                "other_config": {str(k): str(v)
                                 for k, v in (p.get("other_config") or {}).items()},
            })

        def managed(e):
            return class_base(e["class_id"]) in (0x0100, 0x0200, 0x0300)

        # stand-in: `related` entries share (host, slot) and are not VFs, so
        # they are found per slot rather than by comparing every pair.
        slots = {}
        for e in entries:
            if not e["vf"]:
                slots.setdefault((e["host"], slot_of(e["bdf"])), []).append(e)

        def related_to(e):
            if e["vf"]:
                return []
            return [o for o in slots[(e["host"], slot_of(e["bdf"]))] if o["bdf"] != e["bdf"]]

        kept = [e for e in entries if managed(e)]
        deps = [e for e in entries
                if not managed(e) and any(managed(o) for o in related_to(e))]
        keep_ids = {e["i"] for e in kept + deps}
        self.pcis = {}
        self.hidden_devices = []
        n = 0
        for e in entries:
            if e["i"] not in keep_ids:
                self.hidden_devices.append({"pci_id": e["pci_id"], "host": e["host"],
                                            "class_id": e["class_id"]})
                continue
            ref = "OpaqueRef:pci-%d" % n
            n += 1
            e["ref"] = ref
            self.pcis[ref] = {
                "uuid": new_uuid(), "pci_id": e["pci_id"], "class_id": e["class_id"],
                "class_name": e["class_name"], "vendor_id": e["vendor_id"],
                "vendor_name": e["vendor_name"], "device_id": e["device_id"],
                "device_name": e["device_name"], "host": e["host"],
                "dependencies": [], "other_config": e["other_config"],
                "subsystem_vendor_id": "", "subsystem_vendor_name": "",
                "subsystem_device_id": "", "subsystem_device_name": "",
                "driver_name": "pciback" if e["dom0_access"] in ("disabled", "enable_on_reboot") else "",
                "dom0_access": e["dom0_access"],
                "_vf": e["vf"],
            }
        self.counter["pci"] = n
        # ocaml/xapi/xapi_pci.ml update_pcis / update_dependencies: a PF's
        # dependencies are its related functions.
        for e in entries:
            if "ref" in e:
                self.pcis[e["ref"]]["dependencies"] = [
                    o["ref"] for o in related_to(e) if "ref" in o]
        # ocaml/xapi/xapi_pgpu.ml update_gpus / is_local_pgpu: a PGPU for each
        # display-class (0x03xx) PCI object that is not a VF; its GPU_group
        # is the one whose GPU_types is ["vendor_id/device_id"]
        # (ocaml/xapi/xapi_gpu_group.ml find_or_create, name "Group of
        # <vendor_name> <device_name> GPUs", allocation_algorithm depth_first).
        self.pgpus, self.gpu_groups = {}, {}
        self.vgpu_type = "OpaqueRef:vgpu_type-passthrough"
        group_of_type = {}
        for ref, p in self.pcis.items():
            if class_base(p["class_id"]) != 0x0300 or p["_vf"]:
                continue
            gtype = "%s/%s" % (p["vendor_id"], p["device_id"])
            group = group_of_type.get(gtype)
            if group is None:
                group = group_of_type[gtype] = self._ref("gpu_group")
                self.gpu_groups[group] = {
                    "uuid": new_uuid(),
                    "name_label": "Group of %s %s GPUs" % (p["vendor_name"], p["device_name"]),
                    "name_description": "", "GPU_types": [gtype], "other_config": {},
                    "allocation_algorithm": "depth_first"}
            self.pgpus[self._ref("pgpu")] = {
                "uuid": new_uuid(), "PCI": ref, "GPU_group": group, "host": p["host"],
                "other_config": {}, "size": "0", "is_system_display_device": False,
                "compatibility_metadata": {}}

    def _load_vgpus(self, state):
        self.vgpus = {}
        vms = self._uuid_map(self.vms)
        pgpu_at = {}
        for ref, g in self.pgpus.items():
            pgpu_at.setdefault((g["host"], canon_bdf(self.pcis[g["PCI"]]["pci_id"])), ref)
        devices = {}
        for v in state.get("vgpus", []):
            vm = vms.get(v["vm"])
            if vm is None:
                raise ValueError("VGPU: unknown VM %r" % v["vm"])
            pgpu = pgpu_at.get((self._host_ref_of(v.get("host", HOST_REF)),
                                canon_bdf(v["pci_id"])))
            if pgpu is None:
                raise ValueError("VGPU: no PGPU at %r on %r" % (v["pci_id"], v.get("host")))
            if v.get("type", "passthrough") != "passthrough":
                raise ValueError("VGPU: only type passthrough is modelled")
            devices[vm] = devices.get(vm, -1) + 1
            rec = {"uuid": v.get("uuid") or new_uuid(), "VM": vm,
                   "GPU_group": self.pgpus[pgpu]["GPU_group"],
                   "device": str(devices[vm]),
                   "type": self.vgpu_type, "other_config": {}, "extra_args": "",
                   "resident_on": NULL_REF, "scheduled_to_be_resident_on": NULL_REF,
                   "compatibility_metadata": {}, "PCI": NULL_REF, "currently_attached": False}
            vmr = self.vms[vm]
            if vmr["power_state"] in ("Running", "Paused") and \
                    self.pgpus[pgpu]["host"] == vmr["resident_on"]:
                rec["resident_on"] = pgpu
                rec["PCI"] = self.pgpus[pgpu]["PCI"]
                rec["currently_attached"] = True
            self.vgpus[self._ref("vgpu")] = rec

    # ---------------------------------------------------------------- records
    def _host_rec(self, i, ix):
        h = self.hosts[i]
        ref = h["ref"]
        return {
            "uuid": h["uuid"], "name_label": h["name_label"],
            "name_description": h["name_description"], "enabled": h["enabled"],
            "address": h["address"], "hostname": h["name_label"],
            "guest_VCPUs_params": h["guest_VCPUs_params"],
            "other_config": h["other_config"],
            "software_version": {"product_brand": "XCP-ng", "product_version": "8.3.0",
                                 "xapi": XAPI_VERSION},
            "API_version_major": "2", "API_version_minor": "21",
            "external_auth_type": "AD" if self._external_auth() else "",
            "PCIs": ix.of("pcis", "host", ref),
            "PGPUs": ix.of("pgpus", "host", ref),
            "PBDs": ix.of("pbds", "host", ref),
            "resident_VMs": ix.of("vms", "resident_on", ref),
            "capabilities": ["xen-3.0-x86_64", "hvm-3.0-x86_64"],
        }

    def _vm_rec(self, ref, ix):
        r = dict(self.vms[ref])
        r["VBDs"] = ix.of("vbds", "VM", ref)
        r["VGPUs"] = ix.of("vgpus", "VM", ref)
        r["VIFs"] = []
        r["VUSBs"] = []
        r["attached_PCIs"] = ix.attached_pcis(ref)
        r["snapshots"] = ix.of("vms", "snapshot_of", ref)
        r["allowed_operations"] = []
        return r

    def _pci_rec(self, ref):
        return {k: v for k, v in self.pcis[ref].items()
                if not k.startswith("_") and k != "dom0_access"}

    def _pgpu_rec(self, ref, ix):
        r = dict(self.pgpus[ref])
        r["supported_VGPU_types"] = [self.vgpu_type]
        r["enabled_VGPU_types"] = [self.vgpu_type]
        r["supported_VGPU_max_capacities"] = {self.vgpu_type: "1"}
        r["resident_VGPUs"] = ix.of("vgpus", "resident_on", ref)
        # ocaml/xapi/xapi_pci_helpers.ml update_dom0_access keeps the
        # deprecated PGPU.dom0_access in step with the PCI's.
        r["dom0_access"] = self.pcis[r["PCI"]]["dom0_access"]
        return r

    def _gpu_group_rec(self, ref, ix):
        r = dict(self.gpu_groups[ref])
        r["PGPUs"] = ix.of("pgpus", "GPU_group", ref)
        r["VGPUs"] = ix.of("vgpus", "GPU_group", ref)
        r["supported_VGPU_types"] = [self.vgpu_type]
        r["enabled_VGPU_types"] = [self.vgpu_type]
        return r

    def _vgpu_type_rec(self):
        # ocaml/xapi/xapi_vgpu_type.ml passthrough_gpu
        return {"uuid": "00000000-0000-0000-0000-000000000001", "vendor_name": "",
                "model_name": "passthrough", "framebuffer_size": "0", "max_heads": "0",
                "max_resolution_x": "0", "max_resolution_y": "0",
                "implementation": "passthrough", "identifier": "", "experimental": False,
                "supported_on_PGPUs": list(self.pgpus), "enabled_on_PGPUs": list(self.pgpus),
                "VGPUs": list(self.vgpus), "supported_on_GPU_groups": list(self.gpu_groups),
                "enabled_on_GPU_groups": list(self.gpu_groups),
                "compatible_types_in_vm": [], "compatible_types_on_pgpu": []}

    def _sr_rec(self, ref, ix):
        r = dict(self.srs[ref])
        r["PBDs"] = ix.of("pbds", "SR", ref)
        r["VDIs"] = ix.of("vdis", "SR", ref)
        return r

    def _vdi_rec(self, ref, ix):
        r = dict(self.vdis[ref])
        r["VBDs"] = ix.of("vbds", "VDI", ref)
        return r

    def _vbd_rec(self, ref):
        r = dict(self.vbds[ref])
        r["currently_attached"] = self.vms[r["VM"]]["power_state"] in ("Running", "Paused")
        return r

    def _session_rec(self, ref):
        return {k: v for k, v in self.sessions[ref].items() if not k.startswith("_")}

    def _pool_rec(self):
        """ocaml/idl/datamodel_pool.ml fields (those modelled); master: the
        host that is master now (dbsync_master.ml set_master_pool_reference,
        run when a master starts)."""
        p = self.pool
        return {"uuid": p["uuid"], "name_label": p["name_label"],
                "name_description": p["name_description"],
                "master": self.hosts[self.master]["ref"], "other_config": p["other_config"],
                "coordinator_bias": True, "ha_enabled": p["ha_enabled"]}

    pool_uuid = "00000000-0000-4000-8000-000000000000"

    def _table(self, cls):
        """wire class name -> {ref: stored row} (each row has the object's
        uuid and, where the class has one, its name_label); None for an
        unknown class."""
        if cls == "host":
            return {h["ref"]: h for h in self.hosts}
        if cls == "pool":
            return {POOL_REF: self.pool}
        if cls == "VGPU_type":
            return {self.vgpu_type: self._vgpu_type_rec()}
        return {"VM": self.vms, "PCI": self.pcis, "PGPU": self.pgpus, "VGPU": self.vgpus,
                "GPU_group": self.gpu_groups, "SR": self.srs, "PBD": self.pbds,
                "VDI": self.vdis, "VBD": self.vbds, "session": self.sessions}.get(cls)

    def _record(self, cls, ref, ix):
        """The record of one object of the class, as get_record shows it."""
        if cls == "VM":
            return self._vm_rec(ref, ix)
        if cls == "host":
            return self._host_rec(self.host_by_ref[ref], ix)
        if cls == "pool":
            return self._pool_rec()
        if cls == "PCI":
            return self._pci_rec(ref)
        if cls == "PGPU":
            return self._pgpu_rec(ref, ix)
        if cls == "VGPU":
            return dict(self.vgpus[ref])
        if cls == "GPU_group":
            return self._gpu_group_rec(ref, ix)
        if cls == "VGPU_type":
            return self._vgpu_type_rec()
        if cls == "SR":
            return self._sr_rec(ref, ix)
        if cls == "PBD":
            return dict(self.pbds[ref])
        if cls == "VDI":
            return self._vdi_rec(ref, ix)
        if cls == "VBD":
            return self._vbd_rec(ref)
        if cls == "session":
            return self._session_rec(ref)
        raise KeyError(cls)

    def _objects(self, cls, ix=None):
        """wire class name -> {ref: record}; None for an unknown class."""
        table = self._table(cls)
        if table is None:
            return None
        ix = ix or Index(self)
        return {r: self._record(cls, r, ix) for r in table}

    def state(self):
        ix = Index(self)

        def with_ref(cls):
            return [dict(rec, ref=ref) for ref, rec in self._objects(cls, ix).items()]
        hosts = []
        for i, h in enumerate(self.hosts):
            r = self._host_rec(i, ix)
            r.update(ref=h["ref"], live=h["live"], full=h["full"], config=h["config"],
                     hooks_dir=h["hooks_dir"], plugins_dir=h["plugins_dir"])
            hosts.append(r)
        pcis = [dict(self._pci_rec(r), ref=r, dom0_access=p["dom0_access"])
                for r, p in self.pcis.items()]
        return {
            "pool": dict(self._pool_rec(), ref=POOL_REF),
            "hosts": hosts,
            "vms": with_ref("VM"),
            "pcis": pcis,
            "devices_without_pci_object": list(self.hidden_devices),
            "pgpus": with_ref("PGPU"),
            "vgpus": with_ref("VGPU"),
            "srs": with_ref("SR"),
            "pbds": with_ref("PBD"),
            "vdis": with_ref("VDI"),
            "vbds": with_ref("VBD"),
            "resets": list(self.resets),
            "messages": list(self.messages),
        }

    def dump(self):
        if self.state_out:
            tmp = self.state_out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.state(), f, indent=1, sort_keys=True)
            os.replace(tmp, self.state_out)

    # ---------------------------------------------------------------- helpers
    def _log(self, entry):
        with open(self.log_path, "a") as f:
            f.write(json.dumps(entry, default=str) + "\n")

    def _vm(self, ref):
        if ref not in self.vms:
            raise Failure("HANDLE_INVALID", "VM", ref)
        return self.vms[ref]

    def _pci(self, ref):
        if ref not in self.pcis:
            raise Failure("HANDLE_INVALID", "PCI", ref)
        return self.pcis[ref]

    def _host(self, ref):
        i = self.host_by_ref.get(ref) if isinstance(ref, str) else None
        if i is None:
            raise Failure("HANDLE_INVALID", "host", ref)
        return i

    def _check_live(self, hidx):
        """ocaml/xapi/message_forwarding.ml check_live (in do_op_on): a host
        other than the one forwarding (the master: "assume that localhost is
        always live") whose Host_metrics.live is false: HOST_OFFLINE [host]."""
        if hidx != self.master and not self.hosts[hidx]["live"]:
            raise Failure("HOST_OFFLINE", self.hosts[hidx]["ref"])

    def _pool(self, ref):
        if ref != POOL_REF:
            raise Failure("HANDLE_INVALID", "pool", ref)
        return self.pool

    def _external_auth(self):
        return any(u != "root" for u in self.users)

    def _unlocked(self, fn, *a, **kw):
        """Run fn without the state lock (a plugin or hook calls back)."""
        self.lock.release()
        try:
            return fn(*a, **kw)
        finally:
            self.lock.acquire()

    def _env(self, hidx):
        env = {"PATH": DEFAULT_PATH}
        env.update(self.plugin_env)   # stand-in: test affordance
        if self.hosts[hidx]["config"]:
            env["GPUPOOL_CONFIG"] = self.hosts[hidx]["config"]   # stand-in
        return env

    @staticmethod
    def _spawn(argv, env):
        """ocaml/forkexecd/lib/forkhelpers.ml execute_command_get_output:
        stdin /dev/null, stdout and stderr captured, the given environment."""
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
            return p.returncode, p.stdout, p.stderr
        except OSError as e:
            # stand-in: an exec failure reads as exit 127 with the reason
            return 127, b"", str(e).encode()

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, ctx, method, params):
        params = list(params)
        with self.lock:
            shown = list(params)
            if shown and isinstance(shown[0], str) and shown[0] in self.sessions:
                shown[0] = "SESSION"
            entry = {"method": method, "params": shown,
                     "host": self.hosts[ctx.host]["name_label"]}
            if ctx.remote:
                entry["remote"] = True
            self._log(entry)
            n = self.calls[method] = self.calls.get(method, 0) + 1
            injected = self._injected(method, n)
        if method in self.delay:
            time.sleep(float(self.delay[method]))
        if injected:
            with self.lock:
                self.dump()
            raise Failure(*injected)
        with self.lock:
            fn, roles, keys, needs_session, reads = self._lookup(method)
            try:
                nparams = self._arity(fn)
                given = len(params) - (1 if needs_session else 0)
                # ocaml/xapi/server_helpers.ml parameter_count_mismatch_failure
                if given < nparams[0] or given > nparams[1]:
                    raise Failure("MESSAGE_PARAMETER_COUNT_MISMATCH", method,
                                  str(nparams[1] + (1 if needs_session else 0)), str(len(params)))
                if needs_session:
                    ctx.session = params[0]
                    params = params[1:]
                    sess = self.sessions.get(ctx.session)
                    if sess is None:
                        raise Failure("SESSION_INVALID", ctx.session)
                    self._rbac(sess, method, roles, keys, params)
                return fn(self, ctx, *params)
            finally:
                if not reads:   # stand-in: a read leaves the last dump true
                    self.dump()

    def _injected(self, method, n):
        f = self.fail.get(method)
        if f is None:
            return None
        if isinstance(f, list):
            return f
        after = int(f.get("after", 0))
        times = f.get("times")
        if n <= after or (times is not None and n > after + int(times)):
            return None
        return f["error"]

    @staticmethod
    def _arity(fn):
        ps = list(inspect.signature(fn).parameters.values())[2:]
        required = sum(1 for p in ps if p.default is inspect.Parameter.empty)
        return required, len(ps)

    def _lookup(self, method):
        if "." not in method:
            # ocaml/idl/datamodel_utils.ml alternative_wire_name: "VM_start"
            # is "VM.start" (ocaml/idl/ocaml_backend/gen_server.ml)
            for cls in sorted(CLASSES, key=len, reverse=True):
                if method.startswith(cls + "_"):
                    method = cls + "." + method[len(cls) + 1:]
                    break
        if method in API:
            return API[method] + (method in READS,)
        cls, _, verb = method.partition(".")
        if cls in CLASSES and verb:
            fn = self._generic(cls, verb)
            if fn is not None:
                # implicit messages: ~implicit_messages_allowed_roles:_R_ALL,
                # field getters: default_field_reader_roles = _R_ALL
                # (ocaml/idl/datamodel_common.ml create_obj)
                return fn, R_ALL, [], True, True
        # ocaml/xapi/server_helpers.ml unknown_rpc_failure
        raise Failure("MESSAGE_METHOD_UNKNOWN", method)

    def _generic(self, cls, verb):
        """Implicit messages (all reads): get_all, get_all_records,
        get_record, get_by_uuid, get_by_name_label, get_<field>.  stand-in:
        a single object's messages build only that object's record."""
        def table():
            return self._table(cls)

        def one(ref):
            t = table()
            if not isinstance(ref, str) or ref not in t:
                raise Failure("HANDLE_INVALID", cls, ref)
            return self._record(cls, ref, Index(self))

        if verb == "get_all" and cls != "session":
            return lambda self_, ctx: list(table())
        if verb == "get_all_records" and cls != "session":
            return lambda self_, ctx: self._objects(cls)
        if verb == "get_record":
            return lambda self_, ctx, ref: one(ref)
        if verb == "get_by_uuid":
            def get_by_uuid(self_, ctx, u):
                for ref, row in table().items():
                    if row.get("uuid") == u:
                        return ref
                # ocaml/xapi/exnHelper.ml Read_missing_uuid -> UUID_INVALID
                raise Failure("UUID_INVALID", cls, u)
            return get_by_uuid
        if verb == "get_by_name_label" and cls not in ("session", "PCI", "PGPU", "VGPU", "VBD", "PBD"):
            return lambda self_, ctx, n: [r for r, row in table().items()
                                          if row.get("name_label") == n]
        if verb.startswith("get_"):
            field = verb[4:]

            def getter(self_, ctx, ref):
                rec = one(ref)
                if field not in rec:
                    raise Failure("MESSAGE_METHOD_UNKNOWN", "%s.%s" % (cls, verb))
                return rec[field]
            return getter
        return None

    def _rbac(self, sess, method, roles, keys, args):
        """ocaml/xapi/rbac.ml check / find_first_disallowed_permission: a
        local-superuser session may do everything; any other session needs
        the permission (the wire name, lowercase; for a protected map key,
        "<action>/key:<key pattern>" -- permission_of_action).  Refusal:
        RBAC_PERMISSION_DENIED [permission; "No permission in user session.
        (Roles with this permission: <roles>)"] (disallowed_permission_exn).
        stand-in: roles are listed in datamodel_roles.ml order; xapi lists
        them in the order of the generated rbac_static.ml."""
        if sess.get("is_local_superuser"):
            return
        permission = method.lower()
        allowed = roles
        if keys and len(args) >= 2 and isinstance(args[1], str):
            for pattern, kroles in keys:
                if (args[1].startswith(pattern[:-1]) if pattern.endswith("*")
                        else args[1] == pattern):
                    permission = "%s/key:%s" % (permission, pattern.lower())
                    allowed = kroles
                    break
        if sess.get("_role") in allowed:
            return
        raise Failure("RBAC_PERMISSION_DENIED", permission,
                      "No permission in user session. (Roles with this permission: %s)"
                      % ", ".join(r for r in ROLES if r in allowed))

    # ----------------------------------------------------------------- session
    def _new_session(self, hidx, uname, superuser, originator, ref=None, pool=False,
                     parent=NULL_REF, auth_user_name=None, role=None, sid=""):
        """ocaml/xapi/xapi_session.ml login_no_password_common_create_session:
        this_host, pool, is_local_superuser, auth_user_name, parent (the
        session of the call that made it, else NULL), originator."""
        ref = ref or "OpaqueRef:session-%s" % new_uuid()
        now = xmlrpc.client.DateTime(time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime()))
        self.sessions[ref] = {
            "uuid": new_uuid(), "this_host": self.hosts[hidx]["ref"], "this_user": NULL_REF,
            "last_active": now, "pool": pool, "other_config": {},
            "is_local_superuser": superuser,
            "subject": NULL_REF if superuser or not uname else "OpaqueRef:subject-%s" % uname,
            "validation_time": now, "auth_user_sid": sid,
            "auth_user_name": uname if auth_user_name is None else auth_user_name,
            "rbac_permissions": [], "tasks": [], "parent": parent,
            "originator": originator, "client_certificate": False,
            "_role": None if superuser else role,
        }
        return ref

    @api("session.login_with_password", session=False)
    def session_login_with_password(self, ctx, uname, pwd, version="1.0", originator=""):
        """ocaml/xapi/xapi_session.ml login_with_password."""
        if not ctx.remote:
            # Context.preauth = Some `root (the local Unix socket): no
            # authentication, local superuser, auth_user_name = uname.
            return self._new_session(ctx.host, uname, True, originator)
        if ctx.host != self.master:
            # Pool_role.is_slave: HOST_IS_SLAVE [Pool_role.get_master_address
            # ()], the address in the slave's pool.conf (after a master
            # change, the new master's: xapi_pool_transition.ml
            # become_another_masters_slave)
            raise Failure("HOST_IS_SLAVE", self.hosts[self.master]["address"])
        fail = Failure("SESSION_AUTHENTICATION_FAILED", uname, "Authentication failure")
        if uname == "root":
            # login_as_local_superuser: do_local_auth (PAM).  stand-in: the
            # password from users.root, any password when absent.
            want = self.users.get("root", {}).get("password")
            if want is not None and want != pwd:
                raise fail
            return self._new_session(ctx.host, uname, True, originator)
        user = self.users.get(uname)
        if not self._external_auth() or user is None or user.get("password", "") != pwd:
            raise fail
        sid = user.get("sid", "S-1-5-21-%d" % (sum(map(ord, uname)) % 100000))
        role = user.get("role")
        if role not in USER_ROLES:
            raise Failure("RBAC_PERMISSION_DENIED", "session.login_with_password",
                          "Subject %s (identifier %s) has no roles in this pool" % (uname, sid))
        return self._new_session(ctx.host, uname, False, originator, role=role, sid=sid)

    @api("session.logout")
    def session_logout(self, ctx):
        # ocaml/xapi/xapi_session.ml logout -> destroy_db_session
        self.sessions.pop(ctx.session, None)
        return ""

    @api("session.get_this_host", reads=True)
    def session_get_this_host(self, ctx, s):
        if s not in self.sessions:
            raise Failure("HANDLE_INVALID", "session", s)
        return self.sessions[s]["this_host"]

    # -------------------------------------------------------------- VM fields
    def _map_add(self, cls, ref, rec, field, k, v):
        # ocaml/database/db_cache_impl.ml: Duplicate_key (tbl, fld, ref, key)
        # -> MAP_DUPLICATE_KEY [tbl; fld; ref; key] (ocaml/xapi/exnHelper.ml),
        # even for an equal value (the API's add_to_ is AddMapLegacy,
        # ocaml/idl/ocaml_backend/gen_db_actions.ml, and
        # Db_globs.idempotent_map is false unless xapi.conf
        # db_idempotent_map, ocaml/xapi/xapi_globs.ml);
        # fld is the DB column, namespaces joined by "__"
        # (ocaml/idl/escaping.ml escape_id: VCPUs_params -> VCPUs__params).
        m = rec[field]
        if k in m:
            column = "VCPUs__params" if field == "VCPUs_params" else field
            raise Failure("MAP_DUPLICATE_KEY", cls, column, ref, k)
        m[k] = v
        return ""

    @api("VM.add_to_other_config", R_VM_ADMIN, VM_OTHER_CONFIG_KEYS)
    def vm_add_to_other_config(self, ctx, ref, k, v):
        return self._map_add("VM", ref, self._vm(ref), "other_config", k, v)

    @api("VM.remove_from_other_config", R_VM_ADMIN, VM_OTHER_CONFIG_KEYS)
    def vm_remove_from_other_config(self, ctx, ref, k):
        self._vm(ref)["other_config"].pop(k, None)   # absent key: no error
        return ""

    @api("VM.set_other_config", R_VM_ADMIN)
    def vm_set_other_config(self, ctx, ref, value):
        # datamodel_utils.ml: a setter carries no map_keys_roles
        self._vm(ref)["other_config"] = dict(value)
        return ""

    # VCPUs_params: namespace VCPUs of VM; writer roles default to the
    # object's messages_default_allowed_roles (_R_VM_ADMIN,
    # datamodel_common.ml create_obj).
    @api("VM.add_to_VCPUs_params", R_VM_ADMIN)
    def vm_add_to_vcpus_params(self, ctx, ref, k, v):
        return self._map_add("VM", ref, self._vm(ref), "VCPUs_params", k, v)

    @api("VM.remove_from_VCPUs_params", R_VM_ADMIN)
    def vm_remove_from_vcpus_params(self, ctx, ref, k):
        self._vm(ref)["VCPUs_params"].pop(k, None)
        return ""

    @api("VM.set_VCPUs_params", R_VM_ADMIN)
    def vm_set_vcpus_params(self, ctx, ref, value):
        self._vm(ref)["VCPUs_params"] = dict(value)
        return ""

    @api("VM.add_to_platform", R_VM_ADMIN)
    def vm_add_to_platform(self, ctx, ref, k, v):
        return self._map_add("VM", ref, self._vm(ref), "platform", k, v)

    @api("VM.remove_from_platform", R_VM_ADMIN)
    def vm_remove_from_platform(self, ctx, ref, k):
        self._vm(ref)["platform"].pop(k, None)
        return ""

    def _check_op_key(self, k):
        if k not in VM_OPERATIONS:
            # stand-in: an unknown vm_operations value; xapi fails to
            # unmarshal the enum (ocaml/xapi/exnHelper.ml maps enum errors
            # to INVALID_VALUE)
            raise Failure("INVALID_VALUE", k)

    # ocaml/idl/datamodel_vm.ml add_to/remove_from/set_blocked_operations:
    # _R_VM_ADMIN; ocaml/xapi/xapi_vm.ml: plain DB writes.
    @api("VM.add_to_blocked_operations", R_VM_ADMIN)
    def vm_add_to_blocked_operations(self, ctx, ref, k, v):
        rec = self._vm(ref)
        self._check_op_key(k)
        return self._map_add("VM", ref, rec, "blocked_operations", k, v)

    @api("VM.remove_from_blocked_operations", R_VM_ADMIN)
    def vm_remove_from_blocked_operations(self, ctx, ref, k):
        rec = self._vm(ref)
        self._check_op_key(k)
        rec["blocked_operations"].pop(k, None)
        return ""

    @api("VM.set_blocked_operations", R_VM_ADMIN)
    def vm_set_blocked_operations(self, ctx, ref, value):
        rec = self._vm(ref)
        for k in value:
            self._check_op_key(k)
        rec["blocked_operations"] = {k: str(v) for k, v in value.items()}
        return ""

    # affinity: ~writer_roles:_R_VM_POWER_ADMIN (datamodel_vm.ml); a Ref
    # field is stored as given (no foreign-key check on set).
    @api("VM.set_affinity", R_VM_POWER_ADMIN)
    def vm_set_affinity(self, ctx, ref, host):
        self._vm(ref)["affinity"] = host
        return ""

    @api("VM.set_name_label", R_VM_ADMIN)
    def vm_set_name_label(self, ctx, ref, v):
        self._vm(ref)["name_label"] = v
        return ""

    @api("VM.set_name_description", R_VM_ADMIN)
    def vm_set_name_description(self, ctx, ref, v):
        self._vm(ref)["name_description"] = v
        return ""

    @api("VM.set_tags", R_VM_ADMIN)
    def vm_set_tags(self, ctx, ref, v):
        self._vm(ref)["tags"] = list(v)
        return ""

    @api("VM.add_tags", R_VM_ADMIN)
    def vm_add_tags(self, ctx, ref, v):
        tags = self._vm(ref)["tags"]
        if v not in tags:   # "If the value is already in that Set, then do nothing."
            tags.append(v)
        return ""

    @api("VM.remove_tags", R_VM_ADMIN)
    def vm_remove_tags(self, ctx, ref, v):
        rec = self._vm(ref)
        rec["tags"] = [t for t in rec["tags"] if t != v]
        return ""

    @api("VM.set_domain_type", R_VM_ADMIN)
    def vm_set_domain_type(self, ctx, ref, value):
        # ocaml/xapi/xapi_vm.ml set_domain_type
        rec = self._vm(ref)
        if value not in ("hvm", "pv", "pvh", "pv_in_pvh"):
            raise Failure("INVALID_VALUE", "domain_type", value)
        rec["domain_type"] = value
        rec["HVM_boot_policy"] = "BIOS order" if value == "hvm" else ""
        return ""

    @api("VM.set_HVM_boot_policy", R_VM_ADMIN)
    def vm_set_hvm_boot_policy(self, ctx, ref, value):
        # ocaml/xapi/xapi_vm.ml set_HVM_boot_policy
        rec = self._vm(ref)
        rec["domain_type"] = "pv" if value == "" else "hvm"
        rec["HVM_boot_policy"] = value
        return ""

    # -------------------------------------------------------------- VM lifecycle
    # ocaml/xapi/xapi_vm_lifecycle.ml allowed_power_states
    POWER_STATES = {"start": ["Halted"], "start_on": ["Halted"],
                    "clean_shutdown": ["Running"], "shutdown": ["Paused", "Suspended", "Running"],
                    "hard_shutdown": ["Paused", "Suspended", "Running"]}

    def _operation_error(self, ref, op):
        """ocaml/xapi/xapi_vm_lifecycle.ml check_operation_error, in its
        order: blocked_operations first (OPERATION_BLOCKED [vm; the
        blocked_operations value]), the power state (VM_BAD_POWER_STATE [vm;
        expected, lowercase, ", "-joined; actual]), other operations in
        progress, template (VM_IS_TEMPLATE [vm; op]) and snapshot
        (VM_IS_SNAPSHOT [vm; op]) exceptions, control domains."""
        rec = self.vms[ref]
        if op in rec["blocked_operations"]:
            return ["OPERATION_BLOCKED", ref, rec["blocked_operations"][op]]
        allowed = self.POWER_STATES.get(op)
        if op == "clone":
            allowed = ["Halted"] + (["Suspended"] if rec["is_a_snapshot"] else [])
        if allowed is not None and rec["power_state"] not in allowed:
            return ["VM_BAD_POWER_STATE", ref, ", ".join(s.lower() for s in allowed),
                    rec["power_state"].lower()]
        if rec["current_operations"]:
            (task, cur), = list(rec["current_operations"].items())[:1]
            return ["OTHER_OPERATION_IN_PROGRESS", "VM", ref, cur, task]
        if rec["is_a_template"] and not rec["is_a_snapshot"] and op not in ("clone", "copy"):
            # check_template (clone/copy/export/provision/... only)
            return ["VM_IS_TEMPLATE", ref, op]
        if rec["is_a_snapshot"] and op not in ("clone", "copy", "hard_shutdown", "revert"):
            return ["VM_IS_SNAPSHOT", ref, op]
        if rec["is_control_domain"] and op not in ("start", "start_on"):
            return ["OPERATION_NOT_ALLOWED", "This operation is not allowed on a control domain"]
        return None

    def _begin_operation(self, ref, op):
        """ocaml/xapi/xapi_vm_helpers.ml with_vm_operation: assert the
        operation is valid and record it in current_operations.  An
        operation in progress is waited for (helpers.ml retry on
        OTHER_OPERATION_IN_PROGRESS); stand-in: for up to 10 s."""
        deadline = time.monotonic() + 10
        while True:
            err = self._operation_error(ref, op)
            if err and err[0] == "OTHER_OPERATION_IN_PROGRESS" and time.monotonic() < deadline:
                self._unlocked(time.sleep, 0.05)
                continue
            if err:
                raise Failure(*err)
            self.tasks += 1
            task = "OpaqueRef:task-%d" % self.tasks
            self.vms[ref]["current_operations"][task] = op
            return task

    def _end_operation(self, ref, task):
        if ref in self.vms:
            self.vms[ref]["current_operations"].pop(task, None)

    def _required_srs(self, ref):
        # ocaml/xapi/xapi_vm_helpers.ml assert_can_see_SRs: the SRs of the
        # VDIs of the VM's non-empty VBDs
        out = []
        for b in self.vbds.values():
            if b["VM"] == ref and not b["empty"]:
                sr = self.vdis[b["VDI"]]["SR"]
                if sr not in out:
                    out.append(sr)
        return out

    def _attached_vms(self, pci):
        """PCI.attached_VMs as xapi keeps it (ocaml/xapi/xapi_xenops.ml
        update_pci: a PCI plugged into a running VM on the PCI's host),
        whether plugged through other-config:pci or a VGPU."""
        p = self.pcis[pci]
        bdf = canon_bdf(p["pci_id"])
        out = []
        for ref, v in self.vms.items():
            if v["power_state"] not in ("Running", "Paused") or v["resident_on"] != p["host"]:
                continue
            if bdf in self._vm_bdfs(ref):
                out.append(ref)
        return out

    def _vm_bdfs(self, ref, pgpus=None, vgpus=None):
        """What xenopsd plugs for a VM (ocaml/xapi/xapi_xenops.ml: the
        other-config:pci devices, pciops.ml other_pcidevs_of_vm, and the
        PCI of each passthrough VGPU).  vgpus: the VM's VGPU refs when
        known (stand-in: saves a scan of every VGPU)."""
        out = parse_other_config_pci(self.vms[ref]["other_config"].get("pci", ""))
        rows = self.vgpus.values() if vgpus is None else (self.vgpus[g] for g in vgpus)
        for v in rows:
            if v["VM"] != ref:
                continue
            pg = v["resident_on"] if pgpus is None else pgpus.get(v["uuid"], NULL_REF)
            if pg in self.pgpus:
                out.append(canon_bdf(self.pcis[self.pgpus[pg]["PCI"]]["pci_id"]))
        return out

    def _pgpu_capacity(self, pgpu, pre_allocated):
        """ocaml/xapi/xapi_pgpu_helpers.ml get_remaining_capacity_internal,
        passthrough: 1 unless a VGPU is scheduled to it, its PCI is attached
        to a VM, or it is pre-allocated in this placement; else 0."""
        scheduled = any(v["scheduled_to_be_resident_on"] == pgpu or v["resident_on"] == pgpu
                        for v in self.vgpus.values())
        attached = bool(self._attached_vms(self.pgpus[pgpu]["PCI"]))
        return 0 if scheduled or attached or pgpu in pre_allocated else 1

    def _allocate_vgpus(self, ref, hidx, dry_run):
        """ocaml/xapi/vgpuops.ml allocate_vgpu_to_gpu for each VGPU of the
        VM (xapi_vm_helpers.ml assert_gpus_available): the PGPUs of the
        host in the VGPU's GPU_group with capacity, sorted by capacity
        (depth_first: ascending); none: VM_REQUIRES_GPU [vm; group]
        (fail_creation, passthrough).  Returns {vgpu uuid: pgpu}."""
        host = self.hosts[hidx]["ref"]
        chosen = {}
        for vref, v in self.vgpus.items():
            if v["VM"] != ref:
                continue
            cands = [p for p, g in self.pgpus.items()
                     if g["host"] == host and g["GPU_group"] == v["GPU_group"]
                     and self._pgpu_capacity(p, chosen.values()) > 0]
            if not cands:
                raise Failure("VM_REQUIRES_GPU", ref, v["GPU_group"])
            chosen[v["uuid"]] = cands[0]
            if not dry_run:
                v["scheduled_to_be_resident_on"] = cands[0]
        return chosen

    def _assert_can_boot_here(self, ref, hidx, memory_check=True):
        """ocaml/xapi/xapi_vm_helpers.ml assert_can_boot_here, in its order:
        host live (HOST_NOT_LIVE []), control domain affinity, host enabled
        unless a control domain (HOST_DISABLED [host]), SRs seen by an
        attached PBD of the host (VM_REQUIRES_SR [vm; sr]), GPUs
        (assert_gpus_available when a VGPU is not yet allocated), memory
        (HOST_NOT_ENOUGH_FREE_MEMORY [needed; available]; stand-in: a
        "full" host has no free memory)."""
        h = self.hosts[hidx]
        rec = self.vms[ref]
        if not h["live"]:
            raise Failure("HOST_NOT_LIVE")
        self._assert_control_domain_affinity(ref, h["ref"])
        if not rec["is_control_domain"] and not h["enabled"]:
            raise Failure("HOST_DISABLED", h["ref"])
        seen = {p["SR"] for p in self.pbds.values() if p["host"] == h["ref"] and p["currently_attached"]}
        for sr in self._required_srs(ref):
            if sr not in seen:
                raise Failure("VM_REQUIRES_SR", ref, sr)
        if any(v["VM"] == ref and v["scheduled_to_be_resident_on"] not in self.pgpus
               for v in self.vgpus.values()):
            self._allocate_vgpus(ref, hidx, dry_run=True)
        if memory_check and h["full"]:
            raise Failure("HOST_NOT_ENOUGH_FREE_MEMORY", rec["memory_static_max"], "0")

    def _assert_control_domain_affinity(self, ref, host):
        # ocaml/xapi/xapi_vm_helpers.ml assert_matches_control_domain_affinity
        rec = self.vms[ref]
        if rec["is_control_domain"] and rec["affinity"] not in (NULL_REF, host):
            raise Failure("OPERATION_NOT_ALLOWED",
                          "Cannot boot a control domain on a host different from its affinity")

    def _can_run(self, ref, hidx, memory_check):
        """ocaml/xapi/xapi_vm_helpers.ml vm_can_run_on_host."""
        try:
            self._assert_can_boot_here(ref, hidx, memory_check)
            return True
        except Failure:
            return False

    def _select_host(self, ref, candidates, memory_check):
        """ocaml/xapi/xapi_vm_placement.ml select_host and
        ocaml/xapi/vm_placement.ml select_host_from_summary: categories in
        turn -- the affinity host (when valid: affinity_host_ids_of_guest),
        then definite/probable/possible by free memory, the master biased
        against (Pool.coordinator_bias, default true).  A host without room
        for the VM is in no category at all, so it is never chosen, memory
        check or not.  Within a category xapi picks at random, biased to the
        most free memory; stand-in: the first (as with
        Xapi_fist.deterministic_host_selection), slaves before the master,
        then in state order."""
        rec = self.vms[ref]
        aff = self._host_index(rec["affinity"]) if rec["affinity"] != NULL_REF else None
        roomy = [i for i in candidates if not self.hosts[i]["full"]]
        order = []
        if aff is not None and aff in roomy:
            order.append(aff)
        m = self.master
        order += ([i for i in roomy if i != m and i != aff]
                  + [i for i in roomy if i == m and i != aff])
        for i in order:
            if self._can_run(ref, i, memory_check):
                return i
        raise Failure("NO_HOSTS_AVAILABLE")

    def _choose_host_for_vm(self, ref):
        """ocaml/xapi/xapi_vm_helpers.ml choose_host_for_vm (no WLB) ->
        choose_host_for_vm_no_wlb: with a VGPU, the hosts that can take the
        VM's VGPUs grouped by remaining capacity for the first VGPU
        (rank_hosts_by_best_vgpu, depth_first: ascending; none:
        NO_HOSTS_AVAILABLE), else all hosts; each group tried in turn
        (select_host_from_ranked_lists), then once more over all of them
        without the memory check.  NO_HOSTS_AVAILABLE []."""
        all_hosts = list(range(len(self.hosts)))
        vgpus = [v for v in self.vgpus.values() if v["VM"] == ref]
        if vgpus:
            able = []
            for i in all_hosts:
                try:
                    self._allocate_vgpus(ref, i, dry_run=True)
                    able.append(i)
                except Failure:
                    pass
            if not able:
                raise Failure("NO_HOSTS_AVAILABLE")
            group = vgpus[0]["GPU_group"]

            def cap(i):
                return sum(self._pgpu_capacity(p, ()) for p, g in self.pgpus.items()
                           if g["host"] == self.hosts[i]["ref"] and g["GPU_group"] == group)
            lists = [[i for i in able if cap(i) == c] for c in sorted({cap(i) for i in able})]
        else:
            lists = [all_hosts]
        for hosts in lists:
            try:
                return self._select_host(ref, hosts, memory_check=True)
            except Failure:
                pass
        return self._select_host(ref, [i for l in lists for i in l], memory_check=False)

    def _clear_reservations(self, ref):
        # message_forwarding.ml clear_reservations
        if ref in self.vms:
            self.vms[ref]["scheduled_to_be_resident_on"] = NULL_REF
        for v in self.vgpus.values():
            if v["VM"] == ref:
                v["scheduled_to_be_resident_on"] = NULL_REF

    def _run_hooks(self, hidx, script_name, vm_uuid, reason, extra_args):
        """ocaml/xenopsd/lib/xenops_hooks.ml execute_vm_hook: every file of
        <hooks_dir>/<script_name>/ in sorted order (Array.stable_sort
        compare), args -vmuuid <uuid> -reason <reason> (+ -vmdomid <domid>
        when the domain exists: xenops_server_xen.ml get_hook_args).  Exit 0
        continues; exit 1 (exitcode_log_and_continue) is logged and
        continues; any other exit raises Hook_failed (script_name/script,
        reason, stdout, exit code), which ocaml/xapi/xapi_xenops.ml maps to
        XAPI_HOOK_FAILED [script; reason; stdout; code].  A hook killed by a
        signal is not caught there: xenopsd reports an internal error
        (stand-in: INTERNAL_ERROR ["xenopsd internal error: ..."])."""
        h = self.hosts[hidx]
        if not h["hooks_dir"]:
            return
        d = os.path.join(h["hooks_dir"], script_name)
        if not os.path.isdir(d):
            return
        args = ["-vmuuid", vm_uuid, "-reason", reason] + extra_args
        for script in sorted(os.listdir(d), key=lambda n: n.encode("utf-8", "surrogateescape")):
            rc, out, err = self._unlocked(self._spawn, [os.path.join(d, script)] + args,
                                          self._env(hidx))
            stdout = out.decode("utf-8", "replace")
            self._log({"event": "hook", "host": h["name_label"],
                       "script": script_name + "/" + script, "args": args, "exit": rc,
                       "stdout": stdout, "stderr": err.decode("utf-8", "replace")})
            if rc == 0 or rc == 1:
                continue
            if rc < 0:
                raise Failure("INTERNAL_ERROR",
                              "xenopsd internal error: Forkhelpers.Spawn_internal_error(%r, %r, "
                              "Unix.WSIGNALED %s)" % (err.decode("utf-8", "replace"), stdout,
                                                      signal.Signals(-rc).name))
            raise Failure("XAPI_HOOK_FAILED", script_name + "/" + script, reason, stdout, str(rc))

    def _xenops_start(self, ref, hidx, start_paused):
        """ocaml/xapi/xapi_vm.ml start -> Xapi_xenops.start -> xenopsd
        VM_start (ocaml/xenopsd/lib/xenops_server.ml atomics_of_operation):
        VM_hook_script vm-pre-start (reason none), VM_create (memory),
        VM_build, devices, PCI_plug.  PCI.plug binds the device to pciback,
        which does a function-level reset (ocaml/xenopsd/xc/device.ml bind
        -> do_flr, also when already bound) before assigning it; assigning a
        device already assigned to another domain then fails inside
        Device.PCI.add (Cannot_add), which xapi reports as INTERNAL_ERROR
        ["xenopsd internal error: Cannot_add(...)"] (xapi_xenops.ml,
        Internal_error).  The reset has happened by then: recorded in
        "resets"."""
        rec = self.vms[ref]
        h = self.hosts[hidx]
        self._run_hooks(hidx, "vm-pre-start", rec["uuid"], "none", [])
        if ref not in self.vms:
            raise Failure("HANDLE_INVALID", "VM", ref)
        if h["full"]:
            # stand-in: squeezed cannot free the memory (Cannot_free_this_much_memory)
            raise Failure("HOST_NOT_ENOUGH_FREE_MEMORY", rec["memory_static_max"], "0")
        pgpus = {v["uuid"]: v["scheduled_to_be_resident_on"]
                 for v in self.vgpus.values() if v["VM"] == ref}
        for bdf in self._vm_bdfs(ref, pgpus):
            for other, o in self.vms.items():
                if other == ref or o["power_state"] not in ("Running", "Paused") \
                        or o["resident_on"] != h["ref"]:
                    continue
                if bdf in self._vm_bdfs(other):
                    self.resets.append({"pci_id": bdf, "host": h["uuid"],
                                        "held_by_vm": o["uuid"], "started_vm": rec["uuid"]})
                    raise Failure("INTERNAL_ERROR",
                                  "xenopsd internal error: Cannot_add(%s, "
                                  "Xenctrlext.Unix_error(EBUSY, \"xc_assign_device\"))" % bdf)
        rec["power_state"] = "Paused" if start_paused else "Running"
        rec["resident_on"] = h["ref"]
        rec["domid"] = str(self.next_domid)
        self.next_domid += 1
        for v in self.vgpus.values():
            # xapi_xenops.ml update_pci: VGPU.atomic_set_resident_on the
            # scheduled PGPU once its PCI is plugged
            if v["VM"] == ref and v["scheduled_to_be_resident_on"] in self.pgpus:
                v["resident_on"] = v["scheduled_to_be_resident_on"]
                v["PCI"] = self.pgpus[v["resident_on"]]["PCI"]
                v["currently_attached"] = True

    @api("message.create", R_POOL_OP)
    def message_create(self, ctx, name, priority, cls, obj_uuid, body):
        """ocaml/idl/datamodel.ml Message.create (name, priority: Int --
        carried as a string on XML-RPC --, cls, obj_uuid, body;
        _R_POOL_OP) -> ocaml/xapi/xapi_message.ml create: INVALID_VALUE
        ["UTF8 expected"] for a body that is not UTF-8, UUID_INVALID [cls;
        uuid] when no object of cls has obj_uuid (check_uuid); the message
        gets a fresh uuid and the time of creation; returns its ref."""
        classes = {"VM": self.vms, "Host": None, "SR": None, "Pool": None}
        if cls not in ("VM", "Host", "SR", "Pool", "VMPP", "VMSS", "PVS_proxy", "VDI",
                       "Certificate"):
            raise Failure("INVALID_VALUE", "cls", cls)
        try:
            prio = int(priority)
        except (TypeError, ValueError):
            raise Failure("FIELD_TYPE_ERROR", "priority")
        if cls == "VM" and not any(v["uuid"] == obj_uuid for v in self.vms.values()):
            raise Failure("UUID_INVALID", cls, obj_uuid)
        if classes.get(cls, None) is None and cls != "VM":
            raise Failure("UUID_INVALID", cls, obj_uuid)   # stand-in: VMs only
        ref = "OpaqueRef:message-%d" % len(self.messages)
        self.messages.append({"ref": ref, "uuid": new_uuid(), "name": name, "priority": prio,
                              "cls": cls, "obj_uuid": obj_uuid, "body": body,
                              "timestamp": time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime())})
        return ref

    @api("message.get_all_records", R_ALL, reads=True)
    def message_get_all_records(self, ctx):
        """ocaml/xapi/xapi_message.ml get_all_records: ref -> record
        (name, priority, cls, obj_uuid, timestamp, body, uuid)."""
        return {m["ref"]: {k: (str(v) if k == "priority" else v) for k, v in m.items()
                           if k != "ref"} for m in self.messages}

    @api("VM.start", R_VM_OP)
    def vm_start(self, ctx, ref, start_paused, force):
        """ocaml/xapi/message_forwarding.ml VM.start: with_vm_operation
        `start, forward_to_suitable_host (choose_host_for_vm, then
        allocate_vm_to_host: scheduled_to_be_resident_on, VGPU allocation),
        then the local start on that host."""
        self._vm(ref)
        task = self._begin_operation(ref, "start")
        try:
            hidx = self._choose_host_for_vm(ref)
            self.vms[ref]["scheduled_to_be_resident_on"] = self.hosts[hidx]["ref"]
            self._allocate_vgpus(ref, hidx, dry_run=False)
            self._xenops_start(ref, hidx, start_paused)
            return ""
        finally:
            self._clear_reservations(ref)
            self._end_operation(ref, task)

    @api("VM.start_on", R_VM_POWER_ADMIN + R_CLIENT_CERT)
    def vm_start_on(self, ctx, ref, host, start_paused, force):
        """ocaml/xapi/message_forwarding.ml VM.start_on: control domain
        affinity, then with_vm_operation `start_on (a separate operation:
        blocking "start" does not block it), reserve_memory_for_vm
        (assert_can_boot_here on that host, memory checked), then the local
        start there."""
        self._vm(ref)
        hidx = self._host(host)
        self._assert_control_domain_affinity(ref, host)
        task = self._begin_operation(ref, "start_on")
        try:
            self._assert_can_boot_here(ref, hidx, memory_check=True)
            self.vms[ref]["scheduled_to_be_resident_on"] = host
            self._allocate_vgpus(ref, hidx, dry_run=False)
            self._xenops_start(ref, hidx, start_paused)
            return ""
        finally:
            self._clear_reservations(ref)
            self._end_operation(ref, task)

    def _halt(self, ref, op, reason):
        """ocaml/xapi/xapi_vm.ml hard_shutdown / clean_shutdown ->
        xenopsd VM_shutdown: hooks vm-pre-shutdown, the domain goes,
        vm-post-destroy (xenops_server.ml, VM_hook_script VM_pre_destroy /
        VM_post_destroy); the VM is Halted, resident_on NULL, domid -1."""
        self._vm(ref)
        task = self._begin_operation(ref, op)
        try:
            rec = self.vms[ref]
            hidx = self._host_index(rec["resident_on"])
            domid = ["-vmdomid", rec["domid"]] if rec["domid"] != "-1" else []
            if rec["power_state"] != "Suspended" and hidx is not None:
                self._run_hooks(hidx, "vm-pre-shutdown", rec["uuid"], reason, domid)
            rec["power_state"] = "Halted"
            rec["resident_on"] = NULL_REF
            rec["domid"] = "-1"
            for v in self.vgpus.values():
                if v["VM"] == ref:
                    v.update(resident_on=NULL_REF, PCI=NULL_REF, currently_attached=False)
            if hidx is not None:
                self._run_hooks(hidx, "vm-post-destroy", rec["uuid"], reason, [])
            return ""
        finally:
            self._end_operation(ref, task)

    @api("VM.hard_shutdown", R_VM_OP)
    def vm_hard_shutdown(self, ctx, ref):
        return self._halt(ref, "hard_shutdown", "hard-shutdown")

    @api("VM.clean_shutdown", R_VM_OP)
    def vm_clean_shutdown(self, ctx, ref):
        return self._halt(ref, "clean_shutdown", "clean-shutdown")

    @api("VM.shutdown", R_VM_OP + R_CLIENT_CERT)
    def vm_shutdown(self, ctx, ref):
        return self._halt(ref, "shutdown", "clean-shutdown")

    @api("VM.clone", R_VM_ADMIN)
    def vm_clone(self, ctx, ref, new_name):
        """ocaml/xapi/xapi_vm_clone.ml clone / copy_vm_record: the new VM
        copies name_description, is_a_template, affinity, memory, VCPUs_max,
        VCPUs_at_startup, VCPUs_params, platform, HVM_boot_policy,
        domain_type, is_control_domain, tags and other_config (with a fresh
        mac_seed, without default_template and xensource_internal, with
        base_template_name when cloning a template); it resets
        blocked_operations ([]), resident_on, scheduled_to_be_resident_on
        (NULL), domid (-1), snapshot_of (NULL), is_default_template,
        ha_always_run; power state Halted.  Each disk is cloned in its SR and
        given a VBD; VGPUs are copied (Xapi_vgpu.copy)."""
        self._vm(ref)
        task = self._begin_operation(ref, "clone")
        try:
            src = self.vms[ref]
            oc = dict(src["other_config"])
            oc["mac_seed"] = new_uuid()   # Xapi_globs.mac_seed
            oc.pop("default_template", None)
            oc.pop("xensource_internal", None)
            if src["is_a_template"] and "base_template_name" not in oc:
                oc["base_template_name"] = src["name_label"]
            new = "OpaqueRef:vm-%d" % self.counter["vm"]
            self.counter["vm"] += 1
            rec = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                   for k, v in src.items()}
            rec.update(uuid=new_uuid(), name_label=new_name, power_state="Halted",
                       is_a_snapshot=False, is_default_template=False, snapshot_of=NULL_REF,
                       other_config=oc, blocked_operations={}, current_operations={},
                       resident_on=NULL_REF, scheduled_to_be_resident_on=NULL_REF,
                       domid="-1", ha_always_run=False, parent=NULL_REF,
                       suspend_VDI=NULL_REF)
            self.vms[new] = rec
            for b in [b for b in self.vbds.values() if b["VM"] == ref]:
                vdi = self.vdis[b["VDI"]]
                nvdi = self._ref("vdi")
                self.vdis[nvdi] = dict(vdi, uuid=new_uuid(), other_config={}, sm_config={},
                                       tags=list(vdi["tags"]))
                nvbd = self._new_vbd(new, nvdi, b["userdevice"])
                self.vbds[nvbd]["other_config"] = {"owner": ""}   # CA-58405
            for v in [v for v in self.vgpus.values() if v["VM"] == ref]:
                self.vgpus[self._ref("vgpu")] = dict(
                    v, uuid=new_uuid(), VM=new, resident_on=NULL_REF,
                    scheduled_to_be_resident_on=NULL_REF, PCI=NULL_REF,
                    currently_attached=False, other_config=dict(v["other_config"]))
            return new
        finally:
            self._end_operation(ref, task)

    # ------------------------------------------------------------------- host
    @api("host.call_plugin", R_POOL_ADMIN)
    def host_call_plugin(self, ctx, host, plugin, fn, args):
        """ocaml/xapi/message_forwarding.ml Host.call_plugin -> do_op_on:
        check_live (HOST_OFFLINE [host] unless it is the master); on the
        master (where forwarding runs) the local call with the caller's own
        session; on another host call_slave_with_session: a NEW session
        (Xapi_session.login_no_password: this_host = that host, pool = true,
        is_local_superuser = true, auth_user_name "", originator "xapi",
        parent = the caller's session), destroyed when the call returns.
        Then ocaml/xapi/xapi_host.ml call_plugin -> xapi_plugins.ml
        call_plugin on that host."""
        hidx = self._host(host)
        self._check_live(hidx)
        if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
            raise Failure("FIELD_TYPE_ERROR", "args")
        forwarded = None
        if hidx == self.master:
            sref = ctx.session
        else:
            sref = forwarded = self._new_session(
                hidx, None, True, "xapi", pool=True, parent=ctx.session, auth_user_name="")
        try:
            return self._call_plugin(hidx, sref, plugin, fn, args)
        finally:
            if forwarded:
                self.sessions.pop(forwarded, None)   # destroy_db_session

    def _call_plugin(self, hidx, sref, plugin, fn, args):
        """ocaml/xapi/xapi_plugins.ml call_plugin."""
        h = self.hosts[hidx]
        # find_plugin: the name must be an entry of the plugins directory
        try:
            names = os.listdir(h["plugins_dir"]) if h["plugins_dir"] else []
        except OSError:
            names = []
        if plugin not in names:
            raise Failure("XENAPI_MISSING_PLUGIN", plugin)
        path = os.path.join(h["plugins_dir"], plugin)
        # XMLRPC.To.methodCall fn [string session; structure args]
        # (ocaml/libs/http-lib/xMLRPC.ml), printed by Xml.to_string: one
        # line, no XML declaration, strings as bare <value>text</value>, ""
        # as an empty <value/>.
        call = ET.Element("methodCall")
        ET.SubElement(call, "methodName").text = xml_chars(fn)
        params = ET.SubElement(call, "params")
        v = ET.SubElement(ET.SubElement(params, "param"), "value")
        v.text = xml_chars(sref) or None
        st = ET.SubElement(ET.SubElement(ET.SubElement(params, "param"), "value"), "struct")
        for k, val in args.items():
            m = ET.SubElement(st, "member")
            ET.SubElement(m, "name").text = xml_chars(k)
            ET.SubElement(m, "value").text = xml_chars(val) or None
        argv1 = ET.tostring(call, encoding="unicode")
        rc, out, err = self._unlocked(self._spawn, [path, argv1], self._env(hidx))
        output = out.decode("utf-8", "replace")
        log = err.decode("utf-8", "replace")
        self._log({"event": "plugin", "host": h["name_label"], "plugin": plugin, "fn": fn,
                   "session": "SESSION" if sref in self.sessions else sref,
                   "exit": rc, "stdout_bytes": len(out)})
        # Forkhelpers.Spawn_internal_error (log = stderr, output = stdout, status)
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = str(-rc)
            raise Failure("XENAPI_PLUGIN_FAILURE", "signal: %s" % name, output, log)
        if rc > 0:
            raise Failure("XENAPI_PLUGIN_FAILURE", "non-zero exit", output, log)
        try:
            values, method = xmlrpc.client.loads(out)
        except xmlrpc.client.Fault as f:
            raise Failure("XENAPI_PLUGIN_FAILURE", "fault", str(f.faultCode), f.faultString)
        except ExpatError as e:
            raise Failure("XENAPI_PLUGIN_FAILURE", "failed to parse plugin output", output,
                          "%s line %d" % (ErrorString(e.code), e.lineno))
        except Exception as e:   # not XML-RPC at all
            raise Failure("INTERNAL_ERROR", "XMLRPC.RunTimeTypeError(%s)" % e)
        # XMLRPC.From.methodResponse / status; anything else is a
        # RunTimeTypeError that reaches the caller as INTERNAL_ERROR
        # (ocaml/xapi/exnHelper.ml; stand-in: the message text).
        r = values[0] if method is None and len(values) == 1 else None
        if not isinstance(r, dict):
            raise Failure("INTERNAL_ERROR", "XMLRPC.RunTimeTypeError(response)")
        if r.get("Status") == "Success" and "Value" in r:
            if not isinstance(r["Value"], str):
                raise Failure("INTERNAL_ERROR", "XMLRPC.RunTimeTypeError(string)")
            return r["Value"]
        if r.get("Status") == "Failure" and isinstance(r.get("ErrorDescription"), list) \
                and r["ErrorDescription"] \
                and all(isinstance(x, str) for x in r["ErrorDescription"]):
            raise Failure(*r["ErrorDescription"])
        raise Failure("INTERNAL_ERROR", "XMLRPC.RunTimeTypeError(Status)")

    # ocaml/idl/datamodel_host.ml: host messages default to _R_POOL_OP;
    # enable/disable _R_POOL_OP ++ _R_CLIENT_CERT
    @api("host.disable", R_POOL_OP + R_CLIENT_CERT)
    def host_disable(self, ctx, host, auto_enable=True):
        self.hosts[self._host(host)]["enabled"] = False
        return ""

    @api("host.enable", R_POOL_OP + R_CLIENT_CERT)
    def host_enable(self, ctx, host):
        self.hosts[self._host(host)]["enabled"] = True
        return ""

    @api("host.set_guest_VCPUs_params", R_POOL_OP)
    def host_set_guest_vcpus_params(self, ctx, host, value):
        self.hosts[self._host(host)]["guest_VCPUs_params"] = dict(value)
        return ""

    @api("host.add_to_guest_VCPUs_params", R_POOL_OP)
    def host_add_to_guest_vcpus_params(self, ctx, host, k, v):
        h = self.hosts[self._host(host)]
        return self._map_add("host", host, h, "guest_VCPUs_params", k, v)

    @api("host.remove_from_guest_VCPUs_params", R_POOL_OP)
    def host_remove_from_guest_vcpus_params(self, ctx, host, k):
        self.hosts[self._host(host)]["guest_VCPUs_params"].pop(k, None)
        return ""

    @api("host.add_to_other_config", R_POOL_OP, HOST_OTHER_CONFIG_KEYS)
    def host_add_to_other_config(self, ctx, host, k, v):
        h = self.hosts[self._host(host)]
        return self._map_add("host", host, h, "other_config", k, v)

    @api("host.remove_from_other_config", R_POOL_OP, HOST_OTHER_CONFIG_KEYS)
    def host_remove_from_other_config(self, ctx, host, k):
        self.hosts[self._host(host)]["other_config"].pop(k, None)
        return ""

    # ------------------------------------------------------------------- pool
    # ocaml/idl/datamodel_pool.ml: other_config has no ~writer_roles, so its
    # add_to_/remove_from_ take the object's messages_default_allowed_roles,
    # _R_POOL_OP (datamodel_common.ml create_obj), and ~map_keys_roles
    # folder, XenCenter.CustomFields.*, EMPTY_FOLDERS: _R_VM_OP
    # (POOL_OTHER_CONFIG_KEYS).  Plain DB writes: ocaml/database/
    # db_cache_impl.ml process_structured_field with db_cache_types.ml
    # add_to_map (the key present: Duplicate_key -> MAP_DUPLICATE_KEY, see
    # _map_add) and remove_from_map (a filter: an absent key is no error).
    @api("pool.add_to_other_config", R_POOL_OP, POOL_OTHER_CONFIG_KEYS)
    def pool_add_to_other_config(self, ctx, ref, k, v):
        return self._map_add("pool", ref, self._pool(ref), "other_config", k, v)

    @api("pool.remove_from_other_config", R_POOL_OP, POOL_OTHER_CONFIG_KEYS)
    def pool_remove_from_other_config(self, ctx, ref, k):
        self._pool(ref)["other_config"].pop(k, None)   # absent key: no error
        return ""

    @api("pool.designate_new_master", R_POOL_OP)
    def pool_designate_new_master(self, ctx, host):
        """ocaml/idl/datamodel_pool.ml designate_new_master: _R_POOL_OP.
        ocaml/xapi/message_forwarding.ml Pool.designate_new_master:
        with_pool_operation `designate_new_master (stand-in: the call is
        atomic under the state lock, so DESIGNATE_NEW_MASTER_IN_PROGRESS
        never arises), ocaml/xapi/xapi_sync.ml sync_host (rsync of the
        blobs to a host other than the master without other-config
        no_local_storage; on success host.other_config:last_blob_sync_time
        = the time (string_of_float), a failure -- the host is down -- only
        logged), then do_op_on the host: check_live (HOST_OFFLINE [host]
        unless it is the master), forwarded there.
        ocaml/xapi/xapi_pool.ml designate_new_master, on that host: nothing
        at all when it is the master already (Pool_role.is_master); HA on:
        HA_IS_ENABLED []; else sync_database and
        ocaml/xapi/xapi_pool_transition.ml
        attempt_two_phase_commit_of_new_master: phase 1
        Host.propose_new_master to every other host's address, its own
        last (Helpers.call_emergency_mode_functions, over HTTPS); a host
        that does not answer fails phase 1, the proposal is aborted where
        it was made and the error reaches the caller: Stunnel_error ->
        INTERNAL_ERROR ["Connection failed: <reason>."]
        (ocaml/xapi/exnHelper.ml error_of_exn; stand-in: reason "no route
        to host"; stunnel may diagnose "connection refused" instead,
        ocaml/libs/stunnel/stunnel.ml diagnose_failure).  Phase 2
        commit_new_master: the others become slaves of the new address
        (become_another_masters_slave: pool.conf, xapi restarts), the host
        becomes master (become_master) and sets pool.master when it starts
        (ocaml/xapi/dbsync_master.ml set_master_pool_reference).
        stand-in: the database is one shared dict, so the handover loses
        nothing and is complete when the call returns (no xapi restarts;
        sessions, which are database rows, stay valid)."""
        hidx = self._host(host)
        h = self.hosts[hidx]
        if hidx != self.master and "no_local_storage" not in h["other_config"] and h["live"]:
            h["other_config"]["last_blob_sync_time"] = ocaml_string_of_float(time.time())
        self._check_live(hidx)
        if hidx == self.master:
            return ""
        if self.pool["ha_enabled"]:
            raise Failure("HA_IS_ENABLED")
        peers = [i for i in range(len(self.hosts)) if i != hidx] + [hidx]
        if any(not self.hosts[i]["live"] for i in peers):
            raise Failure("INTERNAL_ERROR", "Connection failed: no route to host.")
        self.master = hidx
        return ""

    # -------------------------------------------------------------------- PCI
    # ocaml/idl/datamodel.ml module PCI: the three calls are _R_POOL_OP.
    # ocaml/xapi/xapi_pci_helpers.ml determine_dom0_access_status:
    # enabled / disable_on_reboot / disabled / enable_on_reboot.
    @api("PCI.get_dom0_access_status", R_POOL_OP, reads=True)
    def pci_get_dom0_access_status(self, ctx, ref):
        return self._pci(ref)["dom0_access"]

    @api("PCI.disable_dom0_access", R_POOL_OP)
    def pci_disable_dom0_access(self, ctx, ref):
        p = self._pci(ref)
        p["dom0_access"] = {"enabled": "disable_on_reboot", "enable_on_reboot": "disabled"}.get(
            p["dom0_access"], p["dom0_access"])
        return p["dom0_access"]

    @api("PCI.enable_dom0_access", R_POOL_OP)
    def pci_enable_dom0_access(self, ctx, ref):
        p = self._pci(ref)
        p["dom0_access"] = {"disabled": "enable_on_reboot", "disable_on_reboot": "enabled"}.get(
            p["dom0_access"], p["dom0_access"])
        return p["dom0_access"]

    # ocaml/idl/datamodel.ml module PCI: other_config is RW, no
    # ~writer_roles and no ~map_keys_roles: add_to_/remove_from_ are the
    # object's messages_default_allowed_roles, _R_POOL_OP, for every key
    # (datamodel_common.ml create_obj).  Plain DB writes, as for the pool.
    @api("PCI.add_to_other_config", R_POOL_OP)
    def pci_add_to_other_config(self, ctx, ref, k, v):
        return self._map_add("PCI", ref, self._pci(ref), "other_config", k, v)

    @api("PCI.remove_from_other_config", R_POOL_OP)
    def pci_remove_from_other_config(self, ctx, ref, k):
        self._pci(ref)["other_config"].pop(k, None)   # absent key: no error
        return ""

    # --------------------------------------------------------------- stand-in
    @api("standin.set_host_live", session=False)
    def standin_set_host_live(self, ctx, host, live):
        """stand-in: a host goes down (live false) or comes back.  xapi's
        view of it is Host_metrics.live (ocaml/xapi/xapi_vm_helpers.ml
        is_host_live), which xapi clears only after
        Xapi_globs.host_assumed_dead_interval without heartbeats
        (ocaml/xapi/db_gc.ml check_host_liveness); here at once.  Then
        call_plugin and designate_new_master to it fail HOST_OFFLINE
        (message_forwarding.ml check_live), VMs cannot boot there
        (HOST_NOT_LIVE), designate_new_master of another host fails phase
        1, and the host's own sockets close every connection unanswered.
        A dead master is not modelled further (the slaves' sockets answer
        on).  host: ref, uuid or name_label; no session needed."""
        i = self._host_index(host)
        if i is None:
            raise Failure("HANDLE_INVALID", "host", host)
        if not isinstance(live, bool):
            raise Failure("FIELD_TYPE_ERROR", "live")
        self.hosts[i]["live"] = live
        return ""

    @api("standin.set_plugin_env", session=False)
    def standin_set_plugin_env(self, ctx, key, value):
        """stand-in: set (value not "") or unset a GPUPOOL_* variable of the
        plugins and hooks xapi runs from now on (a test's clock:
        GPUPOOL_NOW).  Not xapi's: a test affordance."""
        if not key.startswith("GPUPOOL_"):
            raise Failure("INVALID_VALUE", "key", key)
        if value:
            self.plugin_env[key] = str(value)
        else:
            self.plugin_env.pop(key, None)
        return ""


# ---------------------------------------------------------------------- server
class Dispatcher(SimpleXMLRPCDispatcher):
    def __init__(self):
        super().__init__(allow_none=False, encoding="utf-8", use_builtin_types=False)


def run_call(xapi, ctx, method, params):
    try:
        return {"Status": "Success", "Value": xapi.dispatch(ctx, method, params)}
    except Failure as e:
        return {"Status": "Failure", "ErrorDescription": [xml_chars(d) for d in e.desc]}
    except TypeError as e:
        return {"Status": "Failure",
                "ErrorDescription": ["MESSAGE_PARAMETER_COUNT_MISMATCH", method, str(e)]}
    except Exception as e:  # noqa: BLE001 -- xapi answers INTERNAL_ERROR
        return {"Status": "Failure", "ErrorDescription": ["INTERNAL_ERROR", xml_chars(repr(e))]}


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")
    disable_nagle_algorithm = False  # a Unix socket has no TCP options

    def address_string(self):
        return "unix"

    def log_message(self, *a):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 256
    _send_traceback_header = False
    encoding = "utf-8"
    logRequests = False

    def __init__(self, path, xapi, hidx, remote):
        self.xapi = xapi
        self.hidx = hidx
        self.remote = remote
        self.dispatcher = Dispatcher()
        self.accepted = 0
        super().__init__(path, Handler)

    def verify_request(self, request, client_address):
        # stand-in fault injection: refuse_connections_after; a dead host
        # (live false) answers nothing
        self.accepted += 1
        if not self.xapi.hosts[self.hidx]["live"]:
            return False
        n = self.xapi.refuse_after
        return not (n is not None and self.accepted >= int(n))

    # SimpleXMLRPCRequestHandler calls this on its server
    def _marshaled_dispatch(self, data, dispatch_method=None, path=None):
        ctx = Ctx(self.hidx, self.remote)
        return self.dispatcher._marshaled_dispatch(
            data, lambda m, p: run_call(self.xapi, ctx, m, p), path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket")
    ap.add_argument("--remote-socket")
    ap.add_argument("--socket-dir")
    ap.add_argument("--state", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--session", default="OpaqueRef:plugin-session")
    ap.add_argument("--ready")
    a = ap.parse_args()
    if not (a.socket or a.socket_dir):
        ap.error("--socket or --socket-dir is required")
    with open(a.state) as f:
        state = json.load(f)
    xapi = Xapi(state, a.log, a.session, a.state + ".out")
    xapi.dump()
    paths = []
    if a.socket:
        paths.append((a.socket, 0, False))
    if a.remote_socket:
        paths.append((a.remote_socket, 0, True))
    if a.socket_dir:
        for i, h in enumerate(xapi.hosts):
            paths.append((os.path.join(a.socket_dir, h["name_label"] + ".sock"), i, False))
            paths.append((os.path.join(a.socket_dir, h["name_label"] + ".remote.sock"), i, True))
    servers = []
    for path, i, remote in paths:
        if os.path.exists(path):
            os.unlink(path)
        servers.append(Server(path, xapi, i, remote))

    def stop(*_):
        if xapi.lock.acquire(timeout=2):
            xapi.dump()
        for p, _, _ in paths:
            try:
                os.unlink(p)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
