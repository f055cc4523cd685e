#!/usr/bin/env node
// Checks the Grafana dashboards and their provisioning file against the rules that
// keep them importable and correct (see the README's Dashboards section):
//   * a stable `uid` and `id: null`;
//   * a `datasource` template variable of type prometheus, and every panel and query
//     on {"type": "prometheus", "uid": "${datasource}"} (never ${DS_PROMETHEUS});
//   * a unit on every panel;
//   * counters (…_total, …_bucket, …_count, …_sum) only as range vectors inside
//     rate()/increase(), over $__rate_interval or $__range;
//   * a provisioning file with apiVersion 1 and a file provider with a path.
// Usage: node scripts/lint-dashboards.mjs DIR   (exit 1 with one line per problem)
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? 'dashboards';
const problems = [];
const problem = (file, what) => problems.push(`${file}: ${what}`);

const isOurDatasource = (ds) => ds && ds.type === 'prometheus' && ds.uid === '${datasource}';

function lintExpr(file, where, expr) {
  const counter = /\b([a-z_:][a-z0-9_:]*_(?:total|bucket|count|sum))\b(\{[^}]*\})?/g;
  for (const match of expr.matchAll(counter)) {
    const rest = expr.slice(match.index + match[0].length);
    const range = /^\[(\$__rate_interval|\$__range)\]/.exec(rest);
    const before = expr.slice(0, match.index);
    const inside = /(rate|increase)\([^()]*(\([^()]*\))*[^()]*$/.test(before);
    if (!range || !inside) problem(file, `${where}: counter ${match[1]} must be inside rate()/increase() over $__rate_interval or $__range`);
  }
}

function lintDashboard(file) {
  let d;
  try {
    d = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    problem(file, `not JSON: ${e.message}`);
    return;
  }
  if (typeof d.uid !== 'string' || !/^[a-z0-9-]{1,40}$/.test(d.uid)) problem(file, 'needs a stable uid (a-z, 0-9, -)');
  if (d.id !== null) problem(file, 'id must be null so Grafana assigns its own');
  if (JSON.stringify(d).includes('DS_PROMETHEUS')) problem(file, 'uses ${DS_PROMETHEUS}, which breaks file provisioning');
  const vars = d.templating?.list ?? [];
  if (!vars.some((v) => v.type === 'datasource' && v.name === 'datasource' && v.query === 'prometheus')) {
    problem(file, 'needs a template variable {type: datasource, name: datasource, query: prometheus}');
  }
  const panels = [];
  const collect = (list) => list?.forEach((p) => { panels.push(p); collect(p.panels); });
  collect(d.panels);
  if (panels.filter((p) => p.type !== 'row').length === 0) problem(file, 'has no panels');
  for (const p of panels) {
    if (p.type === 'row') continue;
    const where = `panel "${p.title}"`;
    if (!isOurDatasource(p.datasource)) problem(file, `${where}: datasource must be {"type":"prometheus","uid":"\${datasource}"}`);
    if (!p.fieldConfig?.defaults?.unit) problem(file, `${where}: needs a unit (fieldConfig.defaults.unit)`);
    if (!p.targets?.length) problem(file, `${where}: has no queries`);
    for (const t of p.targets ?? []) {
      if (!isOurDatasource(t.datasource)) problem(file, `${where} ${t.refId}: query datasource must be \${datasource}`);
      if (!t.expr) problem(file, `${where} ${t.refId}: empty expression`);
      else lintExpr(file, `${where} ${t.refId}`, t.expr);
    }
  }
}

function lintProvisioning(file) {
  const text = fs.readFileSync(file, 'utf8');
  if (!/^apiVersion: 1$/m.test(text)) problem(file, 'needs apiVersion: 1');
  if (!/^\s+type: file$/m.test(text)) problem(file, 'needs a provider of type file');
  if (!/^\s+path: \S+/m.test(text)) problem(file, 'needs options.path');
}

const files = fs.readdirSync(dir);
const dashboards = files.filter((f) => f.endsWith('.json'));
if (dashboards.length === 0) problem(dir, 'no dashboards');
dashboards.forEach((f) => lintDashboard(path.join(dir, f)));
if (!files.includes('provisioning.yaml')) problem(dir, 'no provisioning.yaml');
else lintProvisioning(path.join(dir, 'provisioning.yaml'));

if (problems.length) {
  problems.forEach((p) => console.log(p));
  process.exit(1);
}
console.log(`${dashboards.length} dashboard(s) and provisioning.yaml: ok`);
