/* Tests of the Kubernetes manifests: every overlay renders with
 * `kubectl kustomize` and validates; then broken copies (rendered objects
 * edited in memory, and a source tree copied and edited on disk) must fail
 * with the expected message. Run with `node --test` (run-tests.sh). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifests, validateAll } from './schema.mjs';
import { checkPolicies, parseQuantity, selectorMatches } from './policy.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const K8S = join(HERE, '..', 'k8s');
/* Each overlay, the Secrets created outside it, and the components it must have on. */
const OVERLAYS = {
  dev: [[], []],
  prod: [['cartpair-redis', 'stateful-svc-repl'], []],
  'prod-all': [['cartpair-redis', 'stateful-svc-repl'], ['gateway', 'monitoring', 'redis-ha']],
};

/* Render a kustomization directory to YAML text (throws on failure). */
function render(dir) {
  return execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60000 });
}

/* Rendered objects of an overlay, parsed afresh for each caller. */
const rendered = {};
function objectsOf(overlay) {
  rendered[overlay] ??= render(join(K8S, 'overlays', overlay));
  return parseManifests(rendered[overlay]);
}

/* All errors, schema and policy, for a set of objects. */
async function allErrors(objs, external, required = []) {
  return [...(await validateAll(objs)), ...checkPolicies(objs, external, required)];
}

/* One object of the list by kind and name (throws if absent). */
function pick(objs, kind, name) {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} not rendered`);
  return o;
}

/* The named container of a workload's pod template. */
function container(obj, name) {
  return obj.spec.template.spec.containers.find((c) => c.name === name);
}

for (const [overlay, [external, required]] of Object.entries(OVERLAYS)) {
  test(`overlay ${overlay} renders, validates and keeps every policy`, async () => {
    const objs = objectsOf(overlay);
    const kinds = new Set(objs.map((o) => o.kind));
    for (const k of ['StatefulSet', 'Deployment', 'Service', 'Ingress', 'HorizontalPodAutoscaler',
      'PodDisruptionBudget', 'NetworkPolicy', 'ConfigMap', 'Namespace']) {
      assert.ok(kinds.has(k), `${overlay} renders no ${k}`);
    }
    assert.deepEqual(await allErrors(objs, external, required), []);
    assert.ok(objs.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'cartpair'));
  });
}

test('prod-all renders the objects of every component', () => {
  const kinds = new Set(objectsOf('prod-all').map((o) => o.kind));
  for (const k of ['Gateway', 'HTTPRoute', 'PodMonitor', 'PrometheusRule']) assert.ok(kinds.has(k), `no ${k}`);
});

test('base alone renders and its objects validate (the overlays build on it)', async () => {
  const objs = parseManifests(render(join(K8S, 'base')));
  assert.ok(objs.length > 10);
  assert.deepEqual(await validateAll(objs), []);
});

test('each component renders on its own and its objects validate', async () => {
  for (const c of ['gateway', 'monitoring', 'network-policies']) {
    const objs = parseManifests(render(join(K8S, 'components', c)));
    assert.ok(objs.length > 0, c);
    assert.deepEqual(await validateAll(objs), [], c);
  }
});

test('prod without the components fails when they are required', async () => {
  const errs = checkPolicies(objectsOf('prod'), ['cartpair-redis', 'stateful-svc-repl'], ['gateway', 'monitoring', 'redis-ha']);
  for (const m of [/no HTTPRoute sends to stateful-svc/, /no alert on 5xx rate/, /Redis runs 1 pod/]) {
    assert.ok(errs.some((e) => m.test(e)), `${m} among:\n${errs.join('\n')}`);
  }
  assert.ok(checkPolicies(objectsOf('prod'), ['cartpair-redis', 'stateful-svc-repl'], ['nonsense']).some((e) => e.includes('unknown component')));
});

test('prod without its Secret declared external is refused', async () => {
  const errs = checkPolicies(objectsOf('prod'), []);
  assert.ok(errs.some((e) => e.includes('Secret cartpair-redis')), errs.join('\n'));
  assert.ok(errs.some((e) => e.includes('Secret stateful-svc-repl')), errs.join('\n'));
});

/* Each case breaks one thing in the dev objects; the errors must name it. */
const BROKEN = [
  ['stateful-svc without the replication secret', /REPL_SECRET_FILE must be a file of a mounted Secret/, (o) => {
    const c = container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc');
    c.env = c.env.filter((e) => e.name !== 'REPL_SECRET_FILE');
  }],
  ['stateful-svc secret file outside the Secret mount', /REPL_SECRET_FILE must be a file of a mounted Secret/, (o) => {
    const c = container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc');
    c.env.find((e) => e.name === 'REPL_SECRET_FILE').value = '/run/secrets/repl/other';
  }],
  ['containerPort as a string (wrong type)', /containerPort must be integer/, (o) => {
    container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').ports[0].containerPort = 'http';
  }],
  ['replicas as a string (wrong type)', /replicas must be integer/, (o) => {
    pick(o, 'StatefulSet', 'stateful-svc').spec.replicas = 'two';
  }],
  ['Service without ports array (wrong type)', /ports must be array/, (o) => {
    pick(o, 'Service', 'stateless-svc').spec.ports = { port: 8081 };
  }],
  ['a kind that does not exist', /unknown apiVersion\/kind/, (o) => {
    pick(o, 'Ingress', 'stateless-svc').kind = 'Ingres';
  }],
  ['readiness probe missing', /readinessProbe missing/, (o) => {
    delete container(pick(o, 'Deployment', 'stateless-svc'), 'stateless-svc').readinessProbe;
  }],
  ['liveness probe on /readyz', /livenessProbe must GET \/healthz/, (o) => {
    container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').livenessProbe.httpGet.path = '/readyz';
  }],
  ['probe on the wrong port', /readinessProbe port is not PORT/, (o) => {
    container(pick(o, 'Deployment', 'stateless-svc'), 'stateless-svc').readinessProbe.httpGet.port = 8080;
  }],
  ['runAsNonRoot off', /runAsNonRoot must be true/, (o) => {
    pick(o, 'StatefulSet', 'redis').spec.template.spec.securityContext.runAsNonRoot = false;
  }],
  ['writable root filesystem', /readOnlyRootFilesystem must be true/, (o) => {
    container(pick(o, 'Deployment', 'stateless-svc'), 'stateless-svc').securityContext.readOnlyRootFilesystem = false;
  }],
  ['capabilities not dropped', /capabilities must drop ALL/, (o) => {
    delete container(pick(o, 'StatefulSet', 'redis'), 'redis-exporter').securityContext.capabilities;
  }],
  ['memory limit removed', /resources.limits.memory missing/, (o) => {
    delete container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').resources.limits.memory;
  }],
  ['cookie affinity mode balanced', /affinity-mode must be persistent/, (o) => {
    pick(o, 'Ingress', 'stateful-svc').metadata.annotations['nginx.ingress.kubernetes.io/affinity-mode'] = 'balanced';
  }],
  ['Service affinity off', /sessionAffinity must be ClientIP/, (o) => {
    pick(o, 'Service', 'stateful-svc').spec.sessionAffinity = 'None';
  }],
  ['affinity on the stateless Ingress', /must have no affinity annotation/, (o) => {
    pick(o, 'Ingress', 'stateless-svc').metadata.annotations = { 'nginx.ingress.kubernetes.io/affinity': 'cookie' };
  }],
  ['INSTANCE_ID not from the pod name', /INSTANCE_ID must come from metadata.name/, (o) => {
    const env = container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').env;
    env.find((e) => e.name === 'INSTANCE_ID').valueFrom.fieldRef.fieldPath = 'spec.nodeName';
  }],
  ['membership below the replica count', /PEERS_STATEFULSET must be stateful-svc-headless:8080:N/, (o) => {
    const env = container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').env;
    env.find((e) => e.name === 'PEERS_STATEFULSET').value = 'stateful-svc-headless:8080:1';
  }],
  ['membership from another Service', /PEERS_STATEFULSET must be stateful-svc-headless:8080:N/, (o) => {
    const env = container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').env;
    env.find((e) => e.name === 'PEERS_STATEFULSET').value = 'other:8080:16';
  }],
  ['no drain time', /DRAIN_SECONDS must be set above 0/, (o) => {
    const env = container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').env;
    env.find((e) => e.name === 'DRAIN_SECONDS').value = '0';
  }],
  ['grace period shorter than preStop + drain', /terminationGracePeriodSeconds 12 must exceed/, (o) => {
    pick(o, 'Deployment', 'stateless-svc').spec.template.spec.terminationGracePeriodSeconds = 12;
  }],
  ['REDIS_URL in plain text', /REDIS_URL must come from a Secret/, (o) => {
    const env = container(pick(o, 'Deployment', 'stateless-svc'), 'stateless-svc').env;
    env.find((e) => e.name === 'REDIS_URL').value = 'redis://:secret@redis:6379/0';
  }],
  ['REDIS_URL before the password it expands', /REDIS_URL must come from a Secret/, (o) => {
    const c = container(pick(o, 'Deployment', 'stateless-svc'), 'stateless-svc');
    const url = c.env.find((e) => e.name === 'REDIS_URL');
    c.env = [url, ...c.env.filter((e) => e !== url)];
  }],
  ['Redis without fsync every second', /appendfsync everysec/, (o) => {
    const cm = pick(o, 'ConfigMap', 'redis-config');
    cm.data['redis.conf'] = cm.data['redis.conf'].replace('appendfsync everysec', 'appendfsync no');
  }],
  ['Redis data not on the PVC', /\/data must be a volumeClaimTemplate/, (o) => {
    pick(o, 'StatefulSet', 'redis').spec.volumeClaimTemplates[0].metadata.name = 'scratch';
  }],
  ['Redis open to every pod', /Redis 6379 is reachable from stateful-svc pods/, (o) => {
    o.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
      metadata: { name: 'oops', namespace: 'cartpair' },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] } });
  }],
  ['Redis open to other namespaces', /Redis 6379 is reachable from a pod of another namespace/, (o) => {
    const np = pick(o, 'NetworkPolicy', 'redis-from-stateless-svc');
    np.spec.ingress[0].from[0].namespaceSelector = {};
  }],
  ['default deny removed and Redis policy gone', /Redis 6379 is reachable from any other pod/, (o) => {
    o.splice(0, o.length, ...o.filter((x) => x.kind !== 'NetworkPolicy'));
  }],
  ['image on latest', /needs a fixed tag/, (o) => {
    container(pick(o, 'StatefulSet', 'redis'), 'redis').image = 'redis:latest';
  }],
  ['a cookie lifetime on the stateful Ingress', /session-cookie-max-age must not be set/, (o) => {
    pick(o, 'Ingress', 'stateful-svc').metadata.annotations['nginx.ingress.kubernetes.io/session-cookie-max-age'] = '1800';
  }],
  ['stateful-svc out of the endpoints after one miss', /readiness must tolerate a 6 s blip/, (o) => {
    container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').readinessProbe.failureThreshold = 1;
  }],
  ['headless Service drops not-ready pods', /publishNotReadyAddresses must be true/, (o) => {
    delete pick(o, 'Service', 'stateful-svc-headless').spec.publishNotReadyAddresses;
  }],
  ['memory request below the limit', /memory request 128Mi must equal the limit 512Mi/, (o) => {
    container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').resources.requests.memory = '128Mi';
  }],
  ['MAX_CARTS a fixed number', /MAX_CARTS must come from resourceFieldRef limits.memory/, (o) => {
    const env = container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').env;
    env.splice(env.findIndex((e) => e.name === 'MAX_CARTS'), 1, { name: 'MAX_CARTS', value: '200000' });
  }],
  ['MAX_CARTS too many for the limit', /MAX_CARTS divisor 4Ki is under/, (o) => {
    const env = container(pick(o, 'StatefulSet', 'stateful-svc'), 'stateful-svc').env;
    env.find((e) => e.name === 'MAX_CARTS').valueFrom.resourceFieldRef.divisor = '4Ki';
  }],
  ['Redis without a PodDisruptionBudget', /PodDisruptionBudget for Redis missing/, (o) => {
    o.splice(o.indexOf(pick(o, 'PodDisruptionBudget', 'redis')), 1);
  }],
  ['Redis governed by its ClusterIP Service', /redis: serviceName must name a headless Service/, (o) => {
    pick(o, 'StatefulSet', 'redis').spec.serviceName = 'redis';
  }],
  ['Redis maxmemory without room for the fork', /maxmemory 400mb leaves no room for the AOF rewrite fork/, (o) => {
    const cm = pick(o, 'ConfigMap', 'redis-config');
    cm.data['redis.conf'] = cm.data['redis.conf'].replace(/maxmemory \d+mb/, 'maxmemory 400mb');
  }],
  ['no Pod Security level', /pod-security.kubernetes.io\/enforce must be restricted/, (o) => {
    pick(o, 'Namespace', 'cartpair').metadata.labels = {};
  }],
  ['no seccomp profile', /seccompProfile must be RuntimeDefault/, (o) => {
    delete pick(o, 'Deployment', 'stateless-svc').spec.template.spec.securityContext.seccompProfile;
  }],
  ['no default deny for egress', /stateful-svc pods are not isolated for Egress/, (o) => {
    pick(o, 'NetworkPolicy', 'default-deny').spec.policyTypes = ['Ingress'];
    for (const n of ['dns-egress', 'stateful-svc-peers']) o.splice(o.indexOf(pick(o, 'NetworkPolicy', n)), 1);
  }],
  ['egress open to anywhere', /stateless-svc pods may connect out of the namespace on 443/, (o) => {
    pick(o, 'NetworkPolicy', 'redis-egress').spec.egress.push({});
  }],
  ['no DNS egress', /stateless-svc pods cannot reach the cluster DNS/, (o) => {
    o.splice(o.indexOf(pick(o, 'NetworkPolicy', 'dns-egress')), 1);
  }],
  ['stateful-svc peers blocked', /stateful-svc pods cannot reach their peers/, (o) => {
    o.splice(o.indexOf(pick(o, 'NetworkPolicy', 'stateful-svc-peers')), 1);
  }],
  ['services open to every namespace', /stateless-svc is reachable from any namespace/, (o) => {
    pick(o, 'NetworkPolicy', 'cart-services-from-ingress').spec.ingress[0].from = [{ namespaceSelector: {} }];
  }],
  ['Prometheus shut out', /Prometheus cannot reach the Redis exporter/, (o) => {
    o.splice(o.indexOf(pick(o, 'NetworkPolicy', 'metrics-from-prometheus')), 1);
  }],
];

/* Each case breaks one thing in the prod-all objects (every component on). */
const BROKEN_ALL = [
  ['stateful route without session persistence', /stateful-svc needs sessionPersistence/, (o) => {
    delete pick(o, 'HTTPRoute', 'stateful-svc').spec.rules[0].sessionPersistence;
  }],
  ['stateful route cookie with an absolute lifetime', /must have no absolute lifetime/, (o) => {
    pick(o, 'HTTPRoute', 'stateful-svc').spec.rules[0].sessionPersistence.absoluteTimeout = '30m';
  }],
  ['stateless route with session persistence', /stateless-svc must have no session persistence/, (o) => {
    pick(o, 'HTTPRoute', 'stateless-svc').spec.rules[0].sessionPersistence = { type: 'Cookie', sessionName: 'x' };
  }],
  ['route on a Gateway that is not there', /parent Gateway shared is not rendered/, (o) => {
    pick(o, 'HTTPRoute', 'stateless-svc').spec.parentRefs[0].name = 'shared';
  }],
  ['HTTPRoute with a wrong session type (schema)', /HTTPRoute\/cartpair\/stateful-svc: schema/, (o) => {
    pick(o, 'HTTPRoute', 'stateful-svc').spec.rules[0].sessionPersistence.type = 'Cookies';
  }],
  ['PrometheusRule with a wrong type (schema)', /PrometheusRule\/cartpair\/cartpair: schema/, (o) => {
    pick(o, 'PrometheusRule', 'cartpair').spec.groups = { name: 'cartpair' };
  }],
  ['Redis exporter not scraped', /no PodMonitor or ServiceMonitor scrapes redis/, (o) => {
    o.splice(o.indexOf(pick(o, 'PodMonitor', 'redis')), 1);
  }],
  ['no p99 alert', /no alert on p99 latency/, (o) => {
    const g = pick(o, 'PrometheusRule', 'cartpair').spec.groups[0];
    g.rules = g.rules.filter((r) => !r.expr.includes('histogram_quantile'));
  }],
  ['no carts-lost alert', /no alert on carts lost/, (o) => {
    const g = pick(o, 'PrometheusRule', 'cartpair').spec.groups[0];
    g.rules = g.rules.filter((r) => !r.expr.includes('cartpair_carts'));
  }],
  ['Redis HA with one pod', /Redis runs 1 pod\(s\), needs 3/, (o) => {
    pick(o, 'StatefulSet', 'redis').spec.replicas = 1;
  }],
  ['Redis HA without sentinels', /no Sentinel container/, (o) => {
    const spec = pick(o, 'StatefulSet', 'redis').spec.template.spec;
    spec.containers = spec.containers.filter((c) => c.name !== 'sentinel');
  }],
  ['Redis HA pods that may all be drained', /must allow exactly one pod down/, (o) => {
    pick(o, 'PodDisruptionBudget', 'redis').spec.maxUnavailable = 2;
  }],
  ['Redis HA pods on one node', /podAntiAffinity on kubernetes.io\/hostname/, (o) => {
    delete pick(o, 'StatefulSet', 'redis').spec.template.spec.affinity;
  }],
  ['stateless-svc missing a sentinel', /REDIS_SENTINELS must be redis-0/, (o) => {
    const env = container(pick(o, 'Deployment', 'stateless-svc'), 'stateless-svc').env;
    env.find((e) => e.name === 'REDIS_SENTINELS').value = 'redis-0.redis-headless:26379';
  }],
  ['stateless-svc password file outside the Secret mount', /REDIS_PASSWORD_FILE must be a file of a mounted Secret/, (o) => {
    const env = container(pick(o, 'Deployment', 'stateless-svc'), 'stateless-svc').env;
    env.find((e) => e.name === 'REDIS_PASSWORD_FILE').value = '/etc/redis-password';
  }],
  ['stateless-svc without WAIT', /REDIS_WAIT_REPLICAS must be 1..2/, (o) => {
    const env = container(pick(o, 'Deployment', 'stateless-svc'), 'stateless-svc').env;
    env.find((e) => e.name === 'REDIS_WAIT_REPLICAS').value = '0';
  }],
  ['Sentinel blocked by the NetworkPolicies', /stateless-svc cannot reach Sentinel on 26379/, (o) => {
    const np = pick(o, 'NetworkPolicy', 'redis-from-stateless-svc');
    np.spec.ingress[0].ports = np.spec.ingress[0].ports.filter((p) => p.port !== 26379);
  }],
];

for (const [overlay, cases] of [['dev', BROKEN], ['prod-all', BROKEN_ALL]]) {
  const [external, required] = OVERLAYS[overlay];
  for (const [what, expected, breakIt] of cases) {
    test(`broken (${overlay}): ${what} fails validation`, async () => {
      const objs = objectsOf(overlay);
      breakIt(objs);
      const errs = await allErrors(objs, external, required);
      assert.ok(errs.some((e) => expected.test(e)), `expected ${expected} among:\n${errs.join('\n')}`);
    });
  }
}

/* Copy deploy/k8s to a temporary directory, apply text edits to one file
 * (each must change something), render the overlay and run the CLI. */
function brokenCopy(file, edits, overlay = 'dev', args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'cartpair-k8s-'));
  try {
    cpSync(K8S, dir, { recursive: true });
    const path = join(dir, file);
    let text = readFileSync(path, 'utf8');
    for (const [from, to] of edits) {
      const next = text.replace(from, to);
      assert.notEqual(next, text, `edit ${from} changed nothing in ${file}`);
      text = next;
    }
    writeFileSync(path, text);
    const yaml = render(join(dir, 'overlays', overlay));
    return spawnSync('node', [join(HERE, 'validate.mjs'), ...args, '-'], { input: yaml, encoding: 'utf8', timeout: 60000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('CLI: a harmlessly edited copy passes (the copy mechanism is sound)', () => {
  const r = brokenCopy('base/stateful-svc/pdb.yaml', [['maxUnavailable: 1', 'maxUnavailable: 1 ']]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /objects valid, policies hold/);
});

test('CLI: a source file with a wrong type fails', () => {
  const r = brokenCopy('base/stateless-svc/deployment.yaml', [['containerPort: 8081', 'containerPort: "8081"']]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /containerPort must be integer/);
});

test('CLI: a source file with a probe deleted fails', () => {
  const r = brokenCopy('base/stateful-svc/statefulset.yaml',
    [[/ {10}livenessProbe:\n( {12}.*\n)+/, '']]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /livenessProbe missing/);
});

test('CLI: a prod overlay patch with a wrong type fails', () => {
  const r = brokenCopy('overlays/prod/scale.yaml', [['minReplicas: 3', 'minReplicas: "3"']], 'prod');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /minReplicas must be integer/);
});

test('CLI: a component source file that loses the session persistence fails', () => {
  const args = ['--external-secret', 'cartpair-redis', '--external-secret', 'stateful-svc-repl', '--require', 'gateway', '--require', 'monitoring', '--require', 'redis-ha'];
  const ok = brokenCopy('components/gateway/httproute-stateful.yaml', [['sessionName: cartpair-route', 'sessionName: cartpair-route ']], 'prod-all', args);
  assert.equal(ok.status, 0, ok.stderr);
  const r = brokenCopy('components/gateway/httproute-stateful.yaml', [[/ {6}sessionPersistence:\n( {8}.*\n)+/, '']], 'prod-all', args);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /stateful-svc needs sessionPersistence/);
});

test('CLI: the redis-ha component without its WAIT setting fails', () => {
  const args = ['--external-secret', 'cartpair-redis', '--external-secret', 'stateful-svc-repl', '--require', 'redis-ha'];
  const r = brokenCopy('components/redis-ha/stateless-deployment.yaml', [['value: "1"', 'value: "0"']], 'prod-all', args);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /REDIS_WAIT_REPLICAS must be 1..2/);
});

test('helpers: quantities and selectors', () => {
  assert.equal(parseQuantity('250m'), 0.25);
  assert.equal(parseQuantity('512Mi'), 512 * 1024 * 1024);
  assert.equal(parseQuantity('2'), 2);
  assert.ok(Number.isNaN(parseQuantity('lots')));
  const sel = { matchExpressions: [{ key: 'a', operator: 'In', values: ['x', 'y'] }] };
  assert.ok(selectorMatches(sel, { a: 'y' }));
  assert.ok(!selectorMatches(sel, { a: 'z' }));
  assert.ok(!selectorMatches(sel, {}));
  assert.ok(selectorMatches({}, { anything: 'goes' }));
});
