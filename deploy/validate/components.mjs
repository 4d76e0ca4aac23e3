/* components: rules for the kustomize components of deploy/k8s/components
 * (gateway, monitoring, redis-ha). A component's rules apply when its
 * objects are rendered, and when the caller requires it to be on.
 * checkComponents returns one string per broken rule. */
import { objName } from './schema.mjs';
import { find, envValue } from './policy.mjs';
import { selectorMatches } from './network.mjs';

const GATEWAY = 'gateway';
/* A list field, or none when it has the wrong type (the schema reports that). */
const arr = (x) => (Array.isArray(x) ? x : []);
const MONITORING = 'monitoring';
const REDIS_HA = 'redis-ha';

/* The pod template of a workload by name. */
function template(objs, name) {
  return objs.find((o) => ['StatefulSet', 'Deployment'].includes(o?.kind) && o.metadata?.name === name)?.spec?.template;
}

/* The HTTPRoute rules that send to a Service of that name. */
function routeRules(objs, service) {
  return find(objs, 'HTTPRoute').flatMap((r) => arr(r.spec?.rules)
    .filter((rule) => arr(rule?.backendRefs).some((b) => (b.kind ?? 'Service') === 'Service' && b.name === service))
    .map((rule) => ({ route: r, rule })));
}

/* Gateway API: a route per service; cookie session persistence without an
 * absolute lifetime for stateful-svc, none for stateless-svc; parents exist. */
function checkGateway(objs) {
  const errs = [];
  const sf = routeRules(objs, 'stateful-svc');
  if (sf.length === 0) errs.push('gateway: no HTTPRoute sends to stateful-svc');
  for (const { route, rule } of sf) {
    const sp = rule.sessionPersistence;
    if (!sp) { errs.push(`${objName(route)}: stateful-svc needs sessionPersistence (cookie)`); continue; }
    if ((sp.type ?? 'Cookie') !== 'Cookie') errs.push(`${objName(route)}: sessionPersistence type must be Cookie`);
    if (!sp.sessionName) errs.push(`${objName(route)}: sessionPersistence needs a sessionName (the cookie)`);
    if (sp.absoluteTimeout !== undefined || sp.cookieConfig?.lifetimeType === 'Permanent') {
      errs.push(`${objName(route)}: the session cookie must have no absolute lifetime (it would move active shoppers)`);
    }
  }
  const sl = routeRules(objs, 'stateless-svc');
  if (sl.length === 0) errs.push('gateway: no HTTPRoute sends to stateless-svc');
  for (const { route, rule } of sl) {
    if (rule.sessionPersistence) errs.push(`${objName(route)}: stateless-svc must have no session persistence`);
  }
  for (const r of find(objs, 'HTTPRoute')) {
    const parents = arr(r.spec?.parentRefs);
    if (parents.length === 0) errs.push(`${objName(r)}: no parentRefs (attached to no Gateway)`);
    for (const p of parents) {
      if ((p.kind ?? 'Gateway') === 'Gateway' && !p.namespace && find(objs, 'Gateway', p.name).length === 0) {
        errs.push(`${objName(r)}: parent Gateway ${p.name} is not rendered`);
      }
    }
  }
  return errs;
}

/* Does a PodMonitor, or a ServiceMonitor through a Service, scrape the
 * pods of this template on the named port? */
function scraped(objs, tmpl, port) {
  const labels = tmpl?.metadata?.labels ?? {};
  const pm = find(objs, 'PodMonitor').some((m) => selectorMatches(m.spec?.selector, labels) &&
    arr(m.spec.podMetricsEndpoints).some((e) => e.port === port && (e.path ?? '/metrics') === '/metrics'));
  const sm = find(objs, 'ServiceMonitor').some((m) => find(objs, 'Service').some((s) =>
    selectorMatches(m.spec?.selector, s.metadata?.labels ?? {}) &&
    Object.entries(s.spec?.selector ?? {}).every(([k, v]) => labels[k] === v) &&
    arr(m.spec.endpoints).some((e) => e.port === port)));
  return pm || sm;
}

/* Alerts the PrometheusRule must carry: what, and a test of the expression. */
const ALERTS = [
  ['5xx rate', (e) => e.includes('cartpair_http_requests_total') && /status=~"5/.test(e)],
  ['store errors', (e) => e.includes('cartpair_store_errors_total')],
  ['p99 latency', (e) => /histogram_quantile\(\s*0\.99/.test(e) && e.includes('cartpair_http_request_duration_seconds_bucket')],
  ['carts lost', (e) => e.includes('cartpair_carts')],
];

/* Monitoring: both services and the Redis exporter scraped; alerts. */
function checkMonitoring(objs) {
  const errs = [];
  for (const [name, port] of [['stateful-svc', 'http'], ['stateless-svc', 'http'], ['redis', 'metrics']]) {
    if (!scraped(objs, template(objs, name), port)) errs.push(`monitoring: no PodMonitor or ServiceMonitor scrapes ${name} on port ${port}`);
  }
  const rules = find(objs, 'PrometheusRule').flatMap((r) => arr(r.spec?.groups).flatMap((g) => arr(g?.rules)))
    .filter((r) => r.alert);
  for (const [what, test] of ALERTS) {
    if (!rules.some((r) => test(String(r.expr ?? '')))) errs.push(`monitoring: no alert on ${what}`);
  }
  for (const r of rules) {
    if (!r.labels?.severity || !r.annotations?.summary) errs.push(`monitoring: alert ${r.alert} needs labels.severity and annotations.summary`);
  }
  return errs;
}

/* Is the file path inside a Secret volume the container mounts (and the
 * volume has that key)? */
export function secretFile(spec, c, path) {
  for (const m of c.volumeMounts ?? []) {
    const vol = (spec.volumes ?? []).find((v) => v.name === m.name);
    if (!vol?.secret || !String(path).startsWith(m.mountPath.replace(/\/$/, '') + '/')) continue;
    const rel = path.slice(m.mountPath.replace(/\/$/, '').length + 1);
    const items = vol.secret.items;
    if (!items || items.some((i) => i.path === rel)) return vol.secret.secretName;
  }
  return undefined;
}

/* Redis HA: three pods with Sentinel, PDB one at a time, anti-affinity,
 * stateless-svc on the sentinels with the password file and WAIT. */
function checkRedisHa(objs) {
  const errs = [];
  const sts = find(objs, 'StatefulSet', 'redis')[0];
  const spec = sts?.spec?.template?.spec ?? {};
  const labels = sts?.spec?.template?.metadata?.labels ?? {};
  const n = sts?.spec?.replicas ?? 1;
  if (n < 3) errs.push(`redis-ha: Redis runs ${n} pod(s), needs 3`);
  const sentinel = (spec.containers ?? []).find((c) => (c.ports ?? []).some((p) => p.containerPort === 26379));
  if (!sentinel) errs.push('redis-ha: no Sentinel container (port 26379) in the Redis pods');
  const pdb = find(objs, 'PodDisruptionBudget').find((p) => selectorMatches(p.spec?.selector, labels));
  if (!pdb || !(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable === n - 1)) {
    errs.push('redis-ha: the Redis PodDisruptionBudget must allow exactly one pod down (maxUnavailable: 1)');
  }
  const aa = spec.affinity?.podAntiAffinity ?? {};
  const terms = [...(aa.requiredDuringSchedulingIgnoredDuringExecution ?? []),
    ...(aa.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => p.podAffinityTerm)];
  if (!terms.some((t) => t?.topologyKey === 'kubernetes.io/hostname' && selectorMatches(t.labelSelector, labels))) {
    errs.push('redis-ha: Redis pods need podAntiAffinity on kubernetes.io/hostname');
  }
  const script = find(objs, 'ConfigMap').map((cm) => Object.values(cm.data ?? {}).join('\n')).join('\n');
  const master = /sentinel monitor (\S+)/.exec(script)?.[1];
  const dep = find(objs, 'Deployment', 'stateless-svc')[0];
  const dspec = dep?.spec?.template?.spec ?? {};
  const c = (dspec.containers ?? []).find((x) => x.name === 'stateless-svc') ?? {};
  const want = Array.from({ length: n }, (_, i) => `redis-${i}.${sts?.spec?.serviceName}:26379`).join(',');
  if (envValue(c, 'REDIS_SENTINELS') !== want) errs.push(`redis-ha: stateless-svc REDIS_SENTINELS must be ${want}`);
  if (!master || envValue(c, 'REDIS_MASTER_NAME') !== master) errs.push(`redis-ha: stateless-svc REDIS_MASTER_NAME must be the monitored name (${master})`);
  if (!secretFile(dspec, c, envValue(c, 'REDIS_PASSWORD_FILE') ?? '')) errs.push('redis-ha: stateless-svc REDIS_PASSWORD_FILE must be a file of a mounted Secret');
  const wait = Number(envValue(c, 'REDIS_WAIT_REPLICAS'));
  if (!(wait >= 1 && wait <= n - 1)) errs.push(`redis-ha: stateless-svc REDIS_WAIT_REPLICAS must be 1..${n - 1}`);
  if ((c.env ?? []).some((e) => e.name === 'REDIS_URL')) errs.push('redis-ha: stateless-svc must not set REDIS_URL beside the sentinels');
  return errs;
}

/* Which components are on, by their objects. */
function present(objs) {
  const sts = find(objs, 'StatefulSet', 'redis')[0];
  return {
    [GATEWAY]: find(objs, 'HTTPRoute').length > 0,
    [MONITORING]: ['PodMonitor', 'ServiceMonitor', 'PrometheusRule'].some((k) => find(objs, k).length > 0),
    [REDIS_HA]: (sts?.spec?.template?.spec?.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.containerPort === 26379)),
  };
}

/* Rules of every component that is on or required. */
export function checkComponents(objs, required = []) {
  const on = present(objs);
  const errs = [];
  for (const r of required) if (!(r in on)) errs.push(`unknown component ${r}`);
  const checks = { [GATEWAY]: checkGateway, [MONITORING]: checkMonitoring, [REDIS_HA]: checkRedisHa };
  for (const [name, check] of Object.entries(checks)) {
    if (on[name] || required.includes(name)) errs.push(...check(objs));
  }
  return errs;
}
