#!/usr/bin/python3
"""Checks of deploy/ used by deploy_metrics.sh and deploy_files.sh.

  deploy_check.py metrics SOURCE_DIR METRICS_TXT OUT_DIR
      Every metric named by the Grafana dashboard, the recording and alert
      rules, the autoscaler and prometheus-adapter is exported by radiald (the
      scraped METRICS_TXT) or is a recording rule defined in
      deploy/prometheus/rules; every label they group or match by exists.
      Writes OUT_DIR/dashboard_rules.yml, the dashboard's expressions as
      recording rules, for `promtool check rules` (PromQL syntax).

  deploy_check.py files SOURCE_DIR
      The compose file, the Kubernetes manifests, the Dockerfile and the
      configs parse and agree: ports, paths, files, probes, names; radiald's
      gRPC and HTTP ports are reached only through the edge proxy
      (deploy/proxy/nginx.conf), never published directly.
"""
import fnmatch
import json
import pathlib
import re
import sys

import yaml

failures = []


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        failures.append(what)
    return cond


# ----------------------------------------------------------------- metrics --

GRAFANA_VARS = {
    "$__rate_interval": "5m", "${__rate_interval}": "5m", "$__interval": "1m",
    "${__interval}": "1m", "$__range": "1h", "${__range}": "1h",
}
# Labels Prometheus adds to scraped series (targets, Kubernetes discovery,
# the Prometheus Operator), and histogram / summary labels.
TARGET_LABELS = {"instance", "job", "namespace", "pod", "container", "endpoint", "service", "le", "quantile"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "inf", "nan",
}


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def expr_metrics(expr):
    """Metric names in a PromQL expression (identifiers that start with radial)."""
    body = strip_strings(expr)
    body = re.sub(r"\{[^}]*\}", "{}", body)  # label matchers
    body = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", body)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", body):
        tok = m.group(0)
        if tok.startswith("radial") or tok.startswith("model:") or tok.startswith("model_layer:"):
            names.add(tok)
    return names


def expr_labels(expr):
    """Label names a PromQL expression groups or matches by."""
    body = strip_strings(expr)
    labels = set()
    for m in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", body):
        labels |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    for m in re.finditer(r"\{([^}]*)\}", body):
        for part in m.group(1).split(","):
            name = re.match(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)", part)
            if name:
                labels.add(name.group(1))
    return labels


def grafana_exprs(dashboard):
    """(where, expr) of every panel target and templating query."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel '{p.get('title')}' {t.get('refId')}", t["expr"]))
            walk(p.get("panels", []))

    walk(dashboard.get("panels", []))
    for v in dashboard.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            m = re.match(r"\s*label_values\((.*),\s*([a-zA-Z_]+)\)\s*$", q)
            out.append((f"variable ${v['name']}", m.group(1) if m else q))
    return out


def substitute_vars(expr):
    for k, v in GRAFANA_VARS.items():
        expr = expr.replace(k, v)
    return re.sub(r"\$\{?[a-zA-Z_]+\}?", ".*", expr)


def parse_exposition(path):
    """Series names and label names of a Prometheus text exposition."""
    names, labels = set(), set()
    for line in pathlib.Path(path).read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
        if m:
            names.add(m.group(1))
            if m.group(3):
                labels |= set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3)))
    return names, labels


def cmd_metrics(src, metrics_txt, out_dir):
    src = pathlib.Path(src)
    exported, exported_labels = parse_exposition(metrics_txt)
    radial_exported = sorted(n for n in exported if n.startswith("radial_"))
    print(f"radiald exports {len(radial_exported)} radial_ series names, labels {sorted(exported_labels)}")
    check(len(radial_exported) > 20, "the scrape holds radiald's metrics")

    uses = []  # (where, expr)
    dashboard = json.loads((src / "deploy/grafana/radial.json").read_text())
    dash_exprs = grafana_exprs(dashboard)
    uses += [(f"dashboard {w}", e) for w, e in dash_exprs]
    recorded = set()
    for rules_file in sorted((src / "deploy/prometheus/rules").glob("*.yml")):
        for g in yaml.safe_load(rules_file.read_text())["groups"]:
            for r in g["rules"]:
                name = r.get("record") or r.get("alert")
                uses.append((f"{rules_file.name} {name}", r["expr"]))
                if "record" in r:
                    recorded.add(r["record"])
    for doc in yaml.safe_load_all((src / "deploy/k8s/hpa.yaml").read_text()):
        for m in doc["spec"]["metrics"]:
            uses.append(("k8s hpa.yaml", m["pods"]["metric"]["name"]))
    adapter = yaml.safe_load((src / "deploy/k8s/prometheus-adapter-values.yaml").read_text())
    for r in adapter["rules"]["custom"]:
        uses.append(("prometheus-adapter seriesQuery", r["seriesQuery"]))
        uses.append(("prometheus-adapter name", r["name"]["as"]))

    referenced = {}
    for where, expr in uses:
        for name in expr_metrics(substitute_vars(expr)):
            referenced.setdefault(name, []).append(where)
        for label in expr_labels(substitute_vars(expr)):
            check(label in exported_labels or label in TARGET_LABELS,
                  f"label '{label}' ({where}) is on radiald's series or added by Prometheus")
    check(len(referenced) > 20, f"{len(referenced)} metric names referenced")
    for name in sorted(referenced):
        where = referenced[name][0] + (f" and {len(referenced[name]) - 1} more" if len(referenced[name]) > 1 else "")
        if ":" in name:
            check(name in recorded, f"{name} is a recording rule ({where})")
        else:
            check(name in exported, f"{name} is exported by radiald ({where})")

    # The panels on the dashboard: the list.
    titles = " | ".join(p.get("title", "") for p in dashboard["panels"]).lower()
    for want in ("per-token depth", "layer utilisation", "compute skipped", "time to first token",
                 "inter-token latency", "throughput", "queue and running", "kv cache usage",
                 "errors by code"):
        check(want in titles, f"the dashboard has a '{want}' panel")
    heat = [p for p in dashboard["panels"] if p["type"] == "heatmap"]
    check(heat and any("radial_token_depth_bucket" in t["expr"] for t in heat[0]["targets"]),
          "the depth panel is a heatmap of radial_token_depth_bucket")
    base = lambda n: re.sub(r"_(bucket|sum|count)$", "", n)
    unused = sorted({base(n) for n in radial_exported} - {base(n) for n in referenced})
    print(f"(exported but on no panel or rule: {', '.join(unused) or 'none'})")

    # The dashboard's expressions as recording rules: promtool checks their syntax.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": substitute_vars(e)} for i, (_, e) in enumerate(dash_exprs)]}]}
    (pathlib.Path(out_dir) / "dashboard_rules.yml").write_text(yaml.safe_dump(rules))
    return 0 if not failures else 1


# ------------------------------------------------------------------- files --

def port_of(addr):
    return int(str(addr).rsplit(":", 1)[1])


def nginx_conf(text):
    """The parts of deploy/proxy/nginx.conf the checks need: upstream name ->
    its server addresses, the server blocks (listen lines, directives as
    'name args' strings) and the http-level directives."""
    body = re.sub(r"#[^\n]*", "", text)
    upstreams = {m.group(1): re.findall(r"\bserver\s+([^;\s]+)", m.group(2))
                 for m in re.finditer(r"\bupstream\s+(\S+)\s*\{([^}]*)\}", body)}
    servers = []
    for m in re.finditer(r"\bserver\s*\{", body):
        depth, i = 1, m.end()
        while depth and i < len(body):
            depth += {"{": 1, "}": -1}.get(body[i], 0)
            i += 1
        block = body[m.end():i - 1]
        directives = [" ".join(d.split()) for d in re.split(r"[;{}]", block) if d.strip()]
        listens = [d.split()[1:] for d in directives if d.startswith("listen ")]
        servers.append({"listen": listens, "directives": directives})
    directives = [" ".join(d.split()) for d in re.split(r"[;{}]", body) if d.strip()]
    return upstreams, servers, directives


def size_of(value):
    """An nginx size ('4m', '8k', '1024') in bytes."""
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", value)
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def dockerignored(path, patterns):
    """Whether .dockerignore excludes `path` (Docker's rules: last match wins)."""
    excluded = False
    parts = path.split("/")
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.strip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, p) or (p.startswith("**/") and fnmatch.fnmatch(parts[i - 1], p[3:])):
                excluded = not neg
                break
    return excluded


def cmd_files(src):
    src = pathlib.Path(src)
    deploy = src / "deploy"

    # --- the daemon configs ---
    cfg = json.loads((deploy / "config/radiald.json").read_text())
    grpc_port, metrics_port = port_of(cfg["listen"]), port_of(cfg["metrics_listen"])
    http_port = port_of(cfg["http_listen"])
    check(all(cfg[k].startswith("0.0.0.0:") for k in ("listen", "http_listen", "metrics_listen")),
          "deploy/config/radiald.json listens on all interfaces (compose: the proxy and Prometheus "
          "reach it over the compose network; a container's loopback is its own)")
    drain = cfg.get("drain_timeout_s", 30)

    # --- the edge proxy ---
    proxy_text = (deploy / "proxy/nginx.conf").read_text()
    upstreams, servers, http_directives = nginx_conf(proxy_text)
    check(upstreams.get("radiald_grpc") == [f"radiald:{grpc_port}"],
          f"nginx.conf: upstream radiald_grpc is radiald:{grpc_port} (the config's gRPC port)")
    check(upstreams.get("radiald_http") == [f"radiald:{http_port}"],
          f"nginx.conf: upstream radiald_http is radiald:{http_port} (the config's HTTP port)")
    grpc_servers = [sv for sv in servers if "grpc_pass grpc://radiald_grpc" in sv["directives"]]
    http_servers = [sv for sv in servers if "proxy_pass http://radiald_http" in sv["directives"]]
    check(len(grpc_servers) == 1 and len(http_servers) == 1 and len(servers) == 2,
          "nginx.conf: one server passes gRPC to radiald_grpc, one proxies HTTP to radiald_http")
    proxy_grpc_port = proxy_http_port = None
    if grpc_servers and http_servers:
        gl, hl = grpc_servers[0]["listen"], http_servers[0]["listen"]
        check(len(gl) == 1 and gl[0][1:] == ["http2"], "nginx.conf: the gRPC listener is cleartext HTTP/2")
        check(len(hl) == 1 and len(hl[0]) == 1, "nginx.conf: the HTTP API listener is HTTP/1.1")
        proxy_grpc_port, proxy_http_port = int(gl[0][0].rsplit(":", 1)[-1]), int(hl[0][0].rsplit(":", 1)[-1])
        check(not {proxy_grpc_port, proxy_http_port} & {grpc_port, http_port, metrics_port},
              f"nginx's ports {proxy_grpc_port}, {proxy_http_port} differ from radiald's (a pod shares them)")
        hd = http_servers[0]["directives"]
        for want in ("proxy_buffering off", "proxy_http_version 1.1", 'proxy_set_header Connection ""'):
            check(want in hd, f"nginx.conf: the HTTP API server has '{want}' (server-sent events)")
    check("large_client_header_buffers 4 8k" in http_directives,
          "nginx.conf bounds request headers (large_client_header_buffers)")
    body = [d.split()[1] for d in http_directives if d.startswith("client_max_body_size ")]
    check(body and size_of(body[0]) == cfg.get("http_max_body_bytes", 4194304),
          "nginx.conf: client_max_body_size = radiald's http_max_body_bytes")
    check(any(d.startswith("keepalive_time ") for d in http_directives),
          "nginx.conf ages client connections (keepalive_time: clients re-resolve)")
    check("daemon off" in http_directives and "pid nginx.pid" in http_directives,
          "nginx.conf: foreground, pid file under the prefix (-p)")
    proxy_ports = {proxy_grpc_port, proxy_http_port}

    # --- Dockerfile ---
    dockerfile = (src / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", dockerfile)
    lines = [l.strip() for l in logical.splitlines() if l.strip() and not l.strip().startswith("#")]
    stages, current = {}, None
    for l in lines:
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", l, re.I)
        if m:
            current = m.group(2) or m.group(1)
            stages[current] = []
        elif current:
            stages[current].append(l)
    check(list(stages) == ["build", "runtime"], "the Dockerfile has a build and a runtime stage")
    build_runs = " ".join(l for l in stages.get("build", []) if l.upper().startswith("RUN"))
    check("scripts/install-deps.sh" in build_runs, "the build stage runs scripts/install-deps.sh (as CI)")
    check("scripts/build.sh" in build_runs, "the build stage runs scripts/build.sh (as CI)")
    test_sh = (src / "scripts/test.sh").read_text()
    check("scripts/install-deps.sh" in test_sh, "scripts/test.sh (CI) runs scripts/install-deps.sh too")
    for arg in ("BUILD_BASE", "RUNTIME_BASE", "CUDA"):
        check(re.search(rf"^ARG {arg}\b", dockerfile, re.M), f"the Dockerfile takes build arg {arg}")
    runtime = stages.get("runtime", [])
    expose = {int(p.split("/")[0]) for l in runtime if l.upper().startswith("EXPOSE") for p in l.split()[1:]}
    check(expose == proxy_ports | {metrics_port},
          f"EXPOSE {sorted(expose)} = the proxy's ports and radiald's metrics port")
    check("echo nginx >>" in build_runs and "/out/pkg/runtime-packages.txt" in build_runs,
          "the runtime stage installs nginx (the edge proxy)")
    check(any(l.upper().startswith("HEALTHCHECK") and "radial health" in l for l in runtime),
          "HEALTHCHECK runs `radial health`")
    user = [l.split()[1] for l in runtime if l.upper().startswith("USER")]
    check(user and user[-1].split(":")[0] not in ("0", "root"), "the runtime stage runs as a non-root user")
    check(any(l == 'ENTRYPOINT ["radiald"]' for l in runtime), "ENTRYPOINT is radiald")
    health_addr = re.search(r"RADIAL_HEALTH_ADDR=(\S+)", logical)
    check(health_addr and port_of(health_addr.group(1)) == grpc_port,
          "the HEALTHCHECK address is radiald's own gRPC port")
    ignore = [l.strip() for l in (src / ".dockerignore").read_text().splitlines()
              if l.strip() and not l.startswith("#")]
    image_paths = {}
    for l in lines:
        m = re.match(r"COPY\s+(?!--from)(.*)", l, re.I)
        if m:
            *srcs, dst = m.group(1).split()
            for s in srcs:
                s = s.rstrip("/")
                if s == ".":
                    continue
                check((src / s).exists(), f"COPY source {s} exists")
                check(not dockerignored(s, ignore), f"COPY source {s} is not excluded by .dockerignore")
                image_paths[s] = dst.rstrip("/")
    check(image_paths.get("deploy/proxy/nginx.conf") == "/etc/radiald-proxy/nginx.conf",
          "the image holds deploy/proxy/nginx.conf at /etc/radiald-proxy/nginx.conf")
    check(image_paths.get("models/stories260K") == "/opt/radial/models/stories260K",
          "the image holds models/stories260K at /opt/radial/models/stories260K")
    check(cfg["model"] == "/opt/radial/models/stories260K" and (src / "models/stories260K/config.json").exists(),
          "the config's model is the image's models/stories260K")
    for d in ("engine", "scheduler", "server", "tools", "bench", "proto", "kernels", "CMakeLists.txt"):
        if (src / d).exists():
            check(not dockerignored(d, ignore), f"{d} (the build needs it) is in the build context")
    for d in (".git", "build", "build-asan"):
        check(dockerignored(d, ignore), f"{d} is not in the build context")

    # --- docker compose ---
    compose_dir = deploy / "compose"
    compose = yaml.safe_load((compose_dir / "docker-compose.yml").read_text())
    services = compose["services"]
    check({"radiald-cpu", "radiald-gpu", "proxy-cpu", "proxy-gpu", "prometheus", "grafana"} <= set(services),
          "compose services radiald-cpu, radiald-gpu, proxy-cpu, proxy-gpu, prometheus, grafana")
    for name in ("radiald-cpu", "radiald-gpu"):
        s = services[name]
        check(s.get("profiles") in (["cpu"], ["gpu"]), f"{name} is in a profile")
        ctx = (compose_dir / s["build"]["context"]).resolve()
        check((ctx / s["build"].get("dockerfile", "Dockerfile")).exists(), f"{name} builds the repository's Dockerfile")
        check(not s.get("ports"), f"{name} publishes no port (clients go through the proxy)")
        check("radiald" in s["networks"]["default"]["aliases"], f"{name} answers to `radiald` (the scrape target)")
        hc = s["healthcheck"]["test"]
        check("health" in hc and port_of(hc[hc.index("--server") + 1]) == grpc_port,
              f"{name}'s healthcheck asks the gRPC port")
        grace = int(str(s["stop_grace_period"]).rstrip("s"))
        check(grace > drain, f"{name}'s stop_grace_period {grace} s > drain_timeout_s {drain}")
        mounts = {v.split(":")[1]: v.split(":")[0] for v in s["volumes"]}
        check(mounts.get("/etc/radiald/radiald.json") == "../config/radiald.json",
              f"{name} mounts deploy/config/radiald.json as the config")
    for kind in ("cpu", "gpu"):
        name, p = f"proxy-{kind}", services[f"proxy-{kind}"]
        check(p.get("profiles") == [kind], f"{name} is in profile {kind}")
        check(p.get("image") == services[f"radiald-{kind}"].get("image"), f"{name} runs radiald-{kind}'s image")
        check(f"radiald-{kind}" in p.get("depends_on", {}), f"{name} depends on radiald-{kind}")
        ep = p.get("entrypoint", [])
        check(ep[:1] == ["nginx"] and "-c" in ep and ep[ep.index("-c") + 1] == "/etc/radiald-proxy/nginx.conf",
              f"{name} runs nginx -c /etc/radiald-proxy/nginx.conf")
        mounts = {v.split(":")[1]: v.split(":")[0] for v in p["volumes"]}
        check(mounts.get("/etc/radiald-proxy/nginx.conf") == "../proxy/nginx.conf",
              f"{name} mounts deploy/proxy/nginx.conf")
        published = {int(str(x).split(":")[-1]) for x in p.get("ports", [])}
        check(published == proxy_ports, f"{name} publishes nginx's ports {sorted(published)}")
        hc = p["healthcheck"]["test"]
        check("health" in hc and port_of(hc[hc.index("--server") + 1]) == proxy_grpc_port,
              f"{name}'s healthcheck asks through nginx")
        check(p.get("stop_signal") == "SIGQUIT", f"{name} stops gracefully (SIGQUIT)")
    gpu = services["radiald-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]
    check(gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"], "radiald-gpu reserves an NVIDIA GPU")
    check(services["radiald-gpu"]["build"]["args"]["CUDA"] == "ON"
          and services["radiald-cpu"]["build"]["args"]["CUDA"] == "OFF", "the build args select CUDA")
    check(services["radiald-gpu"].get("command", [])[-2:] == ["--backend", "cuda"],
          "radiald-gpu serves on the CUDA backend")
    for name, s in services.items():
        for v in s.get("volumes", []):
            host = v.split(":")[0]
            if host.startswith("."):
                check((compose_dir / host).exists(), f"{name}: mounted {host} exists")
    prom_cfg = yaml.safe_load((deploy / "prometheus/prometheus.yml").read_text())
    targets = [t for sc in prom_cfg["scrape_configs"] if sc["job_name"] == "radiald"
               for c in sc["static_configs"] for t in c["targets"]]
    check(targets == [f"radiald:{metrics_port}"], f"Prometheus scrapes radiald:{metrics_port}")
    for rf in prom_cfg["rule_files"]:
        check((deploy / "prometheus" / rf).exists(), f"rule file {rf} exists")
    prom_cmd = " ".join(services["prometheus"]["command"])
    check("--config.file=/etc/prometheus/prometheus.yml" in prom_cmd
          and "../prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"],
          "Prometheus reads deploy/prometheus/prometheus.yml")
    graf_mounts = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    provider = yaml.safe_load((deploy / "grafana/provisioning/dashboards/radial.yml").read_text())
    dash_dir = provider["providers"][0]["options"]["path"]
    check(graf_mounts.get(f"{dash_dir}/radial.json") == "../grafana/radial.json",
          f"Grafana's dashboard provider path {dash_dir} holds deploy/grafana/radial.json")
    check(graf_mounts.get("/etc/grafana/provisioning") == "../grafana/provisioning", "Grafana provisioning is mounted")
    ds = yaml.safe_load((deploy / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    check(ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090", "the datasource is the compose Prometheus")

    # --- Kubernetes ---
    k8s = deploy / "k8s"
    docs = {}
    for f in sorted(k8s.rglob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d and "kind" in d:
                docs[(d["kind"], d.get("metadata", {}).get("name"))] = (f, d)
    kust = yaml.safe_load((k8s / "kustomization.yaml").read_text())
    for r in kust["resources"]:
        check((k8s / r).exists(), f"kustomization resource {r} exists")
    cpu_kust = yaml.safe_load((k8s / "cpu/kustomization.yaml").read_text())
    check(all((k8s / "cpu" / r).exists() for r in cpu_kust["resources"]), "the cpu overlay's resources exist")
    dep = docs[("Deployment", "radiald")][1]
    cm = docs[("ConfigMap", "radiald-config")][1]
    kcfg = json.loads(cm["data"]["radiald.json"])
    check(kcfg["model"] == cfg["model"], "the ConfigMap's model is the image's")
    kgrpc, kmetrics = port_of(kcfg["listen"]), port_of(kcfg["metrics_listen"])
    khttp = port_of(kcfg.get("http_listen", ":0"))
    check(kcfg["listen"].startswith("127.0.0.1:") and kcfg.get("http_listen", "").startswith("127.0.0.1:"),
          "the ConfigMap's gRPC and HTTP listen on the pod's loopback (only the proxy reaches them)")
    check(kcfg["metrics_listen"].startswith("0.0.0.0:"), "the ConfigMap's metrics listen on the pod IP")
    check((kgrpc, khttp) == (grpc_port, http_port),
          "the ConfigMap's gRPC and HTTP ports are nginx.conf's upstream ports")
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    c = spec["containers"][0]
    check(c["name"] == "radiald", "the first container is radiald (the cpu overlay patches containers/0)")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports == {"metrics": kmetrics}, "radiald's only container port is metrics")
    aliases = {h for a in spec.get("hostAliases", []) if a.get("ip") == "127.0.0.1" for h in a["hostnames"]}
    check("radiald" in aliases, "hostAliases: radiald is 127.0.0.1 in the pod (nginx.conf's upstream host)")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        cmd = c[probe].get("exec", {}).get("command", [])
        check(cmd[:2] == ["radial", "health"] and port_of(cmd[cmd.index("--server") + 1]) == kgrpc,
              f"{probe} runs `radial health` against the loopback gRPC port")
    rcmd = c["readinessProbe"].get("exec", {}).get("command", [])
    check("--service" in rcmd and rcmd[rcmd.index("--service") + 1] == "radial.v1.Radial",
          "readiness asks radial.v1.Radial")
    proxy = [x for x in spec["containers"] if x["name"] == "proxy"]
    check(len(proxy) == 1 and len(spec["containers"]) == 2, "the pod has a proxy container")
    if proxy:
        px = proxy[0]
        pports = {p["name"]: p["containerPort"] for p in px["ports"]}
        check(pports == {"grpc": proxy_grpc_port, "http": proxy_http_port}, "proxy container ports = nginx's")
        check(px["image"] == c["image"], "the proxy runs the radiald image (its Debian nginx)")
        cmd = px.get("command", [])
        check(cmd[:1] == ["nginx"] and cmd[cmd.index("-c") + 1] == "/etc/radiald-proxy/nginx.conf",
              "the proxy runs nginx -c /etc/radiald-proxy/nginx.conf")
        vols = {v["name"]: v for v in spec["volumes"]}
        pm = {m["mountPath"]: m["name"] for m in px["volumeMounts"]}
        pcm = vols.get(pm.get("/etc/radiald-proxy"), {}).get("configMap", {})
        check(pcm.get("name") == "radiald-proxy", "the proxy mounts the ConfigMap radiald-proxy")
        check("emptyDir" in vols.get(pm.get("/tmp"), {}), "the proxy's prefix /tmp is an emptyDir (read-only root)")
        check(px["readinessProbe"].get("grpc", {}).get("port") == proxy_grpc_port,
              "the proxy's readiness is a gRPC probe through nginx")
        pre = " ".join(px.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", []))
        check("kill -QUIT 1" in pre, "the proxy's preStop stops nginx gracefully (SIGQUIT)")
        ports.update(pports)
    pcm_doc = docs.get(("ConfigMap", "radiald-proxy"))
    check(pcm_doc and pcm_doc[1]["data"]["nginx.conf"] == proxy_text,
          "k8s/proxy-configmap.yaml = deploy/proxy/nginx.conf (else run deploy/proxy/to_configmap.py)")
    kdrain = kcfg.get("drain_timeout_s", 30)
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = int(pre[1]) if pre[:1] == ["sleep"] else 0
    grace = spec["terminationGracePeriodSeconds"]
    check(grace >= pre_s + kdrain + 2, f"terminationGracePeriodSeconds {grace} >= preStop {pre_s} + drain {kdrain} + 2")
    live = c["livenessProbe"]
    check(live["periodSeconds"] * live["failureThreshold"] > grace,
          "the liveness probe cannot restart a draining pod within the grace period")
    check(c["resources"]["limits"].get("nvidia.com/gpu") == 1, "the Deployment asks for one GPU")
    check(c["args"][:2] == ["--config", "/etc/radiald/radiald.json"], "radiald reads the mounted config")
    check(c["args"][2:] == ["--backend", "cuda"], "the GPU Deployment serves on the CUDA backend")
    mount = [m for m in c["volumeMounts"] if m["mountPath"] == "/etc/radiald"]
    vol = [v for v in spec["volumes"] if mount and v["name"] == mount[0]["name"]]
    check(vol and vol[0]["configMap"]["name"] == "radiald-config"
          and vol[0]["configMap"]["items"][0]["path"] == "radiald.json", "the ConfigMap is mounted at /etc/radiald")
    check(spec["securityContext"]["runAsUser"] == 10001, "the pod runs as the image's user 10001")
    labels = pod["metadata"]["labels"]
    ann = pod["metadata"]["annotations"]
    check(int(ann["prometheus.io/port"]) == kmetrics and ann["prometheus.io/path"] == "/metrics",
          "scrape annotations name the metrics port")
    svc = docs[("Service", "radiald")][1]
    check(svc["spec"].get("clusterIP") == "None", "the Service is headless")
    check(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "the Service selects the pods")
    for p in svc["spec"]["ports"]:
        check(p["targetPort"] in ports and ports[p["targetPort"]] == p["port"], f"Service port {p['name']} -> container")
    pm = docs[("PodMonitor", "radiald")][1]
    check(all(labels.get(k) == v for k, v in pm["spec"]["selector"]["matchLabels"].items()), "the PodMonitor selects the pods")
    check(all(e["port"] in ports for e in pm["spec"]["podMetricsEndpoints"]), "the PodMonitor scrapes a named port")
    hpa = docs[("HorizontalPodAutoscaler", "radiald")][1]
    check(hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
          and hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"], "the HPA scales the Deployment")
    check(hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "radial_num_requests_waiting",
          "the HPA scales on the queue (radial_num_requests_waiting)")
    # The PrometheusRule carries deploy/prometheus/rules (generated).
    pr = docs[("PrometheusRule", "radiald")][1]
    groups = []
    for name in ("recording.yml", "alerts.yml"):
        groups += yaml.safe_load((deploy / "prometheus/rules" / name).read_text())["groups"]
    check(pr["spec"]["groups"] == groups,
          "k8s/prometheusrule.yaml = deploy/prometheus/rules (else run deploy/prometheus/to_prometheusrule.py)")
    return 0 if not failures else 1


def main(argv):
    if len(argv) >= 2 and argv[1] == "metrics" and len(argv) == 5:
        rc = cmd_metrics(*argv[2:])
    elif len(argv) == 3 and argv[1] == "files":
        rc = cmd_files(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{len(failures)} failed" if failures else "all checks passed")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
