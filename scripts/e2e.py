#!/usr/bin/env python3
"""make e2e: the whole product on a real cluster, from nothing to a finished race.

Cluster: the real Kubernetes v1.36 control plane and node of ../shared/k8s-local (started by
scripts/kit.sh, stopped again if this started it; E2E_KEEP=1 keeps it), or, with
E2E_CLUSTER=current, the current kubeconfig's cluster (kind: images loaded with `kind load`;
any other: the images must be pullable). Without either it prints why and skips (exit 0).

Phases, each timed: images (both OCI archives from the workspace's binaries, no Docker
engine), chart (helm install exactly as docs/install.md says), race (scripts/e2e-race.yaml; while
it runs: the processor pod, the Redis pod and the operator leader are deleted and the kubelet
restarted), checks (Ready=True, Finished, the post-race DAG Succeeded, per-car counts of the
processor equal to the simulator's, the report through the API server's service proxy),
recreate (deletionPolicy retain: deleted and applied again, the race finds its volumes,
password and finished session), game (a second race with `source: game`: `pitstop
game-race` plays a synthesized F1 24 race over UDP to its gateway pod; the race finishes on
the game's chequered flag with every car's laps and every pit stop, and its post-race DAG
succeeds) and teardown (with
deletionPolicy delete, the race's deletion and helm uninstall leave nothing behind).
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS, SYSTEM, RACE, RELEASE = "pitstop-e2e", "pitstop-system", "e2e", "pitstop-operator"
PROXY = f"/api/v1/namespaces/{NS}/services/{RACE}-processor:8001/proxy/api/v1/sessions/{RACE}"
PROFILE = os.environ.get("E2E_PROFILE", "debug")
# Where cargo builds: CARGO_TARGET_DIR (relative to where cargo runs, as here) or target/.
TARGET = os.path.abspath(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"))
TIMINGS, FAULTS = [], []


class Failed(Exception):
    pass


def log(msg):
    print(f"e2e [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(*cmd, check=True, capture=True, timeout=300, input=None):
    p = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise Failed(f"{' '.join(cmd)} exited {p.returncode}: {(p.stderr or '').strip()[-800:]}")
    return p.stdout if capture else ""


def kubectl(*args, **kw):
    return run("kubectl", *args, **kw)


def get(kind, name=None, ns=NS):
    args = ["get", kind] + ([name] if name else []) + ["-o", "json"] + (["-n", ns] if ns else [])
    return json.loads(kubectl(*args))


def wait_for(what, predicate, timeout, every=1.0):
    """Polls `predicate` (truthy = done) until `timeout` s; returns its value and the time taken."""
    start = time.monotonic()
    last_error = None
    while time.monotonic() - start < timeout:
        try:
            value = predicate()
            if value:
                return value, time.monotonic() - start
        except (Failed, json.JSONDecodeError, KeyError, subprocess.TimeoutExpired) as e:
            last_error = e
        time.sleep(every)
    raise Failed(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


class Phase:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        log(f"── {self.name}")
        self.start = time.monotonic()

    def __exit__(self, *exc):
        TIMINGS.append((self.name, time.monotonic() - self.start, exc[0] is None))


# ───────────────────────────── cluster ─────────────────────────────

def kit(*args):
    return subprocess.run([os.path.join(ROOT, "scripts/kit.sh"), *args], capture_output=True, text=True)


def cluster():
    """Returns (how images are loaded, whether this started the kit) or exits with a skip."""
    want = os.environ.get("E2E_CLUSTER", "kit")
    if want == "current":
        if subprocess.run(["kubectl", "version", "--request-timeout=5s"], capture_output=True).returncode:
            skip("E2E_CLUSTER=current, but the current kubeconfig's cluster does not answer")
        context = run("kubectl", "config", "current-context").strip()
        return ("kind" if context.startswith("kind-") else "registry"), False
    was_up = kit("kubeconfig").returncode == 0 and node_ready_quietly()
    up = subprocess.run([os.path.join(ROOT, "scripts/kit.sh"), "up", "--node"], text=True)
    if up.returncode == 3:
        skip("no ../shared/k8s-local kit here (or not root on Debian 12); E2E_CLUSTER=current uses your kubeconfig's cluster")
    if up.returncode:
        raise Failed("scripts/kit.sh up --node failed")
    os.environ["KUBECONFIG"] = kit("kubeconfig").stdout.strip()
    os.environ["PATH"] = kit("tools").stdout.strip() + os.pathsep + os.environ["PATH"]
    return "kit", not was_up


def node_ready_quietly():
    kc = kit("kubeconfig").stdout.strip()
    tools = kit("tools").stdout.strip()
    p = subprocess.run([f"{tools}/kubectl", "--kubeconfig", kc, "get", "node", "local-node"], capture_output=True)
    return p.returncode == 0


def skip(why):
    print(f"make e2e: skipped: {why}", flush=True)
    sys.exit(0)


# ───────────────────────────── images ─────────────────────────────

def images(loader):
    version = run(os.path.join(ROOT, "scripts/version.sh")).strip()
    out = os.path.join(TARGET, "images")
    archives = []
    for binary, dockerfile, repo in [
        ("pitstop-operator", "operator/Dockerfile", "ghcr.io/pitstop-io/pitstop-operator"),
        ("pitstop", "workloads/Dockerfile", "ghcr.io/pitstop-io/pitstop"),
    ]:
        path = os.path.join(TARGET, PROFILE, binary)
        if not os.path.exists(path):
            flags = ["--release"] if PROFILE == "release" else []
            run("cargo", "build", "--locked", "--bin", binary, *flags, capture=False, timeout=3600)
        archive = os.path.join(out, f"{binary}.oci.tar")
        line = run(os.path.join(ROOT, "scripts/oci-image.py"), "--dockerfile", os.path.join(ROOT, dockerfile),
                   "--binary", path, "--name", f"{repo}:{version}", "--version", version, "--out", archive)
        log(line.strip())
        archives.append(archive)
    for archive in archives:
        if loader == "kit":
            sock = os.path.join(ROOT, ".kit/node/run/containerd.sock")
            run("ctr", "-a", sock, "-n", "k8s.io", "images", "import", archive)
        elif loader == "kind":
            run("kind", "load", "image-archive", archive, "--name", os.environ.get("KIND_CLUSTER", "pitstop"))
    if loader == "registry":
        log(f"images not loaded: the cluster pulls ghcr.io/pitstop-io images; push {out}/*.oci.tar first")


# ───────────────────────────── chart ─────────────────────────────

def chart():
    if subprocess.run(["helm", "status", RELEASE, "-n", SYSTEM], capture_output=True).returncode == 0:
        log("a release from an earlier run: uninstalling it first")
        run("helm", "uninstall", RELEASE, "-n", SYSTEM, "--wait")
    install = ["helm", "install", RELEASE, os.path.join(ROOT, "helm/pitstop-operator"),
               "-n", SYSTEM, "--create-namespace", "--wait", "--timeout", "3m"]
    crd = subprocess.run(["kubectl", "get", "crd", "racesessions.pitstop.io", "-o", "json"], capture_output=True, text=True)
    if crd.returncode == 0 and "meta.helm.sh/release-name" not in json.loads(crd.stdout)["metadata"].get("annotations", {}):
        # Applied by kubectl before (the reconcile tests, `make run-operator`): docs/install.md's
        # advice for that case.
        log("the CRD exists without Helm's annotations: helm install --take-ownership")
        install.append("--take-ownership")
    run(*install)
    pods = get("pods", ns=SYSTEM)["items"]
    log(f"operator pods: {', '.join(p['metadata']['name'] + ' ' + p['status']['phase'] for p in pods)}")


# ───────────────────────────── race ─────────────────────────────

def race_status():
    return get("racesession", RACE).get("status", {})


def condition(status, kind):
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def all_pods_ready(ns=NS, exclude_jobs=True):
    pods = [p for p in get("pods", ns=ns)["items"] if not (exclude_jobs and "job-name" in p["metadata"].get("labels", {}))]
    if not pods:
        return False
    for p in pods:
        ready = condition(p.get("status", {}), "Ready").get("status") == "True"
        if not ready or p["metadata"].get("deletionTimestamp"):
            return False
    return [p["metadata"]["name"] for p in pods]


def lap():
    return race_status().get("race", {}).get("lap", 0)


def start_race():
    run("sh", "-c", f"kubectl create namespace {NS} --dry-run=client -o yaml | kubectl apply -f -")
    kubectl("-n", NS, "apply", "-f", os.path.join(ROOT, "scripts/e2e-race.yaml"))
    _, took = wait_for("Ready=True", lambda: condition(race_status(), "Ready").get("status") == "True", 300)
    pods, _ = wait_for("every pod Ready", all_pods_ready, 120)
    log(f"Ready=True after {took:.1f} s; pods Ready: {', '.join(pods)}")


def component_pod(component):
    """(name, uid) of the race's pod of `component`; a StatefulSet's replacement keeps the
    name, so the uid tells it apart."""
    for p in get("pods", ns=NS)["items"]:
        labels = p["metadata"].get("labels", {})
        if labels.get("app.kubernetes.io/instance") == RACE and labels.get("app.kubernetes.io/component") == component:
            return p["metadata"]["name"], p["metadata"]["uid"]
    return None


def fault(name, at_lap, act, recovered):
    wait_for(f"lap {at_lap}", lambda: lap() >= at_lap or race_status().get("phase") == "Finished", 600)
    if race_status().get("phase") == "Finished":
        raise Failed(f"the race finished before the fault '{name}' (lap {at_lap}): make it longer")
    start = time.monotonic()
    before = act()
    wait_for(f"recovery from '{name}'", lambda: recovered(before), 180)
    took = time.monotonic() - start
    FAULTS.append((name, at_lap, took))
    log(f"fault '{name}' at lap {at_lap}: recovered in {took:.1f} s")


def delete_pod(component):
    def act():
        pod = component_pod(component)
        if not pod:
            raise Failed(f"no {component} pod to delete")
        kubectl("-n", NS, "delete", "pod", pod[0], "--wait=false")
        return pod[1]
    return act


def replaced(component):
    def check(old_uid):
        pod = component_pod(component)
        return pod and pod[1] != old_uid and all_pods_ready()
    return check


def leader():
    return get("lease", "pitstop-operator-leader", ns=SYSTEM)["spec"].get("holderIdentity")


def delete_leader():
    old = leader()
    kubectl("-n", SYSTEM, "delete", "pod", old, "--wait=false")
    return old


def new_leader(old):
    holder = leader()
    return holder and holder != old and all_pods_ready(SYSTEM, exclude_jobs=False)


def restart_kubelet():
    """Stops the kubelet (its containers live on, as on any node) and starts a new one;
    returns when the old one went, for `kubelet_back`."""
    pidfile = os.path.join(ROOT, ".kit/node/run/kubelet.pid")
    with open(pidfile) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGTERM)
    wait_for("the kubelet to stop", lambda: not os.path.exists(f"/proc/{pid}"), 30, every=0.2)
    stopped = time.time()
    run(os.path.join(ROOT, ".kit/node/up.sh"))
    return stopped


def kubelet_back(stopped):
    """A new kubelet renewed the node's Lease after the old one stopped, the node is Ready
    and every pod of the race still Ready."""
    lease = get("lease", "local-node", ns="kube-node-lease")["spec"]
    renewed = datetime.datetime.fromisoformat(lease["renewTime"].replace("Z", "+00:00")).timestamp()
    node = get("node", "local-node", ns=None)
    ready = condition(node["status"], "Ready").get("status") == "True"
    return renewed > stopped and ready and all_pods_ready()


class Freshness(threading.Thread):
    """While the race runs, how long `kubectl get race` went without a new lap or sample
    count (the status must keep up with the race, faults included: issue #17 saw 47-64 s)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.longest, self.stop = 0.0, threading.Event()

    def run(self):
        last, since = None, time.monotonic()
        while not self.stop.wait(1.0):
            try:
                status = race_status()
            except (Failed, json.JSONDecodeError, subprocess.TimeoutExpired):
                continue
            if status.get("phase") == "Finished":
                return
            now = (status.get("race", {}).get("lap"), status.get("race", {}).get("samplesProcessed"))
            if now != last:
                last, since = now, time.monotonic()
            self.longest = max(self.longest, time.monotonic() - since)


def race(loader):
    start_race()
    fresh = Freshness()
    fresh.start()
    fault("delete the processor pod", 3, delete_pod("processor"), replaced("processor"))
    fault("delete the Redis pod", 6, delete_pod("redis"), replaced("redis"))
    fault("delete the operator leader", 9, delete_leader, new_leader)
    if loader == "kit":
        fault("restart the kubelet", 12, restart_kubelet, kubelet_back)
    _, took = wait_for("phase Finished", lambda: race_status().get("phase") == "Finished", 600)
    fresh.stop.set()
    log(f"Finished {took:.1f} s after the last fault; lap {lap()}; the status went at most "
        f"{fresh.longest:.1f} s without news while racing")
    if fresh.longest > 30:
        raise Failed(f"the race's status froze for {fresh.longest:.0f} s while racing")
    wait_for("the simulator released at the flag",
             lambda: get("deployment", f"{RACE}-simulator")["spec"].get("replicas") == 0, 60)
    log("simulator scaled to 0 at the flag")


# ───────────────────────────── checks ─────────────────────────────

def published():
    """The simulator's own count per car, from the session's progress hashes in Redis
    (one per partition, each under the partition's hash tag); ended once all have "end"."""
    def redis(*args):
        return kubectl("-n", NS, "exec", f"{RACE}-redis-0", "--", "redis-cli", "--no-raw", *args)
    pattern = "{" + f"pitstop:{NS}:{RACE}:p*" + "}" + f":progress:{RACE}"
    keys = [w.split(")", 1)[-1].strip().strip('"') for w in redis("KEYS", pattern).splitlines()]
    cars, ended = {}, bool(keys)
    for key in filter(None, keys):
        words = [w.split(")", 1)[-1].strip().strip('"') for w in redis("HGETALL", key).splitlines()]
        pairs = dict(zip(words[::2], words[1::2]))
        cars.update({int(k[4:]): int(v) for k, v in pairs.items() if k.startswith("car:")})
        ended = ended and "end" in pairs
    return cars, ended


def checks():
    status = race_status()
    if condition(status, "Ready").get("status") != "True":
        raise Failed(f"Ready is not True: {condition(status, 'Ready')}")
    def outcome():
        phase = race_status().get("pipeline", {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None
    pipeline, took = wait_for("the post-race DAG", outcome, 600)
    tasks = race_status()["pipeline"]["tasks"]
    if pipeline != "Succeeded":
        raise Failed("post-race DAG failed: " + ", ".join(f"{t['name']}={t['phase']}" for t in tasks))
    log(f"post-race DAG Succeeded ({len(tasks)} tasks) {took:.1f} s after the flag")
    sent, ended = published()
    cars = {c["car"]: c for c in json.loads(kubectl("get", "--raw", PROXY + "/cars"))}
    got = {car: cars[car]["samples"] + cars[car]["late"] for car in cars}
    if not ended or not sent or sent != got:
        raise Failed(f"per-car counts differ: simulator {sent} (ended={ended}), processor {got}")
    log(f"per-car counts exact: {sum(sent.values())} samples over {len(sent)} cars: {sent}")
    report = kubectl("get", "--raw", PROXY + "/report")
    if "Race report" not in report:
        raise Failed("the report through the service proxy is not the race report")
    log(f"report through the API server's service proxy: {len(report)} bytes of HTML")
    return sum(sent.values())


# ───────────────────────────── game ─────────────────────────────

GAME = "game"
GAME_RACE = {
    "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession", "metadata": {"name": GAME},
    "spec": {"circuit": "monza", "laps": 3, "monitoring": {"mode": "none"}, "deletionPolicy": "delete",
             # The node's host sends: any address may (the kit enforces no NetworkPolicy).
             "source": {"type": "game", "game": {"allowedClients": ["0.0.0.0/0"]}}},
}
GAME_CARS, GAME_LAPS = 6, 3


def game_status():
    return get("racesession", GAME).get("status", {})


def game():
    kubectl("-n", NS, "apply", "-f", "-", input=json.dumps(GAME_RACE))
    _, took = wait_for("the game race Ready=True", lambda: condition(game_status(), "Ready").get("status") == "True", 300)
    pod = next(p for p in get("pods", ns=NS)["items"]
               if p["metadata"]["labels"].get("app.kubernetes.io/instance") == GAME
               and p["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway")
    ip = pod["status"]["podIP"]
    log(f"game race Ready=True after {took:.1f} s; its gateway {pod['metadata']['name']} at {ip}")
    binary = os.path.join(TARGET, PROFILE, "pitstop")
    out = run(binary, "game-race", "--to", f"{ip}:20777", "--cars", str(GAME_CARS), "--laps", str(GAME_LAPS),
              "--lap-m", "1500", "--speed", "5", timeout=300)
    log(out.strip())
    _, took = wait_for("the game's chequered flag to finish the race",
                       lambda: game_status().get("phase") == "Finished", 180)
    source = game_status().get("source", {})
    proxy = f"/api/v1/namespaces/{NS}/services/{GAME}-processor:8001/proxy/api/v1/sessions/{GAME}"
    laps = json.loads(kubectl("get", "--raw", proxy + "/laps"))
    per_car = {}
    for row in laps:
        per_car[row["car"]] = per_car.get(row["car"], 0) + 1
    stops = json.loads(kubectl("get", "--raw", proxy + "/pitstops"))
    want_stops = len(range(0, GAME_CARS, 3))
    if len(per_car) != GAME_CARS or set(per_car.values()) != {GAME_LAPS} or len(stops) != want_stops:
        raise Failed(f"game race: laps per car {per_car}, {len(stops)} stops (want {GAME_CARS} cars × {GAME_LAPS}, {want_stops})")
    if source.get("sessionsSeen") != 1 or not source.get("datagrams"):
        raise Failed(f"game race: the gateway's status is not in the race's: {source}")
    log(f"Finished {took:.1f} s after the datagrams; {GAME_CARS} cars × {GAME_LAPS} laps, "
        f"{len(stops)} stops ({', '.join(str(s['stationary_s']) + ' s' for s in stops)}); "
        f"gateway: {source.get('datagrams')} datagrams, {source.get('dropped')} dropped")
    def dag():
        phase = game_status().get("pipeline", {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None
    pipeline, took = wait_for("the game race's post-race DAG", dag, 600)
    if pipeline != "Succeeded":
        tasks = game_status()["pipeline"]["tasks"]
        raise Failed("game race: post-race DAG failed: " + ", ".join(f"{t['name']}={t['phase']}" for t in tasks))
    log(f"game race: post-race DAG Succeeded {took:.1f} s after the flag")
    kubectl("-n", NS, "delete", "racesession", GAME, "--wait=true", "--timeout=120s")


# ───────────────────────────── teardown ─────────────────────────────

def leftovers(ns):
    kinds = "pods,services,statefulsets,deployments,jobs,persistentvolumeclaims,secrets,configmaps,networkpolicies,hpa"
    items = get(kinds, ns=ns)["items"]
    # What the cluster puts in every namespace is not the product's.
    cluster_made = {"kube-root-ca.crt", "openshift-service-ca.crt"}
    return [f"{i['kind']}/{i['metadata']['name']}" for i in items if i["metadata"]["name"] not in cluster_made]


def volumes():
    """The PersistentVolumes bound to claims of the race's namespace."""
    return [pv["metadata"]["name"] for pv in get("pv", ns=None)["items"]
            if pv["spec"].get("claimRef", {}).get("namespace") == NS]


def password():
    return get("secret", f"{RACE}-postgres-auth")["data"]["password"]


def recreate(samples):
    """deletionPolicy retain: deleting the race keeps its volumes and password; applied
    again, it finds its finished session (RetainedData AlreadyFinished) and serves the
    same counts. Then delete: the same race re-created starts afresh (the hang of #17)."""
    kept_password = password()
    kubectl("-n", NS, "delete", "racesession", RACE, "--wait=true", "--timeout=120s")
    wait_for("the race's pods to go", lambda: not [p for p in get("pods", ns=NS)["items"]], 120)
    claims = sorted(c["metadata"]["name"] for c in get("pvc", ns=NS)["items"])
    if claims != [f"data-{RACE}-postgres-0", f"data-{RACE}-redis-0"] or password() != kept_password:
        raise Failed(f"retain kept {claims} and the password {'un' if password() == kept_password else ''}changed")
    log(f"deleted with deletionPolicy retain: kept {', '.join(claims)} and the password Secret")
    kubectl("-n", NS, "apply", "-f", os.path.join(ROOT, "scripts/e2e-race.yaml"))

    def retained():
        status = race_status()
        c = condition(status, "RetainedData")
        return c.get("reason") == "AlreadyFinished" and condition(status, "Ready").get("status") == "True" \
            and status.get("phase") == "Finished" and all_pods_ready()
    _, took = wait_for("the re-created race to find its finished session", retained, 180)
    cars = json.loads(kubectl("get", "--raw", PROXY + "/cars"))
    again = sum(c["samples"] + c["late"] for c in cars)
    if again != samples:
        raise Failed(f"the re-created race serves {again} samples, the first {samples}")
    log(f"re-created: RetainedData AlreadyFinished, Ready and Finished in {took:.1f} s, the same password, {again} samples served")
    kubectl("-n", NS, "patch", "racesession", RACE, "--type=merge", "-p", '{"spec":{"deletionPolicy":"delete"}}')

    def delete_applied():
        sts = get("statefulset", f"{RACE}-postgres")["spec"].get("persistentVolumeClaimRetentionPolicy", {})
        owned = get("secret", f"{RACE}-postgres-auth")["metadata"].get("ownerReferences")
        return sts.get("whenDeleted") == "Delete" and owned
    _, took = wait_for("deletionPolicy delete applied", delete_applied, 60)
    log(f"deletionPolicy delete applied in {took:.1f} s: the volumes and the password now go with the race")


def teardown():
    before = volumes()
    kubectl("-n", NS, "delete", "racesession", RACE, "--wait=true", "--timeout=120s")
    wait_for("the race's objects to go", lambda: not leftovers(NS), 120)
    wait_for("the race's volumes to go", lambda: not volumes(), 120)
    log(f"race deleted: nothing left in {NS}; its {len(before)} volumes deleted too")
    run("helm", "uninstall", RELEASE, "-n", SYSTEM, "--wait", "--timeout", "2m")
    wait_for("the operator's objects to go", lambda: not leftovers(SYSTEM), 120)
    cluster_wide = [i["metadata"]["name"] for i in get("clusterroles,clusterrolebindings", ns=None)["items"]
                    if "pitstop" in i["metadata"]["name"]]
    if cluster_wide:
        raise Failed(f"helm uninstall left cluster-wide objects: {cluster_wide}")
    kubectl("delete", "namespace", NS, SYSTEM, "--wait=true", "--timeout=120s")
    log("helm uninstall: nothing left but the CRD (kept on purpose: crds.keep)")


def diagnose():
    for args in (["-n", NS, "get", "racesession", RACE, "-o", "yaml"], ["-n", NS, "get", "pods,events"],
                 ["-n", SYSTEM, "logs", "-l", "app.kubernetes.io/name=pitstop-operator", "--tail=60", "--prefix"]):
        print(subprocess.run(["kubectl", *args], capture_output=True, text=True).stdout[-6000:], flush=True)


def summary(ok, samples):
    print("\nmake e2e: phase timings", flush=True)
    for name, secs, passed in TIMINGS:
        print(f"  {name:<10} {secs:7.1f} s  {'ok' if passed else 'FAILED'}")
    for name, at, secs in FAULTS:
        print(f"  fault: {name:<30} lap {at:>2}, recovered in {secs:5.1f} s")
    total = sum(t for _, t, _ in TIMINGS)
    verdict = f"passed ({samples} samples exact per car)" if ok else "FAILED"
    print(f"make e2e: {verdict} in {total:.0f} s", flush=True)


def main():
    os.chdir(ROOT)
    ok, samples, started_kit = False, 0, False
    try:
        with Phase("cluster"):
            loader, started_kit = cluster()
        with Phase("images"):
            images(loader)
        with Phase("chart"):
            chart()
        with Phase("race"):
            race(loader)
        with Phase("checks"):
            samples = checks()
        with Phase("recreate"):
            recreate(samples)
        with Phase("game"):
            game()
        with Phase("teardown"):
            teardown()
        ok = True
    except Failed as e:
        log(f"FAILED: {e}")
        diagnose()
    finally:
        summary(ok, samples)
        if started_kit and os.environ.get("E2E_KEEP") != "1":
            kit("down")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
