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
const OVERLAYS = { dev: [], prod: ['cartpair-redis'] };

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
async function allErrors(objs, external) {
  return [...(await validateAll(objs)), ...checkPolicies(objs, external)];
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

for (const [overlay, external] of Object.entries(OVERLAYS)) {
  test(`overlay ${overlay} renders, validates and keeps every policy`, async () => {
    const objs = objectsOf(overlay);
    const kinds = new Set(objs.map((o) => o.kind));
    for (const k of ['StatefulSet', 'Deployment', 'Service', 'Ingress', 'HorizontalPodAutoscaler',
      'PodDisruptionBudget', 'NetworkPolicy', 'ConfigMap']) {
      assert.ok(kinds.has(k), `${overlay} renders no ${k}`);
    }
    assert.deepEqual(await allErrors(objs, external), []);
    assert.ok(objs.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'cartpair'));
  });
}

test('base alone renders (the overlays build on it)', () => {
  assert.ok(parseManifests(render(join(K8S, 'base'))).length > 10);
});

test('prod without its Secret declared external is refused', async () => {
  const errs = checkPolicies(objectsOf('prod'), []);
  assert.ok(errs.some((e) => e.includes('Secret cartpair-redis')), errs.join('\n'));
});

/* Each case breaks one thing in the dev objects; the errors must name it. */
const BROKEN = [
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
];

for (const [what, expected, breakIt] of BROKEN) {
  test(`broken: ${what} fails validation`, async () => {
    const objs = objectsOf('dev');
    breakIt(objs);
    const errs = await allErrors(objs, []);
    assert.ok(errs.some((e) => expected.test(e)), `expected ${expected} among:\n${errs.join('\n')}`);
  });
}

/* Copy deploy/k8s to a temporary directory, apply text edits to one file
 * (each must change something), render the overlay and run the CLI. */
function brokenCopy(file, edits, overlay = 'dev') {
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
    return spawnSync('node', [join(HERE, 'validate.mjs'), '-'], { input: yaml, encoding: 'utf8', timeout: 60000 });
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
