#!/usr/bin/env python3
"""A stand-in for xapi, for tests: an XML-RPC server on a Unix socket.

xapi itself cannot run here.  This small server answers the XenAPI calls
gpupool's xapi driver makes, holding VM, PCI and host records the way xapi
does (refs "OpaqueRef:...", int64 fields as strings, every answer wrapped in
{Status: Success, Value: ...} or {Status: Failure, ErrorDescription:
[code, params...]}), and records every call it receives.

    xapi_standin.py --socket PATH --state STATE.json --log CALLS.jsonl [--ready FILE]

STATE.json: {"vms": [{"uuid", "name_label", "power_state", "VCPUs_max",
"memory_static_max", "other_config": {}, "VCPUs_params": {}, ...}],
"pcis": [{"pci_id", "dom0_access"}], "delay": {"METHOD": seconds}}.
Each call is appended to CALLS.jsonl as {"method", "params"} (the session
ref replaced by "SESSION" when it is the one login returned or the one the
test passed); after each call the whole state is written to STATE.json.out.
Facts about xapi follow xen-api's datamodel: VM.get_by_uuid raises
UUID_INVALID, add_to_* raises MAP_DUPLICATE_KEY for a present key,
remove_from_* of an absent key is not an error, PCI dom0 access is
enabled / disable_on_reboot / disabled / enable_on_reboot.
"""
import argparse
import json
import os
import signal
import socketserver
import sys
import time
import uuid as uuidlib
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

HOST_REF = "OpaqueRef:host-0"
NULL_REF = "OpaqueRef:NULL"


class Failure(Exception):
    def __init__(self, *desc):
        super().__init__(desc)
        self.desc = [str(d) for d in desc]


class Xapi:
    def __init__(self, state, log_path, session, state_out=None):
        self.log_path = log_path
        self.state_out = state_out
        self.sessions = {session} if session else set()
        self.vms = {}
        for i, vm in enumerate(state.get("vms", [])):
            rec = {
                "uuid": vm.get("uuid") or str(uuidlib.uuid4()),
                "name_label": vm.get("name_label", "vm%d" % i),
                "power_state": vm.get("power_state", "Halted"),
                "is_a_template": vm.get("is_a_template", False),
                "is_a_snapshot": vm.get("is_a_snapshot", False),
                "is_control_domain": vm.get("is_control_domain", False),
                "VCPUs_max": str(vm.get("VCPUs_max", 4)),
                "VCPUs_at_startup": str(vm.get("VCPUs_max", 4)),
                "memory_static_max": str(vm.get("memory_static_max", 8 << 30)),
                "domid": str(vm.get("domid", -1)),
                "other_config": dict(vm.get("other_config", {})),
                "VCPUs_params": dict(vm.get("VCPUs_params", {})),
                "resident_on": vm.get("resident_on", NULL_REF),
                "affinity": vm.get("affinity", NULL_REF),
                "blocked_operations": dict(vm.get("blocked_operations", {})),
                "domain_type": vm.get("domain_type", "hvm"),
                "HVM_boot_policy": vm.get("HVM_boot_policy", "BIOS order"),
                "VBDs": [],
                "VGPUs": [],
            }
            self.vms["OpaqueRef:vm-%d" % i] = rec
        self.pcis = {}
        for i, p in enumerate(state.get("pcis", [])):
            self.pcis["OpaqueRef:pci-%d" % i] = {
                "uuid": str(uuidlib.uuid4()),
                "pci_id": p["pci_id"],
                "class_name": p.get("class_name", "3D controller"),
                "host": p.get("host", HOST_REF),
                "dom0_access": p.get("dom0_access", "enabled"),
            }
        self.delay = state.get("delay", {})
        self.hosts = {HOST_REF: {"uuid": "00000000-0000-4000-8000-00000000h000".replace("h", "0"),
                                 "name_label": "host-0", "guest_VCPUs_params": {}}}
        for i, h in enumerate(state.get("hosts", [])):
            self.hosts["OpaqueRef:host-%d" % i] = {
                "uuid": h.get("uuid", str(uuidlib.uuid4())),
                "name_label": h.get("name_label", "host-%d" % i),
                "guest_VCPUs_params": dict(h.get("guest_VCPUs_params", {}))}
        self.vgpus = {}
        self.pgpus = {}
        self.users = state.get("users", {})
        self.session_info = {}

    def state(self):
        return {
            "vms": [dict(v) for v in self.vms.values()],
            "pcis": [dict(p) for p in self.pcis.values()],
        }

    # -- helpers --
    def _session(self, s):
        if s not in self.sessions:
            raise Failure("SESSION_INVALID", s)

    def _vm(self, ref):
        if ref not in self.vms:
            raise Failure("HANDLE_INVALID", "VM", ref)
        return self.vms[ref]

    def _pci(self, ref):
        if ref not in self.pcis:
            raise Failure("HANDLE_INVALID", "PCI", ref)
        return self.pcis[ref]

    # -- dispatch --
    def call(self, method, params):
        shown = list(params)
        if shown and isinstance(shown[0], str) and shown[0] in self.sessions:
            shown[0] = "SESSION"
        with open(self.log_path, "a") as f:
            f.write(json.dumps({"method": method, "params": shown}) + "\n")
        if method in self.delay:
            time.sleep(float(self.delay[method]))
        fn = getattr(self, "m_" + method.replace(".", "__"), None)
        if fn is None:
            raise Failure("MESSAGE_METHOD_UNKNOWN", method)
        if method != "session.login_with_password":
            self._session(params[0] if params else "")
            params = params[1:]
        try:
            return fn(*params)
        finally:
            self.dump()

    def dump(self):
        if self.state_out:
            tmp = self.state_out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.state(), f, indent=1, sort_keys=True)
            os.replace(tmp, self.state_out)

    # -- session --
    def m_session__login_with_password(self, user, pw, *rest):
        if user != "root":
            raise Failure("SESSION_AUTHENTICATION_FAILED", user, "Authentication failure")
        ref = "OpaqueRef:session-%s" % uuidlib.uuid4()
        self.sessions.add(ref)
        return ref

    def m_session__logout(self):
        return ""

    def m_session__get_this_host(self, s):
        return HOST_REF

    # -- VM --
    def m_VM__get_all_records(self):
        return self.vms

    def m_VM__get_by_uuid(self, u):
        for ref, rec in self.vms.items():
            if rec["uuid"] == u:
                return ref
        raise Failure("UUID_INVALID", "VM", u)

    def m_VM__get_by_name_label(self, n):
        return [ref for ref, rec in self.vms.items() if rec["name_label"] == n]

    def m_VM__get_record(self, ref):
        return self._vm(ref)

    def m_VM__get_power_state(self, ref):
        return self._vm(ref)["power_state"]

    def m_VM__get_other_config(self, ref):
        return self._vm(ref)["other_config"]

    def m_VM__get_VCPUs_params(self, ref):
        return self._vm(ref)["VCPUs_params"]

    def _add(self, ref, field, k, v):
        m = self._vm(ref)[field]
        if k in m:
            raise Failure("MAP_DUPLICATE_KEY", "VM", field, ref, k)
        m[k] = v
        return ""

    def _remove(self, ref, field, k):
        self._vm(ref)[field].pop(k, None)
        return ""

    def m_VM__add_to_other_config(self, ref, k, v):
        return self._add(ref, "other_config", k, v)

    def m_VM__remove_from_other_config(self, ref, k):
        return self._remove(ref, "other_config", k)

    def m_VM__add_to_VCPUs_params(self, ref, k, v):
        return self._add(ref, "VCPUs_params", k, v)

    def m_VM__remove_from_VCPUs_params(self, ref, k):
        return self._remove(ref, "VCPUs_params", k)

    def m_VM__get_uuid(self, ref):
        return self._vm(ref)["uuid"]

    def m_VM__get_blocked_operations(self, ref):
        return self._vm(ref)["blocked_operations"]

    def m_VM__add_to_blocked_operations(self, ref, k, v):
        return self._add(ref, "blocked_operations", k, v)

    def m_VM__remove_from_blocked_operations(self, ref, k):
        return self._remove(ref, "blocked_operations", k)

    def m_VM__set_affinity(self, ref, host):
        self._vm(ref)["affinity"] = host
        return ""

    def m_VM__get_affinity(self, ref):
        return self._vm(ref)["affinity"]

    def m_VM__clone(self, ref, name):
        # ocaml/xapi/xapi_vm_clone.ml: the clone copies other_config and
        # VCPUs_params; it is halted, resident nowhere
        src = self._vm(ref)
        rec = json.loads(json.dumps(src))
        rec["uuid"] = str(uuidlib.uuid4())
        rec["name_label"] = name
        rec["power_state"] = "Halted"
        rec["resident_on"] = NULL_REF
        rec["domid"] = "-1"
        new = "OpaqueRef:vm-%d" % len(self.vms)
        self.vms[new] = rec
        return new

    def m_VM__start(self, ref, paused, force):
        vm = self._vm(ref)
        if "start" in vm["blocked_operations"]:
            raise Failure("OPERATION_BLOCKED", ref, vm["blocked_operations"]["start"])
        vm["power_state"] = "Running"
        vm["resident_on"] = vm["affinity"] if vm["affinity"] != NULL_REF else HOST_REF
        return ""

    def m_VM__hard_shutdown(self, ref):
        vm = self._vm(ref)
        vm["power_state"] = "Halted"
        vm["resident_on"] = NULL_REF
        return ""

    # -- host --
    def _host(self, ref):
        if ref not in self.hosts:
            raise Failure("HANDLE_INVALID", "host", ref)
        return self.hosts[ref]

    def m_host__get_uuid(self, ref):
        return self._host(ref)["uuid"]

    def m_host__get_name_label(self, ref):
        return self._host(ref)["name_label"]

    def m_host__get_guest_VCPUs_params(self, ref):
        return self._host(ref)["guest_VCPUs_params"]

    # -- storage: VBD -> VDI -> SR -> PBD (datamodel_vbd/vdi/sr/pbd) --
    def m_VBD__get_VDI(self, ref):
        return NULL_REF

    # -- GPU objects (datamodel_vgpu.ml, datamodel_pgpu.ml) --
    def m_VGPU__get_all_records(self):
        return self.vgpus

    def m_PGPU__get_all_records(self):
        return self.pgpus

    # -- session --
    def m_session__get_auth_user_name(self, s):
        return self.session_info.get(s, {}).get("user", "")

    def m_session__get_is_local_superuser(self, s):
        return self.session_info.get(s, {}).get("superuser", True)

    def m_session__get_parent(self, s):
        return self.session_info.get(s, {}).get("parent", NULL_REF)

    # -- PCI (xapi 8.3) --
    def m_PCI__get_all_records(self):
        return {ref: {k: v for k, v in p.items() if k != "dom0_access"}
                for ref, p in self.pcis.items()}

    def m_PCI__get_dom0_access_status(self, ref):
        return self._pci(ref)["dom0_access"]

    def m_PCI__disable_dom0_access(self, ref):
        p = self._pci(ref)
        p["dom0_access"] = {"enabled": "disable_on_reboot", "enable_on_reboot": "disabled"}.get(
            p["dom0_access"], p["dom0_access"])
        return p["dom0_access"]

    def m_PCI__enable_dom0_access(self, ref):
        p = self._pci(ref)
        p["dom0_access"] = {"disabled": "enable_on_reboot", "disable_on_reboot": "enabled"}.get(
            p["dom0_access"], p["dom0_access"])
        return p["dom0_access"]


class Dispatcher(SimpleXMLRPCDispatcher):
    def __init__(self, xapi):
        super().__init__(allow_none=False, encoding="utf-8", use_builtin_types=False)
        self.xapi = xapi

    def _dispatch(self, method, params):
        try:
            return {"Status": "Success", "Value": self.xapi.call(method, list(params))}
        except Failure as e:
            return {"Status": "Failure", "ErrorDescription": e.desc}
        except TypeError as e:
            return {"Status": "Failure",
                    "ErrorDescription": ["MESSAGE_PARAMETER_COUNT_MISMATCH", method, str(e)]}


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")
    disable_nagle_algorithm = False  # a Unix socket has no TCP options

    def address_string(self):
        return "unix"

    def log_message(self, *a):
        pass


class Server(socketserver.UnixStreamServer):
    # xapi listens with a backlog of 128 (xen-api ocaml/libs/http-lib/
    # http_svr.ml: bind ?(listen_backlog = 128)); socketserver's default of 5
    # made concurrent clients' non-blocking connect() fail with EAGAIN here.
    request_queue_size = 128

    def __init__(self, path, dispatcher):
        self.dispatcher = dispatcher
        super().__init__(path, Handler)

    # SimpleXMLRPCRequestHandler calls these on its server
    def _marshaled_dispatch(self, data, dispatch_method=None, path=None):
        return self.dispatcher._marshaled_dispatch(data, dispatch_method, path)

    _send_traceback_header = False
    encoding = "utf-8"
    logRequests = False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--session", default="OpaqueRef:plugin-session")
    ap.add_argument("--ready")
    a = ap.parse_args()
    with open(a.state) as f:
        state = json.load(f)
    xapi = Xapi(state, a.log, a.session, a.state + ".out")
    xapi.dump()
    if os.path.exists(a.socket):
        os.unlink(a.socket)
    srv = Server(a.socket, Dispatcher(xapi))

    def stop(*_):
        xapi.dump()
        os.unlink(a.socket)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
