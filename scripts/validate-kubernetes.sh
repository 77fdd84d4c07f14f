#!/usr/bin/env bash
# Validates every Kubernetes manifest offline: each shop's values file rendered through the
# template, and the namespace, against the Kubernetes schemas that kubernetes-validate (PyPI)
# bundles, in strict mode (an unknown field fails), for the oldest and the newest release we
# support. Then what the schemas cannot see: the grace period outlasts mcsync's shutdown, no
# secret is an env value, the probes hit the health-only port, and a broken manifest fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/kubernetes-validate ]; then
  echo "== installing kubernetes-validate (PyPI) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check kubernetes-validate
fi
if ! command -v envsubst >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gettext-base >/dev/null
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
packaging/kubernetes/render.sh --all "$out"
cp packaging/kubernetes/namespace.yaml "$out/"
for version in 1.30.0 1.37.0; do
  .venv/bin/kubernetes-validate --strict --quiet -k "$version" "$out"/*.yaml
done
echo "$(ls "$out" | wc -l) manifest files valid (strict) for Kubernetes 1.30 and 1.37"

.venv/bin/python - "$out" <<'PY'
import glob, re, sys, yaml
for path in glob.glob(sys.argv[1] + "/*.yaml"):
    for doc in yaml.safe_load_all(open(path)):
        if doc["kind"] != "StatefulSet":
            continue
        pod = doc["spec"]["template"]["spec"]
        c = pod["containers"][0]
        grace = int(re.search(r"--shutdown-grace-secs (\d+)", c["args"][0]).group(1))
        # Calls drain for the grace, background work stops (a job gets 3 s), calls drain again.
        assert pod["terminationGracePeriodSeconds"] > 2 * grace + 3, path
        env = {e["name"]: e.get("value", "") for e in c["env"]}
        for name, value in env.items():
            if re.search(r"TOKEN|SECRET|KEY", name):
                assert value.startswith("/etc/mcsync/"), f"{path}: {name} must name a mounted file"
        health = env["MCSYNC_HEALTH_LISTEN"].rsplit(":", 1)[1]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert str(c[probe]["grpc"]["port"]) == health, f"{path}: {probe}"
        assert doc["spec"]["replicas"] == 1, "sled: one process per data dir"
print("grace periods, secrets as files, probes on the health port: ok")
PY

# The validator must be able to fail: a field Kubernetes does not know.
sed 's/automountServiceAccountToken: false/automountServiceAccountToken: false\n      notAField: 1/' \
  "$out/acme-boots.yaml" > "$out/broken.yaml.txt"
if .venv/bin/kubernetes-validate --strict --quiet -k 1.30.0 "$out/broken.yaml.txt" >/dev/null 2>&1; then
  echo "a manifest with an unknown field passed: the validation is not strict" >&2
  exit 1
fi
# And a values file that leaves a setting out is refused.
printf 'SHOP=incomplete\n' > "$out/incomplete.env"
if packaging/kubernetes/render.sh "$out/incomplete.env" >/dev/null 2>&1; then
  echo "render.sh rendered a shop without its namespace and webhook URL" >&2
  exit 1
fi
echo "a broken manifest and an incomplete values file are refused: ok"

# The container's own command, run here as the pod would run it (its paths moved into a temp
# dir, its ports to free ones): it starts, the probes' port answers SERVING without TLS or
# token, and SIGTERM stops it within the pod's grace period.
if [ -x target/debug/mcsync ] && command -v openssl >/dev/null && [ -x .venv/bin/grpcurl ]; then
  .venv/bin/python - "$out/acme-boots.yaml" <<'PY'
import atexit, os, re, signal, socket, subprocess, sys, tempfile, time, yaml

sts = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d["kind"] == "StatefulSet")
pod = sts["spec"]["template"]["spec"]
c = pod["containers"][0]
root = tempfile.mkdtemp()
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port
shop = os.path.join(root, "etc/mcsync/shop")
os.makedirs(shop)
open(os.path.join(shop, "token"), "w").write("k8s-test-token\n")
os.chmod(os.path.join(shop, "token"), 0o440)  # a Secret's defaultMode in the manifest
# The health port has no reflection: grpcurl gets the service from this file.
open(os.path.join(root, "health.proto"), "w").write(
    'syntax = "proto3"; package grpc.health.v1;'
    ' message HealthCheckRequest { string service = 1; }'
    ' message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1;'
    ' NOT_SERVING = 2; SERVICE_UNKNOWN = 3; } ServingStatus status = 1; }'
    ' service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }')
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-keyout", f"{shop}/tls.key", "-out", f"{shop}/tls.crt", "-days", "1",
    "-subj", "/CN=localhost"], check=True, capture_output=True)
health = free()
env = {"PATH": os.path.abspath("target/debug") + ":/usr/bin:/bin"}
for e in c["env"]:
    v = root if e["name"] == "TMPDIR" else e["value"]
    v = v.replace("/etc/mcsync", root + "/etc/mcsync").replace("/var/lib/mcsync", root + "/data")
    v = v.replace("0.0.0.0:50051", f"0.0.0.0:{free()}").replace("0.0.0.0:8081", f"127.0.0.1:{health}")
    env[e["name"]] = v
os.makedirs(root + "/data")
proc = subprocess.Popen(c["command"] + c["args"], env=env, stderr=subprocess.PIPE, text=True)
# Whatever fails below, the server does not outlive the check.
atexit.register(lambda: proc.poll() is None and proc.kill())
serving = False
for _ in range(100):
    r = subprocess.run([".venv/bin/grpcurl", "-plaintext", "-import-path", root,
        "-proto", "health.proto", f"127.0.0.1:{health}",
        "grpc.health.v1.Health/Check"], capture_output=True, text=True)
    if '"SERVING"' in r.stdout:
        serving = True
        break
    time.sleep(0.1)
if not serving:
    proc.kill()
    sys.exit("the pod's command never served health: " + r.stdout + r.stderr + proc.stderr.read())
started = time.time()
proc.send_signal(signal.SIGTERM)
code = proc.wait(timeout=pod["terminationGracePeriodSeconds"])
logs = proc.stderr.read()
assert code == 0, f"exit {code}: {logs}"
assert '"level":"WARN"' not in logs and '"level":"ERROR"' not in logs, logs
print(f"the pod's command serves health without TLS or token and stops on SIGTERM in {time.time() - started:.1f} s: ok")
PY
else
  echo "target/debug/mcsync, openssl or grpcurl missing: the pod's command was not run" >&2
  exit 1
fi
echo "== Kubernetes manifests valid"
