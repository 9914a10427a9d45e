"""``geoshard admin``: the admin API from a shell, as tables for people or ``--json`` for scripts.

Where to connect comes from ``--url``/``--token``, else ``GEOSHARD_ADMIN_URL`` and
``GEOSHARD_ADMIN_TOKEN``, else (on the satellite's own machine) ``--satellite-config``,
which reads the admin address and token from the satellite's config file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from common.progress import bar

from .access_cli import register_public_access_block
from .client import AdminClient, AdminClientError
from .payouts_cli import register_payouts, register_statement

__all__ = ["register"]

Handler = Callable[[AdminClient, argparse.Namespace], Any]
P = AdminClient.path


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    if not rows:
        return "(none)"
    cells = [[_cell(r.get(key)) for key, _ in columns] for r in rows]
    widths = [max(len(title), *(len(c[i]) for c in cells)) for i, (_, title) in enumerate(columns)]
    lines = ["  ".join(title.ljust(w) for (_, title), w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def _fields(data: dict[str, Any], skip: Sequence[str] = ()) -> str:
    width = max((len(k) for k in data if k not in skip), default=0)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in data.items() if k not in skip)


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _policy_row(p: dict[str, Any]) -> dict[str, Any]:
    s = p["scheme"]
    return {**p, "scheme": f"{s['k']}/{s['repair']}/{s['success']}/{s['total']}"}


_POLICY_COLS = [
    ("name", "NAME"),
    ("scheme", "SCHEME"),
    ("allowed_countries", "COUNTRIES"),
    ("allowed_regions", "REGIONS"),
    ("excluded_countries", "EXCLUDED"),
    ("min_countries", "MIN"),
]
_TENANT_COLS = [("name", "NAME"), ("id", "ID"), ("default_policy", "DEFAULT POLICY"), ("created_at", "CREATED")]
_KEY_COLS = [("access_key_id", "ACCESS KEY"), ("status", "STATUS"), ("created_at", "CREATED")]
_BUCKET_COLS = [("name", "BUCKET"), ("tenant", "TENANT"), ("policy", "POLICY"), ("created_at", "CREATED")]


def _node_row(n: dict[str, Any]) -> dict[str, Any]:
    state = (
        "disqualified"
        if n["disqualified"]
        else "suspended"
        if n["suspended"]
        else ("online" if n["online"] else "offline")
    )
    return {
        **n,
        "short": n["id"][:12],
        "state": state,
        "free_h": _bytes(n["free"]),
        "where": f"{n['country']}/{n['region'] or '-'}"
        + ("*" if n["override"]["country"] or n["override"]["region"] else ""),
    }


_NODE_COLS = [
    ("short", "NODE"),
    ("where", "COUNTRY/REGION"),
    ("state", "STATE"),
    ("vetted", "VETTED"),
    ("placement", "PLACEMENT"),
    ("free_h", "FREE"),
    ("address", "ADDRESS"),
]


# --- handlers: each returns (json, text) ------------------------------------------------


def _policy_body(a: argparse.Namespace) -> dict[str, Any]:
    return {
        "name": a.name,
        "scheme": a.scheme,
        "allowed_countries": _split(a.countries),
        "allowed_regions": _split(a.regions),
        "excluded_countries": _split(a.exclude),
        "min_countries": a.min_countries,
    }


def policy_create(c: AdminClient, a: argparse.Namespace) -> Any:
    p = c.call("POST", "/v1/policies", _policy_body(a))
    return p, "created policy\n" + _fields(_policy_row(p))


def policy_update(c: AdminClient, a: argparse.Namespace) -> Any:
    """Replaces every rule of the policy (what is not given is cleared), as the console's edit does."""
    p = c.call("PUT", P("v1", "policies", a.name), _policy_body(a))
    return p, "updated policy (pieces now outside it migrate through repair)\n" + _fields(_policy_row(p))


def policy_list(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/policies")
    return r, _table([_policy_row(p) for p in r["policies"]], _POLICY_COLS)


def policy_show(c: AdminClient, a: argparse.Namespace) -> Any:
    p = c.call("GET", P("v1", "policies", a.name))
    return p, _fields(_policy_row(p))


def policy_aliases(c: AdminClient, a: argparse.Namespace) -> Any:
    """With aliases, set them (``--clear`` removes all); without, list them."""
    path = P("v1", "policies", a.name, "aliases")
    r = c.call("PUT", path, {"aliases": [] if a.clear else a.aliases}) if a.aliases or a.clear else c.call("GET", path)
    return r, f"policy {r['policy']}: aliases {', '.join(r['aliases']) or 'none'}"


def policy_delete(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("DELETE", P("v1", "policies", a.name))
    return r, f"deleted policy {a.name}"


def tenant_create(c: AdminClient, a: argparse.Namespace) -> Any:
    t = c.call("POST", "/v1/tenants", {"name": a.name, "default_policy": a.default_policy})
    return t, "created tenant\n" + _fields(t)


def tenant_list(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/tenants")
    return r, _table(r["tenants"], _TENANT_COLS)


def tenant_show(c: AdminClient, a: argparse.Namespace) -> Any:
    t = c.call("GET", P("v1", "tenants", a.tenant))
    text = _fields(t, skip=("keys", "buckets"))
    text += "\n\nkeys\n" + _table(t["keys"], _KEY_COLS)
    text += "\n\nbuckets\n" + _table(
        t["buckets"], [("name", "BUCKET"), ("policy", "POLICY"), ("created_at", "CREATED")]
    )
    return t, text


def tenant_set_default_policy(c: AdminClient, a: argparse.Namespace) -> Any:
    policy = None if a.policy.lower() == "none" else a.policy
    t = c.call("PUT", P("v1", "tenants", a.tenant, "default-policy"), {"policy": policy})
    return t, f"tenant {t['name']}: default policy {t['default_policy'] or 'none'}"


def key_create(c: AdminClient, a: argparse.Namespace) -> Any:
    k = c.call("POST", P("v1", "tenants", a.tenant, "keys"))
    return k, (
        f"access key id      {k['access_key_id']}\nsecret access key  {k['secret_access_key']}\n"
        f"tenant             {k['tenant']}\n\nThe secret is shown only now: store it."
    )


def key_list(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", P("v1", "tenants", a.tenant, "keys"))
    return r, _table(r["keys"], _KEY_COLS)


def key_revoke(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("DELETE", P("v1", "keys", a.key))
    return r, f"revoked {a.key}"


def node_list(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/nodes")
    return r, _table([_node_row(n) for n in r["nodes"]], _NODE_COLS)


def _node_text(n: dict[str, Any]) -> str:
    return _fields(n)


def node_show(c: AdminClient, a: argparse.Namespace) -> Any:
    n = c.call("GET", P("v1", "nodes", a.node))
    return n, _node_text(n)


def node_audits(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", P("v1", "nodes", a.node, "audits"), query={"limit": str(a.limit)})
    sc, th, n = r["scores"], r["thresholds"], r["counts"]
    lines = [
        f"node {r['node_id'][:12]}: audit {sc['audit']:.4f} (disqualified at {th['audit_disqualify']}), "
        f"unknown {sc['unknown']:.3f} (suspended at {th['unknown_suspend']}), online {sc['online']:.3f}",
        f"audits {n['audits']}: {n['success']} ok, {n['failure']} failed, {n['offline']} offline, "
        f"{n['unknown']} unknown, {n['timeout']} timed out; vetted: {'yes' if r['vetted'] else 'no'}"
        + (f"; contained ({r['contained_misses']} miss(es))" if r["contained"] else ""),
    ]
    if r["disqualified"]:
        lines.append(f"DISQUALIFIED {r['disqualified_at']}: {r['disqualification_reason']}")
    if r["suspended"]:
        lines.append(f"SUSPENDED {r['suspended_at']}: {r['suspension_reason']}")
    lines += [f"warning: {w}" for w in r["warnings"]]
    cols = [("at", "AT"), ("outcome", "OUTCOME"), ("piece", "PIECE"), ("reason", "REASON")]
    rows = [{**x, "piece": f"{x['segment_id']}/{x['piece_number']}"} for x in r["recent_audits"]]
    return r, "\n".join(lines) + ("\n\n" + _table(rows, cols) if rows else "\n(no audits yet)")


def node_set_location(c: AdminClient, a: argparse.Namespace) -> Any:
    if a.clear and (a.country or a.region):
        raise AdminClientError(0, "Usage", "--clear removes both overrides; do not combine it with --country/--region")
    if not a.clear and not (a.country or a.region):
        raise AdminClientError(0, "Usage", "give --country and/or --region, or --clear")
    n = c.call("PUT", P("v1", "nodes", a.node, "location"), {"country": a.country, "region": a.region})
    return n, f"node {n['id'][:12]}: {n['country']}/{n['region'] or '-'} (placement: {n['placement']})"


def node_disqualify(c: AdminClient, a: argparse.Namespace) -> Any:
    n = c.call("POST", P("v1", "nodes", a.node, "disqualify"), {"reason": a.reason})
    return n, f"node {n['id'][:12]} disqualified: {n['disqualification_reason']}"


def node_reinstate(c: AdminClient, a: argparse.Namespace) -> Any:
    n = c.call("POST", P("v1", "nodes", a.node, "reinstate"))
    return n, f"node {n['id'][:12]} reinstated (placement: {n['placement']})"


def bucket_list(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/buckets", query={"tenant": a.tenant} if a.tenant else None)
    return r, _table(r["buckets"], _BUCKET_COLS)


def bucket_show(c: AdminClient, a: argparse.Namespace) -> Any:
    b = c.call("GET", P("v1", "buckets", a.bucket))
    return b, _fields(b)


def bucket_set_policy(c: AdminClient, a: argparse.Namespace) -> Any:
    b = c.call("PUT", P("v1", "buckets", a.bucket, "policy"), {"policy": a.policy})
    return b, (f"bucket {b['name']}: policy {b['policy']}\n{b['note']}\n"
               f"follow it with: geoshard admin bucket migration {b['name']} --watch")


def _migration_line(m: dict[str, Any]) -> str:
    seg, pcs = m["segments"], m["pieces"]
    return (f"{bar(m['progress'])} {m['state']}: {seg['in_policy']} of {seg['remote']} segments in policy "
            f"{m['policy']}, {pcs['out_of_policy']} of {pcs['total']} pieces still outside")  # fmt: skip


def bucket_migration(c: AdminClient, a: argparse.Namespace) -> Any:
    """One progress line; with ``--watch``, redrawn in place (a terminal) or appended until done."""
    path = P("v1", "buckets", a.bucket, "migration")
    m = c.call("GET", path)
    if not a.watch or a.json:
        return m, f"bucket {m['bucket']}: " + _migration_line(m)
    tty = sys.stdout.isatty()
    deadline = time.monotonic() + a.timeout if a.timeout else None
    while m["state"] != "done" and (deadline is None or time.monotonic() < deadline):
        sys.stdout.write(("\r\x1b[K" if tty else "") + _migration_line(m) + ("" if tty else "\n"))
        sys.stdout.flush()
        time.sleep(a.interval)
        m = c.call("GET", path)
    if tty:
        sys.stdout.write("\r\x1b[K")
    return m, f"bucket {m['bucket']}: " + _migration_line(m)


# Exit statuses of 'geoshard admin report' a cron job can alert on (1 and 2 are errors and usage).
REPORT_EXIT = {"compliant": 0, "degraded": 0, "out_of_policy": 3, "data_lost": 4}


def report(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", P("v1", "buckets", a.bucket, "report"))
    pol = _policy_row(r["policy"])
    weak = r["below_repair_threshold"]
    out = r["out_of_policy"]
    inline = r.get("inline_bytes_by_country", {})
    lines = [
        f"bucket {r['bucket']} (tenant {r['tenant']}), policy {pol['name']} {pol['scheme']}",
        f"objects {r['objects']}, pending uploads {r['pending_uploads']}, segments "
        f"{r['segments']['remote']} remote + {r['segments']['inline']} inline, pieces {r['pieces']}",
        f"report generated {r.get('generated_at') or '?'}; last full verification (a repair checker pass over "
        f"every segment) {r.get('last_full_verification') or 'none since the satellite started'}",
        "",
        "pieces per country\n"
        + _table([{"k": k, "v": v} for k, v in r["pieces_by_country"].items()], [("k", "COUNTRY"), ("v", "PIECES")]),
        "",
        f"inline bytes per country (in the satellite's database, {r.get('metadata_location', '??')})\n"
        + _table([{"k": k, "v": v} for k, v in inline.items()], [("k", "COUNTRY"), ("v", "BYTES")]),
        "",
        "pieces per region\n"
        + _table([{"k": k, "v": v} for k, v in r["pieces_by_region"].items()], [("k", "REGION"), ("v", "PIECES")]),
        "",
        f"pieces out of policy: {out['pieces']}",
    ]
    if out["nodes"]:
        lines.append(
            _table(
                out["nodes"], [("node_id", "NODE"), ("country", "COUNTRY"), ("region", "REGION"), ("pieces", "PIECES")]
            )
        )
    if out.get("inline_segments"):
        lines.append(f"inline segments out of policy: {out['inline_segments']} ({out['inline_bytes']} bytes in a "
                     "database the policy excludes; the repairer migrates them to pieces)")  # fmt: skip
    lines.append(f"\nsegments below repair threshold: {weak['segments']} ({weak['lost']} below k: lost; "
                 f"{weak.get('repair_queued', 0)} with a repair queued)")  # fmt: skip
    if weak["listed"]:
        lines.append(
            _table(
                weak["listed"],
                [
                    ("object", "OBJECT"),
                    ("part", "PART"),
                    ("index", "SEGMENT"),
                    ("healthy", "HEALTHY"),
                    ("repair_threshold", "REPAIR AT"),
                    ("k", "K"),
                ],
            )
        )
        if weak["truncated"]:
            lines.append(f"(first {len(weak['listed'])} listed)")
    lost = r.get("data_lost") or {"segments": weak["lost"], "keys": []}
    if lost["segments"]:
        lines.append(f"\ndata lost: {lost['segments']} segment(s) of {len(lost['keys'])} object(s) below k")
        lines.append(_table(lost["keys"], [("object", "OBJECT"), ("version", "VERSION"), ("segments", "SEGMENTS")]))
    short = r.get("capacity_short")
    if short:
        lines.append(
            f"\nrepair capacity short: {short['segments']} segment(s) missing {short['pieces_missing']} piece(s); "
            f"policy {short['policy']!r} needs {short['nodes_needed']} more eligible node(s)"
        )
    status = r.get("status", "compliant" if r["compliant"] else "out_of_policy")
    if lost["segments"]:  # whatever the status says, a segment below k is never reported as fine
        status = "data_lost"
    lines.append("\n" + {
        "compliant": "COMPLIANT",
        "degraded": "DEGRADED, NOT COMPLIANT: every byte is in policy, but redundancy is below the promise",
        "out_of_policy": "NOT COMPLIANT: data is stored outside the policy",
        "data_lost": "DATA LOST, NOT COMPLIANT: segments have fewer than k healthy pieces",
    }.get(status, f"NOT COMPLIANT: {status}"))  # fmt: skip
    return r, "\n".join(lines), REPORT_EXIT.get(status, 1)


# --- parser -----------------------------------------------------------------------------


def repair_status(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", f"/v1/repair/status?failures={a.failures}")
    q, t = r["queue"], r["throughput"]
    age = q["oldest_job_age_seconds"]
    lines = [
        f"queue        {q['queued']} segment(s) waiting, {q['claimed']} being repaired, {q['failing']} failing"
        + (f"; oldest queued {age:.0f}s ago ({q['oldest_job_at']}), closest to loss: margin {q['min_margin']}"
           if age is not None else ""),
        "by reason    " + (", ".join(f"{k} {v}" for k, v in sorted(q["by_reason"].items())) or "-"),
        "by policy    " + (", ".join(f"{k} {v}" for k, v in sorted(q["by_policy"].items())) or "-"),
    ]
    since = t["since_start"]
    rate = t["segments_per_minute"]
    lines.append(
        f"throughput   {since['repaired']} repaired ({_bytes(since['repaired_bytes'])}), {since['failed']} failed "
        f"in this satellite's {since['seconds']:.0f}s"
        + (f"; {rate} segments/min, {_bytes(int(t['bytes_per_minute'] or 0))}/min over the last "
           f"{t['window_seconds']:.0f}s" if rate is not None else "")
    )
    lines.append(f"progress     {bar(t['progress'])} of the backlog's peak of {t['backlog_peak']}")
    if q["failures"]:
        lines.append("\nfailing jobs (retried after the claim timeout):")
        lines.append(_table(q["failures"], [("segment_id", "SEGMENT"), ("reason", "REASON"),
                                            ("attempts", "ATTEMPTS"), ("updated_at", "LAST TRY"),
                                            ("last_error", "LAST ERROR")]))  # fmt: skip
    return r, "\n".join(lines)


def _connection_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--url", default=default, help="admin API URL (env GEOSHARD_ADMIN_URL)")
    parser.add_argument("--token", default=default, help="admin token (env GEOSHARD_ADMIN_TOKEN)")
    parser.add_argument(
        "--satellite-config",
        default=default,
        metavar="PATH",
        help="read the admin address and token from the satellite's config file",
    )
    parser.add_argument("--json", action="store_true", default=default, help="print the API's JSON")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = sub.add_parser(
        "admin",
        help="administer a satellite: policies, tenants, keys, nodes, reports",
        description="Administer a satellite through its admin API. Connects with --url/--token, else "
        "GEOSHARD_ADMIN_URL and GEOSHARD_ADMIN_TOKEN, else --satellite-config (the satellite's config file).",
    )
    _connection_options(admin, None)
    # The same options after the sub-command; SUPPRESS keeps a leaf from resetting them.
    common = argparse.ArgumentParser(add_help=False)
    _connection_options(common, argparse.SUPPRESS)
    groups = admin.add_subparsers(dest="admin_group", metavar="AREA", required=True)

    def leaf(group: Any, name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(name, help=help_, parents=[common])
        p.set_defaults(func=_run, admin_handler=handler)
        return p

    g = groups.add_parser("policy", help="placement policies").add_subparsers(metavar="ACTION", required=True)
    for action, handler, what in (("create", policy_create, "create a placement policy"),
                                  ("update", policy_update, "replace a placement policy's rules")):
        p = leaf(g, action, handler, what)
        p.add_argument("name")
        p.add_argument("--countries", help="allowed countries or groups, comma-separated (DE,FR or EU)")
        p.add_argument("--regions", help="allowed regions, comma-separated")
        p.add_argument("--exclude", help="excluded countries or groups, comma-separated")
        p.add_argument("--scheme", required=True, help="k/repair/success/total, e.g. 4/6/8/10")
        p.add_argument("--min-countries", type=int, default=1)
    leaf(g, "list", policy_list, "list policies")
    leaf(g, "show", policy_show, "show a policy and who uses it").add_argument("name")
    leaf(g, "delete", policy_delete, "delete a policy nothing uses").add_argument("name")
    p = leaf(g, "aliases", policy_aliases, "list or set a policy's aliases (AWS region names for LocationConstraint)")
    p.add_argument("name")
    p.add_argument("aliases", nargs="*", help="the new aliases, e.g. eu-west-1 eu-central-1 (replace the old ones)")
    p.add_argument("--clear", action="store_true", help="remove every alias")

    g = groups.add_parser("tenant", help="tenants").add_subparsers(metavar="ACTION", required=True)
    p = leaf(g, "create", tenant_create, "create a tenant")
    p.add_argument("name")
    p.add_argument("--default-policy")
    leaf(g, "list", tenant_list, "list tenants")
    leaf(g, "show", tenant_show, "show a tenant, its keys and buckets").add_argument("tenant", help="id or name")
    p = leaf(g, "set-default-policy", tenant_set_default_policy, "set a tenant's default policy")
    p.add_argument("tenant", help="id or name")
    p.add_argument("policy", help="a policy name, or 'none' to clear")
    register_statement(g, leaf)
    register_public_access_block(g, leaf)

    g = groups.add_parser("key", help="S3 access keys").add_subparsers(metavar="ACTION", required=True)
    leaf(g, "create", key_create, "create an access key (the secret is shown once)").add_argument(
        "--tenant", required=True, help="id or name"
    )
    leaf(g, "list", key_list, "list a tenant's keys").add_argument("--tenant", required=True, help="id or name")
    leaf(g, "revoke", key_revoke, "revoke an access key").add_argument("key")

    g = groups.add_parser("node", help="storage nodes").add_subparsers(metavar="ACTION", required=True)
    leaf(g, "list", node_list, "list nodes")
    leaf(g, "show", node_show, "show a node").add_argument("node", help="node id or a unique prefix")
    p = leaf(g, "audits", node_audits, "a node's scores, flags with reasons, and recent audits")
    p.add_argument("node", help="node id or a unique prefix")
    p.add_argument("--limit", type=int, default=20, help="how many recent audits (default 20)")
    p = leaf(g, "set-location", node_set_location, "override a node's country/region")
    p.add_argument("node")
    p.add_argument("--country")
    p.add_argument("--region")
    p.add_argument("--clear", action="store_true", help="remove the overrides: the node's claim applies")
    p = leaf(g, "disqualify", node_disqualify, "disqualify a node")
    p.add_argument("node")
    p.add_argument("--reason")
    leaf(g, "reinstate", node_reinstate, "reinstate a node").add_argument("node")

    g = groups.add_parser("bucket", help="buckets").add_subparsers(metavar="ACTION", required=True)
    leaf(g, "list", bucket_list, "list buckets").add_argument("--tenant", help="only this tenant's (id or name)")
    leaf(g, "show", bucket_show, "show a bucket").add_argument("bucket")
    p = leaf(g, "set-policy", bucket_set_policy, "set a bucket's placement policy")
    p.add_argument("bucket")
    p.add_argument("policy")
    p = leaf(g, "migration", bucket_migration, "progress of moving a bucket's pieces into its policy")
    p.add_argument("bucket")
    p.add_argument("--watch", action="store_true", help="redraw the progress bar until the migration is done")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between redraws with --watch (default 2)")
    p.add_argument("--timeout", type=float, default=0.0, help="stop watching after this many seconds (0: never)")

    leaf(groups, "report", report, "compliance report of a bucket (exit 3: out of policy, 4: data lost)").add_argument(
        "bucket"
    )
    from .residency_cli import register_residency

    register_residency(groups, leaf)
    register_payouts(groups, leaf)

    g = groups.add_parser("repair", help="the repair queue").add_subparsers(metavar="ACTION", required=True)
    p = leaf(g, "status", repair_status, "queue by reason and policy, oldest job, throughput, failing jobs")
    p.add_argument("--failures", type=int, default=10, help="how many failing jobs to list (default 10, max 100)")

    from .settlement_cli import register_settlement

    register_settlement(groups, leaf)
    from .lifecycle_cli import register_lifecycle

    register_lifecycle(groups, leaf)


def _connection(a: argparse.Namespace) -> tuple[str, str]:
    url = a.url or os.environ.get("GEOSHARD_ADMIN_URL", "")
    token = a.token or os.environ.get("GEOSHARD_ADMIN_TOKEN", "")
    if a.satellite_config and not (url and token):
        with open(a.satellite_config) as f:
            cfg = json.load(f)
        host = cfg.get("admin_host", "127.0.0.1")
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        url = url or f"http://{host}:{cfg.get('admin_port', 7778)}"
        token = token or cfg.get("admin_token", "")
    return url, token


def _run(a: argparse.Namespace) -> int:
    try:
        client = AdminClient(*_connection(a))
        answer = a.admin_handler(client, a)
        data, text = answer[0], answer[1]
        code = answer[2] if len(answer) > 2 else 0  # a report's verdict (REPORT_EXIT)
    except AdminClientError as exc:
        if a.json:
            print(json.dumps({"error": {"code": exc.code, "message": exc.message, "status": exc.status}}))
        print(f"error: {exc.message}", file=sys.stderr)
        return 2 if exc.code == "Usage" else 1
    except OSError as exc:  # an unreadable --satellite-config
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if text is not None or a.json:
        print(json.dumps(data, indent=2) if a.json else text)
    return int(code)
