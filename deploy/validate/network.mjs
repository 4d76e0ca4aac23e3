/* network: evaluate the rendered NetworkPolicies for one connection (the
 * source's egress rules and the destination's ingress rules, as a network
 * plugin would) and check the promises of deploy/README.md: default deny
 * both ways, DNS, only stateless-svc (and Redis itself) to Redis,
 * stateful-svc to its peers, the ingress controller and Prometheus in,
 * nothing else out. */

const NS = 'cartpair';
const NAME_LABEL = 'app.kubernetes.io/name';

/* Does a label selector (matchLabels and matchExpressions) match labels? */
export function selectorMatches(sel, labels) {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const val = labels[e.key];
    if (e.operator === 'In' && !(has && e.values.includes(val))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(val)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/* A pod as the evaluation sees it: labels, namespace (and its labels), ports. */
export function podAt(labels, ns = NS, ports = []) {
  return { labels, ns, nsLabels: { 'kubernetes.io/metadata.name': ns }, ports };
}

/* Does a NetworkPolicy peer (from/to entry) admit the pod? An ipBlock is
 * taken to admit anything (pod and outside IPs may fall inside it). */
function peerMatches(peer, pod) {
  if (peer.ipBlock) return true;
  if (peer.namespaceSelector) {
    return selectorMatches(peer.namespaceSelector, pod.nsLabels) &&
      (!peer.podSelector || selectorMatches(peer.podSelector, pod.labels));
  }
  return pod.ns === NS && selectorMatches(peer.podSelector, pod.labels);
}

/* Does a rule's port list admit port/protocol on the destination pod? */
function portMatches(rulePorts, dst, port, proto) {
  if (!rulePorts || rulePorts.length === 0) return true;
  return rulePorts.some((rp) => (rp.protocol ?? 'TCP') === proto && (rp.port === undefined ||
    rp.port === port || (rp.endPort !== undefined && port >= rp.port && port <= rp.endPort) ||
    dst.ports.some((cp) => cp.name === rp.port && cp.containerPort === port)));
}

/* Policies of the namespace that select a pod for one direction. */
function selecting(objs, pod, type) {
  if (pod.ns !== NS) return [];
  return objs.filter((o) => o?.kind === 'NetworkPolicy' && selectorMatches(o.spec?.podSelector, pod.labels) &&
    (o.spec.policyTypes ?? (type === 'Ingress' ? ['Ingress'] : o.spec.egress ? ['Egress'] : [])).includes(type));
}

/* Is a connection from src to dst:port/proto allowed? Pods outside the
 * namespace have no policies here (their side is taken to allow). */
export function allowed(objs, src, dst, port, proto = 'TCP') {
  const out = selecting(objs, src, 'Egress');
  const egressOk = out.length === 0 || out.some((p) => (p.spec.egress ?? []).some((r) =>
    portMatches(r.ports, dst, port, proto) && ((r.to ?? []).length === 0 || r.to.some((peer) => peerMatches(peer, dst)))));
  const inn = selecting(objs, dst, 'Ingress');
  const ingressOk = inn.length === 0 || inn.some((p) => (p.spec.ingress ?? []).some((r) =>
    portMatches(r.ports, dst, port, proto) && ((r.from ?? []).length === 0 || r.from.some((peer) => peerMatches(peer, src)))));
  return egressOk && ingressOk;
}

/* The pod of a workload, by name, as a pod for the evaluation. */
function workloadPod(objs, name) {
  const w = objs.find((o) => ['StatefulSet', 'Deployment'].includes(o?.kind) && o.metadata?.name === name);
  const t = w?.spec?.template;
  return t && podAt(t.metadata?.labels ?? {}, NS, (t.spec?.containers ?? []).flatMap((c) => c.ports ?? []));
}

/* Every NetworkPolicy rule of deploy/README.md; one string per broken one. */
export function checkNetwork(objs) {
  const errs = [];
  const redis = workloadPod(objs, 'redis');
  const sf = workloadPod(objs, 'stateful-svc');
  const sl = workloadPod(objs, 'stateless-svc');
  if (!redis || !sf || !sl) return ['NetworkPolicy: the Redis, stateful-svc and stateless-svc pod templates are needed for the check'];
  const pods = [['redis', redis], ['stateful-svc', sf], ['stateless-svc', sl]];
  for (const [name, p] of pods) {
    for (const type of ['Ingress', 'Egress']) {
      if (selecting(objs, p, type).length === 0) errs.push(`NetworkPolicy: ${name} pods are not isolated for ${type} (no default deny)`);
    }
  }
  const intruder = podAt({ [NAME_LABEL]: 'intruder' });
  const otherNs = podAt({ [NAME_LABEL]: 'stateless-svc' }, 'other');
  for (const port of [6379]) {
    if (!allowed(objs, sl, redis, port)) errs.push(`NetworkPolicy: stateless-svc cannot reach Redis on ${port}`);
    for (const [what, src] of [['stateful-svc pods', sf], ['any other pod of the namespace', intruder], ['a pod of another namespace', otherNs]]) {
      if (allowed(objs, src, redis, port)) errs.push(`NetworkPolicy: Redis ${port} is reachable from ${what}`);
    }
  }
  if (redis.ports.some((x) => x.containerPort === 26379)) {
    /* Sentinel (redis-ha): clients ask it; Redis pods replicate and watch each other. */
    if (!allowed(objs, sl, redis, 26379)) errs.push('NetworkPolicy: stateless-svc cannot reach Sentinel on 26379');
    if (allowed(objs, sf, redis, 26379)) errs.push('NetworkPolicy: Sentinel 26379 is reachable from stateful-svc pods');
    for (const port of [6379, 26379]) {
      if (!allowed(objs, redis, redis, port)) errs.push(`NetworkPolicy: Redis pods cannot reach each other on ${port}`);
    }
  }
  const sfPort = sf.ports.find((x) => x.name === 'http')?.containerPort;
  if (!allowed(objs, sf, sf, sfPort)) errs.push('NetworkPolicy: stateful-svc pods cannot reach their peers');
  const dns = podAt({ 'k8s-app': 'kube-dns' }, 'kube-system');
  const outside = podAt({}, 'elsewhere');
  const controller = podAt({ [NAME_LABEL]: 'ingress-nginx' }, 'ingress-nginx');
  const prometheus = podAt({ [NAME_LABEL]: 'prometheus' }, 'monitoring');
  for (const [name, p] of pods) {
    if (!allowed(objs, p, dns, 53, 'UDP')) errs.push(`NetworkPolicy: ${name} pods cannot reach the cluster DNS`);
    for (const port of [80, 443, 6379]) {
      if (allowed(objs, p, outside, port)) errs.push(`NetworkPolicy: ${name} pods may connect out of the namespace on ${port}`);
    }
  }
  for (const [name, p] of [['stateful-svc', sf], ['stateless-svc', sl]]) {
    const port = p.ports.find((x) => x.name === 'http')?.containerPort;
    if (!allowed(objs, controller, p, port)) errs.push(`NetworkPolicy: the ingress controller cannot reach ${name}`);
    if (!allowed(objs, prometheus, p, port)) errs.push(`NetworkPolicy: Prometheus cannot reach ${name}`);
    if (allowed(objs, otherNs, p, port)) errs.push(`NetworkPolicy: ${name} is reachable from any namespace`);
  }
  if (redis.ports.some((x) => x.containerPort === 9121) && !allowed(objs, prometheus, redis, 9121)) {
    errs.push('NetworkPolicy: Prometheus cannot reach the Redis exporter');
  }
  return errs;
}
