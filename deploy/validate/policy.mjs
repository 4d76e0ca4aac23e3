/* policy: the promises deploy/README.md makes about the rendered manifests
 * (non-root, probe paths, limits, affinity, drain, Redis persistence and
 * who may reach Redis). checkPolicies returns one string per broken rule. */
import { objName } from './schema.mjs';
import { checkNetwork, selectorMatches } from './network.mjs';
import { checkComponents, secretFile } from './components.mjs';

export { selectorMatches };

const NGINX = 'nginx.ingress.kubernetes.io/';

/* Bytes per cart line in stateful-svc's memory (measured: the resident size
 * grew 11.7 KB per cart of 100 lines; a line has a fixed-size sku field),
 * and the share of the memory limit carts may take; the rest is the
 * process, threads and connection buffers. */
const CART_BYTES_PER_ITEM = 120;
const CART_SHARE = 0.75;
/* Redis' maxmemory at most this share of its limit: the AOF rewrite forks,
 * and pages written meanwhile are copied. */
const REDIS_FORK_SHARE = 0.6;
/* A readiness blip shorter than this must not take a pod out. */
const READINESS_TOLERANCE_S = 6;

/* Objects of a kind, optionally with a given name. */
export function find(objs, kind, name) {
  return objs.filter((o) => o?.kind === kind && (name === undefined || o.metadata?.name === name));
}

/* Does a Service's plain selector pick pods with these labels? */
function serviceSelects(svc, labels) {
  const sel = svc.spec?.selector ?? {};
  return Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
}

/* CPU in millicores and memory in bytes from a Kubernetes quantity. */
export function parseQuantity(q) {
  const m = /^([0-9.]+)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/.exec(String(q));
  if (!m) return NaN;
  const mult = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}

/* Container-level rules every workload container must follow (init
 * containers have no probes). */
function checkContainer(where, c, podSc, init = false) {
  const errs = [];
  const sc = c.securityContext ?? {};
  const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
  const uid = sc.runAsUser ?? podSc.runAsUser;
  if (nonRoot !== true) errs.push(`${where}: runAsNonRoot must be true`);
  if (!(Number.isInteger(uid) && uid > 0)) errs.push(`${where}: runAsUser must be a non-zero uid`);
  if (sc.allowPrivilegeEscalation !== false) errs.push(`${where}: allowPrivilegeEscalation must be false`);
  if (sc.readOnlyRootFilesystem !== true) errs.push(`${where}: readOnlyRootFilesystem must be true`);
  if (sc.privileged === true) errs.push(`${where}: must not be privileged`);
  if (!(sc.capabilities?.drop ?? []).includes('ALL')) errs.push(`${where}: capabilities must drop ALL`);
  const seccomp = (sc.seccompProfile ?? podSc.seccompProfile)?.type;
  if (!['RuntimeDefault', 'Localhost'].includes(seccomp)) errs.push(`${where}: seccompProfile must be RuntimeDefault (Pod Security restricted)`);
  if ((sc.capabilities?.add ?? []).length > 0) errs.push(`${where}: must add no capabilities`);
  const r = c.resources ?? {};
  for (const res of ['cpu', 'memory']) {
    const req = r.requests?.[res];
    const lim = r.limits?.[res];
    if (req === undefined) errs.push(`${where}: resources.requests.${res} missing`);
    if (lim === undefined) errs.push(`${where}: resources.limits.${res} missing`);
    if (req !== undefined && lim !== undefined && !(parseQuantity(lim) >= parseQuantity(req))) {
      errs.push(`${where}: ${res} limit ${lim} is below its request ${req}`);
    }
  }
  const [mreq, mlim] = [r.requests?.memory, r.limits?.memory];
  if (mreq !== undefined && mlim !== undefined && parseQuantity(mreq) !== parseQuantity(mlim)) {
    errs.push(`${where}: memory request ${mreq} must equal the limit ${mlim} (evicted first under node pressure otherwise)`);
  }
  if (!init && !c.livenessProbe) errs.push(`${where}: livenessProbe missing`);
  if (!init && !c.readinessProbe) errs.push(`${where}: readinessProbe missing`);
  const image = String(c.image ?? '');
  const tag = image.includes('@') ? 'digest' : image.split('/').pop().split(':')[1];
  if (!tag || tag === 'latest') errs.push(`${where}: image ${image} needs a fixed tag`);
  return errs;
}

/* The numeric port a probe or annotation port (number or name) refers to. */
function resolvePort(c, port) {
  if (Number.isInteger(port)) return port;
  const p = (c.ports ?? []).find((x) => x.name === port);
  return p ? p.containerPort : undefined;
}

/* Value of a plain env var of a container. */
export function envValue(c, name) {
  return (c.env ?? []).find((e) => e.name === name)?.value;
}

/* Rules for the two cart services' containers and pod templates. */
function checkAppPod(where, tmpl, app) {
  const errs = [];
  const spec = tmpl.spec ?? {};
  const c = (spec.containers ?? []).find((x) => x.name === app);
  if (!c) return [`${where}: no container named ${app}`];
  const port = Number(envValue(c, 'PORT'));
  for (const [probe, path] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']]) {
    const g = c[probe]?.httpGet;
    if (!g) { errs.push(`${where}: ${probe} must be an httpGet probe`); continue; }
    if (g.path !== path) errs.push(`${where}: ${probe} must GET ${path}, not ${g.path}`);
    if (resolvePort(c, g.port) !== port) errs.push(`${where}: ${probe} port is not PORT (${port})`);
  }
  if (envValue(c, 'LISTEN_ADDR') !== '0.0.0.0') errs.push(`${where}: LISTEN_ADDR must be 0.0.0.0`);
  const ann = tmpl.metadata?.annotations ?? {};
  if (ann['prometheus.io/scrape'] !== 'true') errs.push(`${where}: prometheus.io/scrape must be "true"`);
  if (ann['prometheus.io/path'] !== '/metrics') errs.push(`${where}: prometheus.io/path must be /metrics`);
  if (Number(ann['prometheus.io/port']) !== port) errs.push(`${where}: prometheus.io/port must be PORT`);
  const drain = Number(envValue(c, 'DRAIN_SECONDS'));
  if (!(drain > 0)) errs.push(`${where}: DRAIN_SECONDS must be set above 0`);
  const cmd = c.lifecycle?.preStop?.exec?.command ?? [];
  const sleep = c.lifecycle?.preStop?.sleep?.seconds ?? (cmd[0] === '/bin/sleep' ? Number(cmd[1]) : NaN);
  if (!(sleep >= 0)) errs.push(`${where}: preStop must sleep (exec /bin/sleep N or sleep action)`);
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (!(grace > sleep + drain)) {
    errs.push(`${where}: terminationGracePeriodSeconds ${grace} must exceed preStop ${sleep} + DRAIN_SECONDS ${drain}`);
  }
  return errs;
}

/* Every Deployment and StatefulSet: container security, limits, probes. */
function checkWorkloads(objs) {
  const errs = [];
  for (const w of [...find(objs, 'Deployment'), ...find(objs, 'StatefulSet')]) {
    const spec = w.spec?.template?.spec ?? {};
    const podSc = spec.securityContext ?? {};
    if (spec.hostNetwork || spec.hostPID || spec.hostIPC) errs.push(`${objName(w)}: host namespaces are not allowed`);
    for (const c of spec.initContainers ?? []) errs.push(...checkContainer(`${objName(w)} init container ${c.name}`, c, podSc, true));
    for (const c of spec.containers ?? []) errs.push(...checkContainer(`${objName(w)} container ${c.name}`, c, podSc));
    if (w.kind === 'StatefulSet') {
      const headless = find(objs, 'Service', w.spec.serviceName)[0];
      if (!headless || headless.spec?.clusterIP !== 'None' || !serviceSelects(headless, w.spec.template?.metadata?.labels ?? {})) {
        errs.push(`${objName(w)}: serviceName must name a headless Service selecting its pods`);
      } else if (headless.spec.publishNotReadyAddresses !== true) {
        errs.push(`${objName(headless)}: publishNotReadyAddresses must be true (pod DNS names stay during a readiness blip)`);
      }
    }
  }
  return errs;
}

/* The namespace enforces Pod Security "restricted". */
function checkNamespace(objs) {
  const ns = find(objs, 'Namespace', 'cartpair')[0];
  if (!ns) return ['Namespace cartpair missing'];
  const l = ns.metadata?.labels ?? {};
  if (l['pod-security.kubernetes.io/enforce'] !== 'restricted') {
    return [`${objName(ns)}: label pod-security.kubernetes.io/enforce must be restricted`];
  }
  return [];
}

/* stateful-svc: StatefulSet, headless + ClientIP Services, cookie Ingress. */
function checkStateful(objs) {
  const errs = [];
  const sts = find(objs, 'StatefulSet', 'stateful-svc')[0];
  if (!sts) return ['StatefulSet stateful-svc missing'];
  const tmpl = sts.spec.template ?? {};
  const labels = tmpl.metadata?.labels ?? {};
  errs.push(...checkAppPod(objName(sts), tmpl, 'stateful-svc'));
  const c = (tmpl.spec?.containers ?? []).find((x) => x.name === 'stateful-svc') ?? {};
  const id = (c.env ?? []).find((e) => e.name === 'INSTANCE_ID');
  if (id?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name') errs.push(`${objName(sts)}: INSTANCE_ID must come from metadata.name`);
  // Membership must cover every replica by its stable DNS name, so a dead pod's carts get 404:
  // PEERS_STATEFULSET <headless service>:8080:N with N >= replicas (scaling needs no edit),
  // or PEERS naming exactly the replicas.
  const env = (name) => (c.env ?? []).find((e) => e.name === name)?.value;
  const replicas = sts.spec.replicas ?? 1;
  const set = /^([a-z0-9-]+):8080:([0-9]+)$/.exec(env('PEERS_STATEFULSET') ?? '');
  if (env('PEERS_STATEFULSET') !== undefined) {
    if (!set || set[1] !== sts.spec.serviceName || +set[2] < replicas || +set[2] > 64) {
      errs.push(`${objName(sts)}: PEERS_STATEFULSET must be ${sts.spec.serviceName}:8080:N with ${replicas} <= N <= 64`);
    }
  } else {
    const peers = (env('PEERS') ?? '').split(',');
    const want = Array.from({ length: replicas },
      (_, i) => `${sts.metadata.name}-${i}.${sts.spec.serviceName}:8080`);
    if (peers.join(',') !== want.join(',')) errs.push(`${objName(sts)}: PEERS must be ${want.join(',')} (or set PEERS_STATEFULSET)`);
  }
  errs.push(...checkStatefulMemory(sts, c));
  // Only replicas that hold the secret may replicate (a pod-network peer gets no cart).
  if (!secretFile(tmpl.spec ?? {}, c, env('REPL_SECRET_FILE') ?? '')) {
    errs.push(`${objName(sts)}: REPL_SECRET_FILE must be a file of a mounted Secret (authenticated replication links)`);
  }
  const rp = c.readinessProbe ?? {};
  if ((rp.failureThreshold ?? 3) * (rp.periodSeconds ?? 10) < READINESS_TOLERANCE_S) {
    errs.push(`${objName(sts)}: readiness must tolerate a ${READINESS_TOLERANCE_S} s blip (failureThreshold x periodSeconds); a not-ready pod loses its sessions`);
  }
  const svc = find(objs, 'Service', 'stateful-svc')[0];
  if (!svc || !serviceSelects(svc, labels)) errs.push('Service stateful-svc missing or not selecting the pods');
  else if (svc.spec.sessionAffinity !== 'ClientIP') errs.push(`${objName(svc)}: sessionAffinity must be ClientIP`);
  const ing = ingressFor(objs, 'stateful-svc');
  if (!ing) return [...errs, 'Ingress for stateful-svc missing'];
  const ann = ing.metadata?.annotations ?? {};
  if (ann[NGINX + 'affinity'] !== 'cookie') errs.push(`${objName(ing)}: ${NGINX}affinity must be cookie`);
  if (ann[NGINX + 'affinity-mode'] !== 'persistent') errs.push(`${objName(ing)}: ${NGINX}affinity-mode must be persistent`);
  for (const k of ['session-cookie-max-age', 'session-cookie-expires']) {
    if (ann[NGINX + k] !== undefined) errs.push(`${objName(ing)}: ${NGINX}${k} must not be set (the cookie is set once; its lifetime would move active shoppers)`);
  }
  return errs;
}

/* stateful-svc's cart budget follows its memory limit: MAX_CARTS from
 * resourceFieldRef limits.memory, with a divisor that fits the largest cart. */
function checkStatefulMemory(sts, c) {
  const ref = (c.env ?? []).find((e) => e.name === 'MAX_CARTS')?.valueFrom?.resourceFieldRef;
  if (ref?.resource !== 'limits.memory' || (ref.containerName ?? c.name) !== c.name) {
    return [`${objName(sts)}: MAX_CARTS must come from resourceFieldRef limits.memory of its own container`];
  }
  const items = Number(envValue(c, 'MAX_ITEMS') ?? 100);
  const need = (items * CART_BYTES_PER_ITEM) / CART_SHARE;
  const div = parseQuantity(ref.divisor ?? '1');
  if (!(div >= need)) {
    return [`${objName(sts)}: MAX_CARTS divisor ${ref.divisor ?? 1} is under ${Math.ceil(need)} bytes, so carts of ${items} lines could exceed the memory limit`];
  }
  return [];
}

/* The Ingress whose rules send to the Service of that name. */
function ingressFor(objs, service) {
  return find(objs, 'Ingress').find((i) => (i.spec?.rules ?? []).some((r) =>
    (r.http?.paths ?? []).some((p) => p.backend?.service?.name === service)));
}

/* Names of the Secrets an env var takes its value from, following $(VAR). */
function envSecrets(c, name, seen = new Set()) {
  const env = c.env ?? [];
  const idx = env.findIndex((e) => e.name === name);
  if (idx < 0 || seen.has(name)) return [];
  seen.add(name);
  const e = env[idx];
  if (e.valueFrom?.secretKeyRef) return [e.valueFrom.secretKeyRef.name];
  const out = [];
  for (const [, ref] of String(e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
    /* Kubernetes expands $(VAR) only from variables listed before it. */
    if (env.findIndex((x) => x.name === ref) < idx) out.push(...envSecrets(c, ref, seen));
  }
  return out;
}

/* stateless-svc: Deployment, HPA on CPU, PDB, plain Service and Ingress,
 * REDIS_URL from a Secret. */
function checkStateless(objs) {
  const errs = [];
  const dep = find(objs, 'Deployment', 'stateless-svc')[0];
  if (!dep) return ['Deployment stateless-svc missing'];
  const tmpl = dep.spec.template ?? {};
  const labels = tmpl.metadata?.labels ?? {};
  errs.push(...checkAppPod(objName(dep), tmpl, 'stateless-svc'));
  const c = (tmpl.spec?.containers ?? []).find((x) => x.name === 'stateless-svc') ?? {};
  /* With Sentinel (redis-ha) the password is a file; components.mjs checks it. */
  if (envValue(c, 'REDIS_SENTINELS') === undefined && envSecrets(c, 'REDIS_URL').length === 0) {
    errs.push(`${objName(dep)}: REDIS_URL must come from a Secret`);
  }
  const hpa = find(objs, 'HorizontalPodAutoscaler').find((h) =>
    h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === 'stateless-svc');
  if (!hpa) errs.push('HorizontalPodAutoscaler for stateless-svc missing');
  else if (!(hpa.spec.metrics ?? []).some((m) => m.type === 'Resource' && m.resource?.name === 'cpu')) {
    errs.push(`${objName(hpa)}: must scale on CPU`);
  }
  if (!find(objs, 'PodDisruptionBudget').some((p) => selectorMatches(p.spec?.selector, labels))) {
    errs.push('PodDisruptionBudget for stateless-svc missing');
  }
  const svc = find(objs, 'Service', 'stateless-svc')[0];
  if (!svc || !serviceSelects(svc, labels)) errs.push('Service stateless-svc missing or not selecting the pods');
  else if ((svc.spec.sessionAffinity ?? 'None') !== 'None') errs.push(`${objName(svc)}: must have no session affinity`);
  const ing = ingressFor(objs, 'stateless-svc');
  if (!ing) errs.push('Ingress for stateless-svc missing');
  else if (Object.keys(ing.metadata?.annotations ?? {}).some((k) => k.startsWith(NGINX + 'affinity'))) {
    errs.push(`${objName(ing)}: must have no affinity annotation`);
  }
  return errs;
}

/* Redis: StatefulSet with a PVC on /data, AOF everysec, password from a
 * Secret, a Service. */
function checkRedis(objs) {
  const errs = [];
  const sts = find(objs, 'StatefulSet', 'redis')[0];
  if (!sts) return ['StatefulSet redis missing'];
  const spec = sts.spec.template?.spec ?? {};
  const c = (spec.containers ?? []).find((x) => x.name === 'redis');
  if (!c) return [`${objName(sts)}: no container named redis`];
  const claims = (sts.spec.volumeClaimTemplates ?? []).map((v) => v.metadata?.name);
  const data = (c.volumeMounts ?? []).find((m) => m.mountPath === '/data');
  if (!data || !claims.includes(data.name)) errs.push(`${objName(sts)}: /data must be a volumeClaimTemplate`);
  const conf = redisConfig(objs, spec, c);
  if (!/^\s*appendonly\s+yes\s*$/m.test(conf)) errs.push(`${objName(sts)}: redis.conf must set appendonly yes`);
  if (!/^\s*appendfsync\s+everysec\s*$/m.test(conf)) errs.push(`${objName(sts)}: redis.conf must set appendfsync everysec`);
  const args = c.args ?? [];
  const pw = args[args.indexOf('--requirepass') + 1];
  const m = /^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(pw ?? '');
  if (args.indexOf('--requirepass') < 0 || !m || envSecrets(c, m[1]).length === 0) {
    errs.push(`${objName(sts)}: --requirepass must take $(VAR) from a Secret`);
  }
  const labels = sts.spec.template?.metadata?.labels ?? {};
  if (!find(objs, 'Service').some((s) => s.metadata.name === 'redis' && serviceSelects(s, labels))) {
    errs.push('Service redis missing or not selecting the Redis pod');
  }
  if (!find(objs, 'PodDisruptionBudget').some((p) => selectorMatches(p.spec?.selector, labels))) {
    errs.push('PodDisruptionBudget for Redis missing');
  }
  const mm = /^\s*maxmemory\s+(\d+)(kb|mb|gb|k|m|g|b)?\s*$/im.exec(conf);
  const lim = parseQuantity(c.resources?.limits?.memory);
  if (!mm) errs.push(`${objName(sts)}: redis.conf must set maxmemory`);
  else {
    const unit = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[(mm[2] ?? 'b').toLowerCase()];
    if (!(Number(mm[1]) * unit <= REDIS_FORK_SHARE * lim)) {
      errs.push(`${objName(sts)}: maxmemory ${mm[1]}${mm[2] ?? ''} leaves no room for the AOF rewrite fork under the ${c.resources?.limits?.memory} limit (at most ${REDIS_FORK_SHARE * 100} %)`);
    }
  }
  return errs;
}

/* Text of the redis.conf files the Redis container mounts from ConfigMaps. */
function redisConfig(objs, spec, c) {
  let text = '';
  for (const m of c.volumeMounts ?? []) {
    const vol = (spec.volumes ?? []).find((v) => v.name === m.name);
    const cm = vol?.configMap && find(objs, 'ConfigMap', vol.configMap.name)[0];
    if (cm) text += Object.values(cm.data ?? {}).join('\n');
  }
  return text;
}

/* Every Secret referenced by a workload, and which of them are rendered. */
export function secretRefs(objs) {
  const names = new Set();
  for (const w of [...find(objs, 'Deployment'), ...find(objs, 'StatefulSet')]) {
    const spec = w.spec?.template?.spec ?? {};
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) names.add(e.valueFrom.secretKeyRef.name);
    }
    for (const v of spec.volumes ?? []) if (v.secret?.secretName) names.add(v.secret.secretName);
  }
  const rendered = new Set(find(objs, 'Secret').map((s) => s.metadata.name));
  return { all: [...names].sort(), missing: [...names].filter((n) => !rendered.has(n)).sort() };
}

/* All policy rules; external lists the Secrets allowed to be created
 * outside the manifests (prod's cartpair-redis), required the components
 * that must be on (gateway, monitoring, redis-ha). */
export function checkPolicies(objs, external = [], required = []) {
  const errs = [...checkNamespace(objs), ...checkWorkloads(objs), ...checkStateful(objs), ...checkStateless(objs),
    ...checkRedis(objs), ...checkNetwork(objs), ...checkComponents(objs, required)];
  for (const n of secretRefs(objs).missing) {
    if (!external.includes(n)) errs.push(`Secret ${n} is referenced but neither rendered nor declared external`);
  }
  return errs;
}
